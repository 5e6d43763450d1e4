//! The local disk backend: the `DiskStorage` actor keeps entries as files under `SCCACHE_DIR` in
//! sccache's sharded layout (the layout only: the entry format is ours) (`<dir>/<h0>/<h1>/<hex key>`) and evicts the least recently used ones
//! to stay under the size limit.
//!
//! The actor owns only bookkeeping: an approximate total size, the count of pending writes and
//! whether a scan of the directory is running. Every file operation runs on tokio's blocking
//! pool, so the actor's thread never waits on the disk, and creating the actor never scans the
//! directory: the start-up count runs in the background like any other scan. It knows nothing of
//! compilers or of what an entry holds beyond its bytes, and it counts no hits, misses or corrupt
//! entries (the compile flow does); it reports only its writes to the stats actor.
//!
//! Invariant: what the server creates is as private as the cache directory. A cache directory
//! it creates is 0700 (this user's alone); the shard directories get the cache directory's
//! permission bits and entry files (and their temp files) those bits without execute, both
//! less the umask. So a new cache holds 0700 directories and 0600 entries, while a directory
//! the user made group-shared (say 0770 or 2770) keeps that mode and its entries are readable
//! by the group, as the user chose.
//!
//! Invariants: an entry appears under its final name only whole (it is written to a temp file in
//! its shard, then renamed over the final name); a failed write is counted and logged, never a
//! panic. Boundary: the directory may be shared with other servers, so eviction rescans the whole
//! directory instead of trusting the actor's total, and leaves young temp files (other writers'
//! entries in progress) alone.
//!
//! Outputs of 64 KiB or more are kept as read-only content files beside their entry
//! (`content`), checked at each lookup and restored from by clone or kernel copy; the entry
//! records their length and SHA-256. The scan counts and evicts an entry with its content files.
//!
//! The scan of the directory (counting, eviction, stale temp files) is plain functions in
//! `scan`, run on the blocking pool; this file holds the actor, the layout of the directory and
//! the reading and writing of one entry.

mod content;
mod layout;
mod scan;

use super::{decode_fetched, Describe, Description, Lookup, LookupResult, PendingWrites, Store};
use crate::digest_memo::DigestMemo;
use crate::stats::Record;
use actix::prelude::*;
use layout::{entry_path, shard_of, TEMP_PREFIX};
use scan::{count_only, scan_and_evict};
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::Event;
use std::fs::{self, DirBuilder, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::{spawn_blocking, JoinError};

/// The local disk cache backend.
pub struct DiskStorage {
    dir: PathBuf,
    max_size: u64,
    stats: Recipient<Record>,
    /// Bytes of entries on disk as far as this actor knows; each scan corrects it.
    size: u64,
    /// Writes handed to the blocking pool and not finished yet.
    pending_writes: PendingWrites,
    /// The scan (the start-up count or an eviction) running, if any.
    scan: Option<RunningScan>,
    /// `SCCACHE_LOCAL_RW_MODE=READ_ONLY`: nothing in the directory is changed.
    read_only: bool,
    /// The digests of content files checked so far, by their stamps (see `content`).
    memo: DigestMemo,
}

/// The actor's view of a running scan, to combine the scan's count with its own changes.
struct RunningScan {
    /// How many shards (in the order `0/0`, `0/1`, ... `f/f`) the scan has finished.
    shards_done: Arc<AtomicUsize>,
    /// Bytes this actor added (negative: removed) in shards the scan had already finished, which
    /// the scan's count therefore misses. A change landing just as the scan reads its shard may
    /// be counted twice or not at all; the next scan corrects that.
    missed_change: i64,
}

impl DiskStorage {
    /// A backend over `dir` holding at most `max_size` bytes, with at most `max_pending_writes`
    /// writes queued at once. Touches nothing on disk: directories are created by the first
    /// write, and the existing entries are counted in the background once the actor starts.
    pub fn new(
        dir: PathBuf,
        max_size: u64,
        max_pending_writes: usize,
        stats: Recipient<Record>,
    ) -> Self {
        DiskStorage {
            dir,
            max_size,
            pending_writes: PendingWrites::new(max_pending_writes),
            stats,
            size: 0,
            scan: None,
            read_only: false,
            memo: DigestMemo::default(),
        }
    }

    /// The same backend, read-only: entries are read but never written, touched, removed or
    /// evicted, since a read-only cache is often one shared by many readers (a CI runner's
    /// primed cache) that only its owner may change. Each write not made is counted as skipped.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The same backend, checking content files through `memo` (the server's, which it keeps
    /// between runs, so a server started again does not read every content file once more).
    pub fn with_memo(mut self, memo: DigestMemo) -> Self {
        self.memo = memo;
        self
    }

    fn record(&self, event: Event) {
        self.stats.do_send(Record(event));
    }

    /// Notes bytes this actor added to or removed from the directory in the shard of `key`.
    fn account(&mut self, key: &CacheKey, added: u64, removed: u64) {
        self.size = self.size.saturating_add(added).saturating_sub(removed);
        if let Some(scan) = &mut self.scan {
            if scan.shards_done.load(Ordering::SeqCst) > usize::from(shard_of(key)) {
                scan.missed_change = scan
                    .missed_change
                    .saturating_add_unsigned(added)
                    .saturating_sub_unsigned(removed);
            }
        }
    }

    /// Starts counting the directory in the background, evicting down to 90% of the limit if it
    /// is over the limit, unless a scan is already running.
    fn start_scan(&mut self, ctx: &mut Context<Self>) {
        if self.scan.is_some() {
            return;
        }
        let shards_done = Arc::new(AtomicUsize::new(0));
        self.scan = Some(RunningScan {
            shards_done: shards_done.clone(),
            missed_change: 0,
        });
        let dir = self.dir.clone();
        let limit = self.max_size;
        let target = self.max_size - self.max_size / 10;
        let read_only = self.read_only;
        let task = spawn_blocking(move || {
            if read_only {
                count_only(&dir, &shards_done)
            } else {
                scan_and_evict(&dir, limit, target, &shards_done)
            }
        });
        ctx.spawn(task.into_actor(self).map(|joined, actor, _| {
            let missed_change = actor.scan.take().map_or(0, |scan| scan.missed_change);
            match joined {
                Ok(report) => {
                    actor.size = report.remaining.saturating_add_signed(missed_change);
                    log::debug!(
                        "cache directory {:?}: {} bytes after removing {} entries",
                        actor.dir,
                        report.remaining,
                        report.removed
                    );
                }
                Err(error) => log::warn!("scan of cache directory {:?} failed: {error}", actor.dir),
            }
        }));
    }

    /// Counts a finished write and starts an eviction if the directory grew over the limit.
    fn finish_write(
        &mut self,
        key: &CacheKey,
        path: &Path,
        joined: Result<io::Result<WriteOutcome>, JoinError>,
        ctx: &mut Context<Self>,
    ) {
        let outcome = match joined {
            Ok(outcome) => outcome,
            Err(error) => Err(io::Error::other(error)),
        };
        match outcome {
            Ok(WriteOutcome::Written {
                added,
                replaced,
                duration,
            }) => {
                self.record(Event::WriteFinished { duration });
                self.account(key, added, replaced);
                if self.size > self.max_size {
                    self.start_scan(ctx);
                }
            }
            Ok(WriteOutcome::TooBig(length)) => {
                log::debug!(
                    "not caching {}: its {length} bytes exceed the cache size limit of {}",
                    path.display(),
                    self.max_size
                );
                // Not written, and not for lack of room among the pending writes: counted
                // with the dropped writes so that `--show-stats` shows it.
                self.record(Event::WriteDropped);
            }
            Err(error) => {
                log::warn!("cannot write cache entry {}: {error}", path.display());
                self.record(Event::WriteFailed);
            }
        }
    }
}

impl Actor for DiskStorage {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_scan(ctx);
    }
}

impl Handler<Lookup> for DiskStorage {
    type Result = ResponseActFuture<Self, LookupResult>;

    fn handle(&mut self, message: Lookup, _: &mut Context<Self>) -> Self::Result {
        let key = message.key;
        let path = entry_path(&self.dir, &key);
        let read_only = self.read_only;
        let memo = self.memo.clone();
        let task = spawn_blocking(move || read_entry(&path, &key, read_only, &memo));
        Box::pin(
            task.into_actor(self)
                .map(move |joined, actor, _| match joined {
                    Ok((result, removed)) => {
                        actor.account(&key, 0, removed);
                        result
                    }
                    Err(error) => LookupResult::Error(format!("cache read task failed: {error}")),
                }),
        )
    }
}

impl Handler<Store> for DiskStorage {
    type Result = ();

    fn handle(&mut self, message: Store, ctx: &mut Context<Self>) {
        if self.read_only {
            log::debug!("not storing {}: the disk cache is read-only", message.key);
            self.record(Event::WriteSkipped);
            return;
        }
        if !self.pending_writes.admit(&message.key, &self.stats) {
            return;
        }
        let path = entry_path(&self.dir, &message.key);
        let task_path = path.clone();
        let dir = self.dir.clone();
        let max_size = self.max_size;
        let memo = self.memo.clone();
        let Store { key, entry } = message;
        let task =
            spawn_blocking(move || write_entry(&dir, &task_path, &key, entry, max_size, &memo));
        ctx.spawn(task.into_actor(self).map(move |joined, actor, ctx| {
            actor.pending_writes.finished();
            actor.finish_write(&key, &path, joined, ctx);
        }));
    }
}

impl Handler<Describe> for DiskStorage {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Description {
            location: format!("Local disk: {:?}", self.dir),
            size: Some(self.size),
            max_size: Some(self.max_size),
            note: None,
            read_only: self.read_only,
            levels: Vec::new(),
        })
    }
}

/// Reads and checks the entry of `key` at `path`, with its content files; also returns the bytes
/// removed when it was corrupt. A `read_only` cache is left as it is: no touch on a hit, no
/// removal of a corrupt entry. Runs on the blocking pool.
fn read_entry(
    path: &Path,
    key: &CacheKey,
    read_only: bool,
    memo: &DigestMemo,
) -> (LookupResult, u64) {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return (LookupResult::Miss, 0),
        Err(error) => {
            let text = format!("cannot open {}: {error}", path.display());
            return (LookupResult::Error(text), 0);
        }
    };
    let mut bytes = Vec::new();
    if let Err(error) = file.read_to_end(&mut bytes) {
        let text = format!("cannot read {}: {error}", path.display());
        return (LookupResult::Error(text), 0);
    }
    match decode_fetched(&bytes, key) {
        LookupResult::Hit(mut entry) => {
            if let Err(error) = content::attach(path, key, &mut entry.files, memo) {
                log::warn!("cache entry {}: {error}", path.display());
                if read_only {
                    return (LookupResult::Corrupt, 0);
                }
                let contents = content::paths_of(path, key, &entry.files);
                let removed = remove_read(&file, path, bytes.len() as u64, &contents);
                return (LookupResult::Corrupt, removed);
            }
            // The eviction order is the files' mtimes, so a hit makes the entry recently used.
            // Failing that (a file another user owns) only makes it older than it is.
            if !read_only {
                let _ = file.set_modified(SystemTime::now());
            }
            (LookupResult::Hit(entry), 0)
        }
        LookupResult::Corrupt if read_only => (LookupResult::Corrupt, 0),
        LookupResult::Corrupt => (
            LookupResult::Corrupt,
            remove_read(&file, path, bytes.len() as u64, &[]),
        ),
        other => (other, 0),
    }
}

/// Removes the corrupt entry at `path` (of `len` bytes) and its `contents` files, but only if
/// `path` still names the file that was read: another writer (a second server sharing the
/// directory) may have renamed a good entry into place since. Returns the bytes removed.
fn remove_read(read: &File, path: &Path, len: u64, contents: &[PathBuf]) -> u64 {
    let still_ours = match (read.metadata(), fs::symlink_metadata(path)) {
        (Ok(read), Ok(now)) => read.dev() == now.dev() && read.ino() == now.ino(),
        _ => false,
    };
    if !still_ours || fs::remove_file(path).is_err() {
        return 0;
    }
    let mut removed = len;
    for content in contents {
        let length = fs::symlink_metadata(content).map_or(0, |metadata| metadata.len());
        if fs::remove_file(content).is_ok() {
            removed += length;
        }
    }
    removed
}

/// What a write did.
#[derive(Debug)]
enum WriteOutcome {
    /// Stored `added` bytes in place of an older entry of `replaced` bytes (0 if none).
    Written {
        added: u64,
        replaced: u64,
        duration: Duration,
    },
    /// The encoded entry alone would exceed the size limit, so it was not stored.
    TooBig(u64),
}

/// Writes `entry` as `key`'s to `path` in the cache directory `dir`: its large files first,
/// as content files (`content::externalize`), then the entry itself through a temp file in the
/// same shard, so that readers (ours or another server's) see the old entry, no entry or the
/// whole new one, whose content files are all in place. Runs on the blocking pool.
fn write_entry(
    dir: &Path,
    path: &Path,
    key: &CacheKey,
    mut entry: CacheEntry,
    max_size: u64,
    memo: &DigestMemo,
) -> io::Result<WriteOutcome> {
    let started = Instant::now();
    let total = entry
        .files
        .iter()
        .map(|file| {
            file.external
                .as_ref()
                .map_or(file.data.len() as u64, |external| external.len)
        })
        .chain([entry.stdout.len() as u64, entry.stderr.len() as u64])
        .sum::<u64>();
    if total > max_size {
        return Ok(WriteOutcome::TooBig(total));
    }
    let shard = path
        .parent()
        .ok_or_else(|| io::Error::other("entry path has no directory"))?;
    let dir_mode = cache_dir_mode(dir)?;
    DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(shard)?;
    let external = content::externalize(path, key, &mut entry.files, dir_mode, TEMP_PREFIX, memo)?;
    let bytes = entry.encode(key).map_err(io::Error::other)?;
    let added = bytes.len() as u64 + external;
    // Set explicitly rather than left to tempfile's 0600: a cache directory the user shares
    // with a group shares its entries too.
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(Permissions::from_mode(dir_mode & 0o666))
        .tempfile_in(shard)?;
    temp.write_all(&bytes)?;
    let replaced = fs::metadata(path)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    temp.persist(path).map_err(|error| error.error)?;
    Ok(WriteOutcome::Written {
        added,
        replaced,
        duration: started.elapsed(),
    })
}

/// The permission bits of the cache directory `dir`; creates it (and missing parents) private
/// to this user, 0700, when it does not exist. An existing directory keeps its mode: the user
/// chose it. Asked on every write (one stat, beside a whole file's write), so a `chmod` of
/// the directory applies to the next entries without a restart.
fn cache_dir_mode(dir: &Path) -> io::Result<u32> {
    match fs::metadata(dir) {
        Ok(metadata) => Ok(metadata.permissions().mode() & 0o777),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            Ok(fs::metadata(dir)?.permissions().mode() & 0o777)
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests;
