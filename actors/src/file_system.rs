//! What kind of file system a file lives on, as the memos and restores need to know: whether
//! its metadata calls are local and quick and its stamps come from this machine's clock
//! (`on_local_file_system`, remembered per device by `device_is_local`), and whether its stamps
//! move on every change even within one tick of the kernel's coarse clock
//! (`fine_grained_stamps`), and whether a directory's listing names what a lookup there finds
//! (`names_listed`). Decides nothing else.

/// Whether `file` lives on a file system whose metadata calls are local and quick: the usual
/// disk and memory file systems. Not network or FUSE file systems, and not overlayfs, where
/// touching a file of a lower layer first copies it whole to the upper one.
pub(crate) fn on_local_file_system(file: &std::fs::File) -> bool {
    const LOCAL: [u32; 6] = [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
        F2FS_SUPER_MAGIC,
        ZFS_SUPER_MAGIC,
    ];
    file_system_type(file).is_some_and(|kind| LOCAL.contains(&kind))
}

/// `statfs`'s `f_type` of the file system `file` lives on.
fn file_system_type(file: &std::fs::File) -> Option<u32> {
    // `f_type` is a signed word of the platform's width and the magic numbers are 32 bits (on
    // a 32-bit platform Btrfs's comes back negative): compare the low 32 bits.
    rustix::fs::fstatfs(file)
        .ok()
        .map(|stat| stat.f_type as u32)
}

/// Whether every change to `file` after its stamp was last asked for moves that stamp, even
/// within one tick of the kernel's coarse clock: multigrain timestamps, which Linux 6.13
/// brought to ext4, XFS, Btrfs and tmpfs (asking for a file's change time makes the next
/// change take a fine-grained time, later than any handed out before). Elsewhere a change in
/// the same tick can leave the stamp as it was, so a stamp taken right after a write vouches
/// for nothing.
pub(crate) fn fine_grained_stamps(file: &std::fs::File) -> bool {
    const MULTIGRAIN: [u32; 4] = [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
    ];
    static KERNEL_HAS_MULTIGRAIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let kernel = *KERNEL_HAS_MULTIGRAIN.get_or_init(|| {
        let uname = rustix::system::uname();
        kernel_at_least(uname.release().to_bytes(), (6, 13))
    });
    kernel && file_system_type(file).is_some_and(|kind| MULTIGRAIN.contains(&kind))
}

/// The file systems where a lookup matches a name byte for byte, unless the directory folds
/// case (`FS_CASEFOLD_FL`, which ext4 and tmpfs can set per directory).
const EXACT_LOOKUPS: [u32; 3] = [EXT4_SUPER_MAGIC, BTRFS_SUPER_MAGIC, TMPFS_MAGIC];

/// Which of `wanted` the directory at `path` holds entries for, read from one listing, when a
/// lookup there matches a name byte for byte (on `EXACT_LOOKUPS`' file systems, the directory
/// not folding case): a name it lacks then names nothing. `None` elsewhere (a file system that
/// may fold case or normalize names), or when `path` is no directory that can be listed. Opened
/// as a directory and without blocking, so that a FIFO or device put in its place is never
/// waited on.
pub(crate) fn names_listed(
    path: &std::path::Path,
    wanted: &std::collections::HashSet<&[u8]>,
) -> Option<std::collections::HashSet<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    /// `FS_CASEFOLD_FL` (linux/fs.h).
    const CASEFOLD: u32 = 0x4000_0000;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let dir = std::fs::File::from(rustix::fs::open(path, flags, Mode::empty()).ok()?);
    if !file_system_type(&dir).is_some_and(|kind| EXACT_LOOKUPS.contains(&kind)) {
        return None;
    }
    if rustix::fs::ioctl_getflags(&dir).ok()?.bits() & CASEFOLD != 0 {
        return None;
    }
    let mut found = std::collections::HashSet::new();
    for entry in rustix::fs::Dir::read_from(&dir).ok()? {
        let entry = entry.ok()?;
        let name = entry.file_name().to_bytes();
        if wanted.contains(name) {
            found.insert(name.to_vec());
        }
    }
    Some(found)
}

/// Whether a kernel release (`6.18.44-fc-v1252`) is `least` (major, minor) or later.
fn kernel_at_least(release: &[u8], least: (u32, u32)) -> bool {
    let text = String::from_utf8_lossy(release);
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= least,
        _ => false,
    }
}

/// Whether the device of `metadata` holds a local file system (`on_local_file_system`, asked
/// through the file `open` gives), asked once per device for the server's lifetime: the memos
/// that trust a file system's clock (`DigestMemo`, `LibraryScan`) ask on every file they keep.
pub(crate) fn device_is_local(
    metadata: &std::fs::Metadata,
    open: impl FnOnce() -> Option<std::fs::File>,
) -> bool {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Mutex, OnceLock};
    static KNOWN: OnceLock<Mutex<HashMap<u64, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Mutex::default);
    let device = metadata.dev();
    if let Some(local) = known
        .lock()
        .ok()
        .and_then(|known| known.get(&device).copied())
    {
        return local;
    }
    let local = open().is_some_and(|file| on_local_file_system(&file));
    if let Ok(mut known) = known.lock() {
        known.insert(device, local);
    }
    local
}

/// `statfs`'s `f_type` of the file systems `on_local_file_system` trusts (linux/magic.h; ZFS's
/// from OpenZFS). ext2 and ext3 share ext4's.
const EXT4_SUPER_MAGIC: u32 = 0xef53;
const XFS_SUPER_MAGIC: u32 = 0x5846_5342;
const BTRFS_SUPER_MAGIC: u32 = 0x9123_683e;
const TMPFS_MAGIC: u32 = 0x0102_1994;
const F2FS_SUPER_MAGIC: u32 = 0xf2f5_2010;
const ZFS_SUPER_MAGIC: u32 = 0x2fc1_2fc1;

/// `path` opened for reading, only if it is a regular file, and without waiting: a FIFO (or a
/// device) named where a file was expected (a header, a source a dep-info lists) would block
/// the opening thread until some writer comes, and the threads that read files serve every
/// compile.
pub(crate) fn open_regular(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = std::fs::File::from(rustix::fs::open(path, flags, Mode::empty())?);
    if !file.metadata()?.is_file() {
        return Err(not_regular(path));
    }
    Ok(file)
}

/// The bytes of the regular file at `path` (see `open_regular`).
pub(crate) fn read_regular(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The error for a path that names no regular file.
pub(crate) fn not_regular(path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{} is not a regular file", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases_are_compared_by_major_and_minor() {
        assert!(kernel_at_least(b"6.18.44-fc-v1252", (6, 13)));
        assert!(kernel_at_least(b"6.13.0", (6, 13)));
        assert!(kernel_at_least(b"7.0.1", (6, 13)));
        assert!(!kernel_at_least(b"6.8.0-48-generic", (6, 13)));
        assert!(!kernel_at_least(b"5.15.0", (6, 13)));
        assert!(!kernel_at_least(b"garbage", (6, 13)));
    }

    #[test]
    fn a_directory_s_names_are_listed_where_lookups_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.h"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let wanted: std::collections::HashSet<&[u8]> = [&b"a.h"[..], b"sub", b"A.h", b"gone.h"]
            .into_iter()
            .collect();
        let listed = names_listed(dir.path(), &wanted);
        let kind = file_system_type(&std::fs::File::open(dir.path()).unwrap());
        if !kind.is_some_and(|kind| EXACT_LOOKUPS.contains(&kind)) {
            // Elsewhere the listing is not trusted at all.
            assert_eq!(listed, None);
            return;
        }
        let listed = listed.expect("a listing");
        let expected: std::collections::HashSet<Vec<u8>> =
            [b"a.h".to_vec(), b"sub".to_vec()].into_iter().collect();
        assert_eq!(listed, expected);
        // What is no directory is never listed, nor opened to wait on.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        assert_eq!(names_listed(&fifo, &wanted), None);
        assert_eq!(names_listed(&dir.path().join("a.h"), &wanted), None);
    }

    /// A FIFO named where a file was expected (a header that a generator writes once) is
    /// refused at once, never waited on: by the reading helpers and by the digest memo.
    #[test]
    fn a_fifo_is_not_a_file_to_read_and_is_never_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("gen.h");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let error = read_regular(&fifo).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
        assert!(crate::digest_memo::DigestMemo::default()
            .digest(&fifo)
            .is_err());
        std::fs::write(dir.path().join("a.h"), b"int a;").unwrap();
        assert_eq!(read_regular(&dir.path().join("a.h")).unwrap(), b"int a;");
        assert!(read_regular(dir.path()).is_err());
    }
}
