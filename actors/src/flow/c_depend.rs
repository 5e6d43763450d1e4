//! Direct mode's depend path for the C family: on a direct miss, the compile runs at once with
//! `-MD -MF <scratch>` instead of after the preprocessor, and its result key is found afterwards
//! from the record of what it read (`hash_key::depend_key`), as ccache's depend mode does.
//!
//! ```text
//! direct miss ─▶ Keyed::AfterCompile(-MD -MF scratch.d): the shared steps run the compile, then
//!     the dependency file's names (direct::depfile) and the command line's include search
//!     list (c_search, remembered) ─RecordListed─▶ Hasher ─▶ depend_key(manifest key, record)
//!     ─▶ Store(result); after the reply Store(manifest, the record first)
//! ```
//!
//! Taken only for command lines that ask for no dependency output of their own (their file
//! would be ours to replace) and whose input can be told apart in the preprocessor's
//! arguments. A compile whose record cannot be made (a file changed while it compiled,
//! `__TIME__`, a precompiled header...) is not stored, and its manifest key is remembered so
//! that its next compile takes the preprocessor's path, which can store it by the text.
//! Why the key is sound is argued in docs/ARCHITECTURE.md ("Direct mode").

use crate::flow::c_direct::{self, Direct};
use crate::flow::c_search;
use crate::flow::family::{Ended, KeyAfterCompile, LateKey, Unkeyed};
use crate::flow::request_env;
use crate::flow::services::Services;
use crate::flow::started::Started;
use crate::manifest_record::RecordListed;
use sccache_core::compiler::gcc::CCompilation;
use sccache_core::compiler::Language;
use sccache_core::direct::depfile;
use sccache_core::hash_key::CompilerIdentity;
use sccache_core::protocol::CompileRequest;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The depend path for a direct miss, when it applies: the arguments to add to the compile and
/// how to key it afterwards. `None` leaves the compile to the preprocessor's path.
pub fn after_compile(
    services: &Services,
    identity: &CompilerIdentity,
    compilation: &CCompilation,
    request: &CompileRequest,
    direct: Direct,
    clang: bool,
) -> Result<(KeyAfterCompile, Vec<OsString>), Direct> {
    // Assembler with the preprocessor is left out: its macros can build a directive that
    // reads a file (`.incbin`) by token pasting, which no scan of the raw files sees and no
    // dependency file lists; the preprocessor's path scans the text the assembler gets.
    if !services.direct_depend
        || !matches!(
            compilation.language,
            Language::C | Language::Cxx | Language::ObjectiveC | Language::ObjectiveCxx
        )
        || asks_for_dependencies(&request.args)
        || records_its_command_line(request)
        || request
            .args
            .iter()
            .any(|arg| is_forced_include(arg.as_bytes()))
        || services.depend_refused.contains(&direct.manifest_key())
    {
        return Err(direct);
    }
    let Some(probe_args) = c_search::probe_args(compilation) else {
        return Err(direct);
    };
    // Beside the object, where the compile can surely write (a wrapper may run the compiler
    // where the server's scratch directory is not), hidden from globs; made now, before the
    // compile starts: its change time is the file system's clock before anything was read,
    // which a record's files must have settled before.
    let object_dir = compilation
        .outputs
        .first()
        .and_then(|object| Path::new(&object.path).parent())
        .map(|parent| Path::new(&request.cwd).join(parent))
        .unwrap_or_else(|| PathBuf::from(&request.cwd));
    let Ok(scratch) = crate::scratch::dependencies_beside_object(&object_dir) else {
        return Err(direct);
    };
    let scratch = scratch.into_temp_path();
    let started = Started::at(&scratch);
    let anchors = crate::flow::anchor_dirs::c(compilation, request);
    let added = vec!["-MD".into(), "-MF".into(), scratch.as_os_str().to_owned()];
    let services = services.clone();
    let identity = *identity;
    let request = request.clone();
    let later: KeyAfterCompile = Box::new(move |ended| {
        Box::pin(async move {
            if !matches!(ended, Ended::Succeeded) {
                return Err(Unkeyed::FailureKept("a failed C compile"));
            }
            let manifest_key = direct.manifest_key();
            let recorded = async {
                let text = tokio::fs::read(&scratch)
                    .await
                    .map_err(|_| "dependency file unreadable")?;
                drop(scratch);
                let names = depfile::prerequisites(&text).ok_or("dependency file unreadable")?;
                let search = c_search::search_list(&services, &identity, probe_args, &request)
                    .await
                    .ok_or("no include search list")?;
                let message = RecordListed {
                    names,
                    search,
                    cwd: PathBuf::from(&request.cwd),
                    started,
                    anchors,
                    listings: services.library_scan.clone(),
                    clang,
                };
                match services.record_listed.send(message).await {
                    Ok(recorded) => recorded,
                    Err(_) => Err("hasher unavailable"),
                }
            }
            .await;
            let mut recorded = recorded.map_err(|reason| {
                // A change while it compiled passes; anything else would refuse again.
                if !TRANSIENT.contains(&reason) {
                    services.depend_refused.insert(&manifest_key);
                }
                Unkeyed::NotRecorded(reason)
            })?;
            let key = recorded.depend_key(&manifest_key);
            recorded.result = key.0;
            let follow_up =
                Box::pin(async move { c_direct::store_record(&services, direct, recorded) });
            Ok(LateKey::Now {
                key,
                follow_up: Some(follow_up),
            })
        })
    });
    Ok((later, added))
}

/// Reasons a record could not be made that the next compile may not meet: a file read, or a
/// candidate, changed while this one compiled.
const TRANSIENT: &[&str] = &[
    crate::manifest_record::CHANGED_RECENTLY,
    "new file on the include path",
];

/// Whether the compile writes its own command line into its outputs (clang's
/// `-frecord-command-line`, `-grecord-gcc-switches` and kin, `-fembed-bitcode`; Apple's
/// `RC_DEBUG_OPTIONS`): the added `-MD -MF <scratch>` would be in the object.
pub fn records_its_command_line(request: &CompileRequest) -> bool {
    request_env::is_set(request, "RC_DEBUG_OPTIONS")
        || request.args.iter().any(|arg| {
            let arg = arg.as_bytes();
            contains(arg, b"record-command-line")
                || contains(arg, b"record-gcc-switches")
                || arg.starts_with(b"-fembed-bitcode")
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// `-include`/`--include` (and their joined spellings): gcc would take a precompiled header
/// for it where one is beside it, and list neither.
fn is_forced_include(arg: &[u8]) -> bool {
    arg.starts_with(b"-include") || arg.starts_with(b"--include")
}

/// Whether the command line asks for dependency output itself (`-MD`, `-MMD`, `-M...`, through
/// `-Wp,`/`-Xpreprocessor` or gcc's long spellings), or holds a response file that might.
pub fn asks_for_dependencies(args: &[OsString]) -> bool {
    args.iter().any(|arg| {
        let arg = arg.as_bytes();
        arg.starts_with(b"-M")
            || arg.starts_with(b"-Wp,")
            || arg.starts_with(b"-Xpreprocessor")
            || arg.starts_with(b"--write-")
            || arg.starts_with(b"--dependencies")
            || arg.starts_with(b"--user-dependencies")
            || arg.starts_with(b"@")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_command_line_with_dependency_output_of_its_own_is_left_alone() {
        assert!(!asks_for_dependencies(&args(&[
            "-c", "a.c", "-o", "a.o", "-Iinc"
        ])));
        for own in [
            "-MD",
            "-MMD",
            "-MF",
            "-MT",
            "-Wp,-MD,a.d",
            "-Xpreprocessor",
            "--write-dependencies",
            "@flags",
        ] {
            assert!(asks_for_dependencies(&args(&["-c", "a.c", own])), "{own}");
        }
    }
}
