//! The C family (gcc, clang; C, C++, assembler): reading its command line, and its key from
//! the preprocessed text.
//!
//! ```text
//! Run(-E -o scratch) ─────────────────────────────────────────────────────────▶ exit status
//!        └─ cc1 closes scratch (CloseWatch) ─▶ DigestSource ─▶ key ─▶ Lookup ─▶ prepare
//! ```
//!
//! The preprocessor writes to a scratch file. When the compiler writes that file in place
//! (gcc's cc1 does), its close is seen before the driver exits, and the digest, the lookup
//! and, on a hit, the restore's preparation (`steps::look_up_early`) run in the gap, on the
//! hasher, storage and blocking pool as always. What they found is used only if the
//! preprocessor then succeeds, the file was not written again and is still the one read;
//! then the restore is only put in place. Otherwise the preparation is dropped, which changes
//! no target, and the digest is taken again from the finished file, the ordinary way.

use crate::close_watch::CloseWatch;
use crate::detector::CompilerInfo;
use crate::dispatcher::{ProcessOutput, RunError};
use crate::driver_probe::ProbeDriver;
use crate::file_stamp::FileStamp;
use crate::flow::anchor_dirs;
use crate::flow::c_colour;
use crate::flow::c_depend;
use crate::flow::c_direct::{self, Looked, Preprocessed};
use crate::flow::family::{AsIs, EarlyLookup, EarlyRestore, EntryAdapter, Family, Keyed};
use crate::flow::read_since::{ReadFiles, ReadSince};
use crate::flow::request_env;
use crate::flow::services::Services;
use crate::flow::steps::look_up_early;
use crate::hasher::{DigestReadFiles, DigestSource, DigestedSource, ReadFilesError};
use crate::outputs::OutputFile;
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use sccache_core::compiler::gcc::{self, CCompilation};
use sccache_core::compiler::{CompilerKind, Language, Parsed};
use sccache_core::hash_key::{self, CacheKey, CompilerIdentity};
use sccache_core::protocol::CompileRequest;
use sccache_core::source_digest::SourceSummary;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Whether a driver by this name takes cl.exe's options (clang as `clang-cl` or `cl`).
fn runs_in_cl_mode(exe: &std::ffi::OsStr) -> bool {
    let name = Path::new(exe)
        .file_name()
        .map(|name| name.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".exe").unwrap_or(&name);
    name == "cl" || name.contains("clang-cl")
}

/// A gcc or clang compile, as its command line asks for it.
pub struct CFamily {
    compilation: CCompilation,
}

impl Family for CFamily {
    /// Reads a gcc/clang command line, refusing compiles whose environment makes the compiler
    /// write files a hit would not.
    fn accept(request: &mut CompileRequest) -> Parsed<Self> {
        if let Some(name) = gcc::SIDE_OUTPUT_ENV_VARS
            .iter()
            .find(|name| request_env::is_set(request, name))
        {
            // The compiler appends a dependency rule to the file these name, or prints what
            // it read or ran, on the preprocessor run and the compile alike; a hit would
            // write and print none of it.
            return Parsed::NotCacheable((*name).to_owned());
        }
        if runs_in_cl_mode(&request.exe) {
            // clang by the name of cl reads cl.exe's options: none of this parse applies.
            return Parsed::NotCacheable("clang in cl mode".into());
        }
        match gcc::parse(&request.args, Path::new(&request.cwd)) {
            Parsed::Cacheable(mut compilation) => {
                if !is_regular_or_missing(&Path::new(&request.cwd).join(&compilation.input)) {
                    // A FIFO or socket would hold a compile slot until someone writes to it
                    // (an older client sends them); refused, the client compiles it itself.
                    return Parsed::NotCacheable("input not a regular file".into());
                }
                c_colour::colour_for_a_terminal(request, &mut compilation);
                Parsed::Cacheable(CFamily { compilation })
            }
            Parsed::NotCacheable(reason) => Parsed::NotCacheable(reason),
            Parsed::NotCompilation => Parsed::NotCompilation,
        }
    }

    fn accept_reads_files(request: &CompileRequest) -> bool {
        request
            .args
            .iter()
            .any(|arg| arg.as_encoded_bytes().first() == Some(&b'@'))
    }

    fn targets(&self, request: &CompileRequest) -> Vec<OutputFile> {
        self.compilation
            .outputs
            .iter()
            .map(|output| OutputFile {
                name: output.role.entry_name().to_owned(),
                path: Path::new(&request.cwd).join(&output.path),
            })
            .collect()
    }

    /// C entries are stored and restored as they are.
    fn adapter<'a>(&'a self, _: &'a CompileRequest) -> Box<dyn EntryAdapter + 'a> {
        Box::new(AsIs)
    }

    fn language(&self) -> Option<Language> {
        Some(self.compilation.language)
    }

    async fn key(
        &self,
        services: &Services,
        info: &CompilerInfo,
        request: &CompileRequest,
        early: Option<EarlyRestore<'_>>,
    ) -> Keyed {
        let compilation = &self.compilation;
        let started = Instant::now();
        // What compiles is what the driver runs (cc1, as, the real clang), as it expands the
        // flags on this machine: without knowing it, nothing is cached. Asked for beside the
        // preprocessor's run, which does not need it (direct mode does, before it).
        let identity = probe_identity(services, info, compilation, request);
        let key_of = |source: &SourceSummary, identity: &CompilerIdentity| {
            hash_key::c_key(
                identity,
                &request.exe,
                compilation,
                &request.cwd,
                &request.env,
                source,
            )
        };
        let early_hit = early.map(|restore| EarlyHit {
            key_of: &key_of,
            identity: &identity,
            request,
            restore,
        });
        // Direct mode first: a hit found from a manifest runs no process at all (but while a
        // new server first probes a driver, below). Not under SCCACHE_RECACHE (no `early`),
        // where the result is to be made again.
        let mut direct = None;
        let mut preprocessed = None;
        if let Some(restore) = early.filter(|_| services.direct) {
            let label = info.kind.stats_label(Some(compilation.language));
            let look_up = async {
                let identity = identity.clone().await?;
                services.drivers_seen.insert(&request.exe);
                Some(
                    c_direct::look_up(services, &identity, compilation, request, restore, &label)
                        .await,
                )
            };
            let looked = if services.drivers_seen.contains(&request.exe) {
                look_up.await
            } else {
                // A driver this server has not probed yet (its first compiles): its programs
                // are being digested (~0.1 s for gcc's cc1), which the manifest key needs and
                // the preprocessor does not. The preprocessor runs beside, as it would after
                // a direct miss; on a direct hit its text and any restore it made ready are
                // dropped, which changes no target.
                let verbose = services.storage.writable;
                let (looked, source) = futures::join!(
                    look_up,
                    source(services, compilation, request, early_hit, verbose)
                );
                preprocessed = Some(source);
                looked
            };
            match looked {
                None => return Keyed::Refused("unknown driver programs"),
                Some(Looked::Hit(keyed)) => return keyed,
                // A read-only cache gets no manifest: none is made to be declined.
                Some(Looked::Miss(found)) => direct = found.filter(|_| services.storage.writable),
            }
        }
        // A direct miss to record, the preprocessor not run yet: the compile runs at once and
        // is keyed from what it read (`c_depend`), where that applies.
        if let Some(found) = direct.take_if(|_| preprocessed.is_none()) {
            let Some(identity) = identity.clone().await else {
                return Keyed::Refused("unknown driver programs");
            };
            let clang = info.kind == CompilerKind::Clang;
            match c_depend::after_compile(services, &identity, compilation, request, found, clang) {
                Ok((later, args)) => {
                    let added = crate::flow::family::Added {
                        args,
                        env: Vec::new(),
                    };
                    return Keyed::AfterCompile(later, added);
                }
                Err(found) => direct = Some(found),
            }
        }
        let source = match preprocessed {
            Some(source) => source,
            None => source(services, compilation, request, early_hit, direct.is_some()).await,
        };
        let Some(source) = source else {
            // The compile would fail the same way (or the scratch file could not be made);
            // it runs so that the user sees the compiler's own errors, and nothing is cached.
            return Keyed::Refused("preprocessor failed");
        };
        if let Some(reason) = source.summary.refusal {
            // The preprocessed text is not needed for the compile: the scratch file goes
            // with `source`, now rather than after a compile that may take minutes.
            return Keyed::Refused(reason);
        }
        let Some(identity) = identity.await else {
            return Keyed::Refused("unknown driver programs");
        };
        let key = match (&source.early, &source.scratch) {
            (Some(early), _) => early.key,
            (None, Some(scratch)) => {
                let key = key_of(&source.summary, &identity);
                match with_read_files(services, scratch, request, key).await {
                    Ok(key) => key,
                    Err(reason) => return Keyed::Refused(reason),
                }
            }
            (None, None) => key_of(&source.summary, &identity),
        };
        log::debug!(
            "{:?}: key {key} after {:?} (preprocess and hash{})",
            compilation.input,
            started.elapsed(),
            if source.early.is_some() {
                ", early"
            } else {
                ""
            }
        );
        // With a manifest to update, the scratch file goes to the record, made after the reply.
        let (scratch, follow_up) = match (direct, source.scratch) {
            (Some(direct), Some(scratch)) => {
                let preprocessed = Preprocessed {
                    scratch,
                    stderr: source.stderr,
                    started: source.read.started(),
                    anchors: source.read.anchors(),
                    cwd: PathBuf::from(&request.cwd),
                };
                let record = c_direct::record(services, direct, preprocessed, key);
                (None, Some(record))
            }
            (_, scratch) => (scratch, None),
        };
        Keyed::Key {
            key,
            early: source.early,
            scratch,
            read: Some(Box::new(source.read)),
            follow_up,
        }
    }
}

/// The digest of what the driver runs and reads for this compile (`driver_probe`): remembered,
/// so a hit only stats the files it found.
///
/// The question is sent at once, on a task of its own, so that it runs beside the
/// preprocessor; the answer is shared by the early path and the ordinary one. `None` when the
/// driver's programs cannot be told.
fn probe_identity(
    services: &Services,
    info: &CompilerInfo,
    compilation: &CCompilation,
    request: &CompileRequest,
) -> Identity {
    let message = ProbeDriver {
        exe: request.exe.clone(),
        cwd: request.cwd.clone(),
        env: request.env.clone(),
        driver_args: compilation.driver_args.clone(),
        language: compilation.language.as_x_arg(),
    };
    let probe_driver = services.probe_driver.clone();
    let asked = tokio::task::spawn_local(async move { probe_driver.send(message).await });
    let base = info.identity;
    let exe = request.exe.clone();
    async move {
        match asked.await {
            Ok(Ok(Ok(driver))) => Some(base.with_driver(&driver)),
            Ok(Ok(Err(error))) => {
                log::info!("{exe:?}: {error}");
                None
            }
            Ok(Err(error)) => {
                log::warn!("driver prober unavailable: {error}");
                None
            }
            Err(error) => {
                log::warn!("driver probe task failed: {error}");
                None
            }
        }
    }
    .boxed_local()
    .shared()
}

/// The compiler's identity with what its driver runs, once known (see `probe_identity`).
type Identity = Shared<LocalBoxFuture<'static, Option<CompilerIdentity>>>;

/// Whether `path` is a regular file, or nothing at all (the compiler then reports it). A stat
/// on a known path: allowed on the event loop.
fn is_regular_or_missing(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |metadata| metadata.is_file())
}

/// `key` extended by the files the preprocessor read, as they are on disk
/// (`hash_key::with_read_files`): what the compiler writes follows bytes of them that the
/// preprocessed text at `scratch` does not keep: debug info's columns follow whitespace, and a
/// diagnostic quotes its source line from the file, comments and all (also a file a `#line`
/// names, which the preprocessor never read). `None` when one cannot be read.
async fn with_read_files(
    services: &Services,
    scratch: &Path,
    request: &CompileRequest,
    key: CacheKey,
) -> Result<CacheKey, &'static str> {
    let read = services
        .digest_read_files
        .send(DigestReadFiles {
            text: scratch.to_path_buf(),
            cwd: PathBuf::from(&request.cwd),
        })
        .await;
    match read {
        Ok(Ok(files)) => Ok(hash_key::with_read_files(key, &files)),
        Ok(Err(ReadFilesError::Precompiled(path))) => {
            log::debug!(
                "{}: a precompiled header the compile may load",
                path.display()
            );
            Err("precompiled header")
        }
        Ok(Err(error)) => {
            log::info!("cannot digest a file the preprocessor read: {error}");
            Err("unreadable header")
        }
        Err(error) => {
            log::warn!("hasher unavailable: {error}");
            Err("unreadable header")
        }
    }
}

/// How a digest becomes this compile's key, with the compiler's identity.
type KeyOf<'a> = &'a dyn Fn(&SourceSummary, &CompilerIdentity) -> CacheKey;

/// What the early path needs to look a hit up and make its restore ready: the family's key
/// and what the shared steps would restore with.
#[derive(Clone, Copy)]
struct EarlyHit<'a> {
    key_of: KeyOf<'a>,
    identity: &'a Identity,
    request: &'a CompileRequest,
    restore: EarlyRestore<'a>,
}

/// The compile's source text, digested, with the lookup of its key when that was done early.
struct Source {
    summary: SourceSummary,
    early: Option<EarlyLookup>,
    /// The preprocessed text's file, removed once the client has its answer.
    scratch: Option<tempfile::TempPath>,
    /// What was read for the key, and since when.
    read: ReadSince,
    /// What the preprocessor printed on stderr (with `-v`, its include search list).
    stderr: Vec<u8>,
}

/// What the early path found, before it is known to be usable.
struct Early {
    digested: DigestedSource,
    lookup: Option<EarlyLookup>,
}

/// The compile of a miss reads its files again, after the preprocessor: `read` also checks
/// the files its dependency output names (`ReadSince::with_dependency_file`), the user's file
/// when the command line writes one, else ours, added to the compile (`-MD -MF`), also over a
/// user's output that goes nowhere (`-MD -MF /dev/null`), never over `-MF`/`-MT` without
/// `-MD` (`dependency_flags`). Left with
/// the preprocessor's files alone: a command line asking for dependencies in a way not told
/// apart (`-Wp,-MD,...`, an `@file`), and one that records its command line in the object
/// (`-frecord-command-line`), where our flags would show.
fn with_compile_dependencies(
    read: ReadSince,
    compilation: &CCompilation,
    request: &CompileRequest,
) -> ReadSince {
    let users = compilation
        .outputs
        .iter()
        .find(|output| output.role == sccache_core::compiler::OutputRole::DepFile);
    if let Some(users) = users {
        return read.with_users_dependency_file(PathBuf::from(&users.path));
    }
    // Ours goes after the user's flags, its `-MF` the last (the one the compilers take).
    let ours_changes_nothing = !c_depend::records_its_command_line(request)
        && dependency_flags(&request.args) != DependencyFlags::Other;
    match ours_changes_nothing {
        true => read.with_our_dependency_file(|path| {
            vec!["-MD".into(), "-MF".into(), path.as_os_str().to_owned()]
        }),
        false => read,
    }
}

/// What a command line asks of the dependency output, for adding ours.
#[derive(Debug, PartialEq)]
enum DependencyFlags {
    /// Nothing: ours goes to the compile as it is.
    None,
    /// Plain flags with `-MD` or `-MMD` (`-MP`, `-MG`, `-MF`, `-MT`, `-MQ` beside, joined to
    /// their value or before it): one more `-MD -MF` after them takes the output and changes
    /// nothing else.
    Plain,
    /// Anything else: `-MF` or `-MT` without `-MD` (gcc refuses them, and ours would make them
    /// work), `-M`/`-MM`, `-MD`-like words inside `-Wp,` or after `-Xpreprocessor`, gcc's long
    /// spellings, a response file.
    Other,
}

fn dependency_flags(args: &[std::ffi::OsString]) -> DependencyFlags {
    const PLAIN: [&[u8]; 4] = [b"-MD", b"-MMD", b"-MP", b"-MG"];
    const WITH_VALUE: [&[u8]; 3] = [b"-MF", b"-MT", b"-MQ"];
    let (mut any, mut writes) = (false, false);
    let mut args = args.iter().map(|arg| arg.as_encoded_bytes());
    while let Some(arg) = args.next() {
        // A preprocessor option passed through: a dependency one is told apart no further.
        let passed: Vec<&[u8]> = match arg.strip_prefix(b"-Wp,") {
            Some(words) => words.split(|&byte| byte == b',').collect(),
            None if arg == b"-Xpreprocessor" => args.next().into_iter().collect(),
            None => Vec::new(),
        };
        if passed.iter().any(|word| word.starts_with(b"-M")) {
            return DependencyFlags::Other;
        }
        if !passed.is_empty() || arg.starts_with(b"-Wp,") {
            continue;
        }
        if [
            &b"--write-"[..],
            b"--dependencies",
            b"--user-dependencies",
            b"@",
        ]
        .iter()
        .any(|prefix| arg.starts_with(prefix))
        {
            return DependencyFlags::Other;
        }
        if !arg.starts_with(b"-M") {
            continue;
        }
        any = true;
        if WITH_VALUE.contains(&arg) {
            args.next();
        } else if PLAIN.contains(&arg) {
            writes |= arg == b"-MD" || arg == b"-MMD";
        } else if !WITH_VALUE.iter().any(|flag| arg.starts_with(flag)) {
            return DependencyFlags::Other;
        }
    }
    match (any, writes) {
        (false, _) => DependencyFlags::None,
        (true, true) => DependencyFlags::Plain,
        (true, false) => DependencyFlags::Other,
    }
}

/// The digest of the compile's source text: the preprocessor's output, written to a scratch
/// file and hashed on the hasher's threads, or the input itself where `-E` prints nothing.
/// `None` when the preprocessor fails or the text cannot be read. With `verbose`, the
/// preprocessor also reports its include search list (`-v`), for direct mode.
async fn source(
    services: &Services,
    compilation: &CCompilation,
    request: &CompileRequest,
    look_up: Option<EarlyHit<'_>>,
    verbose: bool,
) -> Option<Source> {
    let digest = |path: PathBuf| services.digest_source.send(DigestSource { path });
    if needs_no_preprocessing(compilation.language) {
        let input = Path::new(&request.cwd).join(&compilation.input);
        let files = ReadFiles {
            paths: vec![input.clone()],
            markers_in: None,
        };
        let read = ReadSince::now(files, Path::new(&request.cwd))
            .with_anchors(anchor_dirs::c(compilation, request));
        let digested = digest(input).await.ok()?.ok()?;
        return Some(Source {
            summary: digested.summary,
            early: None,
            scratch: None,
            read,
            stderr: Vec::new(),
        });
    }
    // A file rather than a pipe: the preprocessor writes it without waking the server for
    // every 4 KiB it prints, and on a memory file system that is the cheapest place to write.
    let scratch = crate::scratch::preprocessed().ok()?;
    let path = scratch.path().to_path_buf();
    // Made just now: its change time is the file system's clock before anything was read.
    let files = ReadFiles {
        paths: vec![PathBuf::from(&compilation.input)],
        markers_in: Some(path.clone()),
    };
    let read = ReadSince::from_marker(&path, files, Path::new(&request.cwd))
        .with_anchors(anchor_dirs::c(compilation, request));
    let read = with_compile_dependencies(read, compilation, request);
    // Without inotify (or out of watches), every hit takes the ordinary path.
    let watch = CloseWatch::new(&path).ok();
    let mut args = compilation.preprocess_args.clone();
    if verbose {
        args.push("-v".into());
    }
    args.push("-o".into());
    args.push(path.as_os_str().to_owned());
    let started = Instant::now();
    let (output, early) = run_and_look_early(
        services.run(&request.exe, args, request),
        early_lookup(services, watch.as_ref(), &path, look_up),
        watch.as_ref(),
    )
    .await;
    let output = output.ok()?;
    if !output.success() {
        return None;
    }
    let ran = started.elapsed();
    // Usable only if the close that started it was the file's last write and the file is
    // still the one that was read.
    let early = early.filter(|early| {
        watch.as_ref().is_some_and(|watch| watch.closes() == 1)
            && FileStamp::at(&path) == Some(early.digested.stamp)
    });
    let (summary, early) = match early {
        Some(early) => (early.digested.summary, early.lookup),
        None => (digest(path).await.ok()?.ok()?.summary, None),
    };
    let source = Source {
        summary,
        early,
        // Removed after the reply, on the event loop: unlinking on tmpfs costs less than
        // waking a blocking-pool thread to do it (bench/README.md has the figures).
        scratch: Some(scratch.into_temp_path()),
        read,
        stderr: output.stderr,
    };
    log::debug!(
        "preprocessor ran {:?} ({ran:?} with the dispatch), digest done at {:?}",
        output.duration,
        started.elapsed()
    );
    Some(source)
}

/// Runs the preprocessor and, beside it, the early digest and lookup, which start only when
/// the watch sees the output closed. When the preprocessor's driver exits first, an early path
/// that has already started is awaited (it is ahead of starting over); one that has not is
/// dropped.
async fn run_and_look_early(
    run: impl std::future::Future<Output = Result<ProcessOutput, RunError>>,
    early: impl std::future::Future<Output = Option<Early>>,
    watch: Option<&CloseWatch>,
) -> (Result<ProcessOutput, RunError>, Option<Early>) {
    tokio::pin!(run);
    tokio::pin!(early);
    tokio::select! {
        biased;
        found = &mut early => (run.await, found),
        output = &mut run => {
            let started = watch.is_some_and(|watch| watch.seen());
            (output, if started { early.await } else { None })
        }
    }
}

/// Once the scratch file is closed after writing: its digest, the fetch of the key it makes
/// with `look_up` (counted only if the result is kept; none without `look_up`) and, on a hit,
/// the restore made ready (put in place only if the result is kept). `None` at once without
/// a watch, and when the watch fails.
async fn early_lookup(
    services: &Services,
    watch: Option<&CloseWatch>,
    path: &Path,
    look_up: Option<EarlyHit<'_>>,
) -> Option<Early> {
    watch?.closed().await.ok()?;
    let digested = services
        .digest_source
        .send(DigestSource {
            path: path.to_path_buf(),
        })
        .await
        .ok()?
        .ok()?;
    let look_up = look_up.filter(|_| digested.summary.refusal.is_none());
    let lookup = match look_up {
        Some(EarlyHit {
            key_of,
            identity,
            request,
            restore,
        }) => match identity.clone().await {
            Some(identity) => {
                let key = key_of(&digested.summary, &identity);
                match with_read_files(services, path, request, key).await {
                    Ok(key) => Some(look_up_early(services, key, restore).await),
                    Err(_) => None,
                }
            }
            None => None,
        },
        None => None,
    };
    Some(Early { digested, lookup })
}

fn needs_no_preprocessing(language: Language) -> bool {
    matches!(
        language,
        Language::PreprocessedC | Language::PreprocessedCxx | Language::Assembler
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clang_by_the_name_of_cl_is_refused() {
        for name in [
            "clang-cl",
            "/usr/bin/clang-cl-14",
            "cl",
            "CL.EXE",
            "x/clang-cl.exe",
        ] {
            assert!(runs_in_cl_mode(std::ffi::OsStr::new(name)), "{name}");
        }
        for name in ["clang", "gcc", "/usr/bin/cc", "clang++", "cl-tool"] {
            assert!(!runs_in_cl_mode(std::ffi::OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn dependency_flags_are_sorted_by_what_ours_would_do_to_them() {
        let flags = |words: &[&str]| {
            let args: Vec<std::ffi::OsString> = words.iter().map(Into::into).collect();
            dependency_flags(&args)
        };
        assert_eq!(
            flags(&["-c", "a.c", "-Wp,-D_FORTIFY_SOURCE=2"]),
            DependencyFlags::None
        );
        assert_eq!(
            flags(&["-Xpreprocessor", "-DX=1", "-c"]),
            DependencyFlags::None
        );
        assert_eq!(flags(&["-MD", "-MF", "/dev/null"]), DependencyFlags::Plain);
        assert_eq!(
            flags(&["-MMD", "-MP", "-MTx.o", "-MQ", "y"]),
            DependencyFlags::Plain
        );
        // gcc refuses -MF without -MD: ours would make it work.
        assert_eq!(flags(&["-MF", "a.d"]), DependencyFlags::Other);
        assert_eq!(flags(&["-MT", "foo"]), DependencyFlags::Other);
        assert_eq!(flags(&["-M"]), DependencyFlags::Other);
        assert_eq!(flags(&["-Wp,-MD,a.d"]), DependencyFlags::Other);
        assert_eq!(flags(&["-Xpreprocessor", "-MD"]), DependencyFlags::Other);
        assert_eq!(flags(&["@args"]), DependencyFlags::Other);
        assert_eq!(flags(&["--write-dependencies"]), DependencyFlags::Other);
    }
}
