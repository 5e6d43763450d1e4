//! Tests of the disk backend: the actor against a real temp directory (stores, lookups,
//! corruption, eviction, failures, the pending-write bound, the start-up scan) and the scan and
//! write functions on their own.

use super::layout::shard_dir;
use super::scan::{is_temp, ScanReport};
use super::*;
use crate::storage::test_support::{entry, Collector, Events};
use sccache_core::entry::EntryFile;
use std::os::unix::fs::MetadataExt;

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

/// Whether no scan (the start-up count, an eviction) is running: the size a scan reports
/// replaces the actor's own count, and a write landing while it runs may be counted twice
/// (as the actor's documentation allows), which tests of exact sizes must not race with.
#[derive(Message)]
#[rtype(result = "bool")]
struct NoScanRunning;

impl Handler<NoScanRunning> for DiskStorage {
    type Result = bool;

    fn handle(&mut self, _: NoScanRunning, _: &mut Context<Self>) -> bool {
        self.scan.is_none()
    }
}

fn key(number: u8) -> CacheKey {
    CacheKey([number; 32])
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

    /// Waits until no scan is running.
    async fn scanned(&self) {
        for _ in 0..500 {
            if self.storage.send(NoScanRunning).await.unwrap() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("a scan of the cache directory never finished");
    }

    /// Stores an entry (once no scan runs) and waits until its write is reported.
    async fn store(&self, key: CacheKey, entry: CacheEntry) -> Event {
        self.scanned().await;
        let before = self.events().await.len();
        self.storage.do_send(Store { key, entry });
        let events = self.wait_for_writes(before + 1).await;
        events[before].clone()
    }

    async fn lookup(&self, key: CacheKey) -> LookupResult {
        self.storage.send(Lookup { key }).await.unwrap()
    }

    async fn size(&self) -> u64 {
        self.scanned().await;
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
    assert!(eventually(|| !harness.path(key(1)).exists() && !harness.path(key(2)).exists()).await);
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
    let outcome = write_entry(
        temp.path(),
        &path,
        &key(1),
        entry(1000, 1),
        500,
        &DigestMemo::default(),
    )
    .unwrap();
    assert!(matches!(outcome, WriteOutcome::TooBig(_)), "{outcome:?}");
    assert!(!path.exists());
    assert!(!temp.path().join(&key(1).to_hex()[..1]).exists());
}

/// A content file written by a store is known to the memo by the stamp it has after the
/// write (where stamps are fine-grained), so the first hit does not read it again; a change
/// after the write, even of the same length within the clock's tick, is read.
#[test]
fn a_written_content_file_is_vouched_for_until_it_changes() {
    let temp = tempfile::tempdir().unwrap();
    let path = entry_path(temp.path(), &key(1));
    let memo = DigestMemo::default();
    let stored = large_entry(0);
    let outcome = write_entry(temp.path(), &path, &key(1), stored.clone(), 1 << 30, &memo);
    assert!(
        matches!(outcome, Ok(WriteOutcome::Written { .. })),
        "{outcome:?}"
    );
    let content = content_files(temp.path(), key(1)).remove(0);
    let stamp = crate::file_stamp::FileStamp::at(&content).unwrap();
    let digest = sccache_core::hash_key::digest(&stored.files[0].data);
    let fine = crate::file_system::fine_grained_stamps(&File::open(&content).unwrap());
    assert_eq!(memo.remembered(&content, stamp), fine.then_some(digest));
    let mut same_length = stored.files[0].data.clone();
    same_length[0] ^= 1;
    fs::set_permissions(&content, Permissions::from_mode(0o644)).unwrap();
    fs::write(&content, &same_length).unwrap();
    assert_eq!(
        memo.digest(&content).unwrap(),
        sccache_core::hash_key::digest(&same_length),
        "a vouched digest outlived a change of the same length"
    );
}

/// An output rewritten in place after it was hashed, its modification time put back (as
/// `objcopy -p` or `touch -r` do), keeps its inode, size and mtime: the copy is stored, but its
/// content file is not vouched for (the output's change time moved), so the first lookup hashes
/// it and finds it is not the entry's.
#[actix_rt::test]
async fn an_output_rewritten_with_its_mtime_put_back_is_never_vouched_for() {
    let temp = tempfile::tempdir().unwrap();
    let (out, expected, began) = outputs_written(temp.path());
    let memo = DigestMemo::default();
    let files = crate::outputs::collect(targets(&out), &memo, began)
        .await
        .unwrap();
    let object = out.join("lib.rlib");
    let mtime = fs::metadata(&object).unwrap().modified().unwrap();
    let mut changed = fs::OpenOptions::new().write(true).open(&object).unwrap();
    std::io::Write::write_all(&mut changed, b"changed").unwrap();
    changed.set_modified(mtime).unwrap();
    drop(changed);
    let cache = temp.path().join("cache");
    let path = entry_path(&cache, &key(1));
    let collected = CacheEntry {
        files,
        ..expected.clone()
    };
    let outcome = write_entry(&cache, &path, &key(1), collected, 1 << 30, &memo);
    assert!(
        matches!(outcome, Ok(WriteOutcome::Written { .. })),
        "{outcome:?}"
    );
    let content = content_files(&cache, key(1)).remove(0);
    let stamp = crate::file_stamp::FileStamp::at(&content).unwrap();
    assert_eq!(
        memo.remembered(&content, stamp),
        None,
        "vouched for bytes nobody hashed"
    );
    let (found, _) = read_entry(&path, &key(1), false, &memo);
    assert!(matches!(found, LookupResult::Corrupt), "{found:?}");
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

/// The content files beside the entry of `key`.
fn content_files(dir: &Path, key: CacheKey) -> Vec<PathBuf> {
    let prefix = format!("{}.", key.to_hex());
    let entry = entry_path(dir, &key);
    let mut found: Vec<PathBuf> = fs::read_dir(entry.parent().unwrap())
        .unwrap()
        .map(|file| file.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(&prefix)
        })
        .collect();
    found.sort();
    found
}

/// An entry of a large object (kept in a content file) and a small `.d` file (kept inline).
fn large_entry(fill: u8) -> CacheEntry {
    let object: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8 ^ fill).collect();
    CacheEntry {
        files: vec![
            EntryFile::inline("lib.rlib", Some(0o644), object),
            EntryFile::inline("lib.d", Some(0o644), b"lib.rlib: lib.rs\n".to_vec()),
        ],
        stdout: Vec::new(),
        stderr: b"warning".to_vec(),
        exit_code: 0,
    }
}

fn targets(dir: &Path) -> Vec<crate::outputs::OutputFile> {
    ["lib.rlib", "lib.d"]
        .iter()
        .map(|name| crate::outputs::OutputFile {
            name: name.to_string(),
            path: dir.join(name),
        })
        .collect()
}

#[actix_rt::test]
async fn a_large_output_is_a_read_only_content_file_counted_with_its_entry() {
    let temp = tempfile::tempdir().unwrap();
    let harness = start(temp.path(), 1 << 30, 4);
    let stored = large_entry(0);
    harness.store(key(1), stored.clone()).await;
    let contents = content_files(temp.path(), key(1));
    assert_eq!(contents.len(), 1, "one content file for the object");
    let metadata = fs::metadata(&contents[0]).unwrap();
    assert_eq!(metadata.len(), 300_000);
    assert_eq!(
        metadata.permissions().mode() & 0o222,
        0,
        "writable content file"
    );
    let entry_len = fs::metadata(harness.path(key(1))).unwrap().len();
    assert!(entry_len < 1000, "the object is inline: {entry_len} bytes");
    assert_eq!(harness.size().await, entry_len + 300_000);
    match harness.lookup(key(1)).await {
        LookupResult::Hit(found) => {
            assert_eq!(*found.file("lib.d").unwrap(), stored.files[1]);
            let object: &EntryFile = found.file("lib.rlib").unwrap();
            assert!(object.data.is_empty());
            assert!(object.external.as_ref().unwrap().source.is_some());
            assert_eq!(object.bytes(), stored.files[0].data);
            // Loaded whole, as for a store into another backend: the entry that was stored.
            let mut loaded = *found;
            loaded.load_all();
            assert_eq!(loaded, stored);
            assert_eq!(loaded.encode(&key(1)).unwrap()[4], 3);
        }
        other => panic!("expected a hit, got {other:?}"),
    }
    // Counted as one entry by a scan, and evicted whole.
    assert_eq!(
        scan_and_evict(temp.path(), 1 << 30, 1 << 29, &AtomicUsize::new(0)),
        ScanReport {
            remaining: entry_len + 300_000,
            removed: 0
        }
    );
    assert_eq!(
        scan_and_evict(temp.path(), 1000, 900, &AtomicUsize::new(0)),
        ScanReport {
            remaining: 0,
            removed: 1
        }
    );
    assert!(content_files(temp.path(), key(1)).is_empty());
    assert!(!harness.path(key(1)).exists());
}

/// A compile's outputs as `large_entry(0)` holds them, written into `<dir>/target` after the
/// start returned.
fn outputs_written(dir: &Path) -> (PathBuf, CacheEntry, crate::flow::started::Started) {
    let out = dir.join("target");
    fs::create_dir(&out).unwrap();
    let expected = large_entry(0);
    let began = crate::flow::started::Started::fresh();
    for file in &expected.files {
        fs::write(out.join(&file.name), &file.data).unwrap();
    }
    (out, expected, began)
}

/// The outputs written into `out` since `began`, collected as a compile's are.
async fn collect_outputs(out: &Path, began: crate::flow::started::Started) -> Vec<EntryFile> {
    crate::outputs::collect(targets(out), &DigestMemo::default(), began)
        .await
        .unwrap()
}

/// A compile's large output is collected kept open (`outputs::collect`), copied into its
/// content file by the kernel, and read back as the bytes it had, also after a link to it was
/// made and its own name removed (cargo's uplifting, `cargo clean`) before the write; one
/// rewritten in place after it was collected is not stored.
#[actix_rt::test]
async fn a_collected_large_output_is_copied_from_the_file_and_one_changed_since_is_not_stored() {
    let temp = tempfile::tempdir().unwrap();
    let harness = start(&temp.path().join("cache"), 1 << 30, 4);
    let (out, expected, began) = outputs_written(temp.path());
    let files = collect_outputs(&out, began).await;
    let object = files.iter().find(|file| file.name == "lib.rlib").unwrap();
    assert!(
        object.data.is_empty(),
        "a large output is not read into memory"
    );
    assert!(object.external.as_ref().unwrap().source.is_some());
    fs::hard_link(out.join("lib.rlib"), out.join("uplifted.rlib")).unwrap();
    fs::remove_file(out.join("lib.rlib")).unwrap();
    let collected = CacheEntry {
        files,
        ..expected.clone()
    };
    let outcome = harness.store(key(1), collected).await;
    assert!(
        matches!(outcome, Event::WriteFinished { .. }),
        "{outcome:?}"
    );
    assert_eq!(content_files(&temp.path().join("cache"), key(1)).len(), 1);
    match harness.lookup(key(1)).await {
        LookupResult::Hit(found) => {
            let mut loaded = *found;
            loaded.load_all();
            // Modes as collected from the files written here.
            for (file, want) in loaded.files.iter().zip(&expected.files) {
                assert_eq!((&file.name, &file.data), (&want.name, &want.data));
            }
        }
        other => panic!("expected a hit, got {other:?}"),
    }

    // Collected, then rewritten in place (same length) before the write: not stored.
    fs::write(out.join("lib.rlib"), &expected.files[0].data).unwrap();
    let files = collect_outputs(&out, began).await;
    let mut changed = fs::OpenOptions::new()
        .write(true)
        .open(out.join("lib.rlib"))
        .unwrap();
    std::io::Write::write_all(&mut changed, b"changed").unwrap();
    drop(changed);
    let collected = CacheEntry {
        files,
        ..expected.clone()
    };
    let outcome = harness.store(key(2), collected).await;
    assert_eq!(outcome, Event::WriteFailed);
    assert!(content_files(&temp.path().join("cache"), key(2)).is_empty());
    assert!(matches!(harness.lookup(key(2)).await, LookupResult::Miss));
}

#[actix_rt::test]
async fn an_output_overwritten_in_place_after_a_hit_leaves_the_cache_entry_intact() {
    let temp = tempfile::tempdir().unwrap();
    let harness = start(&temp.path().join("cache"), 1 << 30, 4);
    let out = temp.path().join("target");
    fs::create_dir(&out).unwrap();
    let stored = large_entry(0);
    harness.store(key(1), stored.clone()).await;
    let content = content_files(&harness.dir, key(1)).remove(0);
    for round in 0..2 {
        let LookupResult::Hit(found) = harness.lookup(key(1)).await else {
            panic!("round {round}: not a hit");
        };
        let vouched = crate::outputs::restore(found.files, targets(&out), 0o022)
            .await
            .unwrap();
        let restored = out.join("lib.rlib");
        assert_eq!(fs::read(&restored).unwrap(), stored.files[0].data);
        // Where stamps are fine-grained, the restore vouches for the bytes it wrote, at the
        // stamp they have now; a memo told so answers without reading them, until the file
        // changes (below), when it reads the new bytes.
        let memo = DigestMemo::default();
        let fine = crate::file_system::fine_grained_stamps(&File::open(&restored).unwrap());
        assert_eq!(vouched.len(), usize::from(fine), "{vouched:?}");
        for file in &vouched {
            assert_eq!(file.path, restored);
            assert_eq!(
                Some(file.stamp),
                crate::file_stamp::FileStamp::at(&restored)
            );
            assert_eq!(
                file.digest,
                sccache_core::hash_key::digest(&stored.files[0].data)
            );
            memo.vouch(&file.path, file.stamp, [7; 32]);
            assert_eq!(memo.digest(&restored).unwrap(), [7; 32]);
            // Rewritten at once with bytes of the same length, within the clock's tick.
            let mut same_length = stored.files[0].data.clone();
            same_length[0] ^= 1;
            fs::write(&restored, &same_length).unwrap();
            assert_eq!(
                memo.digest(&restored).unwrap(),
                sccache_core::hash_key::digest(&same_length),
                "a vouched digest outlived a change of the same length"
            );
        }
        let metadata = fs::metadata(&restored).unwrap();
        assert_eq!(metadata.permissions().mode() & 0o777, 0o644);
        assert_ne!(metadata.ino(), fs::metadata(&content).unwrap().ino());
        // A build writes into its output in place (open with O_TRUNC, as `cp` does).
        File::create(&restored)
            .unwrap()
            .write_all(b"overwritten by the build")
            .unwrap();
        assert_eq!(
            memo.digest(&restored).unwrap(),
            sccache_core::hash_key::digest(b"overwritten by the build"),
            "a vouched digest outlived a change"
        );
        assert_eq!(fs::read(&content).unwrap(), stored.files[0].data);
    }
}

#[actix_rt::test]
async fn a_content_file_altered_in_the_cache_is_a_corrupt_entry_removed_whole() {
    let temp = tempfile::tempdir().unwrap();
    let harness = start(temp.path(), 1 << 30, 4);
    // Each way of spoiling the content file: other bytes of the same length, a truncation,
    // removal.
    for (number, spoil) in [1u8, 2, 3].into_iter().zip(0..) {
        harness.store(key(number), large_entry(number)).await;
        let content = content_files(temp.path(), key(number)).remove(0);
        match spoil {
            0 => {
                let mut bytes = fs::read(&content).unwrap();
                bytes[150_000] ^= 1;
                fs::set_permissions(&content, Permissions::from_mode(0o644)).unwrap();
                fs::write(&content, bytes).unwrap();
            }
            1 => {
                fs::set_permissions(&content, Permissions::from_mode(0o644)).unwrap();
                File::options()
                    .write(true)
                    .open(&content)
                    .unwrap()
                    .set_len(1000)
                    .unwrap();
            }
            _ => fs::remove_file(&content).unwrap(),
        }
        let found = harness.lookup(key(number)).await;
        assert!(matches!(found, LookupResult::Corrupt), "{spoil}: {found:?}");
        assert!(!harness.path(key(number)).exists());
        assert!(content_files(temp.path(), key(number)).is_empty());
        assert!(matches!(
            harness.lookup(key(number)).await,
            LookupResult::Miss
        ));
    }
}

#[actix_rt::test]
async fn a_content_file_changed_after_the_lookup_fails_the_restore() {
    let temp = tempfile::tempdir().unwrap();
    let harness = start(&temp.path().join("cache"), 1 << 30, 4);
    harness.store(key(1), large_entry(0)).await;
    let LookupResult::Hit(found) = harness.lookup(key(1)).await else {
        panic!("not a hit");
    };
    let content = content_files(&harness.dir, key(1)).remove(0);
    fs::set_permissions(&content, Permissions::from_mode(0o644)).unwrap();
    File::options()
        .write(true)
        .open(&content)
        .unwrap()
        .write_all(b"X")
        .unwrap();
    // Neither read (for a manifest or a `.d` rewrite) nor restored.
    let mut object = found.file("lib.rlib").unwrap().clone();
    object.load();
    assert!(object.data.is_empty());
    assert!(object.external.unwrap().source.is_none());
    let out = temp.path().join("target");
    fs::create_dir(&out).unwrap();
    assert!(crate::outputs::restore(found.files, targets(&out), 0o022)
        .await
        .is_err());
    // Nothing is left behind.
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}
