//! The digest of a compile's source text, with the scan for directives that make a compile
//! uncacheable.
//!
//! It can be fed in chunks (the scan finds a directive split across two), so a caller may hash
//! text as it arrives. The key takes the digest (`hash_key::c_key`), not the text.

use crate::compiler::gcc::refusal_in_source;
use sha2::{Digest, Sha256};
use std::fmt;

/// Bytes of one chunk kept to find a directive split across two chunks; longer than any
/// directive searched for.
const OVERLAP: usize = 16;

/// A running digest of source text.
#[derive(Clone, Default)]
pub struct SourceDigest {
    hasher: Sha256,
    length: u64,
    tail: Vec<u8>,
    refusal: Option<&'static str>,
}

/// What a finished `SourceDigest` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSummary {
    pub digest: [u8; 32],
    pub length: u64,
    /// Why the text makes the compile uncacheable, if it does.
    pub refusal: Option<&'static str>,
}

impl SourceDigest {
    pub fn new() -> Self {
        SourceDigest::default()
    }

    /// Adds the next chunk of text.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.length += chunk.len() as u64;
        if self.refusal.is_none() {
            let mut seam = std::mem::take(&mut self.tail);
            seam.extend_from_slice(&chunk[..chunk.len().min(OVERLAP)]);
            self.refusal = refusal_in_source(&seam).or_else(|| refusal_in_source(chunk));
            self.tail = chunk[chunk.len().saturating_sub(OVERLAP)..].to_vec();
        }
    }

    pub fn finish(self) -> SourceSummary {
        SourceSummary {
            digest: self.hasher.finalize().into(),
            length: self.length,
            refusal: self.refusal,
        }
    }

    /// The summary of a whole text at once.
    pub fn of(text: &[u8]) -> SourceSummary {
        let mut digest = SourceDigest::new();
        digest.update(text);
        digest.finish()
    }
}

impl fmt::Debug for SourceDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceDigest")
            .field("length", &self.length)
            .field("refusal", &self.refusal)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_whole_digests_agree() {
        let text: Vec<u8> = (0..100_000u32).map(|index| (index % 251) as u8).collect();
        let mut chunked = SourceDigest::new();
        for chunk in text.chunks(4096) {
            chunked.update(chunk);
        }
        assert_eq!(chunked.finish(), SourceDigest::of(&text));
    }

    #[test]
    fn a_directive_split_across_chunks_is_found() {
        let text = b"int x;\n__asm__(\".incbin \\\"blob.bin\\\"\");\n";
        for split in 0..text.len() {
            let mut digest = SourceDigest::new();
            digest.update(&text[..split]);
            digest.update(&text[split..]);
            assert_eq!(digest.finish().refusal, Some(".incbin"), "split at {split}");
        }
        assert_eq!(SourceDigest::of(b"int include_me;").refusal, None);
    }
}
