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

/// Where a run's stdout goes chunk by chunk, when it is not kept.
pub type StdoutSink = tokio::sync::mpsc::UnboundedSender<Vec<u8>>;

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
    /// When set, stdout is sent here chunk by chunk as it arrives instead of being kept, so
    /// that a consumer (the hasher, for preprocessed text) works while the process still runs.
    pub stdout_sink: Option<StdoutSink>,
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
            stdout_sink: None,
        }
    }
}

/// What a process did.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Empty when stdout went to a sink.
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
    let (stdout, stderr) = match run.stdout_sink {
        Some(sink) => {
            let (sent, stderr) = tokio::join!(forward(stdout_pipe, sink), drain(stderr_pipe));
            (sent.map(|()| Vec::new()), stderr)
        }
        None => tokio::join!(drain(stdout_pipe), drain(stderr_pipe)),
    };
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

/// Bytes read from a pipe at a time.
const CHUNK: usize = 64 * 1024;

/// Reads a pipe to its end.
async fn drain(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut kept).await?;
    }
    Ok(kept)
}

/// Reads a pipe to its end, sending each chunk to `sink` as it arrives. The channel is
/// unbounded on purpose: the process must never wait on the consumer, so no cycle of waits can
/// form between the dispatcher's slots and the consumer's threads; what it buffers is at most
/// the output, which would otherwise be kept whole.
async fn forward(pipe: Option<impl AsyncRead + Unpin>, sink: StdoutSink) -> std::io::Result<()> {
    let Some(mut pipe) = pipe else {
        return Ok(());
    };
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let read = pipe.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        chunk.truncate(read);
        // A consumer that has gone away wants no more; the process is still drained.
        let _ = sink.send(chunk);
    }
}
