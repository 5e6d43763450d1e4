//! What every storage backend actor answers to, and the helpers they share.
//!
//! Each backend (disk, Redis, S3, REAPI) is its own actor handling `Lookup`, `Store` and
//! `Describe`; so is the `Chain` of several of them (`chain/`).
//! The compile flow holds only `Recipient`s of these messages, so it never knows which
//! backend it talks to. Backends own their failures: a `Lookup` answers `Miss`, `Corrupt`,
//! `Error` or `Hit`, never a Rust error; a `Store` reports its duration or its failure to the
//! stats actor itself, because nobody waits for it.

pub mod chain;
pub mod disk;
#[cfg(any(feature = "redis", feature = "reapi"))]
pub mod outage;
#[cfg(feature = "reapi")]
pub mod reapi;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(test)]
mod test_support;

use crate::stats::Record;
use actix::prelude::*;
use sccache_core::entry::{CacheEntry, EntryError};
use sccache_core::entry_codec;
use sccache_core::hash_key::CacheKey;
use sccache_core::stats::Event;

/// Finds the entry for a key.
#[derive(Message)]
#[rtype(result = "LookupResult")]
pub struct Lookup {
    pub key: CacheKey,
}

/// The answer to `Lookup`.
#[derive(Debug)]
pub enum LookupResult {
    Hit(Box<CacheEntry>),
    Miss,
    /// The entry existed but failed its integrity check; the backend has removed it.
    Corrupt,
    /// The backend could not be read; the text says why, for the log.
    Error(String),
}

/// Stores an entry. Sent with `do_send` after the client has its result: nobody waits for the
/// answer, so the backend reports the write's duration or failure to the stats actor.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Store {
    pub key: CacheKey,
    pub entry: CacheEntry,
}

/// What `--show-stats` says of the backend.
#[derive(Message)]
#[rtype(result = "Description")]
pub struct Describe;

/// The backend's own account of itself.
#[derive(Debug, Clone, Default)]
pub struct Description {
    pub location: String,
    pub size: Option<u64>,
    pub max_size: Option<u64>,
    /// Why a size figure is missing, when it is.
    pub note: Option<String>,
    /// Whether the backend only reads (sccache's `effective_cache_mode`).
    pub read_only: bool,
    /// A chain's levels, fastest first; empty for a single backend.
    pub levels: Vec<Description>,
}

/// The backend's recipients, as the compile flow and the connection hold them.
#[derive(Clone)]
pub struct StorageHandle {
    pub lookup: Recipient<Lookup>,
    pub store: Recipient<Store>,
    pub describe: Recipient<Describe>,
    /// Whether the backend takes writes. A read-only cache (`*_RW_MODE=READ_ONLY`, anonymous
    /// S3) is known here, so the flow neither collects outputs nor makes manifests for it;
    /// its backend still declines a `Store`, as a second guard.
    pub writable: bool,
}

impl StorageHandle {
    /// The recipients of one backend actor.
    pub fn of<A>(address: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<Lookup> + Handler<Store> + Handler<Describe>,
    {
        StorageHandle {
            lookup: address.clone().recipient(),
            store: address.clone().recipient(),
            describe: address.clone().recipient(),
            writable: true,
        }
    }

    /// The same handle, for a backend that is read-only when `read_only` says so.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.writable = !read_only;
        self
    }
}

/// The bound on a backend's writes under way: `do_send` ignores mailbox capacity, so each
/// backend admits a write only while fewer than the limit are pending, and counts the rest as
/// dropped instead of queueing them without end.
#[derive(Debug)]
pub struct PendingWrites {
    pending: usize,
    limit: usize,
}

impl PendingWrites {
    pub fn new(limit: usize) -> Self {
        PendingWrites { pending: 0, limit }
    }

    /// Whether a write of `key` may start; a refused one is counted as dropped.
    pub fn admit(&mut self, key: &CacheKey, stats: &Recipient<Record>) -> bool {
        if self.pending >= self.limit {
            log::debug!(
                "dropping cache write of {key}: {} writes pending",
                self.pending
            );
            stats.do_send(Record(Event::WriteDropped));
            return false;
        }
        self.pending += 1;
        true
    }

    /// A write admitted earlier has finished, one way or the other.
    pub fn finished(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }
}

/// Decodes the bytes a remote backend fetched for `key`: decompressed first when they were
/// stored compressed (`entry_codec`; older entries were not), then as `decode_fetched`. A blob
/// that does not decompress, or would decompress to more than an entry may hold, is `Corrupt`.
pub fn decode_remote(bytes: Vec<u8>, key: &CacheKey) -> LookupResult {
    match entry_codec::decompress(bytes) {
        Ok(bytes) => decode_fetched(&bytes, key),
        Err(error) => {
            log::warn!("{error}");
            LookupResult::Corrupt
        }
    }
}

/// Decodes the bytes fetched for `key` into a lookup answer; the caller removes the entry on
/// `Corrupt`. An entry that records another key (a file copied or renamed into this key's
/// place) is as unusable as a torn one, and is answered the same way: `Corrupt`.
pub fn decode_fetched(bytes: &[u8], key: &CacheKey) -> LookupResult {
    match CacheEntry::decode(bytes, key) {
        Ok(entry) => LookupResult::Hit(Box::new(entry)),
        Err(EntryError::OtherFormat(_)) => LookupResult::Miss,
        Err(error) => {
            log::warn!("{error}");
            LookupResult::Corrupt
        }
    }
}

/// `entry` as a remote backend stores it under `key`: encoded, then compressed at `level`.
/// Runs on the blocking pool. An entry read from the disk cache (a chain's write-back from a
/// disk level) may hold `External` files, whose bytes are only in the disk's content files: a
/// remote entry must carry its bytes, so they are read here, and an entry whose content file
/// cannot be read (or changed since its check) is not stored.
pub fn encode_remote(entry: &CacheEntry, key: &CacheKey, level: i32) -> Result<Vec<u8>, String> {
    let loaded;
    let entry = if entry.files.iter().any(|file| file.external.is_some()) {
        let mut copy = entry.clone();
        copy.load_all();
        if copy.files.iter().any(|file| file.external.is_some()) {
            return Err("a content file of the disk cache could not be read".to_string());
        }
        loaded = copy;
        &loaded
    } else {
        entry
    };
    let encoded = entry.encode(key).map_err(|error| error.to_string())?;
    entry_codec::compress(&encoded, level).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_and_uncompressed_entries_both_decode_and_a_broken_blob_is_corrupt() {
        let key = CacheKey([4; 32]);
        let entry = CacheEntry {
            stdout: b"hello hello hello hello".to_vec(),
            ..CacheEntry::default()
        };
        let encoded = entry.encode(&key).unwrap();
        let compressed = encode_remote(&entry, &key, 3).unwrap();
        for bytes in [encoded, compressed.clone()] {
            assert!(matches!(
                decode_remote(bytes, &key),
                LookupResult::Hit(found) if *found == entry
            ));
        }
        let truncated = compressed[..compressed.len() - 3].to_vec();
        assert!(matches!(
            decode_remote(truncated, &key),
            LookupResult::Corrupt
        ));
    }

    #[test]
    fn a_disk_hit_s_content_files_travel_inline_to_a_remote_level() {
        use sccache_core::entry::{ContentSource, EntryFile, External};
        use std::io::Write;
        let key = CacheKey([5; 32]);
        let bytes = b"a large output kept in a content file".to_vec();
        let mut content = tempfile::tempfile().unwrap();
        content.write_all(&bytes).unwrap();
        let checked = content.metadata().unwrap();
        let external = |source| External {
            len: bytes.len() as u64,
            digest: [0; 32],
            source,
        };
        let mut file = EntryFile::inline("lib.rlib", None, Vec::new());
        file.external = Some(external(Some(ContentSource {
            file: std::sync::Arc::new(content),
            checked,
            output: false,
        })));
        let entry = CacheEntry {
            files: vec![file.clone()],
            ..CacheEntry::default()
        };
        let stored = encode_remote(&entry, &key, 3).unwrap();
        match decode_remote(stored, &key) {
            LookupResult::Hit(found) => {
                assert_eq!(found.files[0].external, None);
                assert_eq!(found.files[0].data, bytes);
            }
            other => panic!("{other:?}"),
        }
        // Without its content file, nothing is stored rather than an entry without the bytes.
        file.external = Some(external(None));
        let unreadable = CacheEntry {
            files: vec![file],
            ..CacheEntry::default()
        };
        assert!(encode_remote(&unreadable, &key, 3).is_err());
    }

    #[test]
    fn an_entry_fetched_under_another_key_is_corrupt() {
        let entry = CacheEntry {
            stdout: b"hello".to_vec(),
            ..CacheEntry::default()
        };
        let bytes = entry.encode(&CacheKey([1; 32])).unwrap();
        assert!(matches!(
            decode_fetched(&bytes, &CacheKey([1; 32])),
            LookupResult::Hit(found) if *found == entry
        ));
        assert!(matches!(
            decode_fetched(&bytes, &CacheKey([2; 32])),
            LookupResult::Corrupt
        ));
    }
}
