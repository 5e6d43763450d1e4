//! The dispatcher: the bounded pool of compiler processes.
//!
//! Every process the server runs for a client (preprocessor, compiler, probe) goes through
//! `Run`, so at most `jobs` of them run at once however many clients are waiting. Processes are
//! spawned and awaited asynchronously; the actor itself never blocks.

use actix::prelude::*;
use std::ffi::OsString;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::Semaphore;

/// The pool.
pub struct Dispatcher {
    slots: Arc<Semaphore>,
}

impl Dispatcher {
    pub fn new(jobs: usize) -> Self {
        Dispatcher {
            slots: Arc::new(Semaphore::new(jobs.max(1))),
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
        }
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
}

impl Handler<Run> for Dispatcher {
    type Result = ResponseFuture<Result<ProcessOutput, RunError>>;

    fn handle(&mut self, run: Run, _: &mut Context<Self>) -> Self::Result {
        let slots = self.slots.clone();
        Box::pin(async move {
            let _slot = slots.acquire_owned().await.map_err(|_| RunError::Closed)?;
            run_process(run).await
        })
    }
}

async fn run_process(run: Run) -> Result<ProcessOutput, RunError> {
    let started = Instant::now();
    let spawn_error = |source| RunError::Spawn {
        exe: run.exe.clone(),
        source,
    };
    let mut child = tokio::process::Command::new(&run.exe)
        .args(&run.args)
        .current_dir(&run.cwd)
        .env_clear()
        .envs(run.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let stdout_pipe = child.stdout.take();
    let stderr_pipe = child.stderr.take();
    // Both pipes are drained together so that a child filling one never blocks on the other.
    let (stdout, stderr) = tokio::join!(drain(stdout_pipe), drain(stderr_pipe));
    let status = child.wait().await.map_err(spawn_error)?;
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessOutput {
        exit_code: status.code(),
        signal: status.signal(),
        stdout: stdout.map_err(spawn_error)?,
        stderr: stderr.map_err(spawn_error)?,
        duration: started.elapsed(),
    })
}

/// Reads a pipe to its end.
async fn drain(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut kept).await?;
    }
    Ok(kept)
}
