//! The include search list of a C compile's command line, for direct mode's depend path
//! (`c_depend`): what `<driver> <preprocessor args> -v` reports for an empty input, every
//! directory it searches and every one it left out as nonexistent or duplicate
//! (`direct::probes::search_dirs`), remembered per compiler, arguments, directory and
//! environment.
//!
//! Why remembering is sound: the report lists each configured directory whether it exists or
//! not (left-out ones as "ignoring ...", a file in a directory's place by gcc's warning), so
//! it depends on the driver (its identity is in the memo's key), the arguments, the
//! environment, the directory, and what each listed path is (nothing, a directory, a file:
//! clang reads an existing header map instead), which is checked again before a remembered
//! list is used (`kinds`). A record checks each directory it lists on every hit.

use crate::c_memos::SearchList;
use crate::flow::services::Services;
use sccache_core::compiler::gcc::CCompilation;
use sccache_core::direct::probes;
use sccache_core::hash_key::{CacheKey, CompilerIdentity, KeyWriter};
use sccache_core::protocol::CompileRequest;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

/// The arguments that make the driver report this compile's search list for an empty input:
/// the preprocessor's, with the input replaced by `-x <language> /dev/null`. `None` when the
/// input cannot be told apart from the other arguments.
pub fn probe_args(compilation: &CCompilation) -> Option<Vec<OsString>> {
    let args = &compilation.preprocess_args;
    let mut at = args
        .iter()
        .enumerate()
        .filter(|(_, arg)| **arg == compilation.input);
    let (index, _) = at.next()?;
    if at.next().is_some() {
        return None;
    }
    let mut probe = args[..index].to_vec();
    probe.extend([
        "-x".into(),
        compilation.language.as_x_arg().into(),
        "/dev/null".into(),
    ]);
    probe.extend_from_slice(&args[index + 1..]);
    probe.extend(["-v".into(), "-o".into(), "/dev/null".into()]);
    Some(probe)
}

/// The search list of `request`'s compile (with `args` from `probe_args`), remembered or asked
/// of the driver. `None` when the driver gives no whole report.
pub async fn search_list(
    services: &Services,
    identity: &CompilerIdentity,
    args: Vec<OsString>,
    request: &CompileRequest,
) -> Option<SearchList> {
    let key = memo_key(identity, &args, request);
    let cwd = Path::new(&request.cwd);
    if let Some((dirs, then)) = services.search_lists.get(&key) {
        if kinds(&dirs, cwd) == *then {
            return Some(dirs);
        }
    }
    let output = services.run(&request.exe, args, request).await.ok()?;
    if !output.success() {
        return None;
    }
    let dirs = Arc::new(probes::search_dirs(&output.stderr)?);
    let now = Arc::new(kinds(&dirs, cwd));
    services.search_lists.remember(key, (dirs.clone(), now));
    Some(dirs)
}

/// What each path of a search list is now, from `cwd`: nothing, a directory, a regular file or
/// something else. A remembered list is used only while these are as they were: the report
/// leaves out a "directory" that is a file (gcc warns instead) and reads a header map that
/// exists (clang), so what the paths are is part of what the report said.
fn kinds(dirs: &[Vec<u8>], cwd: &Path) -> Vec<u8> {
    dirs.iter()
        .map(
            |dir| match std::fs::metadata(cwd.join(OsStr::from_bytes(dir))) {
                Err(_) => 0,
                Ok(metadata) if metadata.is_dir() => 1,
                Ok(metadata) if metadata.is_file() => 2,
                Ok(_) => 3,
            },
        )
        .collect()
}

/// Everything the report depends on: the driver and what it runs, the arguments, the
/// directory and the whole environment.
fn memo_key(identity: &CompilerIdentity, args: &[OsString], request: &CompileRequest) -> CacheKey {
    let mut key = KeyWriter::new("c include search list");
    key.field("identity", &identity.digest);
    key.field("exe", request.exe.as_bytes());
    key.list("args", args.iter().map(OsString::as_os_str));
    key.field("cwd", request.cwd.as_bytes());
    for (name, value) in &request.env {
        key.field("env name", name.as_bytes());
        key.field("env value", value.as_bytes());
    }
    key.finish()
}
