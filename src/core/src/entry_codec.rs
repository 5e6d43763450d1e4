//! How an encoded entry travels to a remote cache (Redis, S3, REAPI): zstd-compressed behind a
//! marker, and read back whether it was compressed or not.
//!
//! Layout of a compressed entry: the marker `SCZ1`, then one zstd frame whose content is the
//! entry exactly as `CacheEntry::encode` made it (so the entry's own magic, checksum and key
//! are checked after decompression, as for an uncompressed one). Anything that does not start
//! with the marker is passed through unchanged: entries written before compression existed
//! (they start with the entry magic `SCCE`) still read.
//!
//! Invariants: decompression never allocates or produces more than `MAX_ENTRY_LEN` bytes (a
//! small blob claiming a huge content, a "zip bomb", is refused as corrupt); a blob that is not
//! a whole zstd frame is `CodecError::Corrupt`, never a panic. The local disk keeps entries
//! uncompressed (see bench/README.md, "Compressed entries"): this module is for the levels
//! reached over a network. It does no I/O.

use std::io::Read;

/// The marker in front of a compressed entry.
const MARKER: &[u8; 4] = b"SCZ1";

/// The most an entry may hold once decompressed: 1 GiB, more than any object or rlib a
/// compile writes. A larger entry is not stored, and a blob that would decompress to more is
/// corrupt.
pub const MAX_ENTRY_LEN: usize = 1 << 30;

/// sccache's default level (`SCCACHE_CACHE_ZSTD_LEVEL`).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// Why stored bytes could not be turned back into an encoded entry, or an entry into bytes to
/// store.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("corrupt compressed cache entry: {0}")]
    Corrupt(String),
    #[error("cache entry of {0} bytes is larger than the {MAX_ENTRY_LEN} bytes an entry may hold")]
    TooLarge(usize),
    #[error("cannot compress cache entry: {0}")]
    Compress(std::io::Error),
}

/// `encoded` (an entry as `CacheEntry::encode` made it) compressed at `level`, behind the
/// marker.
pub fn compress(encoded: &[u8], level: i32) -> Result<Vec<u8>, CodecError> {
    if encoded.len() > MAX_ENTRY_LEN {
        return Err(CodecError::TooLarge(encoded.len()));
    }
    let mut stored = Vec::with_capacity(MARKER.len() + encoded.len() / 3);
    stored.extend_from_slice(MARKER);
    // The bulk compressor writes the content size into the frame header, which lets the reader
    // size its buffer exactly.
    let frame = zstd::bulk::compress(encoded, level).map_err(CodecError::Compress)?;
    stored.extend_from_slice(&frame);
    Ok(stored)
}

/// Whether `stored` is a compressed entry (starts with the marker).
pub fn is_compressed(stored: &[u8]) -> bool {
    stored.starts_with(MARKER)
}

/// The encoded entry `stored` holds: decompressed when it carries the marker, else `stored`
/// itself (an entry written uncompressed).
pub fn decompress(stored: Vec<u8>) -> Result<Vec<u8>, CodecError> {
    decompress_within(stored, MAX_ENTRY_LEN)
}

/// `decompress` with the bound `limit` in place of `MAX_ENTRY_LEN`.
fn decompress_within(stored: Vec<u8>, limit: usize) -> Result<Vec<u8>, CodecError> {
    if !is_compressed(&stored) {
        return Ok(stored);
    }
    let frame = &stored[MARKER.len()..];
    let declared = zstd::zstd_safe::get_frame_content_size(frame)
        .map_err(|_| CodecError::Corrupt("no zstd frame header".into()))?;
    let capacity = match declared {
        Some(size) if size > limit as u64 => {
            return Err(CodecError::Corrupt(format!(
                "declares {size} bytes, more than an entry may hold"
            )))
        }
        Some(size) => size as usize,
        // Not written by `compress`; read in a stream with the same bound.
        None => 0,
    };
    let mut decoder = zstd::stream::read::Decoder::with_buffer(frame)
        .map_err(|error| CodecError::Corrupt(error.to_string()))?
        .single_frame();
    let mut encoded = Vec::with_capacity(capacity);
    // One byte more than allowed tells a too large content from one that just fits.
    (&mut decoder)
        .take(limit as u64 + 1)
        .read_to_end(&mut encoded)
        .map_err(|error| CodecError::Corrupt(error.to_string()))?;
    if encoded.len() > limit {
        return Err(CodecError::Corrupt(
            "decompresses to more than an entry may hold".into(),
        ));
    }
    if declared.is_some_and(|size| size != encoded.len() as u64) {
        return Err(CodecError::Corrupt(
            "content shorter than its frame declares".into(),
        ));
    }
    Ok(encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::CacheEntry;
    use crate::hash_key::CacheKey;

    fn encoded() -> Vec<u8> {
        let entry = CacheEntry {
            stdout: b"warning: the same text again and again ".repeat(200),
            ..CacheEntry::default()
        };
        entry.encode(&CacheKey([3; 32])).unwrap()
    }

    #[test]
    fn compressed_entries_round_trip_byte_identical_and_smaller() {
        let encoded = encoded();
        let stored = compress(&encoded, DEFAULT_ZSTD_LEVEL).unwrap();
        assert!(is_compressed(&stored));
        assert!(stored.len() < encoded.len() / 4, "{}", stored.len());
        assert_eq!(decompress(stored).unwrap(), encoded);
    }

    #[test]
    fn uncompressed_entries_pass_through() {
        let encoded = encoded();
        assert_eq!(decompress(encoded.clone()).unwrap(), encoded);
    }

    #[test]
    fn every_truncation_and_flip_is_an_error_or_other_bytes_never_a_panic() {
        let encoded = encoded();
        let stored = compress(&encoded, DEFAULT_ZSTD_LEVEL).unwrap();
        for length in MARKER.len()..stored.len() {
            assert!(decompress(stored[..length].to_vec()).is_err(), "{length}");
        }
        for index in MARKER.len()..stored.len() {
            let mut flipped = stored.clone();
            flipped[index] ^= 0x55;
            // A flip may still decompress (the entry's checksum then catches it); it must not
            // panic or return the original.
            if let Ok(bytes) = decompress(flipped) {
                assert_ne!(bytes, encoded, "{index}");
            }
        }
    }

    #[test]
    fn a_frame_declaring_more_than_an_entry_may_hold_is_refused_unread() {
        // 4 MiB of zeros compress to a few hundred bytes; the header declares the size.
        let stored = compress(&vec![0u8; 4 << 20], 1).unwrap();
        assert!(stored.len() < 4096);
        assert!(matches!(
            decompress_within(stored.clone(), 1 << 20),
            Err(CodecError::Corrupt(_))
        ));
        assert_eq!(decompress(stored).unwrap().len(), 4 << 20);
    }

    #[test]
    fn a_frame_without_a_declared_size_is_bounded_while_read() {
        let mut stored = MARKER.to_vec();
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        encoder.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut encoder, &vec![0u8; 4 << 20]).unwrap();
        stored.extend_from_slice(&encoder.finish().unwrap());
        assert!(matches!(
            decompress_within(stored.clone(), 1 << 20),
            Err(CodecError::Corrupt(_))
        ));
        assert_eq!(decompress(stored).unwrap().len(), 4 << 20);
    }
}
