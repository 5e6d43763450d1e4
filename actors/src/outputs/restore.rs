//! Restoring: writing an entry's files to their targets, prepared beside them and then put
//! in place (`outputs`).

use super::file::{blocking, OutputError, OutputFile};
use crate::file_stamp::FileStamp;
use sccache_core::entry::{ContentSource, EntryFile, External};
use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes the entry's files to their targets, each atomically, with the mode a compile under
/// `umask` would have given them. Returns the files whose digests are known (`Restored`).
pub async fn restore(
    entry_files: Vec<EntryFile>,
    targets: Vec<OutputFile>,
    umask: u32,
) -> Result<Vec<Restored>, OutputError> {
    blocking(move || {
        let mut prepared = prepare_now(&entry_files, &targets, umask)?;
        prepared.take_steps(Pace::Any)?;
        Ok(std::mem::take(&mut prepared.restored))
    })
    .await
}

/// The mode a compiler creating the file under `umask` gives it: it asks for 0777 for an
/// executable (a stored mode with any execute bit) and 0666 otherwise, less the umask. (No
/// stored mode: a plain file.)
pub fn created_mode(stored: Option<u32>, umask: u32) -> u32 {
    let asked = match stored {
        Some(mode) if mode & 0o111 != 0 => 0o777,
        _ => 0o666,
    };
    asked & !umask & 0o777
}

/// An entry's files made ready beside their targets but not yet in place: each either written
/// to a temporary file to be renamed over its target, or found already there (the same bytes
/// and mode) to have its modification time renewed. Dropping it leaves every target as it was
/// and removes the temporary files, so a restore can be prepared before it is known to be
/// wanted (the C flow prepares while the preprocessor's driver exits).
#[derive(Debug)]
pub struct Prepared {
    steps: VecDeque<Step>,
    /// Putting every file in place is a metadata call or two on a local file system: cheap
    /// enough for an actor's thread (see `put_in_place`).
    cheap: bool,
    /// The files put in place so far whose digests are known.
    restored: Vec<Restored>,
}

/// Where steps are taken: on an actor's thread (`Quick`: a rename must not replace a file, as
/// that can be slow), or on the blocking pool (`Any`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    Quick,
    Any,
}

#[derive(Debug)]
enum Step {
    /// The target holds the entry's bytes and mode already; renew its modification time, if
    /// the path still names the file as it was checked (`stamp`).
    Touch {
        file: std::fs::File,
        path: PathBuf,
        stamp: FileStamp,
    },
    /// The entry's bytes in a temporary file beside the target, to be renamed over it; with
    /// their digest when the entry recorded it (a content file's).
    Replace {
        temp: tempfile::NamedTempFile,
        path: PathBuf,
        digest: Option<[u8; 32]>,
    },
}

/// A file a restore put in place whose bytes have a known digest, with its stamp right after:
/// the `DigestMemo` may take that digest for that stamp (`DigestMemo::vouch`) instead of
/// reading the file again when the next crate's key digests it. Only where the stamp is
/// sure to move on any later change (`file_system::fine_grained_stamps`), and only when nothing wrote the
/// file between its filling and the stamp (`Prepared::note`).
#[derive(Debug, Clone)]
pub struct Restored {
    pub path: PathBuf,
    pub stamp: FileStamp,
    pub digest: [u8; 32],
}

/// Prepares the restore of the entry's files to their targets (see `Prepared`), on the
/// blocking pool, where the files are also freed: freeing a large buffer on an actor's thread
/// costs it a malloc consolidation on the way to the reply.
pub async fn prepare(
    entry_files: Vec<EntryFile>,
    targets: Vec<OutputFile>,
    umask: u32,
) -> Result<Prepared, OutputError> {
    blocking(move || prepare_now(&entry_files, &targets, umask)).await
}

/// Puts a prepared restore in place: on this thread when that is cheap (see `Prepared`), on
/// the blocking pool otherwise (renaming over an existing file on ext4 writes the new one out
/// first; any call on a network file system is a round trip). A target that appeared since
/// the restore was prepared sends the rest to the blocking pool too. Returns the files whose
/// digests are known (`Restored`).
pub async fn put_in_place(mut prepared: Prepared) -> Result<Vec<Restored>, OutputError> {
    if prepared.cheap {
        prepared.take_steps(Pace::Quick)?;
        if prepared.steps.is_empty() {
            return Ok(std::mem::take(&mut prepared.restored));
        }
    }
    blocking(move || {
        prepared.take_steps(Pace::Any)?;
        Ok(std::mem::take(&mut prepared.restored))
    })
    .await
}

impl Prepared {
    /// Takes the steps in the targets' order. At `Pace::Quick`, a rename that would replace a
    /// file stops there, leaving that step and the rest in place.
    fn take_steps(&mut self, pace: Pace) -> Result<(), OutputError> {
        while let Some(step) = self.steps.pop_front() {
            match step {
                Step::Touch { file, path, stamp } => {
                    // Another writer may have replaced or rewritten the output since: a touch
                    // must not vouch for bytes nobody compared.
                    if FileStamp::at(&path) != Some(stamp) {
                        let source =
                            std::io::Error::other("the output changed since it was checked");
                        return Err(OutputError::Write { path, source });
                    }
                    touch(&file).map_err(|source| OutputError::Write { path, source })?
                }
                Step::Replace { temp, path, digest } if pace == Pace::Quick => {
                    let filled = digest.and_then(|_| temp.as_file().metadata().ok());
                    match temp.persist_noclobber(&path) {
                        Ok(file) => self.note(file, path, digest, filled),
                        Err(error) if error.error.kind() == std::io::ErrorKind::AlreadyExists => {
                            let temp = error.file;
                            self.steps.push_front(Step::Replace { temp, path, digest });
                            return Ok(());
                        }
                        Err(error) => {
                            let source = error.error;
                            return Err(OutputError::Write { path, source });
                        }
                    }
                }
                Step::Replace { temp, path, digest } => {
                    let filled = digest.and_then(|_| temp.as_file().metadata().ok());
                    // Renamed over the old file, never unlinking it first: a reader sees the
                    // old file or the new one, and ext4 (auto_da_alloc) writes the new data out
                    // before such a rename, so a crash cannot leave an
                    // empty object with a fresh mtime.
                    match temp.persist(&path) {
                        Ok(file) => self.note(file, path, digest, filled),
                        Err(error) => {
                            let source = error.error;
                            return Err(OutputError::Write { path, source });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Notes a file just renamed into place at `path` as `Restored`, when its bytes' digest
    /// is known and its stamp vouches for them (`FileStamp::vouching`, with `filled` taken
    /// before the rename).
    fn note(
        &mut self,
        file: std::fs::File,
        path: PathBuf,
        digest: Option<[u8; 32]>,
        filled: Option<std::fs::Metadata>,
    ) {
        let (Some(digest), Some(filled)) = (digest, filled) else {
            return;
        };
        if let Some(stamp) = FileStamp::vouching(&file, &filled) {
            self.restored.push(Restored {
                path,
                stamp,
                digest,
            });
        }
    }
}

impl Drop for Prepared {
    /// Closes what was kept open and removes the temporary files of steps not taken: off an
    /// actor's thread unless that is cheap (closing a written file on a network file system
    /// flushes it).
    fn drop(&mut self) {
        if self.cheap || self.steps.is_empty() {
            return;
        }
        let steps = std::mem::take(&mut self.steps);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(steps));
            }
            Err(_) => drop(steps),
        }
    }
}

fn prepare_now(
    entry_files: &[EntryFile],
    targets: &[OutputFile],
    umask: u32,
) -> Result<Prepared, OutputError> {
    let mut steps = VecDeque::with_capacity(targets.len());
    let mut cheap = true;
    for target in targets {
        let file = entry_files
            .iter()
            .find(|file| file.name == target.name)
            .ok_or_else(|| OutputError::MissingInEntry(target.name.clone()))?;
        let mode = created_mode(file.mode, umask);
        let bytes = match &file.external {
            None => Bytes::Inline(&file.data),
            Some(External {
                len,
                source: Some(source),
                digest,
            }) => Bytes::Content {
                source,
                len: *len,
                digest: *digest,
            },
            Some(_) => return Err(OutputError::ContentMissing(file.name.clone())),
        };
        let (step, step_is_cheap) =
            prepare_one(&target.path, bytes, mode).map_err(|source| OutputError::Write {
                path: target.path.clone(),
                source,
            })?;
        cheap &= step_is_cheap;
        steps.push_back(step);
    }
    Ok(Prepared {
        steps,
        cheap,
        restored: Vec::new(),
    })
}

/// Where a restored file's bytes are: in the entry, or in a content file a backend checked.
#[derive(Clone, Copy)]
enum Bytes<'a> {
    Inline(&'a [u8]),
    /// A backend's content file, with the digest the entry records for its bytes.
    Content {
        source: &'a ContentSource,
        len: u64,
        digest: [u8; 32],
    },
}

impl Bytes<'_> {
    fn len(&self) -> u64 {
        match self {
            Bytes::Inline(data) => data.len() as u64,
            Bytes::Content { len, .. } => *len,
        }
    }

    /// Reads `buffer.len()` bytes at `offset`.
    fn read_at(&self, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        match self {
            Bytes::Inline(data) => {
                let start = usize::try_from(offset).map_err(std::io::Error::other)?;
                let part = data
                    .get(start..start + buffer.len())
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                buffer.copy_from_slice(part);
                Ok(())
            }
            Bytes::Content { source, .. } => source.file.read_exact_at(buffer, offset),
        }
    }

    /// Writes the bytes into the new, empty `file`.
    fn write_into(&self, file: &mut std::fs::File) -> std::io::Result<()> {
        match self {
            Bytes::Inline(data) => file.write_all(data),
            Bytes::Content { source, len, .. } => {
                let filled = crate::content_copy::fill(&source.file, file, *len)?;
                log::trace!("restored {len} bytes: {filled:?}");
                let now = FileStamp::of(&source.file.metadata()?);
                if now != FileStamp::of(&source.checked) || file.metadata()?.len() != *len {
                    return Err(std::io::Error::other(
                        "the cache's content file changed since it was checked",
                    ));
                }
                Ok(())
            }
        }
    }
}

/// The step that puts `bytes` at `path` with `mode`, and whether taking it is cheap: a touch,
/// or a rename to a name that does not exist yet, on a local file system. A target of the
/// same bytes but another mode is replaced, so it gets the mode a compile would give it.
fn prepare_one(path: &Path, bytes: Bytes<'_>, mode: u32) -> std::io::Result<(Step, bool)> {
    // Renaming over a device, a FIFO or a symlink would replace it instead of writing where
    // the compiler would have written; leave those to the compiler.
    let existing = match std::fs::symlink_metadata(path) {
        Ok(existing) if !existing.is_file() => {
            return Err(std::io::Error::other(
                "the target exists and is not a regular file",
            ))
        }
        Ok(existing) => Some(existing),
        Err(_) => None,
    };
    if let Some(existing) = &existing {
        if let Some(file) = open_if_identical(path, existing, bytes, mode) {
            let cheap = crate::file_system::on_local_file_system(&file);
            let (path, stamp) = (path.to_path_buf(), FileStamp::of(existing));
            return Ok((Step::Touch { file, path, stamp }, cheap));
        }
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".sccache-restore")
        .tempfile_in(dir)?;
    bytes.write_into(temp.as_file_mut())?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    let cheap = existing.is_none() && crate::file_system::on_local_file_system(temp.as_file());
    let path = path.to_path_buf();
    let digest = match bytes {
        Bytes::Content { digest, .. } => Some(digest),
        Bytes::Inline(_) => None,
    };
    Ok((Step::Replace { temp, path, digest }, cheap))
}

/// The target, open, when it already holds exactly `data` with `mode` (a rebuild whose output
/// did not change) and this user owns it, so renewing its modification time will work (even
/// root may not touch another user's file without CAP_FOWNER). Any doubt (a different size or
/// mode, a read error, another owner) answers `None`, and the file is rewritten. It is
/// compared a block at a time, stopping at the first difference, without a copy of it in
/// memory. (Two writers racing for one output are already a broken build; the later one wins
/// here as anywhere.)
fn open_if_identical(
    path: &Path,
    existing: &std::fs::Metadata,
    bytes: Bytes<'_>,
    mode: u32,
) -> Option<std::fs::File> {
    use std::os::unix::fs::MetadataExt;
    if existing.len() != bytes.len() || existing.permissions().mode() & 0o7777 != mode {
        return None;
    }
    if existing.uid() != sccache_core::access::current_uid() {
        return None;
    }
    let mut file = std::fs::File::open(path).ok()?;
    let total = bytes.len();
    let size = usize::try_from(total)
        .unwrap_or(usize::MAX)
        .min(COMPARE_BLOCK);
    let (mut block, mut expected) = (vec![0u8; size], vec![0u8; size]);
    let mut offset = 0u64;
    while offset < total {
        let length = usize::try_from(total - offset)
            .unwrap_or(usize::MAX)
            .min(size);
        std::io::Read::read_exact(&mut file, &mut block[..length]).ok()?;
        bytes.read_at(&mut expected[..length], offset).ok()?;
        if block[..length] != expected[..length] {
            return None;
        }
        offset += length as u64;
    }
    Some(file)
}

/// How much of a target `open_if_identical` reads at a time.
const COMPARE_BLOCK: usize = 64 * 1024;

/// Sets a file's modification time to the file system's now, leaving its access time.
fn touch(file: &std::fs::File) -> std::io::Result<()> {
    use rustix::fs::{Timespec, Timestamps, UTIME_NOW, UTIME_OMIT};
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        },
    };
    rustix::fs::futimens(file, &times)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::time::{Duration, SystemTime};

    /// A target written an hour ago, so that a restore's new modification time shows.
    fn old_target(dir: &Path, data: &[u8], mode: u32) -> PathBuf {
        let path = dir.join("out.o");
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        path
    }

    fn age(path: &Path) -> Duration {
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default()
    }

    /// Prepares and puts one file in place at once, as `restore` does.
    fn write_atomically(path: &Path, data: &[u8], mode: Option<u32>) -> std::io::Result<()> {
        let (step, cheap) = prepare_one(path, Bytes::Inline(data), created_mode(mode, 0o022))?;
        let mut prepared = Prepared {
            steps: VecDeque::from([step]),
            cheap,
            restored: Vec::new(),
        };
        prepared
            .take_steps(Pace::Any)
            .map_err(std::io::Error::other)?;
        // Bytes of the entry itself: nobody recorded their digest, so none is vouched for.
        assert!(prepared.restored.is_empty());
        Ok(())
    }

    fn entry_file(data: &[u8]) -> Vec<EntryFile> {
        vec![EntryFile {
            name: "obj".into(),
            mode: Some(0o644),
            data: data.to_vec(),
            external: None,
        }]
    }

    fn target(path: &Path) -> Vec<OutputFile> {
        vec![OutputFile {
            name: "obj".into(),
            path: path.to_path_buf(),
        }]
    }

    #[test]
    fn a_prepared_restore_changes_nothing_until_put_in_place() {
        for old in [&b"object"[..], b"older object"] {
            let dir = tempfile::tempdir().unwrap();
            let path = old_target(dir.path(), old, 0o644);
            let before = std::fs::metadata(&path).unwrap().modified().unwrap();
            let mut prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), old);
            assert_eq!(
                std::fs::metadata(&path).unwrap().modified().unwrap(),
                before
            );
            prepared.take_steps(Pace::Any).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), b"object");
            assert!(age(&path) < Duration::from_secs(60), "mtime not renewed");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_dropped_restore_leaves_the_target_and_no_temporary_file() {
        for existing in [None, Some(&b"older object"[..])] {
            let dir = tempfile::tempdir().unwrap();
            let path = match existing {
                Some(old) => old_target(dir.path(), old, 0o644),
                None => dir.path().join("out.o"),
            };
            let prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
            drop(prepared);
            assert_eq!(std::fs::read(&path).ok().as_deref(), existing);
            let left = std::fs::read_dir(dir.path()).unwrap().count();
            assert_eq!(left, usize::from(existing.is_some()));
        }
    }

    #[test]
    fn a_touch_does_not_land_on_a_target_replaced_since_it_was_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_target(dir.path(), b"object", 0o644);
        let mut prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
        assert!(matches!(prepared.steps[0], Step::Touch { .. }));
        // Another writer replaces the output in between.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let other = old_target(&elsewhere, b"object", 0o644);
        std::fs::rename(&other, &path).unwrap();
        assert!(prepared.take_steps(Pace::Any).is_err());
        assert!(
            age(&path) > Duration::from_secs(600),
            "the new file was touched"
        );
    }

    #[test]
    fn a_touch_does_not_vouch_for_a_target_rewritten_in_place_since() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_target(dir.path(), b"object", 0o644);
        let mut prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
        // Same inode, other bytes of the same length.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all(b"0bject")
            .unwrap();
        assert!(prepared.take_steps(Pace::Any).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"0bject");
    }

    #[test]
    fn a_quick_rename_leaves_a_target_that_appeared_to_the_blocking_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.o");
        let mut prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        prepared.take_steps(Pace::Quick).unwrap();
        assert_eq!(prepared.steps.len(), 1, "the rename was not left");
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
        prepared.take_steps(Pace::Any).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn another_users_identical_target_is_rewritten_not_touched() {
        // Renewing another user's file's time needs CAP_FOWNER, which even root may lack.
        let dir = tempfile::tempdir().unwrap();
        let path = old_target(dir.path(), b"object", 0o644);
        // Only root may give a file away; others skip.
        if std::os::unix::fs::chown(&path, Some(4321), Some(4321)).is_err() {
            return;
        }
        let prepared = prepare_now(&entry_file(b"object"), &target(&path), 0o022).unwrap();
        assert!(matches!(prepared.steps[0], Step::Replace { .. }));
    }

    #[test]
    fn proc_is_not_a_local_file_system_and_tmpfs_is() {
        let proc_file = std::fs::File::open("/proc/self/stat").unwrap();
        assert!(!crate::file_system::on_local_file_system(&proc_file));
        if let Ok(shm) = tempfile::tempfile_in("/dev/shm") {
            assert!(crate::file_system::on_local_file_system(&shm));
        }
    }

    #[test]
    fn only_touches_and_new_names_on_a_memory_file_system_are_cheap() {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        let dir = tempfile::tempdir_in(shm).unwrap();
        let new = dir.path().join("new.o");
        assert!(
            prepare_now(&entry_file(b"object"), &target(&new), 0o022)
                .unwrap()
                .cheap
        );
        let same = old_target(dir.path(), b"object", 0o644);
        assert!(
            prepare_now(&entry_file(b"object"), &target(&same), 0o022)
                .unwrap()
                .cheap
        );
        std::fs::write(&same, b"other!").unwrap();
        assert!(
            !prepare_now(&entry_file(b"object"), &target(&same), 0o022)
                .unwrap()
                .cheap
        );
    }

    #[test]
    fn an_identical_target_is_only_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = old_target(dir.path(), b"object", 0o644);
        let inode = std::fs::metadata(&path).unwrap().ino();
        write_atomically(&path, b"object", Some(0o644)).unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(after.ino(), inode, "the file was rewritten");
        assert!(age(&path) < Duration::from_secs(60), "mtime not renewed");
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
    }

    #[test]
    fn a_different_target_is_replaced_whole() {
        for (old, old_mode) in [
            (&b"object!"[..], 0o644),
            (b"0bject", 0o644),
            (b"object", 0o600),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = old_target(dir.path(), old, old_mode);
            let inode = std::fs::metadata(&path).unwrap().ino();
            write_atomically(&path, b"object", Some(0o644)).unwrap();
            let after = std::fs::metadata(&path).unwrap();
            assert_ne!(
                after.ino(),
                inode,
                "{old:?} {old_mode:o} was written in place"
            );
            assert_eq!(after.permissions().mode() & 0o777, 0o644);
            assert_eq!(std::fs::read(&path).unwrap(), b"object");
            assert!(age(&path) < Duration::from_secs(60));
            // No temp file is left beside the target.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        }
    }

    #[test]
    fn a_missing_target_is_created_and_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.o");
        write_atomically(&path, b"object", None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
        let link = dir.path().join("link.o");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(write_atomically(&link, b"other", None).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"object");
    }
}
