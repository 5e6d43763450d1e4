//! The dispatcher: the bounded pool of compiler processes.
//!
//! Every process the server runs for a client (preprocessor, compiler, probe) goes through
//! `Run`, so at most `jobs` of them run at once however many clients are waiting. Processes are
//! spawned and awaited asynchronously; the actor itself never blocks.

use actix::prelude::*;
use sccache_core::source_digest::{SourceDigest, SourceSummary};
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
    /// When set, stdout is fed to this digest as it arrives instead of being kept: the
    /// preprocessor's output is hashed while the preprocessor still runs.
    pub stdout_digest: Option<SourceDigest>,
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
            stdout_digest: None,
        }
    }
}

/// What a process did.
#[derive(Debug, Clone)]
pub struct ProcessOutput {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Empty when stdout went to a digest.
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The digest of stdout, when the run asked for one.
    pub stdout_summary: Option<SourceSummary>,
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
    let (stdout, stderr) = match run.stdout_digest {
        Some(digest) => {
            let (digested, stderr) =
                tokio::join!(digest_pipe(stdout_pipe, digest), drain(stderr_pipe));
            (digested.map(|summary| (Vec::new(), Some(summary))), stderr)
        }
        None => {
            let (stdout, stderr) = tokio::join!(drain(stdout_pipe), drain(stderr_pipe));
            (stdout.map(|stdout| (stdout, None)), stderr)
        }
    };
    let status = child.wait().await.map_err(spawn_error)?;
    let stdout = stdout.map_err(spawn_error)?;
    use std::os::unix::process::ExitStatusExt;
    Ok(ProcessOutput {
        exit_code: status.code(),
        signal: status.signal(),
        stdout: stdout.0,
        stderr: stderr.map_err(spawn_error)?,
        stdout_summary: stdout.1,
        duration: started.elapsed(),
    })
}

/// Bytes read from a pipe at a time.
const CHUNK: usize = 64 * 1024;
/// Chunks read but not yet hashed, at most.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Reads a pipe to its end.
async fn drain(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut kept = Vec::new();
    if let Some(mut pipe) = pipe {
        pipe.read_to_end(&mut kept).await?;
    }
    Ok(kept)
}

/// Reads a pipe to its end, digesting each chunk as it arrives. The hashing runs on the
/// blocking pool, fed through a channel, so that it overlaps the child's run without taking
/// CPU time on the actors' thread.
async fn digest_pipe(
    pipe: Option<impl AsyncRead + Unpin>,
    mut digest: SourceDigest,
) -> std::io::Result<SourceSummary> {
    // A bounded channel: a preprocessor faster than the hashing waits rather than piling up
    // its output in memory.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
    let hashing = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = receiver.blocking_recv() {
            digest.update(&chunk);
        }
        digest.finish()
    });
    if let Some(mut pipe) = pipe {
        loop {
            let mut chunk = vec![0u8; CHUNK];
            let read = pipe.read(&mut chunk).await?;
            if read == 0 {
                break;
            }
            chunk.truncate(read);
            if sender.send(chunk).await.is_err() {
                break;
            }
        }
    }
    drop(sender);
    hashing
        .await
        .map_err(|error| std::io::Error::other(format!("digest task failed: {error}")))
}
