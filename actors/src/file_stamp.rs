//! `FileStamp`: what identifies a file's contents (which inode, its size, its last
//! modification), so that what was read or probed from a file can later be checked to still
//! describe the file there: the early C digest, an output compared before a touch, a
//! compiler the detector remembers.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What identifies a file's contents for the span of one compile: which inode, its size and
/// its last modification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
}

impl FileStamp {
    pub fn of(metadata: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
        }
    }

    /// The stamp of the file now at `path`.
    pub fn at(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path)
            .ok()
            .map(|metadata| FileStamp::of(&metadata))
    }
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
}
