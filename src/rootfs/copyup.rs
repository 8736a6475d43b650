//! `tmpcopyup`: a tmpfs mounted over a directory starts with that directory's contents
//! (files, directories, symlinks and device nodes, with their modes and owners), copied
//! into the still-detached tmpfs before it is attached, so the copy never passes through
//! a path a symlink could redirect.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};

/// Copy everything in directory `from` into directory `to` (both fds), recursively.
pub fn copy_tree(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> Result<()> {
    let dir = nix::fcntl::openat(
        from,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("tmpcopyup: open the directory under the tmpfs")?;
    // One fd for reading the entries, a duplicate for the *at calls.
    let src_fd = dir.try_clone().context("tmpcopyup: dup")?;
    let src = src_fd.as_fd();
    let mut d = nix::dir::Dir::from_fd(dir).context("tmpcopyup: read the directory")?;
    let entries: Vec<std::ffi::CString> = d
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in entries {
        let st = fstatat(src, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .with_context(|| format!("tmpcopyup: stat {name:?}"))?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let what = || format!("tmpcopyup: copy {name:?}");
        match kind {
            SFlag::S_IFDIR => {
                nix::sys::stat::mkdirat(to, name.as_c_str(), mode).with_context(what)?;
                let sub_from = open_dir(src, &name)?;
                let sub_to = open_dir(to, &name)?;
                copy_tree(sub_from.as_fd(), sub_to.as_fd())?;
            }
            SFlag::S_IFREG => {
                let f = nix::fcntl::openat(
                    src,
                    name.as_c_str(),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .with_context(what)?;
                let t = nix::fcntl::openat(
                    to,
                    name.as_c_str(),
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                    mode,
                )
                .with_context(what)?;
                std::io::copy(&mut std::fs::File::from(f), &mut std::fs::File::from(t))
                    .with_context(what)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src, name.as_c_str()).with_context(what)?;
                nix::unistd::symlinkat(target.as_os_str(), to, name.as_c_str())
                    .with_context(what)?;
            }
            _ => {
                nix::sys::stat::mknodat(to, name.as_c_str(), kind, mode, st.st_rdev)
                    .with_context(what)?;
            }
        }
        fchownat(
            to,
            name.as_c_str(),
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .with_context(what)?;
        if kind != SFlag::S_IFLNK {
            // mkdir/open applied the umask: set the exact mode.
            nix::sys::stat::fchmodat(
                to,
                name.as_c_str(),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .with_context(what)?;
        }
    }
    Ok(())
}

fn open_dir(at: BorrowedFd<'_>, name: &std::ffi::CStr) -> Result<OwnedFd> {
    nix::fcntl::openat(
        at,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("tmpcopyup: open {name:?}"))
}
