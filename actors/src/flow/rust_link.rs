//! The link's part of a rust key: for a compile that links (a `bin`, `proc-macro`, `dylib`,
//! `cdylib`, a build script), who links and every file the link may read, resolved into a
//! `LinkInputs` that `hash_key::write_link` writes.
//!
//! ```text
//! LinkerProber --ProbeLinker-->  the linker's identity and its own library directories
//! (blocking pool)                the directories the link searches, the files link
//!                                arguments and linker scripts name
//! Hasher --DigestFiles-->   their digests, through the DigestMemo
//! after a direct miss: the command rustc printed (--print link-args=FILE) --> linked_files
//! ```
//!
//! Complete by construction, in one of two scopes (`Scope`). Rather than guess which libraries
//! a link picks (a dependency's `#[link]` names them in its metadata, out of sight),
//! `Scope::Every` digests every regular file in every directory the link searches (the `-L`
//! ones of every kind, those the link arguments add, `LIBRARY_PATH`, the linker's own, the
//! target's sysroot libraries and rustc's own linker programs). `Scope::Listed` (rust direct
//! mode) keys those directories by the names of their files, and takes the files the link
//! did read from the command rustc printed, after the compile, into the record. A `-l`
//! library, a file a link argument names, or a linker that cannot be resolved and digested
//! makes the compile uncacheable, with the reason in the stats. It decides nothing about what
//! a key holds beyond gathering the parts.

use crate::detector::CompilerInfo;
use crate::flow::request_env::lookup as env_value;
use crate::flow::services::Services;
use crate::hasher::DigestFiles;
use crate::library_scan::LibraryScan;
use crate::linker_probe::{search_list, LinkerFound, ProbeLinker};
use sccache_core::compiler::rust::{linked, read_printed_command, LinkSpec, RustCompilation};
use sccache_core::direct::rust::listing_digest;
use sccache_core::hash_key::LinkInputs;
use sccache_core::protocol::CompileRequest;
use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How many files one digest message carries: a first link digests a few hundred megabytes of
/// system libraries, spread over the hasher's threads.
const DIGEST_CHUNK: usize = 128;

/// How a link's files are taken into its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every regular file of every directory the link searches, by digest: the key is whole
    /// before the compile (the dep-info run's way of keying).
    Every,
    /// Rust direct mode's: the searched directories' listings (the names of their regular
    /// files) and the files known before the compile (the command line's libraries, the
    /// driver's start files and own libraries, rustc's linker programs) by digest; the files
    /// the link did read are found after the compile from the command rustc printed
    /// (`linked_files`) and go into the record. A first link then digests what it reads,
    /// not the whole of `/usr/lib`.
    Listed,
}

/// The libraries a C driver may link by itself beside those its dry run names (`-static`
/// takes `gcc_eh` for `gcc_s`), looked for in every searched directory in `Scope::Listed`.
const DRIVER_LIBS: &[&str] = &["gcc", "gcc_s", "gcc_eh", "c"];

/// The link's inputs of `compilation` when it links (`None` when it does not), or why they
/// cannot be had.
pub async fn for_compile(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    crate_files: &[PathBuf],
    request: &CompileRequest,
    scope: Scope,
) -> Result<Option<LinkInputs>, &'static str> {
    if compilation.link.is_none() {
        return Ok(None);
    }
    let plan = searched(services, info, compilation, crate_files, request).await?;
    let linker = plan.found.digest;
    let Found {
        files,
        listings,
        searched,
        order,
    } = match tokio::task::spawn_blocking(move || plan.files(scope)).await {
        Ok(found) => found?,
        Err(_) => return Err("link: inputs unreadable"),
    };
    let digests = digest_all(services, &files).await?;
    log::debug!(
        "link of {}: {} files, {} listings, linker {}",
        compilation.crate_name,
        files.len(),
        listings.len(),
        sccache_core::hash_key::CacheKey(linker)
    );
    log::trace!("link of {} reads {files:?}", compilation.crate_name);
    log::trace!("link of {} lists {listings:?}", compilation.crate_name);
    Ok(Some(LinkInputs {
        linker,
        files: files
            .into_iter()
            .map(PathBuf::into_os_string)
            .zip(digests)
            .collect(),
        listings: listings
            .into_iter()
            .map(|(dir, digest)| (dir.into_os_string(), digest))
            .collect(),
        searched: searched.into_iter().map(PathBuf::into_os_string).collect(),
        order,
    }))
}

/// The files a link read beyond those `Scope::Listed` keys before the compile: what the
/// command rustc printed (`text`, `--print link-args=FILE`) names, or makes the linker look
/// for by name in any searched directory (every file of that name there), and what linker
/// scripts among them name. Refused when the command searches a directory, or runs programs
/// from one, that the key did not list (its listing is not in the key), or cannot be read.
/// `out_dir` holds rustc's own temporary files, gone by now.
pub async fn linked_files(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
    text: Vec<u8>,
) -> Result<Vec<PathBuf>, &'static str> {
    let plan = searched(services, info, compilation, &[], request).await?;
    let out_dir = plan.cwd.join(&compilation.out_dir);
    let found = tokio::task::spawn_blocking(move || plan.linked(&text, &out_dir)).await;
    found.unwrap_or(Err("link: inputs unreadable"))
}

/// Who links `compilation` (which links) and where it searches, or why that cannot be had.
async fn searched(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    crate_files: &[PathBuf],
    request: &CompileRequest,
) -> Result<Plan, &'static str> {
    let Some(spec) = &compilation.link else {
        return Err("link: nothing linked");
    };
    let Some(sysroot) = sysroot(compilation, info) else {
        return Err("link: sysroot unknown");
    };
    // lld writes a reproduction archive where this names, beside the link's outputs.
    if env_value(&request.env, "LLD_REPRODUCE").is_some_and(|value| !value.is_empty()) {
        return Err("link: LLD_REPRODUCE writes a file");
    }
    let Some(host) = info.rust.as_ref().and_then(|rust| rust.host.clone()) else {
        return Err("link: host unknown");
    };
    let target = compilation.target.clone().unwrap_or_else(|| host.clone());
    let linker = match &spec.linker {
        Some(linker) => linker.clone(),
        // rustc's default on the targets whose outputs the parser names.
        None if target.contains("linux") || target.contains("apple") => OsString::from("cc"),
        None => return Err("link: default linker unknown"),
    };
    // rustc runs the linker with its own programs first on `PATH`.
    let rustlib = sysroot.join("lib").join("rustlib");
    let host_bin = rustlib.join(&host).join("bin");
    let mut env = request.env.clone();
    let mut path = host_bin.as_os_str().to_owned();
    path.push(":");
    path.push(host_bin.join("self-contained"));
    if let Some(old) = env_value(&request.env, "PATH") {
        path.push(":");
        path.push(old);
    }
    env.push(("PATH".into(), path));
    let probe = ProbeLinker {
        linker,
        cwd: request.cwd.clone(),
        env,
        fuse_ld: spec.fuse_ld.clone(),
    };
    let found = match services.probe_linker.send(probe).await {
        Ok(Ok(found)) => found,
        Ok(Err(error)) => {
            log::info!("cannot identify the linker: {error}");
            return Err("link: linker not identified");
        }
        Err(error) => {
            log::warn!("linker prober unavailable: {error}");
            return Err("link: linker not identified");
        }
    };
    let cwd = PathBuf::from(&request.cwd);
    let library_path = search_list(env_value(&request.env, "LIBRARY_PATH"), &cwd);
    Ok(Plan {
        cwd,
        spec: spec.clone(),
        library_path,
        found,
        crate_dirs: sysroot_crate_dirs(&sysroot, &target),
        program_dirs: [
            host_bin.clone(),
            host_bin.join("gcc-ld"),
            host_bin.join("self-contained"),
        ],
        crate_files: crate_files.to_vec(),
        loads_crates: names_extern(&request.args),
        apple: target.contains("apple"),
        scan: services.library_scan.clone(),
    })
}

/// Whether a command line may load a crate by a flag: a `--extern`, with a path or without
/// (then rustc looks for the crate on its search path), or any unstable `-Z` option (whose
/// effects are not enumerated here).
pub fn names_extern(args: &[OsString]) -> bool {
    args.iter().any(|arg| {
        let arg = arg.as_encoded_bytes();
        arg == b"--extern" || arg.starts_with(b"--extern=") || arg.starts_with(b"-Z")
    })
}

/// The dep-info run of a compile that links asks rustc for the crates it loads too
/// (`-Z binary-dep-depinfo`, allowed on a stable rustc by `RUSTC_BOOTSTRAP` for that run
/// alone): a link reads every crate of the graph, the direct ones' dependencies included,
/// which the command line does not name.
pub fn crate_listing_args() -> (OsString, (OsString, OsString)) {
    (
        "-Zbinary-dep-depinfo".into(),
        ("RUSTC_BOOTSTRAP".into(), "1".into()),
    )
}

/// The directories of the target's sysroot crates (`lib/rustlib/<target>/lib` and its
/// `self-contained`), every file of which a link's inputs hold by path and digest
/// (`Plan::files`).
fn sysroot_crate_dirs(sysroot: &Path, target: &str) -> [PathBuf; 2] {
    let lib = sysroot.join("lib").join("rustlib").join(target).join("lib");
    let self_contained = lib.join("self-contained");
    [lib, self_contained]
}

/// `files` (a dep-info's, relative ones from `cwd`) without the crates of the target's
/// sysroot: in a linking compile's key those are the link's inputs already, so the crates
/// that a key lists beside its sources are the graph's own, and a compile that can load none
/// of those (`direct::rust::mentions_extern`) needs no listing. Both ways of keying drop them
/// alike, so they find each other's entries. Unchanged when the sysroot or the host is
/// unknown (then a compile that links is refused anyway).
pub fn without_sysroot_crates(
    info: &CompilerInfo,
    compilation: &RustCompilation,
    files: Vec<String>,
    cwd: &Path,
) -> Vec<String> {
    let Some(sysroot) = sysroot(compilation, info) else {
        return files;
    };
    let Some(host) = info.rust.as_ref().and_then(|rust| rust.host.clone()) else {
        return files;
    };
    let dirs = sysroot_crate_dirs(&sysroot, compilation.target.as_deref().unwrap_or(&host));
    files
        .into_iter()
        .filter(|file| {
            let path = cwd.join(file);
            !(is_crate(file)
                && path
                    .parent()
                    .is_some_and(|dir| dirs.iter().any(|d| d == dir)))
        })
        .collect()
}

/// Whether a file a dep-info lists (with `-Zbinary-dep-depinfo`, beyond the sources) is a
/// crate.
pub fn is_crate(name: &str) -> bool {
    let extension = Path::new(name).extension().unwrap_or_default();
    ["rlib", "rmeta", "so", "dylib", "dll"]
        .iter()
        .any(|crate_extension| extension == *crate_extension)
}

/// The crates among the files a dep-info lists.
pub fn crate_files(files: &[String]) -> Vec<PathBuf> {
    files
        .iter()
        .map(PathBuf::from)
        .filter(|path| {
            path.extension()
                .is_some_and(|e| e == "rlib" || e == "rmeta")
        })
        .collect()
}

/// The sysroot the compile links against: `--sysroot` when given, else rustc's own.
fn sysroot(compilation: &RustCompilation, info: &CompilerInfo) -> Option<PathBuf> {
    let given = compilation
        .key_args
        .windows(2)
        .rev()
        .find(|pair| pair[0] == "--sysroot")
        .map(|pair| PathBuf::from(&pair[1]));
    given.or_else(|| info.rust.as_ref().map(|rust| rust.sysroot.clone()))
}

/// Digests `files` through the memo, in chunks over the hasher's threads.
async fn digest_all(services: &Services, files: &[PathBuf]) -> Result<Vec<[u8; 32]>, &'static str> {
    let asks = files.chunks(DIGEST_CHUNK).map(|chunk| {
        services.digest.send(DigestFiles {
            paths: chunk.to_vec(),
        })
    });
    let mut digests = Vec::with_capacity(files.len());
    for answer in futures::future::join_all(asks).await {
        match answer {
            Ok(Ok(chunk)) => digests.extend(chunk),
            Ok(Err(error)) => {
                log::info!("cannot digest a link input: {error}");
                return Err("link: inputs unreadable");
            }
            Err(error) => {
                log::warn!("hasher unavailable: {error}");
                return Err("link: inputs unreadable");
            }
        }
    }
    Ok(digests)
}

/// What `Plan::files` finds.
struct Found {
    /// The files to digest.
    files: Vec<PathBuf>,
    /// The directories' listings (`Scope::Listed`).
    listings: Vec<(PathBuf, [u8; 32])>,
    /// Every directory searched.
    searched: Vec<PathBuf>,
    /// The search order (`LinkInputs::order`).
    order: Vec<OsString>,
}

/// The file work of finding a link's inputs, on the blocking pool.
struct Plan {
    cwd: PathBuf,
    spec: LinkSpec,
    library_path: Vec<PathBuf>,
    found: LinkerFound,
    /// The target's sysroot crates (`sysroot_crate_dirs`).
    crate_dirs: [PathBuf; 2],
    /// rustc's own linker programs (`rust-lld`, `gcc-ld`), every file of which is in the key.
    program_dirs: [PathBuf; 3],
    /// The crate files (`.rlib`, `.rmeta`) the dep-info run says the compile loads.
    crate_files: Vec<PathBuf>,
    /// Whether the command line may load crates (`names_extern`): rustc's search for them
    /// joins the order.
    loads_crates: bool,
    apple: bool,
    /// The directories' listings and linker scripts, remembered.
    scan: LibraryScan,
}

impl Plan {
    /// The directories the link searches for libraries (not the sysroot's crates), each once.
    fn dirs(&self) -> Result<Vec<PathBuf>, &'static str> {
        let cwd = &self.cwd;
        // `-L=dir` (and `$SYSROOT`) is under the linker's sysroot, which the key does not know.
        let under_sysroot = |dir: &OsString| {
            let bytes = dir.as_bytes();
            bytes.starts_with(b"=") || bytes.starts_with(b"$SYSROOT")
        };
        let searched = self.spec.search_dirs.iter().map(|(_, dir)| dir);
        if searched.chain(&self.spec.arg_dirs).any(under_sysroot) {
            return Err("link: search directory under the sysroot");
        }
        let dirs: Vec<PathBuf> = self
            .spec
            .search_dirs
            .iter()
            // `dependency` and `crate` directories hold crates, found by rustc, not the linker:
            // the crates a link reads are those the dep-info lists (`crate_files`).
            .filter(|(kind, _)| matches!(kind.as_str(), "native" | "all" | "framework"))
            .map(|(_, dir)| cwd.join(dir))
            .chain(self.spec.arg_dirs.iter().map(|dir| cwd.join(dir)))
            .chain(self.library_path.iter().cloned())
            .chain(self.found.library_dirs.iter().cloned())
            .collect();
        // The same directory by two names (`/lib` and `/usr/lib` on a merged `/usr`) is
        // listed once.
        let mut seen = BTreeSet::new();
        Ok(dirs
            .into_iter()
            .filter(|dir| seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())))
            .collect())
    }

    /// The files a library of `name` may be in any of `dirs` (`lib<name>.so`, `.a`; a
    /// verbatim name as it is), those that are files; a name with a directory in it is a
    /// refusal (`library_names`).
    fn library_files(
        &self,
        name: &OsStr,
        verbatim: bool,
        dirs: &[PathBuf],
    ) -> Result<Vec<PathBuf>, &'static str> {
        if name.as_bytes().contains(&b'/') {
            // `-l:sub/x.a`: ld looks under every search directory, whose listings hold no
            // subdirectory's files.
            return Err("link: a library named with a directory");
        }
        Ok(library_names(name, verbatim, self.apple)
            .iter()
            .flat_map(|file| dirs.iter().map(move |dir| dir.join(file)))
            .filter(|path| path.is_file())
            .collect())
    }

    /// Every file the link may read (`Scope::Every`), or those known before the compile and
    /// the searched directories' listings (`Scope::Listed`): sorted, without repeats; and the
    /// directories searched.
    fn files(self, scope: Scope) -> Result<Found, &'static str> {
        let cwd = &self.cwd;
        let dirs = self.dirs()?;
        let every: Vec<PathBuf> = dirs.iter().chain(&self.crate_dirs).cloned().collect();
        let mut files = Vec::new();
        let mut listings = Vec::new();
        match scope {
            Scope::Every => {
                for dir in &dirs {
                    // Every regular file, not only those named as libraries: a source's
                    // `#[link(name = "x.bin", modifiers = "+verbatim")]` (out of sight)
                    // links any.
                    files.extend(self.scan.listed(dir));
                }
                for dir in self.crate_dirs.iter().chain(&self.program_dirs) {
                    files.extend(self.scan.listed(dir));
                }
            }
            Scope::Listed => {
                for dir in dirs.iter().chain(&self.crate_dirs) {
                    let names = self
                        .scan
                        .listed(dir)
                        .iter()
                        .filter_map(|file| file.file_name())
                        .map(|name| name.as_bytes().to_vec())
                        .collect();
                    listings.push((dir.clone(), listing_digest(names)));
                }
                for dir in &self.program_dirs {
                    files.extend(self.scan.listed(dir));
                }
                // The driver's start files (`crt1.o`, `rcrt1.o` for `-static-pie`...) and the
                // specs it reads for some flags (`libgomp.spec`), in its own directories.
                for dir in &self.found.library_dirs {
                    files.extend(self.scan.listed(dir).into_iter().filter(|file| {
                        file.extension()
                            .is_some_and(|extension| extension == "o" || extension == "spec")
                    }));
                }
                // The libraries the driver links by itself, wherever the linker may find them.
                let driver_libs = self
                    .found
                    .default_libs
                    .iter()
                    .map(OsString::as_os_str)
                    .chain(DRIVER_LIBS.iter().map(OsStr::new));
                for name in driver_libs {
                    files.extend(self.library_files(name, false, &every)?);
                }
            }
        }
        // The command line's libraries, every file each may be (in `Scope::Every` among the
        // files already); one found nowhere is a refusal.
        for lib in &self.spec.libs {
            if matches!(lib.kind.as_str(), "framework" | "link-arg") {
                continue;
            }
            let found = self.library_files(OsStr::new(&lib.name), lib.verbatim, &every)?;
            if found.is_empty() {
                log::info!("link library {:?} not found", lib.name);
                return Err("link: library not found");
            }
            if scope == Scope::Listed {
                files.extend(found);
            }
        }
        // A crate whose metadata the dep-info run read is linked from its `.rlib`.
        for file in &self.crate_files {
            let rlib = cwd.join(file).with_extension("rlib");
            if file.extension().is_some_and(|e| e == "rmeta") && rlib.is_file() {
                files.push(rlib);
            }
        }
        // The files the link arguments name, and any linker script among them.
        let mut named: Vec<PathBuf> = Vec::new();
        for file in &self.spec.arg_files {
            // Every place the linker may find it (the working directory, then the search
            // directories, in an order the key need not know): a file that appears in an
            // earlier place changes the key. None at all adds nothing: a link that needs it
            // fails, the word may be an option's value rather than a file, and a file that
            // appears there later changes the key.
            named.extend(
                std::iter::once(cwd.join(file))
                    .chain(dirs.iter().map(|dir| dir.join(file)))
                    .filter(|path| path.is_file()),
            );
        }
        // A word that may name a file read: digested when it does.
        named.extend(
            self.spec
                .maybe_files
                .iter()
                .map(|value| cwd.join(value))
                .filter(|path| path.is_file()),
        );
        // The value of an option of no table: a file here or in a search directory may be
        // read; a directory may be searched, which no key can follow.
        for value in &self.spec.unknown_values {
            let places =
                std::iter::once(cwd.join(value)).chain(dirs.iter().map(|dir| dir.join(value)));
            for place in places {
                if place.is_dir() {
                    log::info!("link argument value {value:?} is a directory");
                    return Err("link: an unknown link-arg's value is a directory");
                }
                if place.is_file() {
                    named.push(place);
                }
            }
        }
        files.extend(named);
        let read = script_reads(&files, cwd, &dirs, &self.scan, self.apple)?;
        files.extend(read);
        sort_by_bytes(&mut files);
        let order = self.order(&dirs);
        let searched = dirs.into_iter().chain(self.crate_dirs).collect();
        Ok(Found {
            files,
            listings,
            searched,
            order,
        })
    }

    /// The order of the search (`LinkInputs::order`): the link's directories (`dirs`), then,
    /// when the command line may load crates, each of its `-L` as `kind=path` (a build
    /// script's compile, which loads the sysroot's crates alone, keeps hitting in another
    /// target directory).
    fn order(&self, dirs: &[PathBuf]) -> Vec<OsString> {
        let crate_search = self.spec.search_dirs.iter().filter(|_| self.loads_crates);
        let command_line = crate_search.map(|(kind, dir)| {
            let mut spec = OsString::from(kind);
            spec.push("=");
            spec.push(self.cwd.join(dir));
            spec
        });
        dirs.iter()
            .map(|dir| dir.clone().into_os_string())
            .chain(command_line)
            .collect()
    }

    /// The files the printed link command `text` names or makes the linker look for
    /// (`linked_files`), sorted, without repeats.
    fn linked(self, text: &[u8], out_dir: &Path) -> Result<Vec<PathBuf>, &'static str> {
        let args = read_printed_command(text).map_err(|error| {
            log::info!("link command unread: {error}");
            "link: printed command unreadable"
        })?;
        // A response file's words are not in the text (rustc prints the whole command, but a
        // linker argument may name one).
        if args
            .iter()
            .skip(1)
            .any(|arg| arg.as_bytes().starts_with(b"@"))
        {
            return Err("link: a response file");
        }
        let linked = linked(&args);
        let cwd = &self.cwd;
        let canonical = |dir: &Path| std::fs::canonicalize(dir).ok();
        let dirs = self.dirs()?;
        let listed: BTreeSet<PathBuf> = dirs
            .iter()
            .chain(&self.crate_dirs)
            .filter_map(|dir| canonical(dir))
            .collect();
        // A directory rustc made for the link (`raw-dylibs` in its temporary directory) is
        // gone; any other must be one whose listing the key holds.
        let mut searched = dirs.clone();
        searched.extend(self.crate_dirs.iter().cloned());
        for dir in &linked.dirs {
            let dir = cwd.join(dir);
            match canonical(&dir) {
                Some(real) if listed.contains(&real) => searched.push(dir),
                None if dir.starts_with(out_dir) => {}
                // Not there, and its (empty) listing is in the key.
                None if dirs.contains(&dir) => {}
                _ => {
                    log::info!("link searches {dir:?}, unlisted");
                    return Err("link: a search directory the key did not list");
                }
            }
        }
        let programs: BTreeSet<PathBuf> = self
            .program_dirs
            .iter()
            .filter_map(|dir| canonical(dir))
            .collect();
        for dir in &linked.program_dirs {
            if !canonical(&cwd.join(dir)).is_some_and(|real| programs.contains(&real)) {
                log::info!("link runs programs from {dir:?}");
                return Err("link: a program directory the key did not list");
            }
        }
        let mut files: Vec<PathBuf> = linked
            .words
            .iter()
            .map(|word| cwd.join(word))
            .filter(|path| path.is_file())
            .collect();
        for (name, verbatim) in &linked.libs {
            files.extend(self.library_files(name, *verbatim, &searched)?);
        }
        let read = script_reads(&files, cwd, &searched, &self.scan, self.apple)?;
        files.extend(read);
        sort_by_bytes(&mut files);
        Ok(files)
    }
}

/// The files the linker scripts among `inputs` make the linker read (`INCLUDE`, `INPUT`,
/// `GROUP`...: `LibraryScan::script_names`), and the scripts among those in turn, whether a
/// link argument named the script or a search directory holds it (`libc.so`). A name with a
/// root is that file; another is taken wherever ld may look for it (the working directory,
/// the script's own directory, every search directory), each file there: so a file that
/// appears in a place ld looks first, and would be read instead, changes the key. A name
/// found nowhere adds nothing (the link fails without it, and its appearance changes the key);
/// a `-lNAME` is every file that library may be in any search directory; a script the cache
/// cannot follow, or a relative name with a directory in it (`INPUT(sub/x.o)`: ld looks under
/// every search directory, whose listings hold no subdirectory's files), is a refusal.
fn script_reads(
    inputs: &[PathBuf],
    cwd: &Path,
    dirs: &[PathBuf],
    scan: &LibraryScan,
    apple: bool,
) -> Result<Vec<PathBuf>, &'static str> {
    /// Scripts followed for one link, at most.
    const SCRIPTS_MAX: usize = 256;
    let mut scripts = 0;
    // The files the scripts name, each once, in the order found; followed in turn.
    let mut read: Vec<PathBuf> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut follow = |file: &Path, read: &mut Vec<PathBuf>| -> Result<(), &'static str> {
        let Some(names) = scan.script_names(file) else {
            return Ok(());
        };
        scripts += 1;
        if scripts > SCRIPTS_MAX {
            return Err("link: too many linker scripts");
        }
        for name in names? {
            if !name.has_root() && name.as_os_str().as_bytes().contains(&b'/') {
                // ld looks for it under every search directory: a file that appears in an
                // earlier one's subdirectory changes no listing the key holds.
                return Err("link: a linker script names a relative path with a directory");
            }
            let places: Vec<PathBuf> = match name.as_os_str().as_bytes().strip_prefix(b"-l") {
                // A library: every file it may be in any search directory.
                Some(library) => library_names(OsStr::from_bytes(library), false, apple)
                    .into_iter()
                    .flat_map(|file| dirs.iter().map(move |dir| dir.join(&file)))
                    .collect(),
                None if name.has_root() => vec![name],
                None => std::iter::once(cwd.join(&name))
                    .chain(file.parent().map(|own| own.join(&name)))
                    .chain(dirs.iter().map(|dir| dir.join(&name)))
                    .collect(),
            };
            let found = places.into_iter().filter(|path| path.is_file());
            read.extend(found.filter(|path| seen.insert(path.clone())));
        }
        Ok(())
    };
    for file in inputs {
        follow(file, &mut read)?;
    }
    let mut next = 0;
    while let Some(file) = read.get(next).cloned() {
        follow(&file, &mut read)?;
        next += 1;
    }
    Ok(read)
}

/// The file names a library of `name` may have (`lib<name>.so`, `.a`; on Apple targets
/// `.dylib`, `.tbd`; a verbatim name as it is).
fn library_names(name: &OsStr, verbatim: bool, apple: bool) -> Vec<OsString> {
    if verbatim {
        return vec![name.to_owned()];
    }
    let extensions: &[&str] = match apple {
        true => &["a", "dylib", "tbd"],
        false => &["a", "so"],
    };
    extensions
        .iter()
        .map(|extension| {
            let mut file = OsString::from("lib");
            file.push(name);
            file.push(".");
            file.push(extension);
            file
        })
        .collect()
}

/// Sorts paths by their bytes (cheaper than `Path`'s component order, and as stable) without
/// repeats.
fn sort_by_bytes(files: &mut Vec<PathBuf>) {
    files.sort_unstable_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    files.dedup_by(|a, b| a.as_os_str() == b.as_os_str());
}
