//! `FileStamp`: what identifies a file's contents (which inode, its size, its last
//! modification and its last status change), so that what was read or probed from a file can later be checked to still
//! describe the file there: the early C digest, an output compared before a touch, a
//! compiler the detector remembers.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What identifies a file's contents for the span of one compile: which inode, its size, its
/// last modification and its last status change. The status change time (ctime) is there
/// because the others can be put back (`touch -r` restores the mtime, an edit can keep the
/// size), but no unprivileged program can set the ctime: any write moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileStamp {
    /// The stamp that vouches for the bytes of a file just filled and renamed into place (open
    /// as `file`), or `None` where it cannot:
    /// - `filled`, taken after the filling and before the rename, asked the kernel for the
    ///   file's change time; on a file system with fine-grained stamps
    ///   (`file_system::fine_grained_stamps`), every change after such a question gets a change
    ///   time of its own, later than any handed out before;
    /// - the rename moved only the change time; a write after it (once others could see the
    ///   path) would have moved the modification time past the filling's, so the same inode,
    ///   size and modification time mean the bytes are still the ones filled;
    /// - the stamp returned is taken now: any change from here on moves it.
    pub fn vouching(file: &std::fs::File, filled: &std::fs::Metadata) -> Option<FileStamp> {
        let after = file.metadata().ok()?;
        let untouched = after.ino() == filled.ino()
            && after.dev() == filled.dev()
            && after.len() == filled.len()
            && after.mtime() == filled.mtime()
            && after.mtime_nsec() == filled.mtime_nsec();
        (untouched && crate::file_system::fine_grained_stamps(file)).then(|| FileStamp::of(&after))
    }

    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The stamp as a direct-mode manifest records it.
    pub fn recorded(&self) -> sccache_core::direct::Stamp {
        sccache_core::direct::Stamp {
            device: self.device,
            inode: self.inode,
            size: self.size,
            modified: self.modified,
            changed: self.changed,
        }
    }

    /// The stamp as 56 bytes (little-endian), for a file the server keeps between runs.
    pub fn to_bytes(&self) -> [u8; 56] {
        let mut bytes = [0; 56];
        let fields = [
            self.device.to_le_bytes(),
            self.inode.to_le_bytes(),
            self.size.to_le_bytes(),
            self.modified.0.to_le_bytes(),
            self.modified.1.to_le_bytes(),
            self.changed.0.to_le_bytes(),
            self.changed.1.to_le_bytes(),
        ];
        for (chunk, field) in bytes.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&field);
        }
        bytes
    }

    /// The stamp `to_bytes` wrote.
    pub fn from_bytes(bytes: &[u8; 56]) -> FileStamp {
        let word = |index: usize| {
            let mut field = [0; 8];
            field.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
            field
        };
        FileStamp {
            device: u64::from_le_bytes(word(0)),
            inode: u64::from_le_bytes(word(1)),
            size: u64::from_le_bytes(word(2)),
            modified: (i64::from_le_bytes(word(3)), i64::from_le_bytes(word(4))),
            changed: (i64::from_le_bytes(word(5)), i64::from_le_bytes(word(6))),
        }
    }

    /// The stamp of the file now at `path`.
    pub fn at(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path)
            .ok()
            .map(|metadata| FileStamp::of(&metadata))
    }
}

/// A file's path and its stamp, or `None` when it does not exist.
pub type PathStamp = (PathBuf, Option<FileStamp>);

/// The stamp of whatever is at `path` now, with the path.
pub fn stamp(path: PathBuf) -> PathStamp {
    let state = FileStamp::at(&path);
    (path, state)
}

/// Whether every path still has the stamp recorded for it (or still has no file).
pub fn unchanged(files: &[PathStamp]) -> bool {
    files
        .iter()
        .all(|(path, state)| stamp(path.clone()).1 == *state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_changes_with_the_contents_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.i");
        std::fs::write(&path, b"int x;\n").unwrap();
        let first = FileStamp::at(&path).unwrap();
        assert_eq!(FileStamp::at(&path), Some(first));
        std::fs::write(&path, b"int xy;\n").unwrap();
        assert_ne!(FileStamp::at(&path), Some(first));
        let other = dir.path().join("b.i");
        std::fs::write(&other, b"int x;\n").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_ne!(
            FileStamp::at(&path).map(|stamp| stamp.inode),
            Some(first.inode)
        );
    }

    #[test]
    fn an_edit_in_place_with_size_and_mtime_put_back_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gcc");
        std::fs::write(&path, b"exec gcc \"$@\"\n").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        let first = FileStamp::of(&before);
        // Let the clock move past the file system's timestamp granularity.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"exec g++ \"$@\"\n").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();
        let after = FileStamp::at(&path).unwrap();
        assert_eq!((after.size, after.modified), (first.size, first.modified));
        assert_ne!(after, first);
    }
}
