//! Checks on config.json as written, before oci-spec deserializes it: oci-spec fills in
//! defaults (a missing `ociVersion` becomes "", a missing device `major` becomes 0) and
//! accepts spellings runc does not (`sys_admin` for `CAP_SYS_ADMIN`, device type `a`), so
//! those rules must look at the JSON itself. Values of the wrong JSON type are left for
//! deserialization to report.

use serde_json::Value;

use super::names::{is_capability, CAPABILITY_SETS, DEVICE_TYPES, NAMESPACE_TYPES, RLIMIT_TYPES};

/// The error is the text after `<config path>: `.
pub fn check(v: &Value) -> Result<(), String> {
    let Some(top) = v.as_object() else {
        return Err(format!(
            "the top level must be a JSON object, not {}",
            kind(v)
        ));
    };
    if !top.contains_key("ociVersion") {
        return Err("ociVersion is required".into());
    }
    capabilities(v)?;
    enum_field(
        v,
        "/process/rlimits",
        "process.rlimits",
        RLIMIT_TYPES,
        "an rlimit type",
    )?;
    enum_field(
        v,
        "/linux/namespaces",
        "linux.namespaces",
        NAMESPACE_TYPES,
        "a namespace type",
    )?;
    enum_field(
        v,
        "/linux/devices",
        "linux.devices",
        DEVICE_TYPES,
        "a device type",
    )?;
    device_numbers(v)
}

fn capabilities(v: &Value) -> Result<(), String> {
    let Some(sets) = v
        .pointer("/process/capabilities")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    for set in CAPABILITY_SETS {
        for (i, name) in array(sets.get(*set)).iter().enumerate() {
            let Some(name) = name.as_str() else { continue };
            if is_capability(name) {
                continue;
            }
            let field = format!("process.capabilities.{set}[{i}]");
            let upper = name.to_ascii_uppercase();
            let canonical = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            return Err(if is_capability(&canonical) {
                format!("{field} {name:?} is not a capability name (did you mean {canonical:?}?)")
            } else {
                format!("{field} {name:?} is not a capability name")
            });
        }
    }
    Ok(())
}

/// Spellings runc reads as something else, rewritten to what they mean before the typed
/// config exists: a namespace entry with `"path": ""` asks for a new namespace.
pub fn normalize(v: &mut Value) {
    if let Some(nss) = v
        .pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
    {
        for ns in nss.iter_mut().filter_map(Value::as_object_mut) {
            if ns.get("path").and_then(Value::as_str) == Some("") {
                ns.remove("path");
            }
        }
    }
}

/// `pointer` is a JSON array of objects whose `type` must be one of `allowed`.
fn enum_field(
    v: &Value,
    pointer: &str,
    field: &str,
    allowed: &[&str],
    what: &str,
) -> Result<(), String> {
    for (i, item) in array(v.pointer(pointer)).iter().enumerate() {
        let typ = match item.get("type") {
            None => continue,
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(format!(
                    "{field}[{i}].type must be a string, not {}",
                    kind(other)
                ))
            }
        };
        if !allowed.contains(&typ) {
            return Err(format!(
                "{field}[{i}].type {typ:?} is not {what} (expected one of: {})",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

/// Character and block devices need explicit numbers; oci-spec would default them to 0.
fn device_numbers(v: &Value) -> Result<(), String> {
    for (i, dev) in array(v.pointer("/linux/devices")).iter().enumerate() {
        let Some(typ) = dev.get("type").and_then(Value::as_str) else {
            continue;
        };
        if typ == "p" {
            continue;
        }
        for key in ["major", "minor"] {
            if dev.get(key).is_none() {
                return Err(format!(
                    "linux.devices[{i}].{key} is required for a device of type {typ:?}"
                ));
            }
        }
    }
    Ok(())
}

fn array(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use serde_json::json;

    #[test]
    fn lowercase_capability_is_rejected_with_the_canonical_name_suggested() {
        let v =
            json!({"ociVersion": "1.0.0", "process": {"capabilities": {"ambient": ["sys_admin"]}}});
        assert_eq!(
            check(&v).unwrap_err(),
            "process.capabilities.ambient[0] \"sys_admin\" is not a capability name (did you mean \"CAP_SYS_ADMIN\"?)"
        );
    }

    #[test]
    fn an_empty_namespace_path_means_a_new_namespace() {
        let mut v = json!({"linux": {"namespaces": [{"type": "pid", "path": ""},
            {"type": "net", "path": "/proc/1/ns/net"}]}});
        super::normalize(&mut v);
        assert_eq!(v["linux"]["namespaces"][0], json!({"type": "pid"}));
        assert_eq!(v["linux"]["namespaces"][1]["path"], "/proc/1/ns/net");
    }

    #[test]
    fn fifo_device_needs_no_numbers() {
        let v =
            json!({"ociVersion": "1.0.0", "linux": {"devices": [{"path": "/dev/f", "type": "p"}]}});
        assert_eq!(check(&v), Ok(()));
    }

    #[test]
    fn wrongly_typed_containers_are_left_for_deserialization() {
        let v =
            json!({"ociVersion": "1.0.0", "process": {"rlimits": 3}, "linux": {"devices": "x"}});
        assert_eq!(check(&v), Ok(()));
    }

    #[test]
    fn non_string_enum_type_is_named_with_its_json_kind() {
        let v = json!({"ociVersion": "1.0.0", "linux": {"namespaces": [{"type": 3}]}});
        assert_eq!(
            check(&v).unwrap_err(),
            "linux.namespaces[0].type must be a string, not a number"
        );
    }
}
