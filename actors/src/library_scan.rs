//! `LibraryScan`: what the directories a link searches hold, and which files a GNU linker script
//! names, remembered by stamps for the server's lifetime. A warm cargo build links every build
//! script, proc-macro and binary; each link's key lists `/usr/lib/...` and reads its small
//! library files (looking for linker scripts such as `libc.so`), which took most of a link hit's
//! time before it was remembered. C direct mode's depend path asks it too, for the precompiled
//! headers in an include search's directories (`entries`).
//!
//! Invariants (never stale):
//! - A directory's remembered names are used only while the directory's stamp is the one taken
//!   before they were read, and only if the directory had last changed before the read began by
//!   the file system's clock (`Started::file_clock_now`, git's "racily clean" rule): every
//!   entry added, removed or renamed later moves the directory's change time. Entries that are
//!   symbolic links are resolved again every time (their targets live elsewhere); the
//!   remembered kind of the others (regular file or not) cannot change without a new entry.
//! - A linker script's names are used only while its stamp is the one taken before and after it
//!   was read, under the same rule, and each named file is checked to exist every time.
//! - Only on local file systems (`file_system::on_local_file_system`): network file systems stamp
//!   with the server's clock. Elsewhere everything is read every time.
//!
//! It decides nothing about which directories a link searches (`flow/rust_link.rs`).

use crate::file_stamp::FileStamp;
use crate::flow::read_since::Started;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many directories and scripts are remembered before the memo starts again.
const CAPACITY: usize = 4096;

/// A linker script is text, and small.
const LINKER_SCRIPT_MAX: u64 = 64 * 1024;

/// Shared by every compile's link (cloned into each flow's `Services`).
#[derive(Clone, Default)]
pub struct LibraryScan(Arc<Mutex<Scans>>);

#[derive(Default)]
struct Scans {
    dirs: HashMap<PathBuf, Listing>,
    scripts: HashMap<PathBuf, (FileStamp, Vec<PathBuf>)>,
}

/// A directory's entries when its stamp was `stamp`.
#[derive(Clone)]
struct Listing {
    stamp: FileStamp,
    /// The entries that are regular files.
    regular: Vec<PathBuf>,
    /// The entries that are symbolic links.
    links: Vec<PathBuf>,
    /// The other entries (directories, devices, those whose kind could not be had).
    others: Vec<PathBuf>,
}

impl LibraryScan {
    /// The regular files in `dir` (symbolic links followed), sorted; none when it cannot be
    /// read (the link finds nothing there either).
    pub fn listed(&self, dir: &Path) -> Vec<PathBuf> {
        let Some(listing) = self.listing(dir) else {
            return Vec::new();
        };
        let mut files = listing.regular;
        files.extend(listing.links.into_iter().filter(|path| path.is_file()));
        // By bytes: within one directory the same order as `Path`'s by components, at a
        // fraction of the cost (a linking compile lists a thousand files here on every hit).
        files.sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
        files
    }

    /// Every entry of `dir`, of any kind, unsorted; `None` when it cannot be read.
    pub fn entries(&self, dir: &Path) -> Option<Vec<PathBuf>> {
        let listing = self.listing(dir)?;
        let mut entries = listing.regular;
        entries.extend(listing.links);
        entries.extend(listing.others);
        Some(entries)
    }

    /// `dir`'s listing, remembered or read (and remembered when that is sound).
    fn listing(&self, dir: &Path) -> Option<Listing> {
        let began = Started::file_clock_now();
        let metadata = std::fs::metadata(dir).ok()?;
        let stamp = FileStamp::of(&metadata);
        let known = self
            .0
            .lock()
            .ok()
            .and_then(|scans| scans.dirs.get(dir).filter(|l| l.stamp == stamp).cloned());
        if let Some(listing) = known {
            return Some(listing);
        }
        let listing = read_listing(dir, stamp)?;
        let unchanged = FileStamp::at(dir) == Some(stamp);
        if unchanged && began.settled_before(&metadata) && local(dir, &metadata) {
            self.remember(|scans| {
                scans.dirs.insert(dir.to_path_buf(), listing.clone());
            });
        }
        Some(listing)
    }

    /// The absolute files a GNU linker script names (`GROUP ( /lib/libc.so.6 ... )`) that
    /// exist: `libc.so` is one, naming libraries outside the directories searched. Nothing for a
    /// file that is not a small text file.
    pub fn script_inputs(&self, path: &Path) -> Vec<PathBuf> {
        let began = Started::file_clock_now();
        let Ok(metadata) = std::fs::metadata(path) else {
            return Vec::new();
        };
        if metadata.len() > LINKER_SCRIPT_MAX || !is_library(path) {
            return Vec::new();
        }
        let stamp = FileStamp::of(&metadata);
        let known = self.0.lock().ok().and_then(|scans| {
            scans
                .scripts
                .get(path)
                .filter(|(known, _)| *known == stamp)
                .map(|(_, names)| names.clone())
        });
        let names = match known {
            Some(names) => names,
            None => {
                let Some(names) = read_script(path, stamp) else {
                    return Vec::new();
                };
                if began.settled_before(&metadata) && local(path, &metadata) {
                    self.remember(|scans| {
                        scans
                            .scripts
                            .insert(path.to_path_buf(), (stamp, names.clone()));
                    });
                }
                names
            }
        };
        names.into_iter().filter(|path| path.is_file()).collect()
    }

    fn remember(&self, insert: impl FnOnce(&mut Scans)) {
        if let Ok(mut scans) = self.0.lock() {
            if scans.dirs.len() + scans.scripts.len() >= CAPACITY {
                scans.dirs.clear();
                scans.scripts.clear();
            }
            insert(&mut scans);
        }
    }
}

/// Whether `path` (with `metadata`) is on a local file system.
fn local(path: &Path, metadata: &std::fs::Metadata) -> bool {
    crate::file_system::device_is_local(metadata, || std::fs::File::open(path).ok())
}

/// Reads `dir`'s entries (their kinds from the directory itself where it says, so a regular
/// file costs no stat); `None` when it cannot be read whole.
fn read_listing(dir: &Path, stamp: FileStamp) -> Option<Listing> {
    let mut listing = Listing {
        stamp,
        regular: Vec::new(),
        links: Vec::new(),
        others: Vec::new(),
    };
    for entry in std::fs::read_dir(dir).ok()? {
        let entry = entry.ok()?;
        match entry.file_type() {
            Ok(kind) if kind.is_file() => listing.regular.push(entry.path()),
            Ok(kind) if kind.is_symlink() => listing.links.push(entry.path()),
            _ => listing.others.push(entry.path()),
        }
    }
    Some(listing)
}

/// The absolute names in the linker script at `path`, read while its stamp stays `stamp`;
/// `None` when it changed while read (nothing to remember) or cannot be read.
fn read_script(path: &Path, stamp: FileStamp) -> Option<Vec<PathBuf>> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    if file.metadata().map(|m| FileStamp::of(&m)).ok()? != stamp {
        return None;
    }
    if bytes.starts_with(b"\x7fELF") || bytes.starts_with(b"!<arch>") || bytes.contains(&0) {
        return Some(Vec::new());
    }
    Some(
        bytes
            .split(|b| b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b','))
            .filter(|word| word.starts_with(b"/") && !word.starts_with(b"/*"))
            .map(|word| PathBuf::from(OsStr::from_bytes(word)))
            .collect(),
    )
}

/// Whether a file in a library directory is one a link may read: an archive, a shared
/// library (any version), an object, a crate, or an Apple text stub.
pub fn is_library(path: &Path) -> bool {
    let name = path.file_name().unwrap_or_default().as_bytes();
    let ends = |suffix: &[u8]| name.ends_with(suffix);
    ends(b".a")
        || ends(b".so")
        || ends(b".o")
        || ends(b".rlib")
        || ends(b".rmeta")
        || ends(b".dylib")
        || ends(b".tbd")
        || ends(b".lib")
        || name.windows(4).any(|w| w == b".so.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Lets the file system's clock move past the last change in `dir`.
    fn settle() {
        std::thread::sleep(Duration::from_millis(30));
    }

    #[test]
    fn a_linker_script_names_its_libraries() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("libc.so.6");
        std::fs::write(&real, b"\x7fELF").unwrap();
        let script = dir.path().join("libc.so");
        std::fs::write(
            &script,
            format!(
                "/* GNU ld script */\nGROUP ( {} AS_NEEDED ( /nonexistent/ld.so ) )\n",
                real.display()
            ),
        )
        .unwrap();
        let scan = LibraryScan::default();
        assert_eq!(scan.script_inputs(&script), vec![real.clone()]);
        assert!(scan.script_inputs(&real).is_empty());
        settle();
        assert_eq!(scan.script_inputs(&script), vec![real.clone()]);
        // Remembered, but a named file that is gone is not named any more.
        std::fs::remove_file(&real).unwrap();
        assert!(scan.script_inputs(&script).is_empty());
        // A script edited is read again.
        let other = dir.path().join("libother.so.1");
        std::fs::write(&other, b"\x7fELF").unwrap();
        std::fs::write(&script, format!("GROUP ( {} )\n", other.display())).unwrap();
        assert_eq!(scan.script_inputs(&script), vec![other]);
    }

    #[test]
    fn a_remembered_listing_follows_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("liba.so"), b"a").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let target = outside.path().join("libt.so.1");
        std::fs::write(&target, b"t").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("libt.so")).unwrap();
        let scan = LibraryScan::default();
        let both = vec![dir.path().join("liba.so"), dir.path().join("libt.so")];
        assert_eq!(scan.listed(dir.path()), both);
        settle();
        assert_eq!(scan.listed(dir.path()), both);
        // Remembered on a local file system (the directory settled before this listing).
        let local =
            crate::file_system::on_local_file_system(&std::fs::File::open(dir.path()).unwrap());
        let remembered = |scan: &LibraryScan| scan.0.lock().unwrap().dirs.contains_key(dir.path());
        assert_eq!(remembered(&scan), local);
        assert_eq!(scan.listed(dir.path()), both);
        // A link's target gone: the link is no file any more, though the directory is as it was.
        std::fs::remove_file(&target).unwrap();
        assert_eq!(scan.listed(dir.path()), vec![dir.path().join("liba.so")]);
        std::fs::write(&target, b"t2").unwrap();
        assert_eq!(scan.listed(dir.path()), both);
        // A new entry, even one made in the same tick as the listing, is seen.
        std::fs::write(dir.path().join("libb.a"), b"b").unwrap();
        let three = vec![
            dir.path().join("liba.so"),
            dir.path().join("libb.a"),
            dir.path().join("libt.so"),
        ];
        assert_eq!(scan.listed(dir.path()), three);
        std::fs::remove_file(dir.path().join("liba.so")).unwrap();
        assert_eq!(
            scan.listed(dir.path()),
            vec![dir.path().join("libb.a"), dir.path().join("libt.so")]
        );
        assert!(scan.listed(&dir.path().join("missing")).is_empty());
    }

    #[test]
    fn library_names() {
        for name in [
            "libz.a",
            "libz.so",
            "libz.so.1.2",
            "crt1.o",
            "libstd-x.rlib",
        ] {
            assert!(is_library(Path::new(name)), "{name}");
        }
        for name in ["cc1", "README", "libfoo.txt"] {
            assert!(!is_library(Path::new(name)), "{name}");
        }
    }
}
