//! The cache entry format: the files a compile wrote, its stdout and stderr, in one blob that
//! proves its own integrity.
//!
//! Layout: the magic `SCCE`, a format version byte, the CRC-32 (little-endian) of what follows,
//! the 32 bytes of the key the entry was stored under, then the body as MessagePack. A
//! truncated or overwritten entry fails the check and is reported as `Corrupt`, never decoded
//! into wrong outputs. An entry names its key because a backend's name for it (a file path, a
//! Redis key, an object name) is not proof: a file copied or renamed to another key's place is
//! whole and checks out, and would otherwise be served as that key's hit. `decode` takes the
//! key being looked up, so no reader can forget the comparison. Files are named by role (`obj`, `d`)
//! or by file name (rust outputs), never by the path they were written to, so a hit restores
//! wherever it is asked.
//!
//! The check is a checksum, not a digest: it catches truncation, torn writes and bit rot, which
//! is all a check stored beside the data can catch (whoever can rewrite an entry can rewrite a
//! digest of it too). Every hit pays for it; CRC-32 runs at several GB/s where SHA-256 managed
//! ~1.8 GB/s here, so a 10 MB rlib is checked in about 1 ms instead of 5.
//!
//! A file may be `External`: its bytes are not in the entry but in a content file the backend
//! keeps beside it (the disk cache's large outputs, restored by clone or kernel copy without
//! passing through memory). The entry then records the file's length and SHA-256, which the
//! backend checks the content file against before it answers a hit, and hands the restore the
//! content file it checked (`ContentSource`). Only such entries are written as format 4, so
//! the entries of every other backend are byte for byte what they were, and a reader of format 3
//! alone takes a format-4 entry for another format (a miss), never for an entry without data.

use crate::hash_key::CacheKey;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const MAGIC: &[u8; 4] = b"SCCE";
/// Format 1 was checked by SHA-256 and format 2 did not name its key; entries of either read
/// as another format (a miss).
const FORMAT_VERSION: u8 = 3;
/// The format of an entry with `External` files (otherwise the same as format 3).
const FORMAT_WITH_EXTERNAL: u8 = 4;
/// The format of a failed compile's entry: its body is the exit status, then the entry as
/// format 3 or 4 has it (`External` files allowed). A reader of formats 3 and 4 alone takes
/// it for another format (a miss), never for a success.
const FORMAT_FAILED: u8 = 5;
const CHECKSUM_LEN: usize = 4;
/// The size from which a file may be kept outside its entry (`External`): the disk cache
/// keeps such outputs as content files, and a compile's are collected kept open rather than
/// read (`outputs::collect`). Smaller files (`.d` files, most C objects) stay inline: one read
/// serves them all, and a clone saves nothing.
pub const EXTERNAL_MIN: u64 = 64 * 1024;
const KEY_LEN: usize = 32;
/// Where the checked part (the key, then the body) starts.
const CHECKED_START: usize = MAGIC.len() + 1 + CHECKSUM_LEN;
const HEADER_LEN: usize = CHECKED_START + KEY_LEN;

/// One file of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryFile {
    /// The role or file name under which the file is restored.
    pub name: String,
    /// Unix permission bits to restore, when they matter.
    pub mode: Option<u32>,
    /// The bytes, unless `external` says where they are (then empty).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Set when the bytes are kept outside the entry, in a content file of the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
}

/// A file's bytes kept outside its entry: their length and SHA-256, and once a backend has
/// found and checked them, where they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct External {
    pub len: u64,
    #[serde(with = "serde_bytes")]
    pub digest: [u8; 32],
    /// The content file as the backend found it at the lookup: open, and checked to hold
    /// `len` bytes of `digest` while its metadata was `checked`. `None` in an entry as stored.
    #[serde(skip)]
    pub source: Option<ContentSource>,
}

/// Two references to the same bytes are equal whoever found them.
impl PartialEq for External {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.digest == other.digest
    }
}

impl Eq for External {}

impl ContentSource {
    /// Whether the file still has the inode, size, mtime and ctime it had when checked (any
    /// write moves the ctime). For a compile's output (`output`), whose links a build makes and
    /// removes (cargo's uplifting, `cargo clean`), moving its ctime, the ctime is left out: a
    /// write still moves the mtime, and bytes read from it are checked against the digest
    /// (`EntryFile::load`; the disk cache checks a content file at its first lookup unless the
    /// output's whole stamp, ctime included, was still the checked one after the copy).
    pub fn unchanged(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(now) = self.file.metadata() else {
            return false;
        };
        let output = self.output;
        let identity = |m: &std::fs::Metadata| {
            (
                m.dev(),
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                (!output).then(|| (m.ctime(), m.ctime_nsec())),
            )
        };
        identity(&now) == identity(&self.checked)
    }
}

/// A content file found and checked by a backend (see `External::source`). Whoever copies
/// from it compares the file's metadata after the copy with `checked`: any write since the
/// check moved its change time.
#[derive(Debug, Clone)]
pub struct ContentSource {
    pub file: Arc<std::fs::File>,
    pub checked: std::fs::Metadata,
    /// A compile's output kept open on its way to the cache (`outputs::collect`), not a
    /// backend's content file: see `unchanged`.
    pub output: bool,
}

impl EntryFile {
    /// A file whose bytes are in the entry.
    pub fn inline(name: impl Into<String>, mode: Option<u32>, data: Vec<u8>) -> EntryFile {
        EntryFile {
            name: name.into(),
            mode,
            data,
            external: None,
        }
    }

    /// The file's bytes, read from its content file when it is external (empty when that
    /// cannot be read). For callers that read a file rather than restore it.
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.external.is_none() {
            return std::borrow::Cow::Borrowed(&self.data);
        }
        let mut loaded = self.clone();
        loaded.load();
        std::borrow::Cow::Owned(loaded.data)
    }

    /// Brings an external file's bytes into `data`, for a caller that must read or edit them.
    /// Failing that, the file is left with neither bytes nor a source, which no restore
    /// accepts.
    pub fn load(&mut self) {
        use std::os::unix::fs::FileExt;
        let Some(external) = self.external.take() else {
            return;
        };
        let loaded = external.source.as_ref().and_then(|source| {
            let mut data = vec![0; usize::try_from(external.len).ok()?];
            source.file.read_exact_at(&mut data, 0).ok()?;
            // An output's stamp leaves its ctime out: its bytes must be the ones hashed.
            let whole = !source.output || crate::hash_key::digest(&data) == external.digest;
            (source.unchanged() && whole).then_some(data)
        });
        match loaded {
            Some(data) => self.data = data,
            None => {
                self.external = Some(External {
                    source: None,
                    ..external
                })
            }
        }
    }
}

/// What a compile produced: a successful one, or a failure the family may cache (see
/// `compiler::rust::cacheable_failure`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub files: Vec<EntryFile>,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
    /// The compile's exit status: 0 for a success. Not in the body of formats 3 and 4 (their
    /// bytes stay what they were); a failure's entry is format 5, which carries it.
    #[serde(skip)]
    pub exit_code: i32,
}

/// Why bytes are not a usable entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("corrupt cache entry: {0}")]
    Corrupt(&'static str),
    #[error("cache entry of format {0}, this sccache reads format {FORMAT_VERSION}")]
    OtherFormat(u8),
    /// A whole entry, stored under another key: a misplaced or planted file.
    #[error("cache entry of key {recorded} found under key {expected}")]
    OtherKey {
        recorded: CacheKey,
        expected: CacheKey,
    },
    #[error("cannot encode cache entry: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
}

impl CacheEntry {
    /// The file stored under `name`.
    pub fn file(&self, name: &str) -> Option<&EntryFile> {
        self.files.iter().find(|file| file.name == name)
    }

    /// Brings every external file's bytes into the entry (`EntryFile::load`): what a hit read
    /// from the disk cache must go through before it is stored in another backend, which has
    /// no content files.
    pub fn load_all(&mut self) {
        self.files.iter_mut().for_each(EntryFile::load);
    }

    /// The entry as bytes to store under `key`.
    pub fn encode(&self, key: &CacheKey) -> Result<Vec<u8>, EntryError> {
        let body = match self.exit_code {
            0 => rmp_serde::to_vec(self)?,
            failed => rmp_serde::to_vec(&(failed, self))?,
        };
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.extend_from_slice(MAGIC);
        let external = self.files.iter().any(|file| file.external.is_some());
        bytes.push(if self.exit_code != 0 {
            FORMAT_FAILED
        } else if external {
            FORMAT_WITH_EXTERNAL
        } else {
            FORMAT_VERSION
        });
        bytes.extend_from_slice(&[0; CHECKSUM_LEN]);
        bytes.extend_from_slice(&key.0);
        bytes.extend_from_slice(&body);
        let checksum = crc32fast::hash(&bytes[CHECKED_START..]).to_le_bytes();
        bytes[CHECKED_START - CHECKSUM_LEN..CHECKED_START].copy_from_slice(&checksum);
        Ok(bytes)
    }

    /// Reads bytes stored under `key`, checking that they are whole, unaltered and `key`'s.
    pub fn decode(bytes: &[u8], key: &CacheKey) -> Result<CacheEntry, EntryError> {
        if bytes.len() < HEADER_LEN {
            return Err(EntryError::Corrupt("shorter than its header"));
        }
        if &bytes[..MAGIC.len()] != MAGIC {
            return Err(EntryError::Corrupt("bad magic"));
        }
        let format = bytes[MAGIC.len()];
        if ![FORMAT_VERSION, FORMAT_WITH_EXTERNAL, FORMAT_FAILED].contains(&format) {
            return Err(EntryError::OtherFormat(format));
        }
        let (header, checked) = bytes.split_at(CHECKED_START);
        if crc32fast::hash(checked).to_le_bytes() != header[CHECKED_START - CHECKSUM_LEN..] {
            return Err(EntryError::Corrupt("checksum mismatch"));
        }
        let (recorded, body) = checked.split_at(KEY_LEN);
        if recorded != key.0 {
            let mut recorded_key = CacheKey([0; KEY_LEN]);
            recorded_key.0.copy_from_slice(recorded);
            return Err(EntryError::OtherKey {
                recorded: recorded_key,
                expected: *key,
            });
        }
        let undecodable = |_| EntryError::Corrupt("undecodable body");
        if format != FORMAT_FAILED {
            return rmp_serde::from_slice(body).map_err(undecodable);
        }
        let (exit_code, mut entry): (i32, CacheEntry) =
            rmp_serde::from_slice(body).map_err(undecodable)?;
        if exit_code == 0 {
            return Err(EntryError::Corrupt("a failure's entry with exit status 0"));
        }
        entry.exit_code = exit_code;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: CacheKey = CacheKey([7; 32]);

    fn sample() -> CacheEntry {
        CacheEntry {
            files: vec![EntryFile::inline(
                "obj",
                None,
                vec![0x7f, b'E', b'L', b'F', 0, 1, 2],
            )],
            stdout: b"out".to_vec(),
            stderr: b"warning: x".to_vec(),
            exit_code: 0,
        }
    }

    #[test]
    fn entries_round_trip() {
        let entry = sample();
        assert_eq!(
            CacheEntry::decode(&entry.encode(&KEY).unwrap(), &KEY).unwrap(),
            entry
        );
    }

    #[test]
    fn an_entry_without_external_files_is_format_3_and_one_with_them_format_4() {
        let entry = sample();
        assert_eq!(entry.encode(&KEY).unwrap()[4], 3);
        let mut external = sample();
        external.files[0].data.clear();
        external.files[0].external = Some(External {
            len: 7,
            digest: [9; 32],
            source: None,
        });
        let bytes = external.encode(&KEY).unwrap();
        assert_eq!(bytes[4], 4);
        assert_eq!(CacheEntry::decode(&bytes, &KEY).unwrap(), external);
    }

    #[test]
    fn a_failures_entry_is_format_5_and_keeps_its_exit_status() {
        let mut failed = sample();
        failed.exit_code = 1;
        let bytes = failed.encode(&KEY).unwrap();
        assert_eq!(bytes[4], 5);
        assert_eq!(CacheEntry::decode(&bytes, &KEY).unwrap(), failed);
        // The same body under format 3 is no success: it does not decode.
        let mut as_success = bytes.clone();
        as_success[4] = 3;
        let checksum = crc32fast::hash(&as_success[CHECKED_START..]).to_le_bytes();
        as_success[CHECKED_START - CHECKSUM_LEN..CHECKED_START].copy_from_slice(&checksum);
        assert!(CacheEntry::decode(&as_success, &KEY).is_err());
        // Nor is a failure's format with a success's status.
        let mut zero = sample().encode(&KEY).unwrap();
        let body = rmp_serde::to_vec(&(0, sample())).unwrap();
        zero.truncate(HEADER_LEN);
        zero.extend_from_slice(&body);
        zero[4] = 5;
        let checksum = crc32fast::hash(&zero[CHECKED_START..]).to_le_bytes();
        zero[CHECKED_START - CHECKSUM_LEN..CHECKED_START].copy_from_slice(&checksum);
        assert!(matches!(
            CacheEntry::decode(&zero, &KEY),
            Err(EntryError::Corrupt(_))
        ));
    }

    /// A compile's output kept open loads only with the bytes it was hashed with (its stamp
    /// leaves the ctime out, so a same-tick rewrite could keep the stamp).
    #[test]
    fn an_outputs_bytes_load_only_when_they_are_the_ones_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.rlib");
        std::fs::write(&path, b"the output").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let checked = file.metadata().unwrap();
        let output = |digest| EntryFile {
            name: "lib.rlib".into(),
            mode: None,
            data: Vec::new(),
            external: Some(External {
                len: 10,
                digest,
                source: Some(ContentSource {
                    file: Arc::new(file.try_clone().unwrap()),
                    checked: checked.clone(),
                    output: true,
                }),
            }),
        };
        let mut right = output(crate::hash_key::digest(b"the output"));
        right.load();
        assert_eq!(right.data, b"the output");
        let mut wrong = output(crate::hash_key::digest(b"the other!"));
        wrong.load();
        assert!(wrong.data.is_empty());
        assert!(wrong.external.unwrap().source.is_none());
    }

    #[test]
    fn every_truncation_is_detected() {
        let bytes = sample().encode(&KEY).unwrap();
        for length in 0..bytes.len() {
            assert!(
                CacheEntry::decode(&bytes[..length], &KEY).is_err(),
                "length {length}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_is_detected() {
        let mut bytes = sample().encode(&KEY).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        assert!(matches!(
            CacheEntry::decode(&bytes, &KEY),
            Err(EntryError::Corrupt(_))
        ));
    }

    #[test]
    fn an_entry_of_an_old_format_is_another_format() {
        for old in [1, 2] {
            let mut bytes = sample().encode(&KEY).unwrap();
            bytes[4] = old;
            assert!(matches!(
                CacheEntry::decode(&bytes, &KEY),
                Err(EntryError::OtherFormat(version)) if version == old
            ));
        }
    }

    #[test]
    fn an_entry_read_under_another_key_names_both() {
        let bytes = sample().encode(&KEY).unwrap();
        let other = CacheKey([8; 32]);
        match CacheEntry::decode(&bytes, &other) {
            Err(EntryError::OtherKey { recorded, expected }) => {
                assert_eq!((recorded, expected), (KEY, other));
            }
            outcome => panic!("{outcome:?}"),
        }
    }

    #[test]
    fn a_flipped_byte_of_the_key_is_corrupt() {
        let mut bytes = sample().encode(&KEY).unwrap();
        bytes[HEADER_LEN - 1] ^= 0x01;
        assert!(matches!(
            CacheEntry::decode(&bytes, &KEY),
            Err(EntryError::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_is_corrupt() {
        assert!(CacheEntry::decode(b"garbage garbage garbage garbage garbage", &KEY).is_err());
    }
}
