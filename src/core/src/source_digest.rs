//! The digest of a compile's source text (the preprocessor's output, or an input that needs no
//! preprocessing), with the scan for directives that make a compile uncacheable.
//!
//! The key takes the digest (`hash_key::c_key`), not the text.

use crate::compiler::gcc::refusal_in_source;
use sha2::{Digest, Sha256};

/// What the digest of a source text found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceSummary {
    pub digest: [u8; 32],
    pub length: u64,
    /// Why the text makes the compile uncacheable, if it does.
    pub refusal: Option<&'static str>,
}

/// Digests a whole source text.
pub fn summarize(text: &[u8]) -> SourceSummary {
    SourceSummary {
        digest: Sha256::digest(text).into(),
        length: text.len() as u64,
        refusal: refusal_in_source(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_covers_the_text_and_the_scan_finds_assembler_includes() {
        let plain = summarize(b"int x;\n");
        assert_eq!(plain.refusal, None);
        assert_eq!(plain.length, 7);
        assert_ne!(plain.digest, summarize(b"int y;\n").digest);
        let embed = summarize(b"__asm__(\".incbin \\\"blob.bin\\\"\");\n");
        assert_eq!(embed.refusal, Some(".incbin"));
        assert_eq!(summarize(b"int include_me;").refusal, None);
    }
}
