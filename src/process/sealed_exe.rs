//! CVE-2019-5736: a container must never reach hull's own binary for writing. Every
//! process that enters a container is a copy of hull's image until its execve; if the
//! container's program is a script `#!/proc/self/exe`, the kernel runs that image again,
//! now inside the container, and a process there can open `/proc/PID/exe` and reopen it
//! for writing once it has exited. So before `create`, `run` or `exec` makes anything,
//! hull re-executes itself from a read-only view of its binary:
//!
//! - already read-only (installed on a read-only filesystem, or this process is the
//!   re-executed one): nothing to do;
//! - otherwise a detached view of the binary no process can write through or make
//!   writable (hull_common::sealed_view: a read-only overlayfs over its directory, else
//!   a read-only bind mount; no path anywhere, gone when its last user exits) is
//!   execveat'd: a reopen for writing through it fails with EROFS, and it shares the page
//!   cache with the original, so it costs one execve of hull and no copy;
//! - where hull may not make mounts (an unprivileged user), a sealed memfd copy, but only
//!   if this user could write the binary at all (a container of an unprivileged user
//!   cannot write what that user cannot).

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};

const EXE: &str = "/proc/self/exe";

/// Re-exec from a read-only view of the binary unless this process already runs from
/// one. Returns only when nothing needs doing (or on error).
pub fn ensure() -> Result<()> {
    if runs_read_only()? {
        return Ok(());
    }
    let (image, kind) = match hull_common::sealed_view::open(Path::new(EXE)) {
        Ok((fd, kind)) => (fd, Some(kind)),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            if !writable_by_us() {
                return Ok(());
            }
            let fd =
                sealed_copy().context("CVE-2019-5736 defence: a sealed copy of hull's binary")?;
            (fd, None)
        }
        Err(e) => return Err(e).context("CVE-2019-5736 defence: a sealed view of hull's binary"),
    };
    let args: Vec<_> = std::env::args_os().collect();
    // runc's debug lines (its tests look for them), then what the view is.
    let prog = crate::program_name(&args);
    if kind == Some(hull_common::sealed_view::Kind::Overlay) {
        crate::logging::debug(&format!(
            "{prog} exeseal: using overlayfs for sealed /proc/self/exe"
        ));
    }
    let how = kind.map_or("a sealed memfd copy of the binary", |k| k.describe());
    crate::logging::debug(&format!(
        "{prog} exeseal: using /proc/self/exe clone: {how}"
    ));
    let argv = cstrings(args)?;
    let envp = cstrings(std::env::vars_os().map(|(k, v)| {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        kv
    }))?;
    let e = crate::sys::exe::execveat_fd(image.as_fd(), &argv, &envp);
    Err(e).context("CVE-2019-5736 defence: re-executing hull from its read-only view")
}

/// The running image is on a read-only mount, or a memfd sealed against writes.
fn runs_read_only() -> Result<bool> {
    let st = nix::sys::statvfs::statvfs(EXE).with_context(|| format!("statvfs {EXE}"))?;
    if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    let f = std::fs::File::open(EXE).with_context(|| format!("open {EXE}"))?;
    Ok(nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GET_SEALS)
        .is_ok_and(|s| s & libc::F_SEAL_WRITE != 0))
}

fn writable_by_us() -> bool {
    nix::unistd::access(EXE, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// A memfd holding a copy of the binary, sealed against every change.
fn sealed_copy() -> Result<OwnedFd> {
    use nix::fcntl::{FcntlArg, SealFlag};
    use nix::sys::memfd::{memfd_create, MFdFlags};
    let fd = memfd_create(c"hull", MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)?;
    let mut src = std::fs::File::open(EXE)?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&dst, FcntlArg::F_ADD_SEALS(seals))?;
    Ok(dst.into())
}

fn cstrings<I, S>(items: I) -> Result<Vec<CString>>
where
    I: IntoIterator<Item = S>,
    S: Into<std::ffi::OsString>,
{
    use std::os::unix::ffi::OsStringExt;
    items
        .into_iter()
        .map(|s| CString::new(s.into().into_vec()).context("an argument contains a NUL byte"))
        .collect()
}
