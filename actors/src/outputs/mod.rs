//! Moving a compile's output files into and out of cache entries.
//!
//! Collecting reads the files a compile wrote; restoring writes an entry's files where this
//! invocation wants them, each to a temporary file beside its target and then renamed over it,
//! so a concurrent reader (make, another rustc reading an rlib) never sees a partial file. A
//! target that already holds the entry's bytes (a rebuild whose output did not change) is only
//! given a new modification time, as rewriting it would.
//!
//! A restore is prepared (temporary files written, identical targets found) and then put in
//! place (touches and renames); the C flow prepares while the preprocessor's driver exits and
//! puts in place once it exited cleanly. Reading and writing run on tokio's blocking pool,
//! never on an actor's thread; only putting in place may run there, when it is a metadata
//! call or two on a local file system.
//!
//! A file whose bytes a backend keeps in a content file (`External`: the disk cache's large
//! outputs) is restored from that file by clone or kernel copy (`content_copy`), never by a
//! hard link, so the target is a file of its own: whatever a build later writes into it leaves
//! the cache as it was. The copy is kept only if the content file still has the metadata it had
//! when the backend checked its digest, and the copy has the recorded length.

mod collect;
mod restore;

pub use collect::{collect, existing};
pub use restore::{created_mode, prepare, put_in_place, restore, Prepared, Restored};

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
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OutputError> + Send + 'static,
) -> Result<T, OutputError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| OutputError::Task(error.to_string()))?
}
