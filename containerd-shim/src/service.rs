//! The task service containerd calls over ttrpc (`containerd.task.v2.Task`): each call
//! turns into hull commands and into the shim's record of the container (`process`), and
//! answers with containerd's error codes: NotFound for an unknown task or process,
//! AlreadyExists for a task or exec id in use, FailedPrecondition for a call the process's
//! state does not allow, InvalidArgument for what the request or hull refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim::api::{
    CheckpointTaskRequest, CloseIORequest, ConnectRequest, ConnectResponse, CreateTaskRequest,
    CreateTaskResponse, DeleteRequest, Empty, ExecProcessRequest, KillRequest, PauseRequest,
    PidsRequest, PidsResponse, ResizePtyRequest, ResumeRequest, ShutdownRequest, StartRequest,
    StartResponse, StateRequest, StateResponse, StatsRequest, StatsResponse, UpdateTaskRequest,
    WaitRequest, WaitResponse,
};
use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::shim::oci::ProcessDetails;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::protos::types::task::ProcessInfo;
use containerd_shim::{DeleteResponse, Task, TtrpcContext, TtrpcResult};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};

use crate::events::{self, Publisher};
use crate::hull::Hull;
use crate::oom::OomWatch;
use crate::process::{exit_status, Container, Proc, Status, Tasks};
use crate::watch::{self, Watcher};
use crate::{mounts, options, stdio};

/// Type names of the messages the shim packs in an `Any` (see `events::pack`).
pub const PROCESS_DETAILS: &str = "containerd.runc.v1.ProcessDetails";
pub const METRICS_V1: &str = "io.containerd.cgroups.v1.Metrics";

pub fn error(code: Code, msg: impl ToString) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg))
}

fn not_found(id: &str, exec_id: &str) -> ttrpc::Error {
    match exec_id {
        "" => error(Code::NOT_FOUND, format!("container {id}: not found")),
        e => error(
            Code::NOT_FOUND,
            format!("process {e} of container {id}: not found"),
        ),
    }
}

pub struct Service {
    namespace: String,
    /// The ttrpc socket file, removed when a signal ends the shim.
    socket: Option<PathBuf>,
    sigfd: nix::sys::signalfd::SignalFd,
    tasks: Mutex<Tasks>,
    changed: Condvar,
    events: Publisher,
    watcher: Watcher,
}

/// What ttrpc serves: the service behind an `Arc`, which the main thread's watch shares.
pub struct TaskService(pub Arc<Service>);

impl Service {
    pub fn new(
        namespace: String,
        events: Publisher,
        socket: Option<PathBuf>,
        sigfd: nix::sys::signalfd::SignalFd,
    ) -> Result<Arc<Service>, String> {
        let watcher = Watcher::new()?;
        watcher.add(&sigfd, watch::SIGNAL)?;
        let s = Arc::new(Service {
            namespace,
            socket,
            sigfd,
            tasks: Mutex::new(Tasks::default()),
            changed: Condvar::new(),
            events,
            watcher,
        });
        Ok(s)
    }

    /// Watch for exits, OOM kills and signals on this thread until `Shutdown` ends the shim.
    pub fn watch(&self) {
        self.watcher.serve(|token| self.on_ready(token));
    }

    fn lock(&self) -> MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pidfd or OOM descriptor turned readable.
    fn on_ready(&self, token: u64) {
        if token == watch::SIGNAL {
            return self.on_signal();
        }
        let mut g = self.lock();
        let Some((cid, eid)) = g.tokens.get(&token).cloned() else {
            return;
        };
        let Some(c) = g.containers.get_mut(&cid) else {
            return;
        };
        if watch::is_oom(token) {
            if c.oom.as_mut().is_some_and(|(w, _)| w.fired()) {
                self.oom_event(&cid);
            }
            return;
        }
        let Some(p) = c.proc_mut(&eid) else {
            return;
        };
        let Some(fd) = p.pidfd.as_ref() else {
            return;
        };
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG;
        let st = match waitid(Id::PIDFd(std::os::fd::AsFd::as_fd(fd)), flags) {
            Ok(WaitStatus::StillAlive) => return,
            Ok(s) => exit_status(&s).unwrap_or(255),
            // Reaped elsewhere (cannot happen: only this thread reaps): report it gone.
            Err(_) => 255,
        };
        self.watcher.remove(fd);
        p.pidfd = None;
        p.token = None;
        p.exited(st, events::now());
        let (pid, at) = (p.pid, p.exited_at.clone());
        g.tokens.remove(&token);
        let c = g.containers.get_mut(&cid).expect("looked up above");
        if eid.is_empty() && c.oom.as_mut().is_some_and(|(w, _)| w.unannounced_kill()) {
            self.oom_event(&cid);
        }
        self.events.exit(TaskExit {
            container_id: cid.clone(),
            id: if eid.is_empty() { cid.clone() } else { eid },
            pid,
            exit_status: st,
            exited_at: at.into(),
            ..Default::default()
        });
        self.changed.notify_all();
    }

    /// SIGTERM or SIGINT: the shim goes (its socket with it); the containers keep running,
    /// and containerd's `delete` command cleans up after them.
    fn on_signal(&self) {
        if let Ok(Some(si)) = self.sigfd.read_signal() {
            crate::log::warn(&format!("signal {}: exiting", si.ssi_signo));
            if let Some(s) = &self.socket {
                let _ = std::fs::remove_file(s);
            }
            std::process::exit(0);
        }
    }

    fn oom_event(&self, cid: &str) {
        self.events.oom(TaskOOM {
            container_id: cid.to_string(),
            ..Default::default()
        });
    }

    /// Watch a started process's pidfd for its exit.
    fn watch_exit(&self, g: &mut Tasks, cid: &str, eid: &str) -> Result<(), String> {
        let n = g.new_token();
        let token = watch::exit_token(n);
        let p = g
            .containers
            .get_mut(cid)
            .and_then(|c| c.proc_mut(eid))
            .ok_or("process gone")?;
        let fd = hull_common::pidfd::open(p.pid as i32)
            .map_err(|e| format!("opening process {}: {e}", p.pid))?;
        self.watcher.add(&fd, token)?;
        p.pidfd = Some(fd);
        p.token = Some(token);
        g.tokens.insert(token, (cid.to_string(), eid.to_string()));
        Ok(())
    }

    /// Watch a container's init for its exit and its cgroup for OOM kills (not yet for a
    /// restore that `Start` will run).
    fn watch_init(&self, g: &mut Tasks, id: &str, pending: bool) -> Result<(), String> {
        if pending {
            return Ok(());
        }
        self.watch_exit(g, id, "")?;
        let c = g.containers.get(id).ok_or("container gone")?;
        if let Some(w) = OomWatch::new(&c.hull.state_file(id)) {
            let token = watch::oom_token(g.new_token());
            if self.watcher.add(w.fd(), token).is_ok() {
                g.tokens.insert(token, (id.to_string(), String::new()));
                g.containers.get_mut(id).expect("looked up above").oom = Some((w, token));
            }
        }
        Ok(())
    }

    fn create(&self, req: &CreateTaskRequest) -> Result<u32, ttrpc::Error> {
        let mut g = self.lock();
        let id = req.id.as_str();
        if g.containers.contains_key(id) {
            return Err(error(
                Code::ALREADY_EXISTS,
                format!("container {id}: already exists"),
            ));
        }
        let opts =
            options::decode(req.options.as_ref()).map_err(|e| error(Code::INVALID_ARGUMENT, e))?;
        let hull =
            Hull::new(&opts, &self.namespace).map_err(|e| error(Code::INVALID_ARGUMENT, e))?;
        let bundle = PathBuf::from(&req.bundle);
        let paths = stdio::Paths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
            container: id.to_string(),
            namespace: self.namespace.clone(),
        };
        let rootfs = mounts::mount_all(&req.rootfs, &bundle.join("rootfs"))
            .map_err(|e| error(Code::INVALID_ARGUMENT, e))?;
        let undo = |hull: &Hull| {
            let _ = hull.delete(id, true);
            if let Some(r) = &rootfs {
                mounts::unmount(r);
            }
            let _ = std::fs::remove_file(bundle.join("init.pid"));
        };
        let _ = mounts::write_recorded(&bundle, &hull);
        let restore = crate::checkpoint::Restore::requested(req);
        let started = match restore {
            // Restored by Start, as containerd-shim-runc-v2 does.
            Some(_) => Ok((0, None, None)),
            None => launch(id, &bundle, None, &paths, |stdio, console| {
                hull.create(id, &bundle, &bundle.join("init.pid"), console, stdio)
            }),
        };
        let (pid, console, stdin) = match started {
            Ok(s) => s,
            Err(e) => {
                undo(&hull);
                return Err(error(Code::INVALID_ARGUMENT, e));
            }
        };
        let mut init = Proc::new(paths.clone());
        init.pid = pid;
        init.console = console;
        init.stdin = stdin;
        let pending = restore.is_some();
        g.containers.insert(
            id.to_string(),
            Container {
                bundle: bundle.clone(),
                hull,
                init,
                execs: HashMap::new(),
                rootfs: rootfs.clone(),
                oom: None,
                restore,
            },
        );
        if let Err(e) = self.watch_init(&mut g, id, pending) {
            let c = g.containers.remove(id).expect("inserted above");
            undo(&c.hull);
            return Err(error(Code::UNKNOWN, e));
        }
        self.events.create(TaskCreate {
            container_id: id.to_string(),
            bundle: req.bundle.clone(),
            rootfs: req.rootfs.clone(),
            io: Some(TaskIO {
                stdin: paths.stdin,
                stdout: paths.stdout,
                stderr: paths.stderr,
                terminal: paths.terminal,
                ..Default::default()
            })
            .into(),
            checkpoint: req.checkpoint.clone(),
            pid,
            ..Default::default()
        });
        Ok(pid)
    }

    fn start(&self, id: &str, eid: &str) -> Result<u32, ttrpc::Error> {
        let mut g = self.lock();
        let c = g.containers.get_mut(id).ok_or_else(|| not_found(id, ""))?;
        let p = c.proc(eid).ok_or_else(|| not_found(id, eid))?;
        if p.status != Status::Created {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!(
                    "process {}: already started",
                    if eid.is_empty() { id } else { eid }
                ),
            ));
        }
        if eid.is_empty() {
            let restore = c.restore.take();
            match &restore {
                Some(r) => crate::checkpoint::restore(c, id, r),
                None => c.hull.start(id),
            }
            .map_err(|e| error(Code::UNKNOWN, e))?;
            c.init.status = Status::Running;
            let pid = c.init.pid;
            if restore.is_some() {
                self.watch_init(&mut g, id, false)
                    .map_err(|e| error(Code::UNKNOWN, e))?;
            }
            self.events.start_(TaskStart {
                container_id: id.to_string(),
                pid,
                ..Default::default()
            });
            return Ok(pid);
        }
        if c.init.status == Status::Stopped {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!("container {id} is stopped"),
            ));
        }
        let (bundle, hull) = (c.bundle.clone(), c.hull.clone());
        let p = c.execs.get_mut(eid).expect("looked up above");
        let spec_file = bundle.join(format!("{eid}.process.json"));
        let pid_file = bundle.join(format!("{eid}.pid"));
        std::fs::write(&spec_file, &p.spec).map_err(|e| {
            error(
                Code::UNKNOWN,
                format!("writing {}: {e}", spec_file.display()),
            )
        })?;
        let paths = p.paths.clone();
        let started = launch(eid, &bundle, Some(eid), &paths, |stdio, console| {
            hull.exec(id, &bundle, &spec_file, &pid_file, console, stdio)
        });
        let _ = std::fs::remove_file(&spec_file);
        let _ = std::fs::remove_file(&pid_file);
        let (pid, console, stdin) = started.map_err(|e| error(Code::UNKNOWN, e))?;
        p.pid = pid;
        p.console = console;
        p.stdin = stdin;
        p.status = Status::Running;
        self.watch_exit(&mut g, id, eid)
            .map_err(|e| error(Code::UNKNOWN, e))?;
        self.events.exec_started(TaskExecStarted {
            container_id: id.to_string(),
            exec_id: eid.to_string(),
            pid,
            ..Default::default()
        });
        Ok(pid)
    }

    fn delete(&self, id: &str, eid: &str) -> Result<DeleteResponse, ttrpc::Error> {
        let mut g = self.lock();
        let c = g.containers.get_mut(id).ok_or_else(|| not_found(id, ""))?;
        let p = c.proc(eid).ok_or_else(|| not_found(id, eid))?;
        if matches!(p.status, Status::Running | Status::Paused) {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!(
                    "process {}: still running, kill it first",
                    if eid.is_empty() { id } else { eid }
                ),
            ));
        }
        let resp = DeleteResponse {
            pid: p.pid,
            exit_status: p.exit_status,
            exited_at: p.exited_at.clone().into(),
            ..Default::default()
        };
        if !eid.is_empty() {
            if let Some(p) = c.execs.remove(eid) {
                if let Some(fd) = &p.pidfd {
                    self.watcher.remove(fd);
                }
                if let Some(t) = p.token {
                    g.tokens.remove(&t);
                }
            }
            return Ok(resp);
        }
        // A created init that never ran is killed by the forced delete.
        let force = c.init.status == Status::Created;
        if let Err(e) = c.hull.delete(id, force) {
            // Already gone from hull's root (deleted behind the shim's back) is fine.
            if Path::new(&c.hull.root).join(id).exists() {
                return Err(error(Code::UNKNOWN, e));
            }
        }
        let c = g.containers.remove(id).expect("looked up above");
        if let Some(r) = &c.rootfs {
            mounts::unmount_in_background(r);
        }
        for p in std::iter::once(&c.init).chain(c.execs.values()) {
            if let Some(fd) = &p.pidfd {
                self.watcher.remove(fd);
            }
            if let Some(t) = p.token {
                g.tokens.remove(&t);
            }
            if let Some(s) = &p.stdin {
                s.close();
            }
        }
        if let Some((w, t)) = &c.oom {
            self.watcher.remove(w.fd());
            g.tokens.remove(t);
        }
        let _ = std::fs::remove_file(c.bundle.join("init.pid"));
        self.events.delete(TaskDelete {
            container_id: id.to_string(),
            pid: resp.pid,
            exit_status: resp.exit_status,
            exited_at: resp.exited_at.clone(),
            id: id.to_string(),
            ..Default::default()
        });
        self.changed.notify_all();
        Ok(resp)
    }

    fn exec(&self, req: &ExecProcessRequest) -> Result<(), ttrpc::Error> {
        let mut g = self.lock();
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        let c = g.containers.get_mut(id).ok_or_else(|| not_found(id, ""))?;
        if eid.is_empty() {
            return Err(error(Code::INVALID_ARGUMENT, "exec id is empty"));
        }
        if c.execs.contains_key(eid) {
            return Err(error(
                Code::ALREADY_EXISTS,
                format!("exec {eid} of container {id}: already exists"),
            ));
        }
        if c.init.status == Status::Stopped {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!("container {id} is stopped"),
            ));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        if serde_json::from_slice::<serde_json::Value>(&spec).map_or(true, |v| !v.is_object()) {
            return Err(error(
                Code::INVALID_ARGUMENT,
                format!("exec {eid}: the process spec is not a JSON object"),
            ));
        }
        let mut p = Proc::new(stdio::Paths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
            container: id.to_string(),
            namespace: self.namespace.clone(),
        });
        p.spec = spec;
        c.execs.insert(eid.to_string(), p);
        self.events.exec_added(TaskExecAdded {
            container_id: id.to_string(),
            exec_id: eid.to_string(),
            ..Default::default()
        });
        Ok(())
    }

    fn kill(&self, req: &KillRequest) -> Result<(), ttrpc::Error> {
        let g = self.lock();
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        let c = g.containers.get(id).ok_or_else(|| not_found(id, ""))?;
        let p = c.proc(eid).ok_or_else(|| not_found(id, eid))?;
        if p.status == Status::Stopped {
            return Err(error(Code::NOT_FOUND, "process already finished"));
        }
        if eid.is_empty() {
            return c
                .hull
                .kill(id, req.signal, req.all)
                .map_err(|e| error(Code::UNKNOWN, e));
        }
        let fd = p.pidfd.as_ref().ok_or_else(|| {
            error(
                Code::FAILED_PRECONDITION,
                format!("exec {eid}: not started"),
            )
        })?;
        hull_common::pidfd::send_signal(fd, req.signal as i32)
            .map_err(|e| error(Code::UNKNOWN, format!("signalling exec {eid}: {e}")))
    }

    fn pause(&self, id: &str, pause: bool) -> Result<(), ttrpc::Error> {
        let mut g = self.lock();
        let c = g.containers.get_mut(id).ok_or_else(|| not_found(id, ""))?;
        let (from, to) = if pause {
            (Status::Running, Status::Paused)
        } else {
            (Status::Paused, Status::Running)
        };
        if c.init.status != from {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!(
                    "container {id} is not {}",
                    if pause { "running" } else { "paused" }
                ),
            ));
        }
        let r = if pause {
            c.hull.pause(id)
        } else {
            c.hull.resume(id)
        };
        r.map_err(|e| error(Code::UNKNOWN, e))?;
        c.init.status = to;
        if pause {
            self.events.paused(TaskPaused {
                container_id: id.to_string(),
                ..Default::default()
            });
        } else {
            self.events.resumed(TaskResumed {
                container_id: id.to_string(),
                ..Default::default()
            });
        }
        Ok(())
    }

    fn wait(&self, id: &str, eid: &str) -> Result<WaitResponse, ttrpc::Error> {
        let mut g = self.lock();
        loop {
            let c = g.containers.get(id).ok_or_else(|| not_found(id, ""))?;
            let p = c.proc(eid).ok_or_else(|| not_found(id, eid))?;
            if p.status == Status::Stopped {
                return Ok(WaitResponse {
                    exit_status: p.exit_status,
                    exited_at: p.exited_at.clone().into(),
                    ..Default::default()
                });
            }
            g = self.changed.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Start one process through hull with the stdio its paths ask for: returns its pid,
/// its terminal, and its stdin.
type Launched = (u32, Option<std::fs::File>, Option<stdio::StdinSink>);

pub(crate) fn launch(
    name: &str,
    bundle: &Path,
    exec_id: Option<&str>,
    paths: &stdio::Paths,
    run: impl FnOnce(crate::hull::ProcStdio, Option<&Path>) -> Result<(), String>,
) -> Result<Launched, String> {
    let pid_file = match exec_id {
        Some(e) => bundle.join(format!("{e}.pid")),
        None => bundle.join("init.pid"),
    };
    if paths.terminal {
        let sock = stdio::ConsoleSocket::bind(
            &std::env::temp_dir(),
            &format!("hull-pty-{}-{name}.sock", std::process::id()),
        )?;
        run(stdio::null_stdio()?, Some(&sock.path))?;
        let pid = read_pid(&pid_file)?;
        let master = sock.receive()?;
        let stdin = stdio::relay_terminal(&master, paths)?;
        return Ok((pid, Some(master), stdin));
    }
    let (fds, copy) = stdio::plain(paths)?;
    run(fds, None)?;
    let pid = read_pid(&pid_file)?;
    Ok((pid, None, copy.map(stdio::StdinCopy::spawn)))
}

fn read_pid(file: &Path) -> Result<u32, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("reading the pid file {}: {e}", file.display()))?;
    text.trim()
        .parse()
        .map_err(|_| format!("pid file {}: {text:?} is no pid", file.display()))
}

fn ok<T>(r: Result<T, ttrpc::Error>) -> TtrpcResult<T> {
    r
}

impl Task for TaskService {
    fn create(&self, _: &TtrpcContext, req: CreateTaskRequest) -> TtrpcResult<CreateTaskResponse> {
        let pid = self.0.create(&req);
        crate::sys::trim_heap();
        let pid = pid?;
        Ok(CreateTaskResponse {
            pid,
            ..Default::default()
        })
    }

    fn start(&self, _: &TtrpcContext, req: StartRequest) -> TtrpcResult<StartResponse> {
        let pid = self.0.start(&req.id, &req.exec_id);
        crate::sys::trim_heap();
        let pid = pid?;
        Ok(StartResponse {
            pid,
            ..Default::default()
        })
    }

    fn delete(&self, _: &TtrpcContext, req: DeleteRequest) -> TtrpcResult<DeleteResponse> {
        ok(self.0.delete(&req.id, &req.exec_id))
    }

    fn exec(&self, _: &TtrpcContext, req: ExecProcessRequest) -> TtrpcResult<Empty> {
        self.0.exec(&req).map(|_| Empty::new())
    }

    fn state(&self, _: &TtrpcContext, req: StateRequest) -> TtrpcResult<StateResponse> {
        let g = self.0.lock();
        let (id, eid) = (req.id.as_str(), req.exec_id.as_str());
        let c = g.containers.get(id).ok_or_else(|| not_found(id, ""))?;
        let p = c.proc(eid).ok_or_else(|| not_found(id, eid))?;
        Ok(StateResponse {
            id: if eid.is_empty() {
                id.to_string()
            } else {
                eid.to_string()
            },
            bundle: c.bundle.to_string_lossy().into_owned(),
            pid: p.pid,
            status: p.status.proto().into(),
            stdin: p.paths.stdin.clone(),
            stdout: p.paths.stdout.clone(),
            stderr: p.paths.stderr.clone(),
            terminal: p.paths.terminal,
            exit_status: p.exit_status,
            exited_at: p.exited_at.clone().into(),
            exec_id: eid.to_string(),
            ..Default::default()
        })
    }

    fn kill(&self, _: &TtrpcContext, req: KillRequest) -> TtrpcResult<Empty> {
        self.0.kill(&req).map(|_| Empty::new())
    }

    fn pause(&self, _: &TtrpcContext, req: PauseRequest) -> TtrpcResult<Empty> {
        self.0.pause(&req.id, true).map(|_| Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, req: ResumeRequest) -> TtrpcResult<Empty> {
        self.0.pause(&req.id, false).map(|_| Empty::new())
    }

    fn pids(&self, _: &TtrpcContext, req: PidsRequest) -> TtrpcResult<PidsResponse> {
        let g = self.0.lock();
        let c = g
            .containers
            .get(&req.id)
            .ok_or_else(|| not_found(&req.id, ""))?;
        let pids = c.hull.ps(&req.id).map_err(|e| error(Code::UNKNOWN, e))?;
        let mut resp = PidsResponse::new();
        for pid in pids {
            let mut info = ProcessInfo::new();
            info.pid = pid;
            if let Some((eid, _)) = c.execs.iter().find(|(_, p)| p.pid == pid) {
                let d = ProcessDetails {
                    exec_id: eid.clone(),
                    ..Default::default()
                };
                info.info = events::pack(&d, PROCESS_DETAILS).into();
            }
            resp.processes.push(info);
        }
        Ok(resp)
    }

    fn close_io(&self, _: &TtrpcContext, req: CloseIORequest) -> TtrpcResult<Empty> {
        let mut g = self.0.lock();
        let c = g
            .containers
            .get_mut(&req.id)
            .ok_or_else(|| not_found(&req.id, ""))?;
        let p = c
            .proc_mut(&req.exec_id)
            .ok_or_else(|| not_found(&req.id, &req.exec_id))?;
        if let Some(s) = p.stdin.take() {
            s.close();
            stdio::unblock_fifo(&p.paths.stdin);
        }
        Ok(Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: ResizePtyRequest) -> TtrpcResult<Empty> {
        let g = self.0.lock();
        let c = g
            .containers
            .get(&req.id)
            .ok_or_else(|| not_found(&req.id, ""))?;
        let p = c
            .proc(&req.exec_id)
            .ok_or_else(|| not_found(&req.id, &req.exec_id))?;
        let tty = p
            .console
            .as_ref()
            .ok_or_else(|| error(Code::FAILED_PRECONDITION, "the process has no terminal"))?;
        crate::sys::set_winsize(tty, req.height as u16, req.width as u16)
            .map_err(|e| error(Code::UNKNOWN, format!("resizing the terminal: {e}")))?;
        Ok(Empty::new())
    }

    fn update(&self, _: &TtrpcContext, req: UpdateTaskRequest) -> TtrpcResult<Empty> {
        let g = self.0.lock();
        let c = g
            .containers
            .get(&req.id)
            .ok_or_else(|| not_found(&req.id, ""))?;
        let res = req
            .resources
            .as_ref()
            .map(|a| a.value.as_slice())
            .unwrap_or(b"{}");
        if serde_json::from_slice::<serde_json::Value>(res).map_or(true, |v| !v.is_object()) {
            return Err(error(
                Code::INVALID_ARGUMENT,
                "update: resources are not LinuxResources JSON",
            ));
        }
        c.hull
            .update(&req.id, res)
            .map_err(|e| error(Code::INVALID_ARGUMENT, e))?;
        Ok(Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: WaitRequest) -> TtrpcResult<WaitResponse> {
        self.0.wait(&req.id, &req.exec_id)
    }

    fn checkpoint(&self, _: &TtrpcContext, req: CheckpointTaskRequest) -> TtrpcResult<Empty> {
        // Held while criu dumps: no other call changes the container meanwhile.
        let g = self.0.lock();
        let c = g
            .containers
            .get(&req.id)
            .ok_or_else(|| not_found(&req.id, ""))?;
        if !matches!(c.init.status, Status::Running | Status::Paused) {
            return Err(error(
                Code::FAILED_PRECONDITION,
                format!("container {} is not running", req.id),
            ));
        }
        crate::checkpoint::checkpoint(c, &req.id, &req).map_err(|e| error(Code::UNKNOWN, e))?;
        Ok(Empty::new())
    }

    fn stats(&self, _: &TtrpcContext, req: StatsRequest) -> TtrpcResult<StatsResponse> {
        let hull = {
            let g = self.0.lock();
            let c = g
                .containers
                .get(&req.id)
                .ok_or_else(|| not_found(&req.id, ""))?;
            c.hull.clone()
        };
        let data = hull.stats(&req.id).map_err(|e| error(Code::UNKNOWN, e))?;
        let m = crate::stats::metrics(&data);
        Ok(StatsResponse {
            stats: events::pack(&m, METRICS_V1).into(),
            ..Default::default()
        })
    }

    fn connect(&self, _: &TtrpcContext, req: ConnectRequest) -> TtrpcResult<ConnectResponse> {
        let g = self.0.lock();
        Ok(ConnectResponse {
            shim_pid: std::process::id(),
            task_pid: g.containers.get(&req.id).map_or(0, |c| c.init.pid),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _: &TtrpcContext, _req: ShutdownRequest) -> TtrpcResult<Empty> {
        if self.0.lock().containers.is_empty() {
            self.0.watcher.stop();
        }
        Ok(Empty::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim::protos::cgroups::metrics::Metrics;
    use containerd_shim::protos::protobuf::MessageFull;

    #[test]
    fn packed_type_names_are_the_messages_full_names() {
        assert_eq!(ProcessDetails::descriptor().full_name(), PROCESS_DETAILS);
        assert_eq!(Metrics::descriptor().full_name(), METRICS_V1);
    }
}
