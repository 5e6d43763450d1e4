//! Moving a compile's output files into and out of cache entries.
//!
//! Collecting reads the files a compile wrote; restoring writes an entry's files where this
//! invocation wants them, each to a temporary file beside its target and then renamed over it,
//! so a concurrent reader (make, another rustc reading an rlib) never sees a partial file. A
//! target that already holds the entry's bytes (a rebuild whose output did not change) is only
//! given a new modification time, as rewriting it would.
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
    // Without a mode, keep what a compiler would create: 0644 under the usual umask.
    let mode = mode.unwrap_or(0o644);
    // Renaming over a device, a FIFO or a symlink would replace it instead of writing where
    // the compiler would have written; leave those to the compiler.
    match std::fs::symlink_metadata(path) {
        Ok(existing) if !existing.is_file() => {
            return Err(std::io::Error::other(
                "the target exists and is not a regular file",
            ))
        }
        Ok(existing) if touched_if_identical(path, &existing, data, mode) => return Ok(()),
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
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    // Renamed over the old file, never unlinking it first: a reader sees the old file or the
    // new one, and ext4 (auto_da_alloc) writes the new data out before such a rename (about
    // 0.4 ms here), so a crash cannot leave an empty object with a fresh mtime.
    temp.persist(path).map_err(|error| error.error)?;
    Ok(())
}

/// When the target already holds exactly `data` with `mode` (a rebuild whose output did not
/// change), sets its modification time to now, as rewriting it would, and says so. Any doubt
/// (a different size or mode, a read error, a file this user may not touch) answers `false`,
/// and the file is rewritten. "Now" is the file system's clock (`UTIME_NOW`), as for a write,
/// not this machine's: on NFS the two can differ, and make compares against the former.
/// (Two writers racing for one output are already a broken build; the later one wins here
/// as anywhere.)
fn touched_if_identical(path: &Path, existing: &std::fs::Metadata, data: &[u8], mode: u32) -> bool {
    if existing.len() != data.len() as u64 || existing.permissions().mode() & 0o7777 != mode {
        return false;
    }
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut current = Vec::with_capacity(data.len());
    let same = std::io::Read::read_to_end(&mut file, &mut current).is_ok() && current == data;
    same && touch(&file).is_ok()
}

/// Sets a file's modification time to the file system's now, leaving its access time.
fn touch(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
    ];
    // SAFETY: `times` is an array of the two timespecs futimens reads; the descriptor is open.
    if unsafe { libc::futimens(file.as_raw_fd(), times.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OutputError> + Send + 'static,
) -> Result<T, OutputError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| OutputError::Task(error.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::{Duration, SystemTime};

    /// A target written an hour ago, so that a restore's new modification time shows.
    fn old_target(dir: &Path, data: &[u8], mode: u32) -> PathBuf {
        let path = dir.join("out.o");
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        path
    }

    fn age(path: &Path) -> Duration {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default()
    }

    #[test]
    fn an_identical_target_is_only_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_target(dir.path(), b"object", 0o644);
        let inode = std::fs::metadata(&path).unwrap().ino();
        write_atomically(&path, b"object", Some(0o644)).unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(after.ino(), inode, "the file was rewritten");
        assert!(age(&path) < Duration::from_secs(60), "mtime not renewed");
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
    }

    #[test]
    fn a_different_target_is_replaced_whole() {
        for (old, old_mode) in [
            (&b"object!"[..], 0o644),
            (b"0bject", 0o644),
            (b"object", 0o600),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = old_target(dir.path(), old, old_mode);
            let inode = std::fs::metadata(&path).unwrap().ino();
            write_atomically(&path, b"object", Some(0o644)).unwrap();
            let after = std::fs::metadata(&path).unwrap();
            assert_ne!(
                after.ino(),
                inode,
                "{old:?} {old_mode:o} was written in place"
            );
            assert_eq!(after.permissions().mode() & 0o777, 0o644);
            assert_eq!(std::fs::read(&path).unwrap(), b"object");
            assert!(age(&path) < Duration::from_secs(60));
            // No temp file is left beside the target.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_missing_target_is_created_and_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.o");
        write_atomically(&path, b"object", None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
        let link = dir.path().join("link.o");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(write_atomically(&link, b"other", None).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
    }
}
