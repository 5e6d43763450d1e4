//! The rustc compile flow, as cargo drives it through `RUSTC_WRAPPER`.
//!
//! ```text
//! Dispatcher  --Run(--emit=dep-info, private out dir)-->  the source files and env-deps
//! Hasher      --DigestFiles-->  sources, `--extern` crates, `-l static=` libraries
//! (hash_key::rust_key)          the key
//! compile::serve                lookup, restore or compile, collect
//! ```
//!
//! Owns the steps that are rustc's alone: learning what a compile reads from a dep-info-only run
//! of rustc, and keeping the output directory out of the entries. rustc writes the output
//! directory into the `.d` file (the rule targets) and into the `--json=artifacts` notices on
//! stderr; an entry holds a placeholder there instead, replaced by this invocation's output
//! directory on a hit, so a hit into another target directory reads as if compiled there.
//! It decides nothing about what goes into a key (that is `hash_key::rust_key`), and every
//! failure before the compile ends in running rustc uncached, so that the user sees rustc's
//! own errors.

use crate::compile::{compile_uncached, serve, EntryAdapter, PendingStore, Services};
use crate::detector::CompilerInfo;
use crate::hasher::DigestFiles;
use crate::outputs::OutputFile;
use sccache_core::compiler::rust::{self, DepInfo, RustCompilation};
use sccache_core::entry::CacheEntry;
use sccache_core::hash_key::{self, RustInputs};
use sccache_core::protocol::{CompileFinished, CompileRequest};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Stands for the output directory in stored `.d` files and artifact notices. It holds a NUL,
/// which no path can, so it never matches anything rustc wrote.
const OUT_DIR_PLACEHOLDER: &[u8] = b"\0sccache-out-dir\0";

/// The start of the notice rustc prints on stderr for each artifact under `--json=artifacts`.
const ARTIFACT_NOTICE: &[u8] = b"{\"artifact\":\"";

/// Runs an accepted rustc compile: from the cache when it can, from rustc when it must.
pub async fn execute(
    services: &Services,
    info: &CompilerInfo,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> (CompileFinished, PendingStore) {
    let started = Instant::now();
    let Some(dep_info) = read_dep_info(services, compilation, request).await else {
        let reason = Some("dep-info run failed");
        return (compile_uncached(services, request, reason).await, None);
    };
    let dep_info_time = started.elapsed();
    let Some(inputs) = digest_inputs(services, compilation, request, dep_info).await else {
        let reason = Some("unreadable input");
        return (compile_uncached(services, request, reason).await, None);
    };
    let key = hash_key::rust_key(
        &info.identity,
        compilation,
        &request.cwd,
        &request.env,
        &inputs,
    );
    log::debug!(
        "rust compile of {}: key {key} (dep-info run {dep_info_time:?}, digests {:?})",
        compilation.crate_name,
        started.elapsed() - dep_info_time
    );
    let out_dir = Path::new(&request.cwd).join(&compilation.out_dir);
    let targets: Vec<OutputFile> = compilation
        .outputs
        .iter()
        .map(|name| OutputFile {
            name: name.to_string_lossy().into_owned(),
            path: out_dir.join(name),
        })
        .collect();
    let label = info.kind.stats_label();
    let adapter = OutDir {
        compilation,
        written: out_dir_as_written(compilation),
    };
    serve(services, key, None, label, targets, request, &adapter).await
}

/// Keeps the output directory out of stored entries: rustc writes it into the `.d` file's
/// rule targets and into the artifact notices on stderr.
struct OutDir<'a> {
    compilation: &'a RustCompilation,
    /// The output directory as rustc writes it.
    written: Vec<u8>,
}

impl EntryAdapter for OutDir<'_> {
    fn for_store(&self, entry: &mut CacheEntry) {
        entry.stderr = replace_artifact_dir(&entry.stderr, &self.written, OUT_DIR_PLACEHOLDER);
        self.replace_in_dep_info(entry, &make_escape(&self.written), OUT_DIR_PLACEHOLDER);
    }

    fn for_restore(&self, entry: &mut CacheEntry) {
        entry.stderr = replace_artifact_dir(&entry.stderr, OUT_DIR_PLACEHOLDER, &self.written);
        self.replace_in_dep_info(entry, OUT_DIR_PLACEHOLDER, &make_escape(&self.written));
    }
}

impl OutDir<'_> {
    fn replace_in_dep_info(&self, entry: &mut CacheEntry, from: &[u8], to: &[u8]) {
        if let Some(name) = &self.compilation.dep_info {
            let name = name.to_string_lossy();
            if let Some(file) = entry.files.iter_mut().find(|file| file.name == name) {
                file.data = replace_rule_dir(&file.data, from, to);
            }
        }
    }
}

/// Runs rustc for the dep-info alone, in a private directory, and reads it. `None` when that
/// fails for any reason: the real compile will then show what is wrong.
async fn read_dep_info(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
) -> Option<DepInfo> {
    let temp = match tempfile::Builder::new()
        .prefix("sccache-dep-info")
        .tempdir()
    {
        Ok(temp) => temp,
        Err(error) => {
            log::warn!("cannot create a directory for the dep-info run: {error}");
            return None;
        }
    };
    let args = rust::dep_info_args(&request.args, temp.path().as_os_str());
    let output = services.run(&request.exe, args, request).await;
    match output {
        Ok(output) if output.success() => {}
        Ok(_) => return None,
        Err(error) => {
            log::warn!("cannot run rustc for the dep-info: {error}");
            return None;
        }
    }
    let path = temp.path().join(dep_info_name(compilation));
    match tokio::fs::read(&path).await {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(rust::parse_dep_info(&text)),
            Err(_) => {
                log::info!("dep-info {} is not UTF-8", path.display());
                None
            }
        },
        Err(error) => {
            log::warn!("rustc wrote no dep-info at {}: {error}", path.display());
            None
        }
    }
}

/// The name rustc gives the dep-info file of this compile.
fn dep_info_name(compilation: &RustCompilation) -> String {
    format!("{}{}.d", compilation.crate_name, compilation.extra_filename)
}

/// Digests every file the compile reads, on the hasher's threads: the sources in one message
/// and the crates and libraries in another, so both threads work.
async fn digest_inputs(
    services: &Services,
    compilation: &RustCompilation,
    request: &CompileRequest,
    dep_info: DepInfo,
) -> Option<RustInputs> {
    let cwd = Path::new(&request.cwd);
    let source_paths: Vec<PathBuf> = dep_info.files.iter().map(|f| cwd.join(f)).collect();
    let library_paths: Vec<PathBuf> = compilation
        .externs
        .iter()
        .map(|(_, path)| cwd.join(path))
        .chain(compilation.static_libs.iter().map(|path| cwd.join(path)))
        .collect();
    let (sources, libraries) = futures::join!(
        services.digest.send(DigestFiles {
            paths: source_paths
        }),
        services.digest.send(DigestFiles {
            paths: library_paths
        }),
    );
    let (sources, mut libraries) = match (sources, libraries) {
        (Ok(Ok(sources)), Ok(Ok(libraries))) => (sources, libraries),
        (Ok(Err(error)), _) | (_, Ok(Err(error))) => {
            log::info!("cannot digest an input of the compile: {error}");
            return None;
        }
        (Err(error), _) | (_, Err(error)) => {
            log::warn!("hasher unavailable: {error}");
            return None;
        }
    };
    let static_libs = libraries.split_off(compilation.externs.len().min(libraries.len()));
    Some(RustInputs {
        sources: dep_info.files.into_iter().zip(sources).collect(),
        externs: compilation
            .externs
            .iter()
            .map(|(name, _)| name.clone())
            .zip(libraries)
            .collect(),
        static_libs,
        env_deps: dep_info
            .env_deps
            .into_iter()
            .map(|(name, _)| name)
            .collect(),
    })
}

/// The output directory as rustc spells it in what it writes: as given, without a trailing
/// slash (the `.d` file escapes its spaces, see `make_escape`).
fn out_dir_as_written(compilation: &RustCompilation) -> Vec<u8> {
    let mut dir = compilation.out_dir.as_bytes();
    while dir.len() > 1 && dir.ends_with(b"/") {
        dir = &dir[..dir.len() - 1];
    }
    dir.to_vec()
}

/// A path as make-style dep-info writes it: spaces escaped with a backslash.
fn make_escape(path: &[u8]) -> Vec<u8> {
    let mut escaped = Vec::with_capacity(path.len());
    for &byte in path {
        if byte == b' ' {
            escaped.push(b'\\');
        }
        escaped.push(byte);
    }
    escaped
}

/// Replaces `from` by `to` where it starts a line and is followed by `/`: the rule targets of a
/// `.d` file, which are the outputs. Prerequisites (sources) are left alone.
fn replace_rule_dir(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&byte| byte == b'\n') {
        match line.strip_prefix(from) {
            Some(rest) if rest.starts_with(b"/") => {
                result.extend_from_slice(to);
                result.extend_from_slice(rest);
            }
            _ => result.extend_from_slice(line),
        }
    }
    result
}

/// Replaces `from` by `to` where it starts the path of an artifact notice on stderr. A
/// directory that JSON would escape is left alone: cargo reads only the notice's file
/// extension, so an old path there does no harm.
fn replace_artifact_dir(stderr: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let plain = |dir: &[u8]| {
        !dir.iter()
            .any(|&b| b == b'"' || b == b'\\' || b < 0x20 && b != 0)
    };
    if !plain(from) || !plain(to) {
        return stderr.to_vec();
    }
    let mut prefix = ARTIFACT_NOTICE.to_vec();
    prefix.extend_from_slice(from);
    prefix.push(b'/');
    let mut result = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&byte| byte == b'\n') {
        match line.strip_prefix(prefix.as_slice()) {
            Some(rest) => {
                result.extend_from_slice(ARTIFACT_NOTICE);
                result.extend_from_slice(to);
                result.push(b'/');
                result.extend_from_slice(rest);
            }
            None => result.extend_from_slice(line),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP_INFO: &[u8] = b"/t\\ a/debug/deps/foo-1.d: src/lib.rs /t\\ a/debug/deps/x.rs\n\
        \n\
        /t\\ a/debug/deps/libfoo-1.rmeta: src/lib.rs\n\
        \n\
        src/lib.rs:\n\
        \n\
        # env-dep:CARGO_PKG_NAME=foo\n";

    #[test]
    fn dep_info_targets_round_trip_through_the_placeholder() {
        let dir = make_escape(b"/t a/debug/deps");
        let stored = replace_rule_dir(DEP_INFO, &dir, OUT_DIR_PLACEHOLDER);
        // The targets are replaced; a prerequisite in the same directory is not.
        assert!(stored.starts_with(OUT_DIR_PLACEHOLDER));
        assert!(stored
            .windows(b"src/lib.rs /t\\ a/debug/deps/x.rs".len())
            .any(|w| w == b"src/lib.rs /t\\ a/debug/deps/x.rs"));
        let elsewhere = make_escape(b"/u/target/debug/deps");
        let restored = replace_rule_dir(&stored, OUT_DIR_PLACEHOLDER, &elsewhere);
        let text = String::from_utf8(restored).unwrap();
        assert!(text.contains("\n/u/target/debug/deps/libfoo-1.rmeta: src/lib.rs\n"));
        assert!(text.ends_with("src/lib.rs:\n\n# env-dep:CARGO_PKG_NAME=foo\n"));
        assert_eq!(
            replace_rule_dir(&stored, OUT_DIR_PLACEHOLDER, &dir),
            DEP_INFO
        );
    }

    #[test]
    fn artifact_notices_round_trip_and_other_lines_stay() {
        let diagnostic: &[u8] = b"{\"$message_type\":\"diagnostic\",\"rendered\":\"/t/d/x\"}\n";
        let notice =
            |dir: &str| format!("{{\"artifact\":\"{dir}/libfoo.rmeta\",\"emit\":\"metadata\"}}\n");
        let stderr = [diagnostic, notice("/t/d").as_bytes()].concat();
        let stored = replace_artifact_dir(&stderr, b"/t/d", OUT_DIR_PLACEHOLDER);
        assert_ne!(stored, stderr);
        assert!(stored.starts_with(diagnostic));
        let restored = replace_artifact_dir(&stored, OUT_DIR_PLACEHOLDER, b"/u/d");
        assert_eq!(restored, [diagnostic, notice("/u/d").as_bytes()].concat());
        // A directory JSON would escape is not touched.
        assert_eq!(
            replace_artifact_dir(&stderr, b"/t\"d", OUT_DIR_PLACEHOLDER),
            stderr
        );
    }
}
