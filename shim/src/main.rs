//! hull-shim: a conmon-like monitor for one detached container.
//!
//! `hull-shim --hull PATH --root ROOT --bundle B --id ID [--log FILE] [--log-max BYTES]`
//! detaches, becomes a child subreaper, runs `hull create` with its own pipes as the
//! container's stdio and `hull start`, then prints `{"pid":INIT,"shim_pid":SHIM}` and lets
//! the caller go. It keeps the container's output in a CRI log (ROOT/ID/shim/ctr.log),
//! serves ROOT/ID/shim/attach.sock, and on the init's exit writes ROOT/ID/shim/exit.json,
//! reaps it and exits. Killing the shim leaves the container running.
//!
//! One thread, no async runtime: an epoll loop over fixed buffers (see `monitor`).

mod args;
mod attach;
mod cri;
mod daemon;
mod launch;
mod monitor;
mod sys;

fn main() {
    sys::close_inherited_fds();
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hull-shim: {e}");
            std::process::exit(1);
        }
    };
    let mut rep = daemon::detach();
    match monitor::prepare(&args, &mut rep) {
        Ok(m) => {
            drop(rep);
            m.run()
        }
        Err(e) => {
            rep.fail(&e);
            std::process::exit(1);
        }
    }
}
