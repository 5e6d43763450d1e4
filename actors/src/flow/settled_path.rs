//! Whether the path to a file a compile read still leads to the file it led to while the
//! compile ran: a file's own stamps say its bytes did not change since the compile began
//! (`read_since`), not that its name names the same file. An include directory renamed into
//! place (`mv inc_b inc`), or a symbolic link on the way pointed elsewhere, during the compile
//! leaves every file's stamps as they were, and the file stat'ed and digested afterwards is not
//! the one the compiler read.
//!
//! The walk follows the path from an anchor, one name at a time, as the kernel resolves it:
//! from `/` for an absolute path, from the working directory for a relative one (a working
//! directory itself replaced while the compile runs is beyond it; docs/ARCHITECTURE.md). A step
//! from a directory `D` to its entry `N` leads where it led during the compile when `D`'s
//! entries did not change since the compile began (its modification and change times are
//! older: the first can be put back, `touch -r` after a rename, and setting it sets the
//! second), or when
//! the inode `N` names now was not put there since (its change time is older: a rename, a link,
//! an unlink of another name, a creation each set the change time of the inode they place or
//! take). A symbolic link on the way is such an inode (retargeting one makes a new one); its
//! target is walked in its place. `..` goes back the way the walk came (a directory whose step
//! held was not moved from its parent), and above the anchor to the working directory's
//! parent as its real path names it. A directory whose identity (device and inode) was taken
//! by its path before the compile (`Anchors`: the working, input, output, search and extern
//! directories and `OUT_DIR`, and their ancestors, whose entries a build changes as it goes) and is the same
//! one now is reached by a step that holds, whatever its times say: only a replacement put
//! back before the compile ended escapes that (docs/ARCHITECTURE.md). A step nothing vouches
//! for (a directory with new entries, itself changed, or put there since) refuses.
//!
//! Used after a compile on the files and directories recorded or keyed, on the hasher's
//! threads or the blocking pool, and for a rust link's searched directories on the event loop
//! (a few metadata calls each); misses only.

use crate::flow::started::Started;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Symbolic links followed in one path, at most (the kernel's limit).
const MAX_LINKS: usize = 40;

/// Directories by path, each with the identity (device, inode) it had before a compile, and
/// every ancestor of each by its path; with the include directories a C command line names
/// (`include_dirs`), for the record's search.
#[derive(Debug, Clone, Default)]
pub struct Anchors(Arc<HashMap<PathBuf, (u64, u64)>>, Arc<Vec<PathBuf>>);

impl Anchors {
    /// Takes the identity of each of `dirs` (relative to `cwd`, or absolute) and of every
    /// entry on its path (a link as itself), and of `cwd`'s: a stat each, before the compile
    /// begins (a miss's cost in direct mode; on the preprocessor's path, every compile's). A
    /// name that is not there ends its path's.
    pub fn capture(dirs: impl IntoIterator<Item = PathBuf>, cwd: &Path) -> Anchors {
        let mut identities = HashMap::new();
        for dir in std::iter::once(cwd.to_path_buf()).chain(dirs) {
            let mut prefix = PathBuf::from("/");
            for component in cwd.join(dir).components() {
                match component {
                    Component::Normal(name) => prefix.push(name),
                    Component::RootDir | Component::CurDir => continue,
                    // A lexical `..` names no directory by its walked path.
                    Component::ParentDir | Component::Prefix(_) => break,
                }
                if identities.contains_key(&prefix) {
                    continue;
                }
                // The entry itself, a link not followed: the walk compares what it finds at
                // each name, and a link it walks through is that link (its target walked after).
                match std::fs::symlink_metadata(&prefix) {
                    Ok(metadata) => {
                        identities.insert(prefix.clone(), (metadata.dev(), metadata.ino()));
                    }
                    Err(_) => break,
                }
            }
        }
        Anchors(Arc::new(identities), Arc::default())
    }

    /// The same, with `dirs` as the include directories the command line and the environment
    /// name (a compiler's report of its search leaves out a duplicate, and clang names the
    /// one it kept).
    pub fn with_include_dirs(mut self, dirs: Vec<PathBuf>) -> Anchors {
        self.1 = Arc::new(dirs);
        self
    }

    /// The include directories named (`with_include_dirs`).
    pub fn include_dirs(&self) -> &[PathBuf] {
        &self.1
    }

    /// Whether `path` is an anchor and names the directory with `metadata` that it named
    /// before the compile (`Some(true)`), another one (`Some(false)`: the way changed, whatever
    /// the times say, as a mount over it leaves them), or is none (`None`).
    fn holds(&self, path: &Path, metadata: &std::fs::Metadata) -> Option<bool> {
        let identity = self.0.get(path)?;
        Some(*identity == (metadata.dev(), metadata.ino()))
    }
}

/// Walks paths read by a compile that began at `started`, remembering the directories whose
/// way from an anchor held.
pub struct SettledPaths {
    started: Started,
    cwd: PathBuf,
    anchors: Anchors,
    /// The working directory's real path (`..` above it), found at the first need.
    real_cwd: Option<Option<PathBuf>>,
    /// Directories reached by steps that held, by the path walked to them.
    held: HashSet<PathBuf>,
}

impl SettledPaths {
    pub fn new(started: Started, cwd: &Path, anchors: &Anchors) -> SettledPaths {
        SettledPaths {
            started,
            cwd: cwd.to_path_buf(),
            anchors: anchors.clone(),
            real_cwd: None,
            held: HashSet::new(),
        }
    }

    /// Whether `path` (relative to the working directory, or absolute) leads to what it led to
    /// during the compile. Logs the step that does not hold.
    pub fn settled(&mut self, path: &Path) -> bool {
        let held = self.walk(path);
        if !held {
            log::info!(
                "the way to {} may have changed during the compile: not stored",
                path.display()
            );
        }
        held
    }

    fn walk(&mut self, path: &Path) -> bool {
        // The names left to walk, last first; a link's target is pushed in its place.
        let mut names: Vec<OsString> = Vec::new();
        let mut at = match push_components(&mut names, path) {
            true => PathBuf::from("/"),
            false => self.cwd.clone(),
        };
        // The directories the walk came through from its anchor, for `..`.
        let mut came: Vec<PathBuf> = Vec::new();
        let mut links = 0;
        while let Some(name) = names.pop() {
            if name == ".." {
                at = match came.pop() {
                    Some(parent) => parent,
                    None if at == Path::new("/") => at,
                    None if at == self.cwd => match self.real_cwd_parent() {
                        Some(parent) => parent,
                        None => return false,
                    },
                    // Above the anchor of a link's target or of an absolute path: its parent by
                    // name, itself walked from `/`.
                    None => match at.parent() {
                        Some(parent) => {
                            let parent = parent.to_path_buf();
                            push_components(&mut names, &parent);
                            PathBuf::from("/")
                        }
                        None => return false,
                    },
                };
                continue;
            }
            let next = at.join(&name);
            let Ok(metadata) = std::fs::symlink_metadata(&next) else {
                return false;
            };
            let held = match self.anchors.holds(&next, &metadata) {
                Some(same) => same,
                None => self.held.contains(&next) || self.step_holds(&at, &metadata),
            };
            if !held {
                return false;
            }
            if metadata.file_type().is_symlink() {
                links += 1;
                let Ok(target) = std::fs::read_link(&next) else {
                    return false;
                };
                if links > MAX_LINKS {
                    return false;
                }
                if push_components(&mut names, &target) {
                    at = PathBuf::from("/");
                    came.clear();
                }
                continue;
            }
            if metadata.is_dir() {
                self.held.insert(next.clone());
                came.push(std::mem::replace(&mut at, next));
            } else if !names.is_empty() {
                // A file with names after it: the kernel would fail the same way.
                return false;
            } else {
                at = next;
            }
        }
        true
    }

    /// Whether the step from the directory `dir` to the entry with `entry`'s metadata leads
    /// where it led during the compile (see the module doc).
    fn step_holds(&self, dir: &Path, entry: &std::fs::Metadata) -> bool {
        if !self.started.changed_since(entry) {
            return true;
        }
        // Both times: a modification time can be put back (`touch -r`, `cp -a`, `tar`), and a
        // renamed directory's parent whose time was put back would vouch for the new entry.
        std::fs::metadata(dir).is_ok_and(|dir| self.started.settled_before(&dir))
    }

    /// The parent of the working directory as its real path names it.
    fn real_cwd_parent(&mut self) -> Option<PathBuf> {
        let cwd = &self.cwd;
        let real = self
            .real_cwd
            .get_or_insert_with(|| std::fs::canonicalize(cwd).ok());
        real.as_ref()?.parent().map(Path::to_path_buf)
    }
}

/// Pushes `path`'s names onto `names` (walked last first), `.` left out; whether the path is
/// absolute.
fn push_components(names: &mut Vec<OsString>, path: &Path) -> bool {
    let mut absolute = false;
    let mut own = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir => absolute = true,
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => own.push(OsString::from("..")),
            Component::Normal(name) => own.push(name.to_os_string()),
        }
    }
    names.extend(own.into_iter().rev());
    absolute
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A tree made well before the start, then the start and the anchors (the working
    /// directory and its ancestors) taken at it.
    fn settled_tree() -> (tempfile::TempDir, Started, Anchors) {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["inc_a", "inc_b", "out"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            std::fs::write(dir.path().join(sub).join("h.h"), sub).unwrap();
        }
        std::fs::rename(dir.path().join("inc_a"), dir.path().join("inc")).unwrap();
        std::os::unix::fs::symlink("inc", dir.path().join("link")).unwrap();
        // Past a clock tick (at most 10 ms).
        std::thread::sleep(Duration::from_millis(25));
        let started = Started::file_clock_now();
        let anchors = Anchors::capture([], dir.path());
        std::thread::sleep(Duration::from_millis(25));
        (dir, started, anchors)
    }

    #[test]
    fn an_untouched_path_holds_and_one_whose_directory_was_renamed_into_place_does_not() {
        let (dir, started, anchors) = settled_tree();
        let cwd = dir.path();
        // The compile writes its output into the working directory: its entries change.
        std::fs::write(cwd.join("x.o"), "object").unwrap();
        let mut paths = SettledPaths::new(started, cwd, &anchors);
        assert!(paths.settled(Path::new("inc/h.h")));
        assert!(paths.settled(Path::new("./inc/../inc/h.h")));
        assert!(paths.settled(&cwd.join("inc/h.h")));
        assert!(paths.settled(Path::new("link/h.h")));
        std::fs::rename(cwd.join("inc"), cwd.join("inc_old")).unwrap();
        std::fs::rename(cwd.join("inc_b"), cwd.join("inc")).unwrap();
        let mut paths = SettledPaths::new(started, cwd, &anchors);
        assert!(!paths.settled(Path::new("inc/h.h")));
        assert!(!paths.settled(Path::new("link/h.h")));
        assert!(!paths.settled(&cwd.join("inc/h.h")));
        // A file beside, whose way did not change, still holds.
        assert!(paths.settled(Path::new("out/h.h")));
    }

    #[test]
    fn a_link_pointed_elsewhere_does_not_hold() {
        let (dir, started, anchors) = settled_tree();
        let cwd = dir.path();
        let mut paths = SettledPaths::new(started, cwd, &anchors);
        assert!(paths.settled(Path::new("link/h.h")));
        std::os::unix::fs::symlink("inc_b", cwd.join("link.new")).unwrap();
        std::fs::rename(cwd.join("link.new"), cwd.join("link")).unwrap();
        let mut paths = SettledPaths::new(started, cwd, &anchors);
        assert!(!paths.settled(Path::new("link/h.h")));
    }

    #[test]
    fn a_directory_with_new_entries_still_holds_for_its_old_ones() {
        let (dir, started, anchors) = settled_tree();
        let cwd = dir.path();
        std::fs::write(cwd.join("inc/new.h"), "new").unwrap();
        let mut paths = SettledPaths::new(started, cwd, &anchors);
        assert!(paths.settled(Path::new("inc/h.h")));
        // A file made since is no way that held (its own stamps refuse it too).
        assert!(!paths.settled(Path::new("inc/new.h")));
        assert!(!paths.settled(Path::new("inc/missing.h")));
    }

    /// cargo's `target/debug/deps` while a build goes on: new files in it, in its parent and
    /// in the working directory. Taken as anchors before the compile, the way to an old crate
    /// in it holds; without, nothing vouches for it.
    #[test]
    fn a_way_through_directories_a_build_writes_into_holds_through_anchors() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        std::fs::create_dir_all(cwd.join("t/deps")).unwrap();
        std::fs::write(cwd.join("t/deps/liba.rlib"), "crate").unwrap();
        std::thread::sleep(Duration::from_millis(25));
        let started = Started::file_clock_now();
        let anchors = Anchors::capture([PathBuf::from("t/deps")], cwd);
        std::thread::sleep(Duration::from_millis(25));
        for new in ["t/deps/libb.rlib", "t/main", "out.txt"] {
            std::fs::write(cwd.join(new), "new").unwrap();
        }
        let crate_path = Path::new("t/deps/liba.rlib");
        assert!(SettledPaths::new(started, cwd, &anchors).settled(crate_path));
        assert!(!SettledPaths::new(started, cwd, &Anchors::default()).settled(crate_path));
        // The anchored directory replaced by another: its identity is not the one taken.
        std::fs::rename(cwd.join("t/deps"), cwd.join("t/old")).unwrap();
        std::fs::create_dir(cwd.join("t/deps")).unwrap();
        std::fs::write(cwd.join("t/deps/liba.rlib"), "other").unwrap();
        assert!(!SettledPaths::new(started, cwd, &anchors).settled(crate_path));
    }

    /// An anchor that names another directory than it did (a mount over it leaves every time
    /// as it was): the way changed.
    #[test]
    fn an_anchor_naming_another_directory_does_not_hold() {
        let (dir, started, _) = settled_tree();
        let cwd = dir.path();
        let inc = cwd.join("inc");
        let taken = std::fs::metadata(&inc).unwrap();
        let other = Anchors(
            Arc::new(HashMap::from([(
                inc.clone(),
                (taken.dev(), taken.ino() + 1),
            )])),
            Arc::default(),
        );
        assert!(!SettledPaths::new(started, cwd, &other).settled(Path::new("inc/h.h")));
        let same = Anchors(
            Arc::new(HashMap::from([(inc, (taken.dev(), taken.ino()))])),
            Arc::default(),
        );
        assert!(SettledPaths::new(started, cwd, &same).settled(Path::new("inc/h.h")));
    }
}
