//! An output file of a compile, what moving one into or out of an entry can fail with, and
//! the blocking pool both ways run on (`outputs`).

use std::path::PathBuf;

/// One file to collect or restore: its name inside the entry and its path on disk.
#[derive(Debug, Clone)]
pub struct OutputFile {
    pub name: String,
    pub path: PathBuf,
}

/// Why outputs could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot read output {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write output {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is not a regular file")]
    NotRegular(PathBuf),
    #[error("{0} was not written by the compile (it is older)")]
    NotWritten(PathBuf),
    #[error("the cache entry has no file named {0:?}")]
    MissingInEntry(String),
    #[error("the cache entry's file {0:?} is kept outside it, and was not found")]
    ContentMissing(String),
    #[error("blocking task failed: {0}")]
    Task(String),
}

/// Runs `work` on tokio's blocking pool, never on an actor's thread.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OutputError> + Send + 'static,
) -> Result<T, OutputError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| OutputError::Task(error.to_string()))?
}
