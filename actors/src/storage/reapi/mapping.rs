//! How a cache entry maps onto REAPI's data: the synthetic Action a key stands for, the
//! ActionResult that points at the entry's blob, digests and ByteStream resource names.
//!
//! A key becomes a Command whose arguments are `["sccache", "<hex key>"]` and an Action of that
//! Command over the empty input root: no server could run it to any effect, and its digest is
//! the ActionCache key. The whole encoded `CacheEntry` (with its own magic, checksum and key)
//! is the ActionResult's stdout blob: the entry's integrity checks then hold unchanged, a hit
//! is one blob, and a server that inlines stdout when asked (`inline_stdout`) serves a hit in
//! one call. An entry of at most `INLINE_LIMIT` bytes is also put inline in the ActionResult
//! stored, for servers that keep it as sent. Pure data: nothing here talks to a server.

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    digest_function, Action, ActionResult, Command, Digest, Directory,
};
use prost::Message;
use sccache_core::hash_key::CacheKey;
use sha2::{Digest as _, Sha256};

/// The largest entry also stored inline in its ActionResult (besides its CAS blob): a small
/// entry then needs no second call on a server that keeps the ActionResult as sent, and the
/// action cache holds at most this much more per entry.
pub const INLINE_LIMIT: usize = 256 << 10;

/// The digest function of every request: SHA-256 (the only one we support).
pub const SHA256: i32 = digest_function::Value::Sha256 as i32;

/// The SHA-256 digest of `bytes`.
pub fn digest_of(bytes: &[u8]) -> Digest {
    let hash = Sha256::digest(bytes);
    Digest {
        hash: hash.iter().map(|byte| format!("{byte:02x}")).collect(),
        size_bytes: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
    }
}

/// Whether `bytes` are what `digest` names.
pub fn matches(digest: &Digest, bytes: &[u8]) -> bool {
    i64::try_from(bytes.len()).is_ok_and(|size| size == digest.size_bytes)
        && digest_of(bytes).hash == digest.hash.to_ascii_lowercase()
}

/// A blob to put into the CAS.
pub struct Blob {
    pub digest: Digest,
    pub data: Vec<u8>,
}

impl Blob {
    pub fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: digest_of(&data),
            data,
        }
    }
}

/// The synthetic Action of a key: its digest (the ActionCache key) and the Action and Command
/// blobs, uploaded with the entry so that servers that check an Action's inputs find them.
pub struct SyntheticAction {
    pub digest: Digest,
    pub blobs: [Blob; 3],
}

/// The Action standing for `key`.
pub fn action_for(key: &CacheKey) -> SyntheticAction {
    let command = Command {
        arguments: vec!["sccache".to_owned(), key.to_string()],
        ..Command::default()
    };
    let command = Blob::new(command.encode_to_vec());
    let input_root = Blob::new(Directory::default().encode_to_vec());
    let action = Action {
        command_digest: Some(command.digest.clone()),
        input_root_digest: Some(input_root.digest.clone()),
        ..Action::default()
    };
    let action = Blob::new(action.encode_to_vec());
    SyntheticAction {
        digest: action.digest.clone(),
        blobs: [action, command, input_root],
    }
}

/// The ActionResult that records `entry` as its stdout: its digest, and the bytes themselves
/// when they are small.
pub fn result_for(entry: &Blob) -> ActionResult {
    ActionResult {
        stdout_digest: Some(entry.digest.clone()),
        stdout_raw: if entry.data.len() <= INLINE_LIMIT {
            entry.data.clone()
        } else {
            Vec::new()
        },
        exit_code: 0,
        ..ActionResult::default()
    }
}

/// Where an ActionResult says the entry is.
#[derive(Debug, PartialEq, Eq)]
pub enum EntryBlob {
    /// Inline in the ActionResult (its digest still to check).
    Inline(Digest, Vec<u8>),
    /// In the CAS under this digest.
    Stored(Digest),
}

/// The entry blob of an ActionResult, or `None` when it records none (not written by us).
pub fn entry_blob(result: ActionResult) -> Option<EntryBlob> {
    let digest = result.stdout_digest?;
    if !result.stdout_raw.is_empty() || digest.size_bytes == 0 {
        Some(EntryBlob::Inline(digest, result.stdout_raw))
    } else {
        Some(EntryBlob::Stored(digest))
    }
}

/// The ByteStream resource to read a blob from.
pub fn read_resource(instance: &str, digest: &Digest) -> String {
    with_instance(
        instance,
        format!("blobs/{}/{}", digest.hash, digest.size_bytes),
    )
}

/// The ByteStream resource to write a blob to, under a fresh upload name.
pub fn write_resource(instance: &str, digest: &Digest, upload: &str) -> String {
    with_instance(
        instance,
        format!(
            "uploads/{upload}/blobs/{}/{}",
            digest.hash, digest.size_bytes
        ),
    )
}

fn with_instance(instance: &str, rest: String) -> String {
    if instance.is_empty() {
        rest
    } else {
        format!("{instance}/{rest}")
    }
}

/// A name for one upload, unique enough for a server to tell concurrent uploads apart, shaped
/// as the UUID the ByteStream convention asks for.
pub fn upload_name(digest: &Digest, sequence: u64) -> String {
    let seed = format!(
        "{}:{}:{sequence}:{:?}",
        digest.hash,
        std::process::id(),
        std::time::SystemTime::now()
    );
    let hex = digest_of(seed.as_bytes()).hash;
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_names_the_key_and_differs_per_key() {
        let one = action_for(&CacheKey([1; 32]));
        let two = action_for(&CacheKey([2; 32]));
        assert_ne!(one.digest, two.digest);
        let command = Command::decode(one.blobs[1].data.as_slice()).unwrap();
        assert_eq!(command.arguments[0], "sccache");
        assert_eq!(command.arguments[1], CacheKey([1; 32]).to_string());
        assert_eq!(one.digest, digest_of(&one.blobs[0].data));
        // The same key always gives the same Action.
        assert_eq!(action_for(&CacheKey([1; 32])).digest, one.digest);
    }

    #[test]
    fn digests_are_checked_by_hash_and_size() {
        let digest = digest_of(b"entry");
        assert!(matches(&digest, b"entry"));
        assert!(!matches(&digest, b"entrx"));
        assert!(!matches(&digest, b"entry!"));
        assert_eq!(
            digest_of(b"").hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_result_points_at_its_entry_and_holds_it_when_small() {
        let small = Blob::new(b"entry".to_vec());
        let digest = small.digest.clone();
        assert_eq!(
            entry_blob(result_for(&small)),
            Some(EntryBlob::Inline(digest.clone(), b"entry".to_vec()))
        );
        // A server that drops what it was sent inline still has the digest.
        let mut stripped = result_for(&small);
        stripped.stdout_raw.clear();
        assert_eq!(entry_blob(stripped), Some(EntryBlob::Stored(digest)));
        let large = Blob::new(vec![1; INLINE_LIMIT + 1]);
        assert_eq!(
            entry_blob(result_for(&large)),
            Some(EntryBlob::Stored(large.digest.clone()))
        );
        assert_eq!(entry_blob(ActionResult::default()), None);
    }

    #[test]
    fn resource_names_follow_the_bytestream_convention() {
        let digest = digest_of(b"x");
        let read = read_resource("main", &digest);
        assert_eq!(read, format!("main/blobs/{}/1", digest.hash));
        assert_eq!(
            read_resource("", &digest),
            format!("blobs/{}/1", digest.hash)
        );
        let upload = upload_name(&digest, 7);
        assert_eq!(upload.len(), 36);
        assert!(write_resource("main", &digest, &upload)
            .starts_with(&format!("main/uploads/{upload}/blobs/")));
    }
}
