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
//!
//! A compile's large outputs, hashed for their entry as they are collected, are remembered by
//! the same rule (`remember_read`).
//!
//! A restore may also vouch for the bytes it just wrote (`vouch`, from `outputs::Restored`):
//! their digest is the entry's, the stamp the one taken after the rename, and only where
//! stamps are fine-grained (a change after that stamp was taken moves it, in any tick), so the
//! next crate's key does not read a restored rlib again.
//!
//! Kept between runs (`save` when the server stops, `load` when it starts, in the user's
//! private runtime directory): a server started again after its idle timeout does not read a
//! toolchain's and the system's libraries again (about a gigabyte for a Rust link). Sound for
//! the same reason as within one run: an entry is used only while the file's stamp is the
//! recorded one, and any change to a file while no server ran moved its change time, which no
//! unprivileged program can set back. A file that cannot be read back whole is ignored.

use crate::file_stamp::FileStamp;
use crate::flow::started::Started;
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
        // Opened without waiting, and only a regular file: a FIFO's open waits for a writer.
        let mut file = crate::file_system::open_regular(path)?;
        let digest = sccache_core::hash_key::digest_reader(&mut file)?;
        let after = file.metadata()?;
        if FileStamp::of(&after) != stamp {
            return Err(std::io::Error::other(format!(
                "{} changed while it was read",
                path.display()
            )));
        }
        self.remember_read(path, &file, &after, digest, began);
        Ok(digest)
    }

    /// Remembers `digest` for the file at `path` (open as `file`) if it last changed before
    /// `began` (the racily-clean rule of the module doc): `file` was hashed between two equal
    /// stamps, the second `after`, the first taken at or after `began` by the file system's
    /// clock. `digest`'s own, and `outputs::collect`'s for a compile's large outputs (the next
    /// crate's key would read the same rlib again).
    pub fn remember_read(
        &self,
        path: &Path,
        file: &std::fs::File,
        after: &std::fs::Metadata,
        digest: [u8; 32],
        began: Started,
    ) {
        let settled = if crate::file_system::device_is_local(after, || file.try_clone().ok()) {
            began.settled_before(after)
        } else {
            settled(after)
        };
        if settled {
            self.remember(path, FileStamp::of(after), digest);
        }
    }

    /// Writes what the memo knows to `file` (atomically: a temporary file renamed over it).
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::ffi::OsStrExt;
        let mut bytes = SAVED_MAGIC.to_vec();
        if let Ok(memo) = self.0.lock() {
            for (path, (stamp, digest)) in &memo.known {
                let path = path.as_os_str().as_bytes();
                let Ok(length) = u32::try_from(path.len()) else {
                    continue;
                };
                bytes.extend_from_slice(&length.to_le_bytes());
                bytes.extend_from_slice(path);
                bytes.extend_from_slice(&stamp.to_bytes());
                bytes.extend_from_slice(digest);
            }
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(&bytes)?;
        temp.persist(file).map_err(|error| error.error)?;
        Ok(())
    }

    /// A memo that knows what `save` wrote to `file`; an empty one when there is none or it
    /// cannot be read back whole.
    pub fn load(file: &Path) -> DigestMemo {
        let memo = DigestMemo::default();
        let Ok(bytes) = std::fs::read(file) else {
            return memo;
        };
        match parse_saved(&bytes) {
            Some(known) => {
                if let Ok(mut inner) = memo.0.lock() {
                    for (path, stamp, digest) in known.into_iter().take(CAPACITY) {
                        inner.by_stamp.insert(stamp, digest);
                        inner.known.insert(path, (stamp, digest));
                    }
                }
            }
            None => log::info!(
                "{}: not a digest file of this version; ignored",
                file.display()
            ),
        }
        memo
    }

    /// The digest remembered for the file at `path` while it has `stamp`.
    pub(crate) fn remembered(&self, path: &Path, stamp: FileStamp) -> Option<[u8; 32]> {
        let memo = self.0.lock().ok()?;
        memo.known
            .get(path)
            .filter(|(known_stamp, _)| *known_stamp == stamp)
            .map(|(_, digest)| *digest)
            .or_else(|| memo.by_stamp.get(&stamp).copied())
    }

    /// Remembers `digest` for the file at `path` while it has `stamp`, on the word of a
    /// restore that just wrote those bytes there and took the stamp after (`outputs::Restored`
    /// says when that word holds: only where any later change moves the stamp).
    pub fn vouch(&self, path: &Path, stamp: FileStamp, digest: [u8; 32]) {
        self.remember(path, stamp, digest);
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

/// What a file `DigestMemo::save` wrote begins with (its format's version).
const SAVED_MAGIC: &[u8] = b"sccache digest memo 1\n";

/// The entries of a saved memo: each a path (length, bytes), its stamp and its digest. `None`
/// unless every byte belongs to a whole entry.
fn parse_saved(bytes: &[u8]) -> Option<Vec<(PathBuf, FileStamp, [u8; 32])>> {
    use std::os::unix::ffi::OsStrExt;
    let mut rest = bytes.strip_prefix(SAVED_MAGIC)?;
    let mut entries = Vec::new();
    while !rest.is_empty() {
        let (length, tail) = rest.split_first_chunk::<4>()?;
        let length = usize::try_from(u32::from_le_bytes(*length)).ok()?;
        let path = tail.get(..length)?;
        let tail = &tail[length..];
        let (stamp, tail) = tail.split_first_chunk::<56>()?;
        let (digest, tail) = tail.split_first_chunk::<32>()?;
        entries.push((
            PathBuf::from(std::ffi::OsStr::from_bytes(path)),
            FileStamp::from_bytes(stamp),
            *digest,
        ));
        rest = tail;
    }
    Some(entries)
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
        let local = crate::file_system::on_local_file_system(&std::fs::File::open(&path).unwrap());
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
    fn a_saved_memo_is_known_again_and_a_damaged_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("libz.so");
        std::fs::write(&path, b"z").unwrap();
        let stamp = FileStamp::at(&path).unwrap();
        let memo = DigestMemo::default();
        memo.remember(&path, stamp, [9; 32]);
        let saved = dir.path().join("digests");
        memo.save(&saved).unwrap();
        let loaded = DigestMemo::load(&saved);
        assert_eq!(loaded.remembered(&path, stamp), Some([9; 32]));
        assert_eq!(loaded.digest(&path).unwrap(), [9; 32]);
        // The file changed while no server ran: read again.
        std::fs::write(&path, b"zz").unwrap();
        assert_eq!(
            DigestMemo::load(&saved).digest(&path).unwrap(),
            sccache_core::hash_key::digest(b"zz")
        );
        // Cut short, or another format: nothing known.
        let bytes = std::fs::read(&saved).unwrap();
        std::fs::write(&saved, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(DigestMemo::load(&saved).remembered(&path, stamp), None);
        std::fs::write(&saved, b"something else").unwrap();
        assert_eq!(DigestMemo::load(&saved).remembered(&path, stamp), None);
        assert_eq!(
            DigestMemo::load(&dir.path().join("missing")).remembered(&path, stamp),
            None
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
