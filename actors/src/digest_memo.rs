//! `DigestMemo`: file digests remembered by the file's `FileStamp` (device, inode, size,
//! modification and change times), so that a header read by hundreds of compiles is hashed
//! once for the server's lifetime.
//!
//! Invariant: a remembered digest is used only while the file's stamp is the one taken before
//! and after the read that made it, and a file changed too recently to be told apart from a
//! change within the file system's timestamp granularity is not remembered (git's "racily
//! clean" rule). It is bounded: when full, it is emptied and refills.

use crate::file_stamp::FileStamp;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How many files the memo remembers before it starts again.
const CAPACITY: usize = 100_000;

/// How long ago a file must have last changed for its digest to be remembered: more than any
/// file system's timestamp granularity (FAT's 2 s), so that a later write in the same tick,
/// which would leave the stamp as it was, cannot have happened yet.
const SETTLED: Duration = Duration::from_secs(3);

/// What the memo knows of a path: the stamp the file had when it was read, and its digest.
type Known = HashMap<PathBuf, (FileStamp, [u8; 32])>;

/// Shared by the hasher's threads.
#[derive(Clone, Default)]
pub struct DigestMemo(Arc<Mutex<Known>>);

impl DigestMemo {
    /// The digest of the file at `path`, an error when there is no readable file there. Reads
    /// and hashes it unless the memo knows it by its current stamp.
    pub fn digest(&self, path: &Path) -> std::io::Result<[u8; 32]> {
        let before = std::fs::metadata(path)?;
        let stamp = FileStamp::of(&before);
        if let Some(digest) = self.remembered(path, stamp) {
            return Ok(digest);
        }
        let mut file = std::fs::File::open(path)?;
        let digest = sccache_core::hash_key::digest_reader(&mut file)?;
        let after = file.metadata()?;
        if FileStamp::of(&after) != stamp {
            return Err(std::io::Error::other(format!(
                "{} changed while it was read",
                path.display()
            )));
        }
        if settled(&after) {
            self.remember(path, stamp, digest);
        }
        Ok(digest)
    }

    fn remembered(&self, path: &Path, stamp: FileStamp) -> Option<[u8; 32]> {
        let known = self.0.lock().ok()?;
        known
            .get(path)
            .filter(|(known_stamp, _)| *known_stamp == stamp)
            .map(|(_, digest)| *digest)
    }

    fn remember(&self, path: &Path, stamp: FileStamp, digest: [u8; 32]) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() >= CAPACITY {
                known.clear();
            }
            known.insert(path.to_path_buf(), (stamp, digest));
        }
    }
}

/// Whether the file's last modification and status change are old enough (see `SETTLED`).
fn settled(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let changed = SystemTime::UNIX_EPOCH
        + Duration::new(
            u64::try_from(metadata.ctime()).unwrap_or(0),
            u32::try_from(metadata.ctime_nsec()).unwrap_or(0),
        );
    let newest = metadata
        .modified()
        .map_or(changed, |modified| modified.max(changed));
    SystemTime::now()
        .duration_since(newest)
        .is_ok_and(|age| age > SETTLED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_file_is_read_every_time_and_an_old_one_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.h");
        std::fs::write(&path, b"int a;\n").unwrap();
        let memo = DigestMemo::default();
        let first = memo.digest(&path).unwrap();
        // Written just now: not remembered, so an edit in the same tick is still seen.
        assert!(memo
            .remembered(&path, FileStamp::at(&path).unwrap())
            .is_none());
        std::fs::write(&path, b"int b;\n").unwrap();
        assert_ne!(memo.digest(&path).unwrap(), first);
        // Settled (its times set in the past): remembered under its stamp.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let stamp = FileStamp::at(&path).unwrap();
        let digest = memo.digest(&path).unwrap();
        // The change time moved with set_modified, so it is not settled yet either.
        assert_eq!(
            memo.remembered(&path, stamp).is_some(),
            settled(&std::fs::metadata(&path).unwrap())
        );
        assert_eq!(digest, sccache_core::hash_key::digest(b"int b;\n"));
    }

    #[test]
    fn a_remembered_digest_is_used_only_for_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.h");
        std::fs::write(&path, b"int a;\n").unwrap();
        let memo = DigestMemo::default();
        let stamp = FileStamp::at(&path).unwrap();
        memo.remember(&path, stamp, [7; 32]);
        assert_eq!(memo.digest(&path).unwrap(), [7; 32]);
        std::fs::write(&path, b"int b;\n").unwrap();
        assert_eq!(
            memo.digest(&path).unwrap(),
            sccache_core::hash_key::digest(b"int b;\n")
        );
    }
}
