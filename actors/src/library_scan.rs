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
//! - Whether a file is a linker script, and a script's names, are used only while its stamp is
//!   the one taken before and after it was read, under the same rule; the files the names
//!   stand for are looked up every time (`flow/rust_link.rs`).
//! - Only on local file systems (`file_system::on_local_file_system`): network file systems stamp
//!   with the server's clock. Elsewhere everything is read every time.
//!
//! It decides nothing about which directories a link searches (`flow/rust_link.rs`).

use crate::file_stamp::FileStamp;
use crate::flow::started::Started;
use sccache_core::compiler::rust;
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many directories and files (scripts or not) are remembered before the memo starts
/// again: every library file of every directory a link searches is asked about.
const CAPACITY: usize = 65_536;

/// More than any linker script: a larger file that is no object or archive is refused.
const SCRIPT_MAX: u64 = 1 << 20;

/// What a file is to the linker: `None`, an object or archive it reads as it is; else a
/// script, with the names its commands read or why the cache cannot follow it.
pub type Script = Option<Result<Vec<PathBuf>, &'static str>>;

/// Shared by every compile's link (cloned into each flow's `Services`).
#[derive(Clone, Default)]
pub struct LibraryScan(Arc<Mutex<Scans>>);

#[derive(Default)]
struct Scans {
    dirs: HashMap<PathBuf, Listing>,
    scripts: HashMap<PathBuf, (FileStamp, Script)>,
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

    /// The names the file at `path` reads if it is a GNU linker script to ld (anything but an
    /// object or an archive, `rust::is_script`), as its commands write them, relative or
    /// absolute (`rust::script_reads`: `libc.so` names `/lib/.../libc.so.6`, a package's
    /// `link.x` its `memory.x`); `None` for an object, an archive, or a file that cannot be
    /// read (the linker, as this user, cannot read it either). `Err` for a script the cache
    /// cannot follow, or one too large to be a script.
    pub fn script_names(&self, path: &Path) -> Script {
        let began = Started::file_clock_now();
        let metadata = std::fs::metadata(path).ok()?;
        let stamp = FileStamp::of(&metadata);
        let known = self.0.lock().ok().and_then(|scans| {
            scans
                .scripts
                .get(path)
                .filter(|(known, _)| *known == stamp)
                .map(|(_, names)| names.clone())
        });
        if let Some(names) = known {
            return names;
        }
        let (names, read_whole) = read_script(path, stamp)?;
        if read_whole && began.settled_before(&metadata) && local(path, &metadata) {
            self.remember(|scans| {
                scans
                    .scripts
                    .insert(path.to_path_buf(), (stamp, names.clone()));
            });
        }
        names
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

/// What `script_names` says of the file at `path`, read while its stamp stays `stamp`, and
/// whether it was (`None` when it could not be read: nothing to remember; an answer read from
/// a file that changed meanwhile is given but not remembered).
fn read_script(path: &Path, stamp: FileStamp) -> Option<(Script, bool)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 8];
    let length = file.read(&mut head).ok()?;
    if !rust::is_script(&head[..length]) {
        return Some((None, true));
    }
    let mut bytes = head[..length].to_vec();
    (&mut file)
        .take(SCRIPT_MAX + 1 - length as u64)
        .read_to_end(&mut bytes)
        .ok()?;
    let unchanged = file.metadata().map(|m| FileStamp::of(&m)).ok()? == stamp;
    if bytes.len() as u64 > SCRIPT_MAX {
        return Some((Some(Err("link: linker script too large")), unchanged));
    }
    let names = rust::script_reads(&bytes)?.map(|names| {
        names
            .into_iter()
            .map(|name| PathBuf::from(OsString::from_vec(name)))
            .collect()
    });
    Some((Some(names), unchanged))
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
    fn a_linker_script_names_what_it_reads() {
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
        let named = |names: &[&Path]| Some(Ok(names.iter().map(|n| n.to_path_buf()).collect()));
        let scan = LibraryScan::default();
        let both = [real.as_path(), Path::new("/nonexistent/ld.so")];
        assert_eq!(scan.script_names(&script), named(&both));
        assert_eq!(scan.script_names(&real), None);
        settle();
        assert_eq!(scan.script_names(&script), named(&both));
        // A script edited is read again, whatever its name or size (ld reads any input that is
        // no object or archive as a script).
        std::fs::write(&script, "INPUT(cv.obj -lm -l:dv.obj)\n").unwrap();
        // A library by `-lNAME` as it is written: the caller looks for its files.
        let relative = [Path::new("cv.obj"), Path::new("-lm"), Path::new("dv.obj")];
        assert_eq!(scan.script_names(&script), named(&relative));
        let big = dir.path().join("big.ld");
        let mut text = "INPUT(cv.obj)\n/*".to_owned();
        text.push_str(&" ".repeat(100_000));
        text.push_str("*/\n");
        std::fs::write(&big, text).unwrap();
        assert_eq!(scan.script_names(&big), named(&relative[..1]));
        std::fs::write(&big, " ".repeat(2 << 20)).unwrap();
        assert_eq!(
            scan.script_names(&big),
            Some(Err("link: linker script too large"))
        );
        std::fs::write(&big, "SEARCH_DIR(/opt)").unwrap();
        assert_eq!(
            scan.script_names(&big),
            Some(Err("link: linker script SEARCH_DIR"))
        );
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
}
