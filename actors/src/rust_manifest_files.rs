//! The file side of rust direct mode, on the hasher's threads: checking a rust manifest's
//! records against the file system and the request's environment (`CheckRustManifest`), and,
//! after a compile, digesting the files its dep-info lists into the result's key inputs and
//! the record that will stand for it (`DigestDepInfo`), and the crates a linking compile
//! loaded (`DigestCrates`).
//!
//! Invariant: a record is made only from files that last changed before the compile began
//! (`Started::settled_before`, git's "racily clean" rule) and that did not change while they
//! were read, so a later change always moves a stamp the record holds, and the digests are
//! those of the bytes rustc read. A check accepts a record only if every variable has its
//! recorded value, every file is the one recorded (same stamp, or same digest through the
//! `DigestMemo`), every module file that was absent still is, and every directory holding a
//! file read has the same names in it. What goes into keys is
//! decided in `hash_key`, not here.

use crate::digest_memo::DigestMemo;
use crate::file_stamp::FileStamp;
use crate::flow::settled_path::{Anchors, SettledPaths};
use crate::flow::started::Started;
use crate::hasher::Hasher;
use crate::manifest_files::Holding;
use actix::prelude::*;
use sccache_core::direct::rust::{
    crate_search_digest, crate_search_holds, env_holds, listing_digest, module_alternatives,
    parent_dirs, Listing, RustManifest, RustRecorded,
};
use sccache_core::direct::{ByteBuf, ReadFile};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Finds the newest record of `manifest` that holds for a compile in `cwd` with `env`. The
/// manifest comes back with the answer (a miss updates it).
#[derive(Message)]
#[rtype(result = "RustChecked")]
pub struct CheckRustManifest {
    pub manifest: RustManifest,
    pub cwd: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// The compile's crate search directories (`RustCompilation::crate_search`).
    pub crate_search: Vec<OsString>,
}

/// What a check found, and the manifest it checked.
pub struct RustChecked {
    pub holding: Option<Holding>,
    pub manifest: RustManifest,
}

impl Handler<CheckRustManifest> for Hasher {
    type Result = MessageResult<CheckRustManifest>;

    fn handle(&mut self, message: CheckRustManifest, _: &mut SyncContext<Self>) -> Self::Result {
        let CheckRustManifest {
            manifest,
            cwd,
            env,
            crate_search,
        } = message;
        let search = crate_search_digest(&crate_search);
        let holding = manifest
            .results
            .iter()
            .filter(|recorded| crate_search_holds(recorded, &search))
            .find(|recorded| holds(&self.memo, recorded, &cwd, &env))
            .map(|recorded| Holding {
                result: recorded.result,
                files: recorded
                    .files
                    .iter()
                    .map(|file| PathBuf::from(OsStr::from_bytes(&file.name)))
                    .collect(),
            });
        MessageResult(RustChecked { holding, manifest })
    }
}

/// Whether a record holds for a compile in `cwd` with `env`.
fn holds(
    memo: &DigestMemo,
    recorded: &RustRecorded,
    cwd: &Path,
    env: &[(OsString, OsString)],
) -> bool {
    env_holds(recorded, env) && files_hold(memo, recorded, cwd)
}

fn files_hold(memo: &DigestMemo, recorded: &RustRecorded, cwd: &Path) -> bool {
    let absent = recorded
        .absent
        .iter()
        .all(|name| std::fs::symlink_metadata(cwd.join(OsStr::from_bytes(name))).is_err());
    let listed = recorded.dirs.iter().all(|listing| {
        names_digest(&cwd.join(OsStr::from_bytes(&listing.dir))).ok() == Some(listing.names)
    });
    let same = |file: &ReadFile| {
        let path = cwd.join(OsStr::from_bytes(&file.name));
        let Ok(metadata) = std::fs::metadata(&path) else {
            return false;
        };
        FileStamp::of(&metadata).recorded() == file.stamp
            || (metadata.is_file() && memo.digest(&path).ok() == Some(file.digest))
    };
    absent && listed && recorded.files.iter().all(same) && recorded.crates.iter().all(same)
}

/// Why `DigestDepInfo` fails when a file changed after the compile began: the result is not
/// stored, as `read_since` would decide.
pub const CHANGED_DURING_COMPILE: &str = "file read changed during the compile";

/// Digests the files a finished compile's dep-info lists (`files`, as it names them, relative
/// ones from `cwd`), refusing any that changed since the compile began (`started`) or while
/// read. Answers each file's digest in order, with the record's files and absent module files
/// (its variables and result are the caller's to fill in); an error is the reason nothing is
/// stored.
#[derive(Message)]
#[rtype(result = "Result<DepInfoRead, &'static str>")]
pub struct DigestDepInfo {
    pub files: Vec<String>,
    pub cwd: PathBuf,
    pub started: Started,
    /// Directories whose identity was taken before the compile (`settled_path`).
    pub anchors: Anchors,
    /// Whether to read each file for the word `extern` too (`DepInfoRead::extern_mentioned`).
    pub scan_extern: bool,
    /// Whether the files a link read are known from the command rustc printed
    /// (`rust_link::Scope::Listed`): then a source that spells `+verbatim` is no refusal.
    pub verbatim_followed: bool,
}

/// The dep-info's files, digested and stamped: their digests for the result's key, and the
/// record, or why none can be made.
pub struct DepInfoRead {
    pub digests: Vec<[u8; 32]>,
    pub recorded: Result<RustRecorded, &'static str>,
    /// Asked for (`scan_extern`): whether a file spells `extern` (`direct::rust::mentions_extern`)
    /// in the very bytes digested (the stamp checked after the read is the one before it). A
    /// file that could not be scanned counts as spelling it. `true` when not asked.
    pub extern_mentioned: bool,
}

impl Handler<DigestDepInfo> for Hasher {
    type Result = Result<DepInfoRead, &'static str>;

    fn handle(&mut self, message: DigestDepInfo, _: &mut SyncContext<Self>) -> Self::Result {
        digest_dep_info(&self.memo, &message)
    }
}

fn digest_dep_info(
    memo: &DigestMemo,
    message: &DigestDepInfo,
) -> Result<DepInfoRead, &'static str> {
    let mut digests = Vec::with_capacity(message.files.len());
    let mut files = Vec::with_capacity(message.files.len());
    let mut extern_mentioned = !message.scan_extern;
    // The way to each file must lead where it led during the compile (`settled_path`).
    let mut ways = SettledPaths::new(message.started, &message.cwd, &message.anchors);
    for name in &message.files {
        let scan = !extern_mentioned;
        let scan = Scan::Source {
            extern_word: scan,
            verbatim: !message.verbatim_followed,
        };
        let (file, mentions) = read_settled(memo, &message.cwd, name, message.started, scan)?;
        if !ways.settled(Path::new(name)) {
            return Err(CHANGED_DURING_COMPILE);
        }
        extern_mentioned |= mentions;
        digests.push(file.digest);
        files.push(file);
    }
    let recorded = surroundings(message, &mut ways).map(|(absent, dirs)| RustRecorded {
        files,
        crates: Vec::new(),
        env: Vec::new(),
        absent,
        dirs,
        crate_search: None,
        result: [0; 32],
    });
    Ok(DepInfoRead {
        digests,
        recorded,
        extern_mentioned,
    })
}

/// Why a compile whose sources spell `.incbin` or `.include` is not stored: the assembler may
/// read a file that no dep-info lists (`direct::rust::may_assemble_files`).
pub const ASSEMBLER_READS: &str = "an assembler directive may read a file (.incbin, .include)";

/// Why a compile whose sources spell `+verbatim` is not stored, unless its link's files come
/// from the command rustc printed: a `#[link]` with `+verbatim` may name any file, which an
/// `.rlib` bundles or a link reads (`direct::rust::may_link_any_file`).
pub const VERBATIM_LIBRARY: &str = "a #[link] with +verbatim may name any file";

/// How `read_settled` reads a file: a crate for its digest alone (through the memo); a source
/// also for assembler directives that read files, for `+verbatim` when asked (`verbatim`), and
/// when asked for the word `extern`, in the one read that digests it.
#[derive(Clone, Copy)]
enum Scan {
    Crate,
    Source { extern_word: bool, verbatim: bool },
}

/// A file the compile read, stamped and digested; an error if it changed since the compile
/// began or while read; or a source whose text may make the assembler read a file.
fn read_settled(
    memo: &DigestMemo,
    cwd: &Path,
    name: &str,
    started: Started,
    scan: Scan,
) -> Result<(ReadFile, bool), &'static str> {
    let path = cwd.join(name);
    let before = std::fs::metadata(&path).map_err(|_| "file read is gone")?;
    if !before.is_file() {
        return Err("read a file that is not regular");
    }
    if !started.settled_before(&before) {
        return Err(CHANGED_DURING_COMPILE);
    }
    let stamp = FileStamp::of(&before);
    let unreadable = |_| "file read is unreadable";
    // Between the two stamps, which must match: the bytes scanned are the bytes digested.
    let (digest, mentions) = match scan {
        Scan::Crate => (memo.digest(&path).map_err(unreadable)?, false),
        Scan::Source {
            extern_word,
            verbatim,
        } => {
            let mut file = crate::file_system::open_regular(&path).map_err(unreadable)?;
            let mut bytes = Vec::with_capacity(before.len() as usize);
            file.read_to_end(&mut bytes).map_err(unreadable)?;
            if sccache_core::direct::rust::may_assemble_files(&bytes) {
                return Err(ASSEMBLER_READS);
            }
            if verbatim && sccache_core::direct::rust::may_link_any_file(&bytes) {
                return Err(VERBATIM_LIBRARY);
            }
            let digest = sccache_core::hash_key::digest(&bytes);
            // Settled before the compile began (checked above), as the memo's rule asks.
            let after = file.metadata().map_err(unreadable)?;
            if FileStamp::of(&after) == stamp {
                memo.remember_read(&path, &file, &after, digest, started);
            }
            let mentions = extern_word && sccache_core::direct::rust::mentions_extern(&bytes);
            (digest, mentions)
        }
    };
    if FileStamp::at(&path) != Some(stamp) {
        return Err(CHANGED_DURING_COMPILE);
    }
    let file = ReadFile {
        name: name.as_bytes().to_vec(),
        stamp: stamp.recorded(),
        digest,
    };
    Ok((file, mentions))
}

/// What a record keeps besides the files read: the module files that must stay absent and
/// the names in every directory read from; an error is why no record can be made (the result
/// is stored all the same).
fn surroundings(
    message: &DigestDepInfo,
    ways: &mut SettledPaths,
) -> Result<(Vec<ByteBuf>, Vec<Listing>), &'static str> {
    let mut absent = Vec::new();
    for name in module_alternatives(&message.files) {
        if std::fs::symlink_metadata(message.cwd.join(&name)).is_ok() {
            // Both spellings of a module exist, yet rustc compiled (a `#[path]` module, an
            // `include!`d file): whether a new file would change anything is not known.
            return Err("module file beside its other spelling");
        }
        absent.push(ByteBuf::from(name.into_bytes()));
    }
    let mut dirs = Vec::new();
    for dir in parent_dirs(&message.files) {
        let path = message.cwd.join(&dir);
        let settled = std::fs::metadata(&path)
            .is_ok_and(|metadata| message.started.settled_before(&metadata));
        // A directory changed since the compile began may have been listed by a proc macro
        // before the change: its names now would not be the ones it saw.
        if !settled || !ways.settled(Path::new(&dir)) {
            return Err("directory changed during the compile");
        }
        let names = names_digest(&path).map_err(|_| "unreadable directory")?;
        dirs.push(Listing {
            dir: ByteBuf::from(dir.into_bytes()),
            names,
        });
    }
    Ok((absent, dirs))
}

/// Digests the crates a linking compile loaded (`RustRecorded::crates`), as `DigestDepInfo`
/// does its files (refusing any changed since the compile began), with no directory listed.
#[derive(Message)]
#[rtype(result = "Result<Vec<ReadFile>, &'static str>")]
pub struct DigestCrates {
    pub files: Vec<String>,
    pub cwd: PathBuf,
    pub started: Started,
    /// Directories whose identity was taken before the compile (`settled_path`).
    pub anchors: Anchors,
}

impl Handler<DigestCrates> for Hasher {
    type Result = Result<Vec<ReadFile>, &'static str>;

    fn handle(&mut self, message: DigestCrates, _: &mut SyncContext<Self>) -> Self::Result {
        let mut ways = SettledPaths::new(message.started, &message.cwd, &message.anchors);
        message
            .files
            .iter()
            .map(|name| {
                let (file, _) =
                    read_settled(&self.memo, &message.cwd, name, message.started, Scan::Crate)?;
                match ways.settled(Path::new(name)) {
                    true => Ok(file),
                    false => Err(CHANGED_DURING_COMPILE),
                }
            })
            .collect()
    }
}

/// The digest of the names in the directory at `path` (`direct::rust::listing_digest`).
fn names_digest(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path)? {
        names.push(entry?.file_name().as_bytes().to_vec());
    }
    Ok(listing_digest(names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A crate in a fresh directory, settled past a clock tick, and a record of it made by
    /// `digest_dep_info` as after a compile that began now.
    fn recorded_crate(dir: &Path) -> RustRecorded {
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("src/lib.rs"),
            "mod a;\nconst D: &str = include_str!(\"d.txt\");\n",
        )
        .unwrap();
        std::fs::write(dir.join("src/a.rs"), "pub fn a() {}\n").unwrap();
        std::fs::write(dir.join("src/d.txt"), "data\n").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let message = DigestDepInfo {
            files: ["src/lib.rs", "src/a.rs", "src/d.txt"]
                .map(String::from)
                .to_vec(),
            cwd: dir.to_path_buf(),
            started: Started::file_clock_now(),
            anchors: Anchors::default(),
            scan_extern: false,
            verbatim_followed: false,
        };
        let read = digest_dep_info(&DigestMemo::default(), &message).unwrap();
        assert_eq!(read.digests.len(), 3);
        let mut recorded = read.recorded.unwrap();
        recorded.env = sccache_core::direct::rust::env_deps(&["V".to_owned()], &[]);
        recorded
    }

    #[test]
    fn a_dep_info_scan_finds_extern_in_any_file_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("build.rs"), "mod m;\nfn main() {}\n").unwrap();
        std::fs::write(dir.path().join("m.rs"), "pub fn f() {}\n").unwrap();
        std::fs::write(
            dir.path().join("x.rs"),
            "#[macro_use]\nextern crate serde;\n",
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let scan = |files: &[&str], scan_extern: bool| {
            let message = DigestDepInfo {
                files: files.iter().map(|file| file.to_string()).collect(),
                cwd: dir.path().to_path_buf(),
                started: Started::file_clock_now(),
                anchors: Anchors::default(),
                scan_extern,
                verbatim_followed: false,
            };
            digest_dep_info(&DigestMemo::default(), &message)
                .unwrap()
                .extern_mentioned
        };
        assert!(!scan(&["build.rs", "m.rs"], true));
        assert!(scan(&["build.rs", "m.rs", "x.rs"], true));
        assert!(scan(&["x.rs", "build.rs"], true));
        // Not asked: counted as spelled, so nobody skips a listing on a scan not made.
        assert!(scan(&["build.rs"], false));
    }

    fn set(name: &str, value: &str) -> Vec<(OsString, OsString)> {
        vec![(name.into(), value.into())]
    }

    #[test]
    fn a_record_holds_until_a_file_a_variable_or_a_directory_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let recorded = recorded_crate(root);
        let memo = DigestMemo::default();
        assert!(holds(&memo, &recorded, root, &[]));
        assert!(!holds(&memo, &recorded, root, &set("V", "")));

        // Rewritten with the same bytes: a new stamp, the same digest.
        std::fs::write(root.join("src/d.txt"), "data\n").unwrap();
        assert!(holds(&memo, &recorded, root, &[]));
        std::fs::write(root.join("src/d.txt"), "edited\n").unwrap();
        assert!(!holds(&memo, &recorded, root, &[]));
        std::fs::write(root.join("src/d.txt"), "data\n").unwrap();
        assert!(holds(&memo, &recorded, root, &[]));

        // A new file beside them, then the other spelling of a module.
        std::fs::write(root.join("src/new.txt"), "").unwrap();
        assert!(!holds(&memo, &recorded, root, &[]));
        std::fs::remove_file(root.join("src/new.txt")).unwrap();
        assert!(holds(&memo, &recorded, root, &[]));
        std::fs::create_dir_all(root.join("src/a")).unwrap();
        std::fs::write(root.join("src/a/mod.rs"), "").unwrap();
        assert!(!holds(&memo, &recorded, root, &[]));
        std::fs::remove_dir_all(root.join("src/a")).unwrap();

        // A file gone.
        std::fs::remove_file(root.join("src/a.rs")).unwrap();
        assert!(!holds(&memo, &recorded, root, &[]));
    }

    #[test]
    fn a_file_changed_after_the_compile_began_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("lib.rs"), "").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let started = Started::file_clock_now();
        std::thread::sleep(Duration::from_millis(30));
        std::fs::write(dir.path().join("lib.rs"), "edited").unwrap();
        let message = DigestDepInfo {
            files: vec!["lib.rs".into()],
            cwd: dir.path().to_path_buf(),
            started,
            anchors: Anchors::default(),
            scan_extern: false,
            verbatim_followed: false,
        };
        assert_eq!(
            digest_dep_info(&DigestMemo::default(), &message).err(),
            Some(CHANGED_DURING_COMPILE)
        );
    }
}
