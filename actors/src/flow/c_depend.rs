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
use crate::flow::read_since::Started;
use crate::flow::services::Services;
use crate::manifest_files::RecordListed;
use sccache_core::compiler::gcc::CCompilation;
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
    scratch_dir: &Path,
) -> Result<(KeyAfterCompile, Vec<OsString>), Direct> {
    if !services.direct_depend
        || asks_for_dependencies(&request.args)
        || services.depend_refused.contains(&direct.manifest_key())
    {
        return Err(direct);
    }
    let Some(probe_args) = c_search::probe_args(compilation) else {
        return Err(direct);
    };
    // Made now, before the compile starts: its change time is the file system's clock before
    // anything was read, which a record's files must have settled before.
    let Ok(scratch) = tempfile::Builder::new()
        .prefix("sccache-dep")
        .suffix(".d")
        .tempfile_in(scratch_dir)
    else {
        return Err(direct);
    };
    let scratch = scratch.into_temp_path();
    let started = Started::at(&scratch);
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
                };
                match services.record_listed.send(message).await {
                    Ok(recorded) => recorded,
                    Err(_) => Err("hasher unavailable"),
                }
            }
            .await;
            let mut recorded = recorded.map_err(|reason| {
                services.depend_refused.insert(manifest_key);
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

/// Whether the command line asks for dependency output itself (`-MD`, `-MMD`, `-M...`, through
/// `-Wp,`/`-Xpreprocessor` or gcc's long spellings), or holds a response file that might.
fn asks_for_dependencies(args: &[OsString]) -> bool {
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
