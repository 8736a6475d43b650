//! The shim's three lives: `start` (find or launch the group's shim), `delete` (clean up
//! after a dead shim), and serving.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::shim_sync::create_task;
use containerd_shim::protos::ttrpc::Server;
use containerd_shim::{DeleteResponse, Flags, StartOpts};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::events::Publisher;
use crate::service::{Service, TaskService};
use crate::{log, mounts};

/// Annotations that put containers in one shim, as containerd-shim-runc-v2 reads them:
/// its own group label, then CRI's pod (sandbox) id.
const GROUP_ANNOTATIONS: [&str; 2] = [
    "io.containerd.runc.v2.group",
    "io.kubernetes.cri.sandbox-id",
];

/// The shim group of a bundle's config.json: the first grouping annotation, else the
/// container's own id.
pub fn group(config: &serde_json::Value, id: &str) -> String {
    GROUP_ANNOTATIONS
        .iter()
        .find_map(|a| config["annotations"][a].as_str())
        .filter(|g| !g.is_empty())
        .unwrap_or(id)
        .to_string()
}

fn ttrpc_address() -> Result<String, String> {
    std::env::var("TTRPC_ADDRESS")
        .map_err(|_| "TTRPC_ADDRESS is not set (run by containerd?)".to_string())
}

/// `start`: runs in the bundle directory; prints the address of the shim to use.
pub fn start(flags: &Flags) -> Result<(), String> {
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    let config: serde_json::Value = std::fs::read(cwd.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let grouping = group(&config, &flags.id);
    let opts = StartOpts {
        id: flags.id.clone(),
        publish_binary: flags.publish_binary.clone(),
        address: flags.address.clone(),
        ttrpc_address: ttrpc_address()?,
        namespace: flags.namespace.clone(),
        debug: flags.debug,
    };
    let (_, address) = containerd_shim::spawn(opts, &grouping, Vec::new())
        .map_err(|e| format!("starting the shim: {e}"))?;
    containerd_shim::util::write_address(&address)
        .map_err(|e| format!("writing the address file: {e}"))?;
    print!("{address}");
    let _ = std::io::stdout().flush();
    Ok(())
}

/// `delete`: the shim of this bundle is gone; remove what it left.
pub fn delete(flags: &Flags) -> Result<(), String> {
    let bundle = match flags.bundle.as_str() {
        "" => std::env::current_dir().map_err(|e| format!("current directory: {e}"))?,
        b => PathBuf::from(b),
    };
    // containerd runs this after every shim exit, also a clean one: hull is only run when
    // it still has the container.
    if let Some(h) = mounts::read_recorded(&bundle).filter(|h| h.root.join(&flags.id).exists()) {
        let _ = h.delete(&flags.id, true);
    }
    mounts::unmount(&bundle.join("rootfs"));
    let resp = DeleteResponse {
        exit_status: 128 + libc::SIGKILL as u32,
        exited_at: Some(crate::events::now()).into(),
        ..Default::default()
    };
    let bytes = resp.write_to_bytes().map_err(|e| e.to_string())?;
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| format!("writing the response: {e}"))
}

/// Serve the task API on fd 3 until the last container is gone and containerd says
/// `Shutdown`.
pub fn serve(flags: &Flags) -> Result<(), String> {
    crate::sys::one_malloc_arena();
    // Out of containerd's session: a signal to its process group is not for the shim.
    let _ = nix::unistd::setsid();
    // SIGTERM/SIGINT come through a signalfd the main thread watches (blocked here, before
    // any thread starts, so no thread takes them the default way). hull and the
    // containers start with an empty mask (std's spawn resets it).
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.thread_block()
        .map_err(|e| format!("blocking signals: {e}"))?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    log::init();
    // Container inits and exec'd processes are re-parented to the shim when hull exits,
    // so the shim can wait for them.
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
    std::panic::set_hook(Box::new(|p| log::warn(&format!("panic: {p}"))));
    // The socket's file, from the listener itself: the address file `start` writes may not
    // exist yet.
    let socket = nix::sys::socket::getsockname::<nix::sys::socket::UnixAddr>(3)
        .ok()
        .and_then(|a| a.path().map(Path::to_path_buf));
    let events = Publisher::start(ttrpc_address()?, flags.namespace.clone());
    let svc = Service::new(flags.namespace.clone(), events, socket.clone(), sigfd)?;
    let task = create_task(Arc::new(
        Box::new(TaskService(Arc::clone(&svc))) as Box<dyn containerd_shim::Task + Send + Sync>
    ));
    let mut server = Server::new()
        .add_listener(3)
        .map_err(|e| format!("ttrpc listener: {e}"))?
        // The fewest ttrpc allows (min < default < max): two idle workers per connection,
        // one more at most, so that a blocking Wait never leaves none. Each idle thread
        // costs the shim its stack pages.
        .set_thread_count_min(1)
        .set_thread_count_default(2)
        .set_thread_count_max(3)
        .register_service(task);
    server.start().map_err(|e| format!("ttrpc server: {e}"))?;
    log::info("serving");
    svc.watch();
    if let Some(s) = &socket {
        let _ = std::fs::remove_file(s);
    }
    // Let the reply to Shutdown go out; a connection that does not close in time does
    // not keep the shim.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(2));
        std::process::exit(0);
    });
    server.shutdown();
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_the_runc_group_label_then_the_pod_then_the_id() {
        let c = |a: serde_json::Value| serde_json::json!({ "annotations": a });
        assert_eq!(group(&c(serde_json::json!({})), "ctr1"), "ctr1");
        assert_eq!(
            group(
                &c(serde_json::json!({"io.kubernetes.cri.sandbox-id": "pod"})),
                "ctr1"
            ),
            "pod"
        );
        assert_eq!(
            group(
                &c(serde_json::json!({"io.kubernetes.cri.sandbox-id": "pod",
                                      "io.containerd.runc.v2.group": "g"})),
                "ctr1"
            ),
            "g"
        );
        assert_eq!(group(&serde_json::Value::Null, "x"), "x");
    }
}
