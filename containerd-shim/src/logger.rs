//! `binary://` stdio: containerd's logging-binary protocol (nerdctl and others ask for it
//! with `--log-uri binary:///PATH?KEY=VALUE`), as containerd's runc shim runs it. The shim
//! starts PATH with the query's keys and values as arguments, CONTAINER_ID and
//! CONTAINER_NAMESPACE in its environment, the read ends of the process's stdout and
//! stderr pipes as fds 3 and 4, and fd 5, which the logger closes (or writes a byte to)
//! once it is ready; the process gets the write ends. The logger sees end of file when the
//! process and everything it started are gone, and is reaped by a thread of its own.

use std::fs::File;
use std::io::Read;
use std::process::{Command, Stdio};

/// The URI's binary and its arguments; the path must be absolute.
fn parse(uri: &str) -> Result<(String, Vec<String>), String> {
    let rest = uri
        .strip_prefix("binary://")
        .ok_or_else(|| format!("stdio {uri:?}: not a binary:// URI"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = decode(path, false);
    if !path.starts_with('/') {
        return Err(format!(
            "stdio {uri:?}: the logging binary's path must be absolute"
        ));
    }
    let mut args = Vec::new();
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        args.push(decode(k, true));
        if !v.is_empty() {
            args.push(decode(v, true));
        }
    }
    Ok((path, args))
}

/// Percent-decoding as Go's url package reads a URI (`+` is a space in a query only).
fn decode(s: &str, query: bool) -> String {
    let b = s.as_bytes();
    let hex = |c: &u8| (*c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if let (Some(h), Some(l)) = (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex))
                {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if query => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Start the logging binary of `uri` for container `id` in `namespace`, wait until it is
/// ready, and return the process's stdout and stderr (the pipes' write ends).
pub fn start(uri: &str, id: &str, namespace: &str) -> Result<(File, File), String> {
    let (path, args) = parse(uri)?;
    let pipe = || {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("stdio {uri:?}: creating a pipe: {e}"))
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    let mut cmd = Command::new(&path);
    cmd.args(&args)
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let copies = crate::sys::pass_fds(&mut cmd, &[&out_r, &err_r, &ready_w])
        .map_err(|e| format!("stdio {uri:?}: {e}"))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("stdio {uri:?}: starting the logging binary {path}: {e}"))?;
    drop((copies, out_r, err_r, ready_w));
    // Ready when it closes fd 5 or writes to it (or exits).
    let mut ready = File::from(ready_r);
    let _ = ready.read(&mut [0u8; 1]);
    let _ = std::thread::Builder::new()
        .name("logger".into())
        .stack_size(64 * 1024)
        .spawn(move || child.wait());
    Ok((File::from(out_w), File::from(err_w)))
}

/// Whether `path` asks for a logging binary.
pub fn is_binary(path: &str) -> bool {
    path.starts_with("binary://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_gives_the_path_and_the_query_as_arguments() {
        let (p, a) = parse("binary:///usr/bin/log%20ger?--dir=/var/log&-v").unwrap();
        assert_eq!(p, "/usr/bin/log ger");
        assert_eq!(a, ["--dir", "/var/log", "-v"]);
        assert!(parse("binary://relative/x")
            .unwrap_err()
            .contains("absolute"));
    }

    #[test]
    fn the_logger_gets_both_streams_and_its_environment() {
        let d = std::env::temp_dir().join(format!("hull-logger-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let script = d.join("logger");
        let out = d.join("out");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$CONTAINER_NAMESPACE/$CONTAINER_ID $1\" >{o}\nexec 5>&-\ncat <&3 >>{o}\ncat <&4 >>{o}\n",
                o = out.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let uri = format!("binary://{}?arg1", script.display());
        let (mut o, mut e) = start(&uri, "ctr1", "ns1").unwrap();
        use std::io::Write;
        o.write_all(b"to-stdout\n").unwrap();
        e.write_all(b"to-stderr\n").unwrap();
        drop((o, e));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let got = std::fs::read_to_string(&out).unwrap_or_default();
            if got == "ns1/ctr1 arg1\nto-stdout\nto-stderr\n" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "logger wrote {got:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
