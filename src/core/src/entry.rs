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

use crate::hash_key::CacheKey;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"SCCE";
/// Format 1 was checked by SHA-256 and format 2 did not name its key; entries of either read
/// as another format (a miss).
const FORMAT_VERSION: u8 = 3;
const CHECKSUM_LEN: usize = 4;
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
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// What a successful compile produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub files: Vec<EntryFile>,
    #[serde(with = "serde_bytes")]
    pub stdout: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub stderr: Vec<u8>,
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

    /// The entry as bytes to store under `key`.
    pub fn encode(&self, key: &CacheKey) -> Result<Vec<u8>, EntryError> {
        let body = rmp_serde::to_vec(self)?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.push(FORMAT_VERSION);
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
        if bytes[MAGIC.len()] != FORMAT_VERSION {
            return Err(EntryError::OtherFormat(bytes[MAGIC.len()]));
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
        rmp_serde::from_slice(body).map_err(|_| EntryError::Corrupt("undecodable body"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: CacheKey = CacheKey([7; 32]);

    fn sample() -> CacheEntry {
        CacheEntry {
            files: vec![EntryFile {
                name: "obj".into(),
                mode: None,
                data: vec![0x7f, b'E', b'L', b'F', 0, 1, 2],
            }],
            stdout: b"out".to_vec(),
            stderr: b"warning: x".to_vec(),
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
