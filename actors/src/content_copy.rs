//! Filling a new file from a cache's content file without passing the bytes through memory:
//! a clone (`FICLONE`: the two files share their blocks copy-on-write, on Btrfs, XFS,
//! bcachefs...) where the file system can, else the kernel's copy (`copy_file_range`, which
//! also clones where it can), else reads and writes.
//!
//! Never a hard link: a link shares the inode, so a build writing into its output in place
//! (`cp`, a build script's `File::create`) would write into the cache. A clone or a copy is a
//! file of its own, whatever is done to it later.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// How a file was filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filled {
    /// Blocks shared copy-on-write with the source.
    Cloned,
    /// Copied by the kernel or through a buffer.
    Copied,
}

/// Fills the empty file `to` with the first `len` bytes of `from`, which must have `len`.
pub fn fill(from: &File, to: &File, len: u64) -> io::Result<Filled> {
    if len > 0 && rustix::fs::ioctl_ficlone(to, from).is_ok() {
        if to.metadata()?.len() != len {
            return Err(io::Error::other(
                "the cloned file is not of the recorded length",
            ));
        }
        return Ok(Filled::Cloned);
    }
    let (mut read, mut written) = (0u64, 0u64);
    while read < len {
        let chunk = usize::try_from(len - read)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        match rustix::fs::copy_file_range(from, Some(&mut read), to, Some(&mut written), chunk) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            // Not between these files (another file system on an older kernel, a file system
            // without it): copy what is left through a buffer.
            Err(_) => {
                copy_through_buffer(from, to, read, len)?;
                break;
            }
        }
    }
    Ok(Filled::Copied)
}

fn copy_through_buffer(from: &File, to: &File, start: u64, len: u64) -> io::Result<()> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut offset = start;
    while offset < len {
        let length = usize::try_from(len - offset)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        from.read_exact_at(&mut buffer[..length], offset)?;
        to.write_all_at(&buffer[..length], offset)?;
        offset += length as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_filled_file_holds_the_bytes_and_is_a_file_of_its_own() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|n| (n % 251) as u8).collect();
        let source_path = dir.path().join("content");
        std::fs::write(&source_path, &bytes).unwrap();
        let source = File::open(&source_path).unwrap();
        let target_path = dir.path().join("target");
        let target = File::create(&target_path).unwrap();
        fill(&source, &target, bytes.len() as u64).unwrap();
        drop(target);
        assert_eq!(std::fs::read(&target_path).unwrap(), bytes);
        assert_ne!(
            std::fs::metadata(&target_path).unwrap().ino(),
            std::fs::metadata(&source_path).unwrap().ino()
        );
        // Written in place afterwards, as `cp` or a build script would.
        File::create(&target_path)
            .unwrap()
            .write_all(b"rewritten")
            .unwrap();
        assert_eq!(std::fs::read(&source_path).unwrap(), bytes);
    }

    #[test]
    fn a_short_source_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let source_path = dir.path().join("content");
        std::fs::write(&source_path, b"short").unwrap();
        let source = File::open(&source_path).unwrap();
        let target = tempfile::tempfile_in(dir.path()).unwrap();
        assert!(fill(&source, &target, 100).is_err());
        let empty = tempfile::tempfile_in(dir.path()).unwrap();
        assert_eq!(fill(&source, &empty, 0).unwrap(), Filled::Copied);
    }
}
