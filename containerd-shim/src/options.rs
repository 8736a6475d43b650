//! The runtime options containerd hands a shim with `Create`: which hull binary, which state
//! root, which cgroup driver. They arrive as containerd's runc options
//! (`containerd.runc.v1.Options`: BinaryName, Root, SystemdCgroup, as a Go client or a CRI
//! config with the runc option type sends them) or as `runtimeoptions.v1.Options` (what CRI
//! and `ctr run --runtime-config-path` send for any other runtime type), whose ConfigPath
//! names a TOML file with the same three keys.

use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::{CodedInputStream, Message};
use containerd_shim::protos::shim::oci::Options as RuncOptions;

const RUNC_OPTIONS: &str = "containerd.runc.v1.Options";
const RUNTIME_OPTIONS: &str = "runtimeoptions.v1.Options";

/// What the shim takes from the options; empty strings mean "the default".
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RuntimeOptions {
    pub binary_name: String,
    pub root: String,
    pub systemd_cgroup: bool,
}

/// An options `Any` that is set (a non-empty type URL) and its message name (the URL's
/// last segment).
pub fn named(any: Option<&Any>) -> Option<(&Any, &str)> {
    let any = any.filter(|a| !a.type_url.is_empty())?;
    Some((any, any.type_url.rsplit('/').next().unwrap_or_default()))
}

/// Decode the `options` of a create request (absent: defaults).
pub fn decode(any: Option<&Any>) -> Result<RuntimeOptions, String> {
    let Some((any, name)) = named(any) else {
        return Ok(RuntimeOptions::default());
    };
    match name {
        RUNC_OPTIONS => {
            let o = RuncOptions::parse_from_bytes(&any.value)
                .map_err(|e| format!("decoding the runtime options ({name}): {e}"))?;
            Ok(RuntimeOptions {
                binary_name: o.binary_name,
                root: o.root,
                systemd_cgroup: o.systemd_cgroup,
            })
        }
        RUNTIME_OPTIONS => {
            let (path, body) = config_path_and_body(&any.value)
                .map_err(|e| format!("decoding the runtime options ({name}): {e}"))?;
            let text = if !body.is_empty() {
                body
            } else if path.is_empty() {
                return Ok(RuntimeOptions::default());
            } else {
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("reading the runtime config {path}: {e}"))?
            };
            parse_toml(&text).map_err(|e| format!("runtime config {path}: {e}"))
        }
        other => Err(format!(
            "runtime options of type {other:?}: want {RUNC_OPTIONS} or {RUNTIME_OPTIONS}"
        )),
    }
}

/// Fields 2 (config_path) and 3 (config_body) of `runtimeoptions.v1.Options`, read off the
/// wire (the message is not among the generated protos).
fn config_path_and_body(bytes: &[u8]) -> Result<(String, String), String> {
    let mut is = CodedInputStream::from_bytes(bytes);
    let (mut path, mut body) = (String::new(), String::new());
    while let Some(tag) = is.read_raw_tag_or_eof().map_err(|e| e.to_string())? {
        match (tag >> 3, tag & 7) {
            (2, 2) => path = is.read_string().map_err(|e| e.to_string())?,
            (3, 2) => body = is.read_string().map_err(|e| e.to_string())?,
            (_, wire) => {
                let wt = containerd_shim::protos::protobuf::rt::WireType::new(wire)
                    .ok_or_else(|| format!("bad wire type {wire}"))?;
                is.skip_field(wt).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok((path, body))
}

/// The runc option keys in TOML (`BinaryName = "/usr/bin/hull"`, `Root = "..."`,
/// `SystemdCgroup = true`), as they are written under a containerd runtime's `options`.
/// Other keys and tables are ignored: the file may be shared with other settings.
pub fn parse_toml(text: &str) -> Result<RuntimeOptions, String> {
    let mut o = RuntimeOptions::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: want KEY = VALUE", n + 1));
        };
        let value = value.trim();
        let string = || {
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .map(str::to_string)
                .ok_or_else(|| format!("line {}: {} wants a quoted string", n + 1, key.trim()))
        };
        match key.trim() {
            "BinaryName" => o.binary_name = string()?,
            "Root" => o.root = string()?,
            "SystemdCgroup" => {
                o.systemd_cgroup = match value {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("line {}: SystemdCgroup wants true or false", n + 1)),
                }
            }
            _ => {}
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(url: &str, value: Vec<u8>) -> Any {
        let mut a = Any::new();
        a.type_url = url.into();
        a.value = value;
        a
    }

    #[test]
    fn runc_options_give_binary_root_and_driver() {
        let mut o = RuncOptions::new();
        o.binary_name = "/opt/hull".into();
        o.root = "/run/x".into();
        o.systemd_cgroup = true;
        let a = any("containerd.runc.v1.Options", o.write_to_bytes().unwrap());
        assert_eq!(
            decode(Some(&a)).unwrap(),
            RuntimeOptions {
                binary_name: "/opt/hull".into(),
                root: "/run/x".into(),
                systemd_cgroup: true
            }
        );
        assert_eq!(decode(None).unwrap(), RuntimeOptions::default());
    }

    #[test]
    fn runtime_options_read_the_config_file_it_names() {
        let dir = std::env::temp_dir().join(format!("hull-cshim-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hull.toml");
        std::fs::write(&file, "# hull\n[options]\nRoot = \"/run/r\"\nOther = 1\n").unwrap();
        // type_url (1), config_path (2) as length-delimited strings.
        let path = file.to_str().unwrap();
        let mut wire = vec![0x0a, 1, b'x', 0x12, path.len() as u8];
        wire.extend_from_slice(path.as_bytes());
        let got = decode(Some(&any("runtimeoptions.v1.Options", wire)));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(got.unwrap().root, "/run/r");
    }

    #[test]
    fn bad_options_are_refused_with_their_reason() {
        let e = decode(Some(&any("example.Unknown", vec![]))).unwrap_err();
        assert!(e.contains("example.Unknown"), "{e}");
        assert!(parse_toml("Root = /x").unwrap_err().contains("Root"));
        assert!(parse_toml("SystemdCgroup = yes")
            .unwrap_err()
            .contains("SystemdCgroup"));
        assert!(parse_toml("junk").unwrap_err().contains("line 1"));
        assert!(parse_toml("SystemdCgroup = true").unwrap().systemd_cgroup);
    }
}
