//! Moving a compile's output files into and out of cache entries.
//!
//! Collecting reads the files a compile wrote; restoring writes an entry's files where this
//! invocation wants them, each to a temporary file beside its target and then renamed over it,
//! so a concurrent reader (make, another rustc reading an rlib) never sees a partial file.
//! Both are blocking and run on tokio's blocking pool, never on an actor's thread.

use sccache_core::entry::EntryFile;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

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
    #[error("the cache entry has no file named {0:?}")]
    MissingInEntry(String),
    #[error("blocking task failed: {0}")]
    Task(String),
}

/// Reads the outputs a compile wrote.
pub async fn collect(files: Vec<OutputFile>) -> Result<Vec<EntryFile>, OutputError> {
    blocking(move || {
        files
            .into_iter()
            .map(|file| {
                let read = |source| OutputError::Read {
                    path: file.path.clone(),
                    source,
                };
                // Only a regular file is an output worth keeping: a compile to /dev/null or
                // through a symlink must not store what reading that path happens to give.
                let metadata = std::fs::symlink_metadata(&file.path).map_err(read)?;
                if !metadata.is_file() {
                    return Err(OutputError::NotRegular(file.path));
                }
                let data = std::fs::read(&file.path).map_err(read)?;
                let mode = metadata.permissions().mode();
                Ok(EntryFile {
                    name: file.name,
                    mode: Some(mode & 0o777),
                    data,
                })
            })
            .collect()
    })
    .await
}

/// Writes the entry's files to their targets, each atomically.
pub async fn restore(
    entry_files: Vec<EntryFile>,
    targets: Vec<OutputFile>,
) -> Result<(), OutputError> {
    blocking(move || {
        for target in &targets {
            let file = entry_files
                .iter()
                .find(|file| file.name == target.name)
                .ok_or_else(|| OutputError::MissingInEntry(target.name.clone()))?;
            write_atomically(&target.path, &file.data, file.mode).map_err(|source| {
                OutputError::Write {
                    path: target.path.clone(),
                    source,
                }
            })?;
        }
        Ok(())
    })
    .await
}

fn write_atomically(path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    // Renaming over a device, a FIFO or a symlink would replace it instead of writing where
    // the compiler would have written; leave those to the compiler.
    match std::fs::symlink_metadata(path) {
        Ok(existing) if !existing.is_file() => {
            return Err(std::io::Error::other(
                "the target exists and is not a regular file",
            ))
        }
        _ => {}
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".sccache-restore")
        .tempfile_in(dir)?;
    temp.write_all(data)?;
    // Without a mode, keep what a compiler would create: 0644 under the usual umask.
    let mode = mode.unwrap_or(0o644);
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OutputError> + Send + 'static,
) -> Result<T, OutputError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| OutputError::Task(error.to_string()))?
}
