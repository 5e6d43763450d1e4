//! Whether any file a compile read may have changed since its key was taken: a header edited
//! between the preprocessor's run and the compile's would store the edited code's object under
//! the old text's key, and once the edit is reverted every hit would return the edited code.
//!
//! The rule is git's "racily clean" one (`started`): after the compile, each file read is
//! stat'ed, and one that changed at or after the compile's start, by the file system's clock,
//! means the result is not stored; so does a way to a file that may have changed
//! (`settled_path`).
//!
//! Runs on a miss only, on the blocking pool: hits never pay for it.

use crate::flow::settled_path::{Anchors, SettledPaths};
use crate::flow::started::Started;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// The files a compile read and when it began reading them.
pub struct ReadSince {
    started: Started,
    files: ReadFiles,
    cwd: PathBuf,
    /// Directories that must not have changed since the start (`with_dirs`).
    dirs: Vec<PathBuf>,
    /// Directories whose identity was taken before the compile (`settled_path`).
    anchors: Anchors,
    /// A dependency file the compile writes (`with_dependency_file`).
    dependencies: Option<Dependencies>,
}

/// The compile's own dependency output, whose names are checked as the files read are.
enum Dependencies {
    /// The user's, which the command line writes at this path.
    Users(PathBuf),
    /// Ours: `flags` make the compile write it at a path; the scratch file is made when the
    /// compile is about to run (`compile_args`: a miss's cost, not a hit's) and removed with
    /// this.
    Ours {
        flags: fn(&Path) -> Vec<std::ffi::OsString>,
        made: Option<tempfile::TempPath>,
    },
}

/// The files a compile read.
pub struct ReadFiles {
    /// Named already (the input, the rust dep-info's files).
    pub paths: Vec<PathBuf>,
    /// Preprocessed text whose line markers name the rest.
    pub markers_in: Option<PathBuf>,
}

impl ReadSince {
    /// Reads started at the change time of `marker`, a file or directory just created; or, when
    /// it cannot be stat'ed, at the system clock now less a tick.
    pub fn from_marker(marker: &Path, files: ReadFiles, cwd: &Path) -> ReadSince {
        ReadSince::new(Started::at(marker), files, cwd)
    }

    pub fn new(started: Started, files: ReadFiles, cwd: &Path) -> ReadSince {
        ReadSince {
            started,
            files,
            cwd: cwd.to_path_buf(),
            dirs: Vec::new(),
            anchors: Anchors::default(),
            dependencies: None,
        }
    }

    /// Reads started now, by the system clock (less a tick).
    pub fn now(files: ReadFiles, cwd: &Path) -> ReadSince {
        ReadSince {
            started: Started::now(),
            files,
            cwd: cwd.to_path_buf(),
            dirs: Vec::new(),
            anchors: Anchors::default(),
            dependencies: None,
        }
    }

    /// When reading began.
    pub fn started(&self) -> Started {
        self.started
    }

    /// Also checks that each of `dirs` (a link's search directories) that is there did not
    /// change since the start: a file that came and went during the compile leaves no trace
    /// but the directory's times.
    pub fn with_dirs(mut self, dirs: Vec<PathBuf>) -> ReadSince {
        self.dirs = dirs;
        self
    }

    /// Also takes the way to each file as holding through `anchors`, the directories whose
    /// identity was taken before the compile began (`settled_path`); without, a way through
    /// a directory whose entries changed since the start refuses.
    pub fn with_anchors(mut self, anchors: Anchors) -> ReadSince {
        self.anchors = anchors;
        self
    }

    /// Also checks every file the compile's own dependency output names: the compile reads
    /// the files again after the preprocessor, and one it found in another place than the
    /// preprocessor did (a header that appeared meanwhile in an earlier directory of the
    /// search) is named there, with a change time at or after the start. A dependency file
    /// that cannot be read or parsed refuses. The user's, at `path` (`with_users_dependency_file`),
    /// or ours, which `flags` added to the compile make it write at a scratch path
    /// (`with_our_dependency_file`).
    pub fn with_users_dependency_file(mut self, path: PathBuf) -> ReadSince {
        self.dependencies = Some(Dependencies::Users(path));
        self
    }

    /// See `with_users_dependency_file`.
    pub fn with_our_dependency_file(
        mut self,
        flags: fn(&Path) -> Vec<std::ffi::OsString>,
    ) -> ReadSince {
        self.dependencies = Some(Dependencies::Ours { flags, made: None });
        self
    }

    /// The arguments the compile must be given besides the user's: ours makes its scratch file
    /// now (should that fail, the check goes without it, as it did before it).
    pub fn compile_args(&mut self) -> Vec<std::ffi::OsString> {
        let Some(Dependencies::Ours { flags, made }) = &mut self.dependencies else {
            return Vec::new();
        };
        let path = match made {
            Some(made) => made.to_path_buf(),
            None => match crate::scratch::dependencies() {
                Ok(scratch) => made.insert(scratch.into_temp_path()).to_path_buf(),
                Err(error) => {
                    log::warn!("cannot make a dependency file for the compile: {error}");
                    self.dependencies = None;
                    return Vec::new();
                }
            },
        };
        flags(&path)
    }

    /// The anchors taken before the compile (`with_anchors`).
    pub fn anchors(&self) -> Anchors {
        self.anchors.clone()
    }

    /// Whether every file read is certainly unchanged since the start (on the blocking pool).
    pub async fn unchanged(self) -> bool {
        tokio::task::spawn_blocking(move || self.check())
            .await
            .unwrap_or(false)
    }

    fn check(&self) -> bool {
        let mut paths = self.files.paths.clone();
        if let Some(text) = &self.files.markers_in {
            match std::fs::read(text) {
                Ok(text) => paths.extend(
                    sccache_core::line_markers::files_named(&text)
                        .into_iter()
                        .map(|name| PathBuf::from(std::ffi::OsString::from_vec(name))),
                ),
                Err(error) => {
                    log::info!("cannot read {} again: {error}", text.display());
                    return false;
                }
            }
        }
        let dependency_file = match &self.dependencies {
            Some(Dependencies::Users(path)) => Some(self.cwd.join(path)),
            Some(Dependencies::Ours { made, .. }) => made.as_ref().map(|made| made.to_path_buf()),
            None => None,
        };
        if let Some(path) = dependency_file {
            let names = std::fs::read(&path).ok().and_then(|text| {
                sccache_core::direct::depfile::prerequisites_with_empty_rules(&text)
            });
            let Some(names) = names else {
                log::info!("dependency file {} unreadable", path.display());
                return false;
            };
            paths.extend(
                names
                    .into_iter()
                    .map(|name| PathBuf::from(std::ffi::OsString::from_vec(name))),
            );
        }
        let mut ways = SettledPaths::new(self.started, &self.cwd, &self.anchors);
        dirs_settled(self.started, &self.dirs, &self.cwd, &self.anchors)
            && paths
                .iter()
                .all(|path| self.unchanged_file(&self.cwd.join(path)) && ways.settled(path))
    }

    fn unchanged_file(&self, path: &Path) -> bool {
        let Ok(metadata) = std::fs::metadata(path) else {
            log::info!("{} read by the compile is gone", path.display());
            return false;
        };
        if metadata.is_dir() {
            return true;
        }
        let unchanged = self.started.settled_before(&metadata);
        if !unchanged {
            log::info!(
                "{} may have changed during the compile: not stored",
                path.display()
            );
        }
        unchanged
    }
}

/// Whether each of `dirs` (relative to `cwd`, or absolute) that is there last changed
/// safely before the start (one that is not there holds no file either), and the way to
/// it too (`settled_path`).
pub fn dirs_settled(started: Started, dirs: &[PathBuf], cwd: &Path, anchors: &Anchors) -> bool {
    let mut ways = SettledPaths::new(started, cwd, anchors);
    dirs.iter()
        .all(|dir| match std::fs::metadata(cwd.join(dir)) {
            Ok(metadata) if started.settled_before(&metadata) => ways.settled(dir),
            Ok(_) => {
                log::info!("{} changed during the compile: not stored", dir.display());
                false
            }
            Err(_) => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_changed_after_the_start_is_caught_and_an_older_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.h");
        std::fs::write(&old, "old").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let marker = dir.path().join("marker");
        std::fs::write(&marker, "").unwrap();
        // Once, as a flow does right after making its marker.
        let started = Started::at(&marker);
        let files = |paths: &[&str], markers_in: Option<PathBuf>| ReadFiles {
            paths: paths.iter().map(PathBuf::from).collect(),
            markers_in,
        };
        let read = |paths: &[&str]| ReadSince::new(started, files(paths, None), dir.path()).check();
        assert!(read(&["old.h"]));
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(dir.path().join("new.h"), "new").unwrap();
        assert!(!read(&["old.h", "new.h"]));
        assert!(!read(&["gone.h"]));
        let text = dir.path().join("t.i");
        std::fs::write(&text, "# 1 \"old.h\"\n# 1 \"new.h\" 1\n").unwrap();
        let markers = ReadSince::new(started, files(&["old.h"], Some(text)), dir.path());
        assert!(!markers.check());
    }
}
