//! The local disk backend: the `DiskStorage` actor keeps entries as files under `SCCACHE_DIR` in
//! sccache's sharded layout (`<dir>/<h0>/<h1>/<hex key>`) and evicts the least recently used ones
//! to stay under the size limit.
//!
//! The actor owns only bookkeeping: an approximate total size, the count of pending writes and
//! whether a scan of the directory is running. Every file operation runs on tokio's blocking
//! pool, so the actor's thread never waits on the disk, and creating the actor never scans the
//! directory: the start-up count runs in the background like any other scan. It knows nothing of
//! compilers or of what an entry holds beyond its bytes, and it counts no hits, misses or corrupt
//! entries (the compile flow does); it reports only its writes to the stats actor.
//!
//! Invariants: an entry appears under its final name only whole (it is written to a temp file in
//! its shard, then renamed over the final name); a failed write is counted and logged, never a
//! panic. Boundary: the directory may be shared with other servers, so eviction rescans the whole
//! directory instead of trusting the actor's total, and leaves young temp files (other writers'
//! entries in progress) alone.

use super::{decode_fetched, Describe, Description, Lookup, LookupResult, Store};
use crate::stats::Record;
use actix::prelude::*;
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::Event;
use std::ffi::OsStr;
use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::{spawn_blocking, JoinError};

/// How the names of temp files start, ours and those of other writers using `tempfile`.
const TEMP_PREFIX: &str = ".tmp";
/// Temp files younger than this are writes in progress: neither counted nor removed.
const YOUNG_TEMP: Duration = Duration::from_secs(60);
/// Temp files older than this were left by a crashed writer and are removed by scans.
const STALE_TEMP: Duration = Duration::from_secs(60 * 60);

/// The local disk cache backend.
pub struct DiskStorage {
    dir: PathBuf,
    max_size: u64,
    max_pending_writes: usize,
    stats: Recipient<Record>,
    /// Bytes of entries on disk as far as this actor knows; each scan corrects it.
    size: u64,
    /// Writes handed to the blocking pool and not finished yet.
    pending_writes: usize,
    /// The scan (the start-up count or an eviction) running, if any.
    scan: Option<RunningScan>,
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
            max_pending_writes,
            stats,
            size: 0,
            pending_writes: 0,
            scan: None,
        }
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
        let task = spawn_blocking(move || scan_and_evict(&dir, limit, target, &shards_done));
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
            Ok(WriteOutcome::TooBig(length)) => log::debug!(
                "not caching {}: its {length} bytes exceed the cache size limit of {}",
                path.display(),
                self.max_size
            ),
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
        let task = spawn_blocking(move || read_entry(&path));
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
        if self.pending_writes >= self.max_pending_writes {
            log::debug!(
                "dropping cache write of {}: {} writes pending",
                message.key,
                self.pending_writes
            );
            self.record(Event::WriteDropped);
            return;
        }
        self.pending_writes += 1;
        let path = entry_path(&self.dir, &message.key);
        let task_path = path.clone();
        let max_size = self.max_size;
        let Store { key, entry } = message;
        let task = spawn_blocking(move || write_entry(&task_path, &entry, max_size));
        ctx.spawn(task.into_actor(self).map(move |joined, actor, ctx| {
            actor.pending_writes = actor.pending_writes.saturating_sub(1);
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
        })
    }
}

/// Where the entry for `key` lives: `<dir>/<h0>/<h1>/<hex>`, as sccache lays it out.
fn entry_path(dir: &Path, key: &CacheKey) -> PathBuf {
    shard_dir(dir, shard_of(key)).join(key.to_hex())
}

/// The shard of a key: its first byte, whose two hex digits name the shard's directories.
fn shard_of(key: &CacheKey) -> u8 {
    key.0[0]
}

/// The directory of shard `shard`: `<dir>/<high hex digit>/<low hex digit>`.
fn shard_dir(dir: &Path, shard: u8) -> PathBuf {
    dir.join(format!("{:x}", shard >> 4))
        .join(format!("{:x}", shard & 0xf))
}

/// Reads and checks the entry at `path`; also returns the bytes removed when it was corrupt.
/// Runs on the blocking pool.
fn read_entry(path: &Path) -> (LookupResult, u64) {
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
    match decode_fetched(&bytes) {
        LookupResult::Hit(entry) => {
            // The eviction order is the files' mtimes, so a hit makes the entry recently used.
            // Failing that (a file another user owns) only makes it older than it is.
            let _ = file.set_modified(SystemTime::now());
            (LookupResult::Hit(entry), 0)
        }
        LookupResult::Corrupt => {
            let removed = match fs::remove_file(path) {
                Ok(()) => bytes.len() as u64,
                Err(_) => 0,
            };
            (LookupResult::Corrupt, removed)
        }
        other => (other, 0),
    }
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

/// Encodes `entry` and writes it to `path` through a temp file in the same shard, so that readers
/// (ours or another server's) see the old entry, no entry or the whole new one. Runs on the
/// blocking pool.
fn write_entry(path: &Path, entry: &CacheEntry, max_size: u64) -> io::Result<WriteOutcome> {
    let started = Instant::now();
    let bytes = entry.encode().map_err(io::Error::other)?;
    let added = bytes.len() as u64;
    if added > max_size {
        return Ok(WriteOutcome::TooBig(added));
    }
    let shard = path
        .parent()
        .ok_or_else(|| io::Error::other("entry path has no directory"))?;
    fs::create_dir_all(shard)?;
    // Mode 0666 before the umask, like a plain `File::create`, so that a cache directory shared
    // between users stays readable as it is with sccache (tempfile's default is 0600).
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .permissions(Permissions::from_mode(0o666))
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

/// What a scan of the cache directory found and left.
#[derive(Debug, PartialEq, Eq)]
struct ScanReport {
    /// Bytes left in entries and in temp files old enough not to be writes in progress.
    remaining: u64,
    /// Entries removed to get under the limit.
    removed: usize,
}

/// Sums the entries under `dir` and, when they exceed `limit`, removes the least recently used
/// (oldest mtime first) until at most `target` bytes remain. Removes stale temp files. Counts the
/// shards it has finished in `shards_done`, so the actor knows which of its own changes the count
/// misses. Runs on the blocking pool; other processes may add or remove files meanwhile, so every
/// failure to read or remove a file just leaves it out of (or in) the count. Only the shard
/// directories are visited: anything else in `dir` is not ours to count or evict.
fn scan_and_evict(dir: &Path, limit: u64, target: u64, shards_done: &AtomicUsize) -> ScanReport {
    let now = SystemTime::now();
    let mut entries = Vec::new();
    let mut remaining = 0u64;
    for shard in 0..=u8::MAX {
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
                entries.push((modified, metadata.len(), path));
            } else if age > STALE_TEMP && fs::remove_file(&path).is_ok() {
                log::debug!("removed stale temp file {}", path.display());
            } else if age > YOUNG_TEMP {
                remaining += metadata.len();
            }
        }
        shards_done.store(usize::from(shard) + 1, Ordering::SeqCst);
    }
    let mut removed = 0;
    if remaining <= limit {
        return ScanReport { remaining, removed };
    }
    entries.sort_unstable_by_key(|(modified, _, _)| *modified);
    for (_, length, path) in entries {
        if remaining <= target {
            break;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                remaining = remaining.saturating_sub(length);
                removed += 1;
            }
            // Another server evicted it first.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                remaining = remaining.saturating_sub(length);
            }
            Err(error) => log::debug!("cannot evict {}: {error}", path.display()),
        }
    }
    ScanReport { remaining, removed }
}

/// Whether `path` is a temp file: ours or another writer's, in progress or abandoned.
fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(OsStr::to_str)
        .is_some_and(|name| name.starts_with(TEMP_PREFIX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use sccache_core::entry::EntryFile;

    /// Stands in for the stats actor, keeping every event it is sent.
    #[derive(Default)]
    struct Collector {
        events: Vec<Event>,
    }

    impl Actor for Collector {
        type Context = Context<Self>;
    }

    impl Handler<Record> for Collector {
        type Result = ();

        fn handle(&mut self, message: Record, _: &mut Context<Self>) {
            self.events.push(message.0);
        }
    }

    #[derive(Message)]
    #[rtype(result = "Vec<Event>")]
    struct Events;

    impl Handler<Events> for Collector {
        type Result = MessageResult<Events>;

        fn handle(&mut self, _: Events, _: &mut Context<Self>) -> Self::Result {
            MessageResult(self.events.clone())
        }
    }

    struct Harness {
        storage: Addr<DiskStorage>,
        collector: Addr<Collector>,
        dir: PathBuf,
    }

    fn start(dir: &Path, max_size: u64, max_pending_writes: usize) -> Harness {
        let collector = Collector::default().start();
        let storage = DiskStorage::new(
            dir.to_path_buf(),
            max_size,
            max_pending_writes,
            collector.clone().recipient(),
        )
        .start();
        Harness {
            storage,
            collector,
            dir: dir.to_path_buf(),
        }
    }

    fn key(number: u8) -> CacheKey {
        CacheKey([number; 32])
    }

    fn entry(size: usize, fill: u8) -> CacheEntry {
        CacheEntry {
            files: vec![EntryFile {
                name: "obj".into(),
                mode: None,
                data: vec![fill; size],
            }],
            stdout: b"out".to_vec(),
            stderr: vec![],
        }
    }

    fn is_write_outcome(event: &Event) -> bool {
        matches!(
            event,
            Event::WriteFinished { .. } | Event::WriteFailed | Event::WriteDropped
        )
    }

    /// Polls `condition` every 10 ms for up to five seconds.
    async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
        for _ in 0..500 {
            if condition() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Bytes of entries on disk, temp files excluded.
    fn bytes_on_disk(dir: &Path) -> u64 {
        (0..=u8::MAX)
            .flat_map(|shard| fs::read_dir(shard_dir(dir, shard)).into_iter().flatten())
            .map(|entry| entry.unwrap().path())
            .filter(|path| !is_temp(path))
            .filter_map(|path| fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum()
    }

    fn set_mtime(path: &Path, time: SystemTime) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(time).unwrap();
    }

    impl Harness {
        async fn events(&self) -> Vec<Event> {
            self.collector.send(Events).await.unwrap()
        }

        /// Waits until `count` writes have been finished, failed or dropped in all.
        async fn wait_for_writes(&self, count: usize) -> Vec<Event> {
            for _ in 0..500 {
                let events = self.events().await;
                if events
                    .iter()
                    .filter(|event| is_write_outcome(event))
                    .count()
                    >= count
                {
                    return events;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("fewer than {count} writes reported");
        }

        /// Stores an entry and waits until its write is reported.
        async fn store(&self, key: CacheKey, entry: CacheEntry) -> Event {
            let before = self.events().await.len();
            self.storage.do_send(Store { key, entry });
            let events = self.wait_for_writes(before + 1).await;
            events[before].clone()
        }

        async fn lookup(&self, key: CacheKey) -> LookupResult {
            self.storage.send(Lookup { key }).await.unwrap()
        }

        async fn size(&self) -> u64 {
            self.storage.send(Describe).await.unwrap().size.unwrap()
        }

        fn path(&self, key: CacheKey) -> PathBuf {
            entry_path(&self.dir, &key)
        }
    }

    #[actix_rt::test]
    async fn a_stored_entry_is_found_whole() {
        let temp = tempfile::tempdir().unwrap();
        let harness = start(temp.path(), 1 << 20, 4);
        let stored = entry(1000, 7);
        let event = harness.store(key(1), stored.clone()).await;
        assert!(matches!(event, Event::WriteFinished { .. }), "{event:?}");

        let hex = key(1).to_hex();
        let path = temp.path().join(&hex[..1]).join(&hex[1..2]).join(&hex);
        assert_eq!(harness.path(key(1)), path);
        match harness.lookup(key(1)).await {
            LookupResult::Hit(found) => assert_eq!(*found, stored),
            other => panic!("expected a hit, got {other:?}"),
        }
        assert!(matches!(harness.lookup(key(2)).await, LookupResult::Miss));

        let description = harness.storage.send(Describe).await.unwrap();
        assert_eq!(description.size, Some(fs::metadata(&path).unwrap().len()));
        assert_eq!(description.max_size, Some(1 << 20));
        assert_eq!(
            description.location,
            format!("Local disk: {:?}", temp.path())
        );
    }

    #[actix_rt::test]
    async fn storing_a_key_again_replaces_its_entry() {
        let temp = tempfile::tempdir().unwrap();
        let harness = start(temp.path(), 1 << 20, 4);
        harness.store(key(1), entry(1000, 1)).await;
        harness.store(key(1), entry(2000, 2)).await;
        match harness.lookup(key(1)).await {
            LookupResult::Hit(found) => assert_eq!(*found, entry(2000, 2)),
            other => panic!("expected a hit, got {other:?}"),
        }
        assert_eq!(harness.size().await, bytes_on_disk(temp.path()));
    }

    #[actix_rt::test]
    async fn corrupt_and_truncated_entries_are_reported_and_removed() {
        let temp = tempfile::tempdir().unwrap();
        let harness = start(temp.path(), 1 << 20, 4);
        harness.store(key(1), entry(1000, 1)).await;
        harness.store(key(2), entry(1000, 2)).await;

        fs::write(
            harness.path(key(1)),
            b"garbage garbage garbage garbage garbage",
        )
        .unwrap();
        let whole = fs::read(harness.path(key(2))).unwrap();
        fs::write(harness.path(key(2)), &whole[..whole.len() / 2]).unwrap();

        for number in [1, 2] {
            let result = harness.lookup(key(number)).await;
            assert!(matches!(result, LookupResult::Corrupt), "{result:?}");
            assert!(!harness.path(key(number)).exists());
        }
        // The overwritten files' sizes are unknown to the actor; it subtracts what it removed.
        assert!(harness.size().await < 2 * whole.len() as u64);
        assert!(matches!(harness.lookup(key(1)).await, LookupResult::Miss));
    }

    #[actix_rt::test]
    async fn eviction_keeps_the_limit_and_the_recently_used_entries() {
        let temp = tempfile::tempdir().unwrap();
        let limit = 10 * 1024;
        let harness = start(temp.path(), limit, 16);
        let pause = || tokio::time::sleep(Duration::from_millis(20));

        // Three entries of a little over 3 KiB fit; the first is then used, so the fourth write
        // evicts the second and third.
        for number in 0..3 {
            harness.store(key(number), entry(3 * 1024, number)).await;
            pause().await;
        }
        assert!(matches!(harness.lookup(key(0)).await, LookupResult::Hit(_)));
        pause().await;
        harness.store(key(3), entry(3 * 1024, 3)).await;
        assert!(
            eventually(|| !harness.path(key(1)).exists() && !harness.path(key(2)).exists()).await
        );
        assert!(harness.path(key(0)).exists());
        assert!(harness.path(key(3)).exists());

        for number in 4..10 {
            harness.store(key(number), entry(3 * 1024, number)).await;
            pause().await;
        }
        assert!(eventually(|| bytes_on_disk(temp.path()) <= limit).await);
        assert!(harness.path(key(9)).exists());
        let mut size = harness.size().await;
        for _ in 0..500 {
            if size <= limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            size = harness.size().await;
        }
        assert_eq!(size, bytes_on_disk(temp.path()));
        let events = harness.events().await;
        assert!(events
            .iter()
            .all(|event| matches!(event, Event::WriteFinished { .. })));
    }

    #[actix_rt::test]
    async fn an_unwritable_directory_counts_failures() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("file");
        fs::write(&file, b"not a directory").unwrap();
        // Root ignores permission bits, so a path under a regular file stands in for a cache
        // directory that cannot be written.
        let harness = start(&file.join("cache"), 1 << 20, 4);
        let event = harness.store(key(1), entry(100, 1)).await;
        assert_eq!(event, Event::WriteFailed);
        assert!(matches!(
            harness.lookup(key(1)).await,
            LookupResult::Error(_)
        ));
        assert_eq!(harness.size().await, 0);
    }

    #[actix_rt::test]
    async fn writes_beyond_the_pending_bound_are_dropped() {
        let temp = tempfile::tempdir().unwrap();
        let harness = start(temp.path(), 1 << 20, 0);
        let event = harness.store(key(1), entry(100, 1)).await;
        assert_eq!(event, Event::WriteDropped);
        assert!(!harness.path(key(1)).exists());
    }

    #[actix_rt::test]
    async fn the_start_up_scan_counts_existing_entries_in_the_background() {
        let temp = tempfile::tempdir().unwrap();
        for number in 1..=3u8 {
            let path = entry_path(temp.path(), &key(number));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, vec![0; 1000]).unwrap();
        }
        let shard = entry_path(temp.path(), &key(1));
        let shard = shard.parent().unwrap();
        // A write in progress and a file that is not in a shard count for nothing.
        fs::write(shard.join(".tmpWRITING"), vec![0; 500]).unwrap();
        fs::write(temp.path().join("README"), vec![0; 100]).unwrap();

        let harness = start(temp.path(), 1 << 20, 4);
        let mut size = 0;
        for _ in 0..500 {
            size = harness.size().await;
            if size != 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(size, 3000);
    }

    #[test]
    fn a_scan_evicts_the_oldest_entries_and_stale_temp_files() {
        let temp = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        for number in 1..=5u8 {
            let path = entry_path(temp.path(), &key(number));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, vec![0; 1000]).unwrap();
            set_mtime(
                &path,
                now - Duration::from_secs(100 * u64::from(10 - number)),
            );
        }
        let shard = entry_path(temp.path(), &key(1));
        let shard = shard.parent().unwrap();
        let stale = shard.join(".tmpSTALE");
        fs::write(&stale, vec![0; 100]).unwrap();
        set_mtime(&stale, now - Duration::from_secs(2 * 60 * 60));
        let abandoned = shard.join(".tmpABANDONED");
        fs::write(&abandoned, vec![0; 100]).unwrap();
        set_mtime(&abandoned, now - Duration::from_secs(10 * 60));

        assert_eq!(
            scan_and_evict(temp.path(), 10_000, 9_000, &AtomicUsize::new(0)),
            ScanReport {
                remaining: 5100,
                removed: 0
            }
        );
        assert!(!stale.exists());
        assert_eq!(
            scan_and_evict(temp.path(), 3000, 2700, &AtomicUsize::new(0)),
            ScanReport {
                remaining: 2100,
                removed: 3
            }
        );
        let survivors: Vec<bool> = (1..=5u8)
            .map(|number| entry_path(temp.path(), &key(number)).exists())
            .collect();
        assert_eq!(survivors, [false, false, false, true, true]);
        assert!(abandoned.exists());
    }

    #[test]
    fn an_entry_bigger_than_the_cache_is_not_written() {
        let temp = tempfile::tempdir().unwrap();
        let path = entry_path(temp.path(), &key(1));
        let outcome = write_entry(&path, &entry(1000, 1), 500).unwrap();
        assert!(matches!(outcome, WriteOutcome::TooBig(_)), "{outcome:?}");
        assert!(!path.exists());
        assert!(!temp.path().join(&key(1).to_hex()[..1]).exists());
    }

    #[test]
    fn a_scan_of_a_missing_directory_finds_nothing() {
        let temp = tempfile::tempdir().unwrap();
        let shards_done = AtomicUsize::new(0);
        let report = scan_and_evict(&temp.path().join("absent"), 10, 9, &shards_done);
        assert_eq!(shards_done.into_inner(), 256);
        assert_eq!(
            report,
            ScanReport {
                remaining: 0,
                removed: 0
            }
        );
    }
}
