//! `DigestMemo`: file digests remembered by the file's `FileStamp` (device, inode, size,
//! modification and change times), so that a header read by hundreds of compiles is hashed
//! once for the server's lifetime.
//!
//! Invariant: a remembered digest is used only while the file's stamp is the one taken before
//! and after the read that made it, and a file changed too recently to be told apart from a
//! later change is not remembered (git's "racily clean" rule). On a local file system that
//! is a change at or after the moment the digest began, by the clock the kernel stamps files
//! with (`Started::file_clock_now`): every change after that moment carries a later time, so a
//! file written a few milliseconds earlier (an rlib just restored from the cache, which the
//! next crate's key digests) is remembered too. Elsewhere (network file systems stamp with the
//! server's clock; FAT with whole seconds) the file must be three seconds old. It is bounded:
//! when full, it is emptied and refills.

use crate::file_stamp::FileStamp;
use crate::flow::read_since::Started;
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
pub struct DigestMemo(Arc<Mutex<Memo>>);

#[derive(Default)]
struct Memo {
    known: Known,
    /// The same digests by stamp alone: the stamp names the inode (device and number) and its
    /// state, so another path to it (`libLLVM.so` and `libLLVM.so.1`, links to one file) is
    /// not read again.
    by_stamp: HashMap<FileStamp, [u8; 32]>,
    /// Whether each device seen holds a local file system (`on_local_file_system`).
    local: HashMap<u64, bool>,
}

impl DigestMemo {
    /// The digest of the file at `path`, an error when there is no readable file there. Reads
    /// and hashes it unless the memo knows it by its current stamp.
    pub fn digest(&self, path: &Path) -> std::io::Result<[u8; 32]> {
        // Before the first stat: a change from here on is stamped at or after it.
        self.digest_since(path, Started::file_clock_now())
    }

    /// `digest`, begun at `began` by the file system's clock.
    fn digest_since(&self, path: &Path, began: Started) -> std::io::Result<[u8; 32]> {
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
        let settled = if self.local(&file, &after) {
            began.settled_before(&after)
        } else {
            settled(&after)
        };
        if settled {
            self.remember(path, stamp, digest);
        }
        Ok(digest)
    }

    /// Whether `file` (with `metadata`) is on a local file system, asked once per device.
    fn local(&self, file: &std::fs::File, metadata: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        let device = metadata.dev();
        if let Some(local) = self
            .0
            .lock()
            .ok()
            .and_then(|memo| memo.local.get(&device).copied())
        {
            return local;
        }
        let local = crate::outputs::on_local_file_system(file);
        if let Ok(mut memo) = self.0.lock() {
            memo.local.insert(device, local);
        }
        local
    }

    fn remembered(&self, path: &Path, stamp: FileStamp) -> Option<[u8; 32]> {
        let memo = self.0.lock().ok()?;
        memo.known
            .get(path)
            .filter(|(known_stamp, _)| *known_stamp == stamp)
            .map(|(_, digest)| *digest)
            .or_else(|| memo.by_stamp.get(&stamp).copied())
    }

    fn remember(&self, path: &Path, stamp: FileStamp, digest: [u8; 32]) {
        if let Ok(mut memo) = self.0.lock() {
            if memo.known.len() >= CAPACITY {
                memo.known.clear();
                memo.by_stamp.clear();
            }
            memo.known.insert(path.to_path_buf(), (stamp, digest));
            memo.by_stamp.insert(stamp, digest);
        }
    }
}

/// Whether the file's last modification and status change are old enough (see `SETTLED`), on a
/// file system that is not local.
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
    fn a_file_changed_after_the_digest_began_is_read_every_time_and_an_older_one_is_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.h");
        let memo = DigestMemo::default();
        // Written after the digest began: not remembered, so an edit in the same tick is seen.
        let began = Started::file_clock_now();
        std::fs::write(&path, b"int a;\n").unwrap();
        let first = memo.digest_since(&path, began).unwrap();
        assert!(memo
            .remembered(&path, FileStamp::at(&path).unwrap())
            .is_none());
        std::fs::write(&path, b"int b;\n").unwrap();
        assert_ne!(memo.digest_since(&path, began).unwrap(), first);
        // Begun a few ticks after the last write: remembered on a local file system, where
        // every later change carries a later time; elsewhere only once three seconds old.
        std::thread::sleep(Duration::from_millis(30));
        let digest = memo.digest(&path).unwrap();
        assert_eq!(digest, sccache_core::hash_key::digest(b"int b;\n"));
        let local = crate::outputs::on_local_file_system(&std::fs::File::open(&path).unwrap());
        assert_eq!(
            memo.remembered(&path, FileStamp::at(&path).unwrap())
                .is_some(),
            local
        );
        // An old file is remembered anywhere.
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        memo.digest(&path).unwrap();
        // The change time moved with set_modified: settled by the local rule only.
        assert_eq!(
            memo.remembered(&path, FileStamp::at(&path).unwrap())
                .is_some(),
            local || settled(&std::fs::metadata(&path).unwrap())
        );
    }

    #[test]
    fn another_path_to_a_remembered_file_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libz.so.1");
        std::fs::write(&path, b"z").unwrap();
        let link = dir.path().join("libz.so");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let memo = DigestMemo::default();
        let stamp = FileStamp::at(&path).unwrap();
        memo.remember(&path, stamp, [9; 32]);
        assert_eq!(memo.digest(&link).unwrap(), [9; 32]);
        // Another file, even with the same contents, is read.
        let copy = dir.path().join("libz-copy.so");
        std::fs::copy(&path, &copy).unwrap();
        assert_eq!(
            memo.digest(&copy).unwrap(),
            sccache_core::hash_key::digest(b"z")
        );
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
