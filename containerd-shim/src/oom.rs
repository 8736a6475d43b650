//! Watching a container's cgroup for OOM kills: on v1 an eventfd registered in the memory
//! cgroup's `cgroup.event_control` against `memory.oom_control` (the kernel signals it at
//! every OOM, and once more when the cgroup goes away); on v2 inotify on `memory.events`,
//! whose `oom_kill` counter tells a kill from other changes. The cgroup comes from hull's
//! state.json (`cgroup.dirs`), read through hull-common as hull-shim reads it.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use hull_common::oom;

pub struct OomWatch {
    files: Vec<PathBuf>,
    kills: u64,
    announced: bool,
    source: Source,
}

enum Source {
    V1(EventFd),
    V2(Inotify),
}

impl OomWatch {
    /// A watch on the cgroup hull recorded in `state_file`, if it has a memory controller.
    pub fn new(state_file: &Path) -> Option<OomWatch> {
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state_file).ok()?).ok()?;
        let files = oom::counter_files(&st["cgroup"]);
        let first = files.first()?;
        let source = if first.ends_with("memory.oom_control") {
            let control = std::fs::File::open(first).ok()?;
            let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK).ok()?;
            let reg = format!(
                "{} {}",
                std::os::fd::AsRawFd::as_raw_fd(&efd),
                std::os::fd::AsRawFd::as_raw_fd(&control)
            );
            std::fs::write(first.with_file_name("cgroup.event_control"), reg).ok()?;
            Source::V1(efd)
        } else {
            let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
            ino.add_watch(first.as_path(), AddWatchFlags::IN_MODIFY)
                .ok()?;
            Source::V2(ino)
        };
        let kills = oom::total_kills(&files);
        Some(OomWatch {
            files,
            kills,
            announced: false,
            source,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V1(e) => e.as_fd(),
            Source::V2(i) => i.as_fd(),
        }
    }

    /// The descriptor turned readable: whether that was an OOM (not the cgroup going away
    /// or another counter changing).
    pub fn fired(&mut self) -> bool {
        let oom = match &self.source {
            Source::V1(e) => {
                let _ = e.read();
                // The notification at the cgroup's removal is no OOM.
                self.files.iter().any(|f| f.exists())
            }
            Source::V2(i) => {
                let _ = i.read_events();
                let now = oom::total_kills(&self.files);
                let grew = now > self.kills;
                self.kills = self.kills.max(now);
                grew
            }
        };
        self.announced |= oom;
        oom
    }

    /// At the container's exit: whether a kill happened that no notification announced.
    pub fn unannounced_kill(&mut self) -> bool {
        let kill = !self.announced && oom::total_kills(&self.files) > self.kills;
        self.announced |= kill;
        kill
    }
}
