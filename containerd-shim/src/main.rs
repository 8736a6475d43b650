//! containerd-shim-hull-v2: containerd's runtime v2 shim for hull (`io.containerd.hull.v2`).
//!
//! containerd runs it three ways (runtime v2's shim protocol):
//! - `start`: find or launch the shim serving this container's group (one per pod when
//!   containerd groups containers), print its ttrpc address, exit;
//! - `delete`: clean up after a shim that died (`hull delete --force`, unmount);
//! - no action: the long-lived shim itself, serving the task API on the socket it was
//!   handed as fd 3, running hull per operation and reporting exits and OOM kills.
//!
//! Built on containerd's rust-extensions (`containerd-shim`, `containerd-shim-protos`,
//! `ttrpc`) in their synchronous mode: a few threads, no async runtime.

#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod bootstrap;
mod checkpoint;
mod events;
mod hull;
mod log;
mod logger;
mod mounts;
mod oom;
mod options;
mod process;
mod service;
mod stats;
mod stdio;
#[allow(unsafe_code)]
mod sys;
mod watch;

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    let flags = match containerd_shim::parse(&args[1..]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("containerd-shim-hull-v2: {e}");
            std::process::exit(1);
        }
    };
    if flags.version {
        println!(
            "containerd-shim-hull-v2 version {}",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let r = match flags.action.as_str() {
        "start" => bootstrap::start(&flags),
        "delete" => bootstrap::delete(&flags),
        "" => bootstrap::serve(&flags),
        other => Err(format!("unknown action {other:?}: want start or delete")),
    };
    if let Err(e) = r {
        eprintln!("containerd-shim-hull-v2: {e}");
        std::process::exit(1);
    }
}
