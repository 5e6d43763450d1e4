//! The dispatcher: the bounded pool of compiler processes.
//!
//! Every process the server runs for a client (preprocessor, compiler, probe) goes through
//! `Run`, so at most `jobs` of them run at once however many clients are waiting (and `jobs`
//! runs beside them, below). A process
//! that accompanies a compile already running (a linking rustc's crate listing, needed by the
//! time that compile ends) takes a slot of a second pool of the same size instead
//! (`Run::beside_a_compile`): waiting for a compile slot, it would start only when its own
//! compile ended and lengthen that compile's reply by its whole run. Processes are spawned
//! and awaited asynchronously; the actor itself never blocks.
//!
//! A run may carry the token of its client's connection: when the client is gone (a build
//! interrupted with Ctrl-C), the process's group is sent SIGINT, as the terminal would have
//! sent it to a compiler run by hand, so that it stops and removes its partial outputs; and a
//! run asked for after that does not start. An abandoned compile never writes the user's
//! files later, over what the next build produced.

use crate::jobserver::Jobserver;
use crate::reaper::Reaper;
use actix::prelude::*;
use std::ffi::OsString;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The pool.
pub struct Dispatcher {
    slots: Arc<Semaphore>,
    /// For runs beside a compile.
    beside_slots: Arc<Semaphore>,
    /// Told of every process group, so that none outlives a server that dies (`reaper`).
    reaper: Arc<Reaper>,
}

impl Dispatcher {
    pub fn new(jobs: usize, reaper: Reaper) -> Self {
        // Read now, at start, rather than on an actor's thread at the first compile.
        server_umask();
        Dispatcher {
            slots: Arc::new(Semaphore::new(jobs.max(1))),
            beside_slots: Arc::new(Semaphore::new(jobs.max(1))),
            reaper: Arc::new(reaper),
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;
}

/// Runs one process to completion, capturing its output.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<ProcessOutput, RunError>")]
pub struct Run {
    pub exe: OsString,
    pub args: Vec<OsString>,
    pub cwd: OsString,
    /// The whole environment of the process (the client's, usually).
    pub env: Vec<(OsString, OsString)>,
    /// Cancelled when the client that asked for the process is gone.
    pub client_gone: Option<CancellationToken>,
    /// The client's umask, under which the process creates files (`None`: the server's).
    pub umask: Option<u32>,
    /// The client's jobserver, which the process inherits (`crate::jobserver`).
    pub jobserver: Option<Arc<Jobserver>>,
    /// Whether it accompanies a compile that holds a slot (see the module doc).
    pub beside: bool,
}

impl Run {
    /// Runs `exe` with `args` in `cwd` with exactly `env`, keeping stdout.
    pub fn new(
        exe: OsString,
        args: Vec<OsString>,
        cwd: OsString,
        env: Vec<(OsString, OsString)>,
    ) -> Run {
        Run {
            exe,
            args,
            cwd,
            env,
            client_gone: None,
            umask: None,
            jobserver: None,
            beside: false,
        }
    }

    /// The same run, taking a slot of the pool for runs beside a compile.
    pub fn beside_a_compile(mut self) -> Run {
        self.beside = true;
        self
    }

    /// The same run, creating files under the client's `umask` as the compiler run by hand
    /// would.
    pub fn under_umask(mut self, umask: u32) -> Run {
        self.umask = Some(umask);
        self
    }

    /// The same run, with the client's jobserver.
    pub fn with_jobserver(mut self, jobserver: Arc<Jobserver>) -> Run {
        self.jobserver = Some(jobserver);
        self
    }

    /// The same run, stopped if the client is gone (see the module doc).
    pub fn for_client(mut self, client_gone: CancellationToken) -> Run {
        self.client_gone = Some(client_gone);
        self
    }

    fn abandoned(&self) -> bool {
        self.client_gone
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }
}

/// What a process did.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Time from spawn to exit, not counting the wait for a slot.
    pub duration: Duration,
}

impl ProcessOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Why a process could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot run {exe:?}: {source}")]
    Spawn {
        exe: OsString,
        source: std::io::Error,
    },
    #[error("the dispatcher is shutting down")]
    Closed,
    #[error("the client is gone")]
    Abandoned,
}

impl Handler<Run> for Dispatcher {
    type Result = ResponseFuture<Result<ProcessOutput, RunError>>;

    fn handle(&mut self, run: Run, _: &mut Context<Self>) -> Self::Result {
        let slots = match run.beside {
            true => self.beside_slots.clone(),
            false => self.slots.clone(),
        };
        let reaper = self.reaper.clone();
        Box::pin(async move {
            let _slot = slots.acquire_owned().await.map_err(|_| RunError::Closed)?;
            if run.abandoned() {
                return Err(RunError::Abandoned);
            }
            run_process(run, &reaper).await
        })
    }
}

/// A process group the reaper was told of, which it is told is over when this is dropped
/// (the process reaped, or killed and left to the kernel when the run is dropped).
struct Watched<'a> {
    reaper: &'a Reaper,
    group: u32,
}

impl Drop for Watched<'_> {
    fn drop(&mut self) {
        self.reaper.ended(self.group);
    }
}

async fn run_process(run: Run, reaper: &Reaper) -> Result<ProcessOutput, RunError> {
    let started = Instant::now();
    let spawn_error = |source| RunError::Spawn {
        exe: run.exe.clone(),
        source,
    };
    let mut command = tokio::process::Command::new(&run.exe);
    if let Some(umask) = run.umask.filter(|&umask| umask != server_umask()) {
        crate::sys::with_umask(&mut command, umask);
    }
    command
        .args(&run.args)
        .current_dir(&run.cwd)
        .env_clear()
        .envs(run.env.iter().map(|(key, value)| (key, value)));
    if let Some(jobserver) = &run.jobserver {
        let (name, value) = jobserver.variable();
        command.env(name, value);
        crate::sys::inheriting(&mut command, jobserver.descriptors());
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // A group of its own, so that the driver and the programs it runs (cc1, as) can be
        // interrupted together, as a terminal's Ctrl-C would.
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let group = child.id();
    let _watched = group.map(|group| {
        reaper.started(group);
        Watched { reaper, group }
    });
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let (status, drained) = {
        let finished = run_to_end(&mut child, &mut stdout, &mut stderr);
        tokio::pin!(finished);
        let client_gone = async {
            match &run.client_gone {
                Some(token) => token.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            finished = &mut finished => finished,
            () = client_gone => {
                if let Some(group) = group {
                    interrupt(group);
                }
                // It is waited for all the same: the driver removes its outputs on the way
                // out.
                finished.await
            }
        }
    };
    let status = status.map_err(spawn_error)?;
    drained.map_err(spawn_error)?;
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessOutput {
        exit_code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        duration: started.elapsed(),
    })
}

/// How long a process's pipes may stay open after it exited.
const PIPES_GRACE: Duration = Duration::from_secs(2);

/// Waits for `child` to exit while draining its pipes into `stdout` and `stderr` (together, so
/// that a child filling one never blocks on the other). Once it has exited, what is left in
/// them is read until their end, for `PIPES_GRACE` at most: a process it left behind (a daemon
/// it started, a background job) may hold them open for as long as it runs, and the compile
/// is over.
async fn run_to_end(
    child: &mut tokio::process::Child,
    stdout: &mut Vec<u8>,
    stderr: &mut Vec<u8>,
) -> (
    std::io::Result<std::process::ExitStatus>,
    std::io::Result<()>,
) {
    let (stdout_pipe, stderr_pipe) = (child.stdout.take(), child.stderr.take());
    let drains = async {
        let (out, err) = tokio::join!(drain(stdout_pipe, stdout), drain(stderr_pipe, stderr));
        out.and(err)
    };
    tokio::pin!(drains);
    let status = tokio::select! {
        drained = &mut drains => return (child.wait().await, drained),
        status = child.wait() => status,
    };
    match tokio::time::timeout(PIPES_GRACE, &mut drains).await {
        Ok(drained) => (status, drained),
        Err(_) => {
            log::info!("a process left its output open after it exited: not waited for");
            (status, Ok(()))
        }
    }
}

/// The server's own umask, which its children inherit; read once, from /proc rather than by
/// setting it, which would race with threads creating files. Unknown counts as 022, the
/// usual value, so a client's other umask is still applied.
fn server_umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| {
                let line = status
                    .lines()
                    .find_map(|line| line.strip_prefix("Umask:"))?;
                u32::from_str_radix(line.trim(), 8).ok()
            })
            .unwrap_or(0o022)
    })
}

/// Sends SIGINT to the process group led by `leader`.
fn interrupt(leader: u32) {
    let group = i32::try_from(leader)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(group) = group {
        if let Err(error) = rustix::process::kill_process_group(group, rustix::process::Signal::INT)
        {
            log::debug!("cannot interrupt an abandoned compile: {error}");
        }
    }
}

/// Reads a pipe to its end into `kept` (what was read is there should this be dropped).
async fn drain(pipe: Option<impl AsyncRead + Unpin>, kept: &mut Vec<u8>) -> std::io::Result<()> {
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(kept).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Run {
        let args = vec!["-c".into(), script.into()];
        let env = vec![("PATH".into(), "/usr/bin:/bin".into())];
        Run::new("/bin/sh".into(), args, "/".into(), env)
    }

    /// A run beside a compile does not wait for the compile's slot: with one slot held by a
    /// long process, it starts and ends while that process still runs.
    #[actix_rt::test]
    async fn a_run_beside_a_compile_does_not_wait_for_the_compile_slots() {
        let dispatcher = Dispatcher::new(1, Reaper::default()).start();
        let compile = dispatcher.send(sh("sleep 20"));
        let mut compile = std::pin::pin!(compile);
        // The compile takes the only slot first.
        let _ = tokio::time::timeout(Duration::from_millis(200), &mut compile).await;
        let beside = dispatcher.send(sh("echo listed").beside_a_compile());
        tokio::select! {
            biased;
            output = beside => {
                let output = output.expect("mailbox").expect("run");
                assert_eq!(output.stdout, b"listed\n");
            }
            _ = &mut compile => panic!("the run beside waited for the compile to end"),
        }
    }

    /// A process that leaves a background job holding its output open (a compiler wrapper
    /// starting a daemon) ends when it exits, with what it wrote, not when the job does.
    #[actix_rt::test]
    async fn a_process_ends_when_it_exits_though_a_job_it_left_holds_its_output() {
        let dispatcher = Dispatcher::new(1, Reaper::default()).start();
        let run = sh("(sleep 20 &); echo done; echo said >&2");
        let output = tokio::time::timeout(Duration::from_secs(10), dispatcher.send(run))
            .await
            .expect("the run ended")
            .expect("mailbox")
            .expect("run");
        assert!(output.success());
        assert_eq!(output.stdout, b"done\n");
        assert_eq!(output.stderr, b"said\n");
    }
}
