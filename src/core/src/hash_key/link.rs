//! A linking rust compile's part of a key: who links and every file the link may read.

use super::writer::{hash_env, KeyWriter};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// What a link reads, resolved by the actors layer (`flow/rust_link.rs`): who links and every
/// file it may read. Written into a rust key by `write_link`, apart from the dep-info parts,
/// so a key without the sources (a direct-mode manifest's) can take it too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkInputs {
    /// The linker's identity: the program `-C linker` names (or rustc's default `cc`) as found
    /// on `PATH`, the programs its dry run says it runs and the files it names, and the
    /// linkers it may be asked for (`ld`, `ld.lld`, `-fuse-ld=` ones), all by digest.
    pub linker: [u8; 32],
    /// Every file the link may read, by path and digest: each library and object in every
    /// directory it searches (the `-L` ones, the linker's own, `LIBRARY_PATH`, the target's
    /// sysroot libraries), the files link arguments name and those linker scripts name.
    pub files: Vec<(OsString, [u8; 32])>,
    /// Directories whose regular files' names stand in for their contents, with a digest of
    /// those names (direct mode: the files the link did read are a record's, and a file that
    /// appears in one of them, which the link may read next time, changes the key). Empty when
    /// every file of every searched directory is in `files`.
    pub listings: Vec<(OsString, [u8; 32])>,
    /// Every directory the link searches, not written into the key (its files or its listing
    /// are): the caller checks after the compile that none changed while it ran (a library
    /// that came and went during the link would be in no key).
    pub searched: Vec<OsString>,
    /// The directories searched, in the order they are searched, each as its path from the
    /// working directory: the link's (the linker takes the first of two libraries of one name),
    /// then, for a command line that may load crates, every `-L` of it with its kind (where
    /// rustc finds crates: a direct record's crates are checked at the paths found in them).
    /// Written into the key in this order, unlike the sets above.
    pub order: Vec<OsString>,
}

/// Variables the linker or the driver running it reads: the search paths for libraries and
/// programs, and those that change what a driver passes on or the output holds (`LD_RUN_PATH`
/// becomes the run path). `LD_LIBRARY_PATH` is not one: cargo sets it to the target directory
/// for every rustc it runs, and ld only looks there for the libraries a linked shared library
/// needs, to check their symbols, which changes no output.
const LINK_ENV_VARS: &[&str] = &[
    "LIBRARY_PATH",
    // gcc's older name for `LIBRARY_PATH`, which it still reads.
    "LPATH",
    // lld writes it into the output's `.comment` as its version.
    "LLD_VERSION",
    "LD_RUN_PATH",
    "COMPILER_PATH",
    "GCC_EXEC_PREFIX",
    "CCC_OVERRIDE_OPTIONS",
    "LD_OPTIONS",
    // GNU ld's default input format and emulation.
    "GNUTARGET",
    "LDEMULATION",
    "SDKROOT",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
];

/// Writes a link's part of a rust key: the linker, every file it may read (sorted by path), the
/// order of the directories searched and the variables the linker reads.
pub fn write_link(key: &mut KeyWriter, link: &LinkInputs, env: &[(OsString, OsString)]) {
    key.field("linker", &link.linker);
    let mut files: Vec<&(OsString, [u8; 32])> = link.files.iter().collect();
    files.sort();
    files.dedup();
    key.field("link files", &(files.len() as u64).to_le_bytes());
    for (path, digest) in files {
        key.field("link file path", path.as_bytes());
        key.field("link file digest", digest);
    }
    if !link.listings.is_empty() {
        let mut listings: Vec<&(OsString, [u8; 32])> = link.listings.iter().collect();
        listings.sort();
        listings.dedup();
        key.field("link listings", &(listings.len() as u64).to_le_bytes());
        for (dir, digest) in listings {
            key.field("link listing dir", dir.as_bytes());
            key.field("link listing names", digest);
        }
    }
    key.field(
        "link search order",
        &(link.order.len() as u64).to_le_bytes(),
    );
    for dir in &link.order {
        key.field("link search dir", dir.as_bytes());
    }
    hash_env(key, env, LINK_ENV_VARS);
}
