//! Scanning the disk cache's directory: summing the entries in the shards, removing the least
//! recently used ones when the total is over the limit, and removing stale temp files. An entry
//! and its content files (`<hex key>.<digest>`) count and go as one: their total size, the
//! entry's mtime (which a hit renews); content files without their entry, as of their newest.
//!
//! Plain functions meant for tokio's blocking pool; they hold no state between calls and must
//! not assume they are alone in the directory, since other servers may share it.

use super::content::group_of;
use super::layout::{shard_dir, TEMP_PREFIX};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// Temp files younger than this are writes in progress: neither counted nor removed.
const YOUNG_TEMP: Duration = Duration::from_secs(60);
/// Temp files older than this were left by a crashed writer and are removed by scans.
const STALE_TEMP: Duration = Duration::from_secs(60 * 60);

/// What a scan of the cache directory found and left.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ScanReport {
    /// Bytes left in entries and in temp files old enough not to be writes in progress.
    pub(super) remaining: u64,
    /// Entries removed to get under the limit.
    pub(super) removed: usize,
}

/// Sums the entries under `dir` and, when they exceed `limit`, removes the least recently used
/// (oldest mtime first) until at most `target` bytes remain. Removes stale temp files. Counts the
/// shards it has finished in `shards_done`, so the actor knows which of its own changes the count
/// misses. Runs on the blocking pool; other processes may add or remove files meanwhile, so every
/// failure to read or remove a file just leaves it out of (or in) the count. Only the shard
/// directories are visited: anything else in `dir` is not ours to count or evict.
pub(super) fn scan_and_evict(
    dir: &Path,
    limit: u64,
    target: u64,
    shards_done: &AtomicUsize,
) -> ScanReport {
    scan(dir, Some((limit, target)), shards_done)
}

/// Sums the entries under `dir` as `scan_and_evict` does, but removes nothing: the scan of a
/// read-only cache.
pub(super) fn count_only(dir: &Path, shards_done: &AtomicUsize) -> ScanReport {
    scan(dir, None, shards_done)
}

/// The scan; `eviction` is the limit and target, `None` for a scan that changes nothing.
fn scan(dir: &Path, eviction: Option<(u64, u64)>, shards_done: &AtomicUsize) -> ScanReport {
    let now = SystemTime::now();
    let mut entries = Vec::new();
    let mut remaining = 0u64;
    for shard in 0..=u8::MAX {
        let mut groups: HashMap<String, Group> = HashMap::new();
        let listing = fs::read_dir(shard_dir(dir, shard)).into_iter().flatten();
        for path in listing.flatten().map(|entry| entry.path()) {
            let Ok(metadata) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let age = now.duration_since(modified).unwrap_or_default();
            if !is_temp(&path) {
                remaining += metadata.len();
                let name = path.file_name().and_then(OsStr::to_str).unwrap_or("");
                let group = groups.entry(group_of(name).to_owned()).or_default();
                group.len += metadata.len();
                if group_of(name) == name {
                    group.entry_modified = Some(modified);
                    // The entry goes first: a reader never finds it without its contents.
                    group.paths.insert(0, path);
                } else {
                    group.newest_content = group.newest_content.max(Some(modified));
                    group.paths.push(path);
                }
            } else if age > STALE_TEMP && eviction.is_some() && fs::remove_file(&path).is_ok() {
                log::debug!("removed stale temp file {}", path.display());
            } else if age > YOUNG_TEMP {
                remaining += metadata.len();
            }
        }
        entries.extend(groups.into_values().map(|group| {
            let used = group
                .entry_modified
                .or(group.newest_content)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            (used, group.len, group.paths)
        }));
        shards_done.store(usize::from(shard) + 1, Ordering::SeqCst);
    }
    let mut removed = 0;
    let Some((limit, target)) = eviction else {
        return ScanReport { remaining, removed };
    };
    if remaining <= limit {
        return ScanReport { remaining, removed };
    }
    entries.sort_unstable_by_key(|(modified, _, _)| *modified);
    for (_, length, paths) in entries {
        if remaining <= target {
            break;
        }
        let mut gone = true;
        for path in &paths {
            match fs::remove_file(path) {
                Ok(()) => {}
                // Another server evicted it first.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    log::debug!("cannot evict {}: {error}", path.display());
                    gone = false;
                }
            }
        }
        if gone {
            remaining = remaining.saturating_sub(length);
            removed += 1;
        }
    }
    ScanReport { remaining, removed }
}

/// An entry and its content files, as a scan finds them in one shard.
#[derive(Default)]
struct Group {
    /// The entry's mtime, when the entry is there.
    entry_modified: Option<SystemTime>,
    /// The newest mtime of its content files, if any.
    newest_content: Option<SystemTime>,
    /// Their total size.
    len: u64,
    /// The entry first, then its content files.
    paths: Vec<PathBuf>,
}

/// Whether `path` is a temp file: ours or another writer's, in progress or abandoned.
pub(super) fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.starts_with(TEMP_PREFIX))
}
