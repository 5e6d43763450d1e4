//! The one place that reads a compile request's environment: a variable's value, whether a
//! flag is set, and which inherited variables the server must not pass on.
//!
//! The environment is the client's, sent with the request; the server's own is never
//! consulted for a compile.

use sccache_core::config::env_flag;
use sccache_core::jobserver;
use sccache_core::protocol::CompileRequest;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The value of a variable in the client's environment, as it was set (one setting per name
/// after `decide`, which kept the first, as `getenv` finds it; else the last).
pub fn value<'a>(request: &'a CompileRequest, name: &str) -> Option<&'a OsStr> {
    lookup(&request.env, name)
}

/// The value of a variable in an environment as a request carries it (one setting per name
/// after `decide`'s `keep_first_settings`; else the last):
/// also for the detector's and driver prober's messages, which carry the request's.
pub fn lookup<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_os_str())
}

/// The value of a variable in the client's environment, when it is UTF-8.
pub fn text(request: &CompileRequest, name: &str) -> Option<String> {
    value(request, name).and_then(|value| value.to_str().map(str::to_owned))
}

/// A request's environment for a probe the server runs of its own accord (the detector's,
/// the driver's and the linker's): without the variables that make a compiler write into
/// files of the user's naming or print reports (`gcc::is_side_output_variable`).
pub fn for_probe(env: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    env.iter()
        .filter(|(name, _)| !sccache_core::compiler::gcc::is_side_output_variable(name))
        .cloned()
        .collect()
}

/// Whether the client's environment sets a variable at all (to anything, even empty).
pub fn is_set(request: &CompileRequest, name: &str) -> bool {
    value(request, name).is_some()
}

/// `SCCACHE_RECACHE`: the entry is to be replaced, not read.
pub fn recache(request: &CompileRequest) -> bool {
    env_flag(&|name| text(request, name), "SCCACHE_RECACHE")
}

/// Removes the jobserver variables that name the client's file descriptors: in the server
/// those numbers are closed or something else, and a compiler warns about it (rustc does: a
/// warning that would then be cached and replayed). A jobserver reached by a named pipe
/// (`fifo:`) stays. cargo's, when the client passed its descriptors, is given back to the
/// processes run for it under the server's numbers (`crate::jobserver`).
pub fn drop_inherited_jobserver(env: &mut Vec<(OsString, OsString)>) {
    env.retain(|(name, value)| {
        !(jobserver::VARS.iter().any(|n| name == n)
            && jobserver::names_descriptors(value.as_bytes()))
    });
}

/// Keeps the first setting of each variable, as `getenv` finds it: an environment may hold a
/// name twice (`execve` takes any list), and the compiler run by hand reads the first, where a
/// process started from the whole list (`Command::envs`) and every lookup took the last.
pub fn keep_first_settings(env: &mut Vec<(OsString, OsString)>) {
    // Every request pays the look; only one with a name set twice pays the copies.
    let mut seen = std::collections::HashSet::with_capacity(env.len());
    if env.iter().all(|(name, _)| seen.insert(name.as_os_str())) {
        return;
    }
    let mut kept = std::collections::HashSet::with_capacity(env.len());
    env.retain(|(name, _)| kept.insert(name.clone()));
}

/// Why a compile that reads the jobserver's variables is not stored.
const READS_JOBSERVER_VARS: &str = "reads the jobserver's variables";

/// Why a compile that read these variables (`env!`, `option_env!`; its dep-info's env-deps)
/// is not stored: it read one the server changes before it runs rustc, the jobserver's
/// (`reads_jobserver_vars`) or the loader's (`loaded_objects::reads_vars`).
pub fn reads_changed_vars(env_deps: &[String]) -> Option<&'static str> {
    if reads_jobserver_vars(env_deps) {
        Some(READS_JOBSERVER_VARS)
    } else if crate::flow::loaded_objects::reads_vars(env_deps) {
        Some(crate::flow::loaded_objects::READS_VARS)
    } else {
        None
    }
}

/// Whether a compile's source reads (`env!`, `option_env!`) one of the jobserver's variables,
/// which the server drops or renumbers before it runs rustc (`drop_inherited_jobserver`): what
/// it compiled is not what the client's environment would have made, so it is never stored.
fn reads_jobserver_vars(env_deps: &[String]) -> bool {
    env_deps
        .iter()
        .any(|name| sccache_core::jobserver::VARS.contains(&name.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_setting_of_a_name_is_the_one_kept() {
        let mut env: Vec<(OsString, OsString)> = [("A", "first"), ("B", "b"), ("A", "second")]
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        keep_first_settings(&mut env);
        assert_eq!(
            env,
            vec![("A".into(), "first".into()), ("B".into(), "b".into())]
        );
    }

    fn request(env: &[(&str, &str)]) -> CompileRequest {
        CompileRequest {
            exe: "cc".into(),
            args: Vec::new(),
            cwd: "/".into(),
            env: env
                .iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            stderr_is_terminal: false,
            umask: 0o022,
            stdin_is_null: false,
        }
    }

    #[test]
    fn the_last_setting_wins_and_empty_is_set() {
        let request = request(&[("A", "1"), ("A", "2"), ("B", "")]);
        assert_eq!(text(&request, "A").as_deref(), Some("2"));
        assert!(is_set(&request, "B"));
        assert!(!is_set(&request, "C"));
    }

    #[test]
    fn recache_reads_the_clients_flag() {
        assert!(recache(&request(&[("SCCACHE_RECACHE", "1")])));
        assert!(!recache(&request(&[])));
    }

    #[test]
    fn only_descriptor_jobservers_are_dropped() {
        let mut env: Vec<(OsString, OsString)> = vec![
            (
                "CARGO_MAKEFLAGS".into(),
                "-j --jobserver-fds=6,7 --jobserver-auth=6,7".into(),
            ),
            (
                "MAKEFLAGS".into(),
                "-j4 --jobserver-auth=fifo:/tmp/fifo".into(),
            ),
            ("MFLAGS".into(), "--jobserver-auth=3,4".into()),
            ("CARGO_PKG_NAME".into(), "foo".into()),
        ];
        drop_inherited_jobserver(&mut env);
        let kept: Vec<String> = env
            .iter()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["MAKEFLAGS", "CARGO_PKG_NAME"]);
    }
}
