//! `process.rlimits`, set by the init before it drops privileges.

use anyhow::{Context, Result};
use oci_spec::runtime::PosixRlimit;

/// The resource number for an `RLIMIT_*` name.
pub fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn type_name(r: &PosixRlimit) -> String {
    serde_json::to_value(r.typ())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Set every rlimit; an error names the entry and says why raising may be refused.
pub fn apply(limits: &[PosixRlimit]) -> Result<()> {
    for (i, r) in limits.iter().enumerate() {
        let name = type_name(r);
        let res = resource(&name)
            .with_context(|| format!("process.rlimits[{i}]: unknown type {name:?}"))?;
        if let Err(e) = crate::sys::process_attrs::set_rlimit(res, r.soft(), r.hard()) {
            let hint = if e.raw_os_error() == Some(libc::EPERM) {
                " (raising a hard limit needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            anyhow::bail!(
                "process.rlimits[{i}] {name} soft={} hard={}: {e}{hint}",
                r.soft(),
                r.hard()
            );
        }
    }
    Ok(())
}
