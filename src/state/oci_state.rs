//! The runtime-spec's container state (config `State`: ociVersion, id, status, pid, bundle,
//! annotations) and its status values: one type for what hooks get on stdin, what the
//! seccomp agent gets inside its process state, and the core of `hull state`.

use std::path::Path;

use serde::Serialize;

/// A container's status, as the runtime-spec (and runc's `paused`) names it. Never stored:
/// derived from the init's liveness, the exec fifo and the freezer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The runtime-spec state of a container, in the spec's field order.
#[derive(Debug, Serialize)]
pub struct OciState<'a, A: Serialize> {
    #[serde(rename = "ociVersion")]
    pub oci_version: &'static str,
    pub id: &'a str,
    pub status: Status,
    pub pid: i32,
    pub bundle: &'a Path,
    pub annotations: &'a A,
}

impl<'a, A: Serialize> OciState<'a, A> {
    pub fn new(
        id: &'a str,
        status: Status,
        pid: i32,
        bundle: &'a Path,
        annotations: &'a A,
    ) -> Self {
        OciState {
            oci_version: crate::OCI_VERSION,
            id,
            status,
            pid,
            bundle,
            annotations,
        }
    }

    /// As JSON text (what a hook reads on stdin).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a state of strings and numbers serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_has_the_spec_fields_and_lowercase_status() {
        let a: std::collections::BTreeMap<String, String> = [("k".into(), "v".into())].into();
        let s = OciState::new("c1", Status::Created, 42, Path::new("/b"), &a).to_json();
        assert_eq!(
            s,
            format!(
                r#"{{"ociVersion":"{}","id":"c1","status":"created","pid":42,"bundle":"/b","annotations":{{"k":"v"}}}}"#,
                crate::OCI_VERSION
            )
        );
    }
}
