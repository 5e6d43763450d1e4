//! Finds the compiler executable a compile names: a path relative to the working directory, or
//! a name looked up in `PATH` the way a shell does.
//!
//! Invariant: the result is absolute but not canonicalized, because compilers such as clang
//! behave by the name they are run under (`clang++` is a symlink to `clang`). Invariant: a
//! `PATH` candidate that is this very binary (a masquerade symlink such as `gcc -> sccache`, or
//! a hard link) is skipped, so sccache never finds itself and recurses.

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What looking up a compiler found.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution {
    Found(PathBuf),
    NotFound,
    /// The path given explicitly is this binary; running it would recurse.
    IsSelf(PathBuf),
}

/// A file's identity on its file system: what every link to it, symbolic or hard, shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    /// The identity of the file `path` leads to, following symlinks.
    pub fn of(path: &Path) -> Option<FileId> {
        std::fs::metadata(path)
            .ok()
            .map(|metadata| FileId::from(&metadata))
    }
}

impl From<&std::fs::Metadata> for FileId {
    fn from(metadata: &std::fs::Metadata) -> Self {
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }
}

/// Looks up `name` as a compile names it. `own_exe` is this binary's identity, when known.
pub fn resolve_compiler(
    name: &OsStr,
    cwd: &Path,
    path_var: Option<&OsStr>,
    own_exe: Option<FileId>,
) -> Resolution {
    if name.is_empty() {
        return Resolution::NotFound;
    }
    if name.as_encoded_bytes().contains(&b'/') {
        let candidate = absolute(cwd, Path::new(name));
        return match executable_file(&candidate) {
            None => Resolution::NotFound,
            Some(id) if Some(id) == own_exe => Resolution::IsSelf(candidate),
            Some(_) => Resolution::Found(candidate),
        };
    }
    let Some(path_var) = path_var else {
        return Resolution::NotFound;
    };
    std::env::split_paths(path_var)
        .map(|directory| absolute(cwd, &directory.join(name)))
        .find(|candidate| executable_file(candidate).is_some_and(|id| Some(id) != own_exe))
        .map_or(Resolution::NotFound, Resolution::Found)
}

/// This binary's identity, for `resolve_compiler`'s self check: one stat of `/proc/self/exe`,
/// which leads to the running executable itself, and reading that link's text only where
/// there is no `/proc`.
pub fn own_exe() -> Option<FileId> {
    FileId::of(Path::new("/proc/self/exe")).or_else(|| FileId::of(&std::env::current_exe().ok()?))
}

/// `path` made absolute against `cwd`, with `.` components dropped. `..` is kept: resolving it
/// lexically would be wrong across symlinked directories.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    cwd.join(path).components().collect()
}

/// The identity of `path` when it leads to an executable regular file.
fn executable_file(path: &Path) -> Option<FileId> {
    let metadata = std::fs::metadata(path).ok()?;
    let executable = metadata.is_file() && metadata.permissions().mode() & 0o111 != 0;
    executable.then(|| FileId::from(&metadata))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::fs;

    fn executable(path: &Path) {
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn path_search_skips_a_masquerade_symlink_to_self() {
        let root = tempfile::tempdir().unwrap();
        let own = root.path().join("sccache");
        executable(&own);
        let masquerade_dir = root.path().join("wrappers");
        let real_dir = root.path().join("real");
        fs::create_dir_all(&masquerade_dir).unwrap();
        fs::create_dir_all(&real_dir).unwrap();
        std::os::unix::fs::symlink(&own, masquerade_dir.join("gcc")).unwrap();
        executable(&real_dir.join("gcc"));
        let path_var = std::env::join_paths([&masquerade_dir, &real_dir]).unwrap();
        let own_id = FileId::of(&own);
        assert_eq!(
            resolve_compiler(OsStr::new("gcc"), root.path(), Some(&path_var), own_id),
            Resolution::Found(real_dir.join("gcc"))
        );
        // A hard link to ourselves is ourselves too.
        let linked_dir = root.path().join("linked");
        fs::create_dir_all(&linked_dir).unwrap();
        fs::hard_link(&own, linked_dir.join("gcc")).unwrap();
        let path_var = std::env::join_paths([&linked_dir, &real_dir]).unwrap();
        assert_eq!(
            resolve_compiler(OsStr::new("gcc"), root.path(), Some(&path_var), own_id),
            Resolution::Found(real_dir.join("gcc"))
        );
        // Without the real compiler, the only candidate is ourselves: not found.
        fs::remove_file(real_dir.join("gcc")).unwrap();
        assert_eq!(
            resolve_compiler(OsStr::new("gcc"), root.path(), Some(&path_var), own_id),
            Resolution::NotFound
        );
    }

    #[test]
    fn symlinked_compiler_keeps_its_own_name() {
        let root = tempfile::tempdir().unwrap();
        executable(&root.path().join("clang"));
        std::os::unix::fs::symlink(root.path().join("clang"), root.path().join("clang++")).unwrap();
        let path_var = OsString::from(root.path());
        assert_eq!(
            resolve_compiler(OsStr::new("clang++"), Path::new("/"), Some(&path_var), None),
            Resolution::Found(root.path().join("clang++"))
        );
    }

    #[test]
    fn a_name_with_a_slash_is_relative_to_cwd() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("bin")).unwrap();
        executable(&root.path().join("bin/cc"));
        assert_eq!(
            resolve_compiler(OsStr::new("./bin/cc"), root.path(), None, None),
            Resolution::Found(root.path().join("bin/cc"))
        );
        assert_eq!(
            resolve_compiler(OsStr::new("bin/missing"), root.path(), None, None),
            Resolution::NotFound
        );
    }

    #[test]
    fn an_explicit_path_to_self_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let own = root.path().join("sccache");
        executable(&own);
        let own_id = FileId::of(&own);
        assert_eq!(
            resolve_compiler(OsStr::new("./sccache"), root.path(), None, own_id),
            Resolution::IsSelf(own)
        );
    }

    #[test]
    fn non_executable_files_and_directories_are_skipped() {
        let root = tempfile::tempdir().unwrap();
        let first = root.path().join("a");
        let second = root.path().join("b");
        fs::create_dir_all(first.join("cc")).unwrap();
        fs::create_dir_all(&second).unwrap();
        fs::write(second.join("cc"), "").unwrap();
        let path_var = std::env::join_paths([&first, &second]).unwrap();
        assert_eq!(
            resolve_compiler(OsStr::new("cc"), root.path(), Some(&path_var), None),
            Resolution::NotFound
        );
    }
}
