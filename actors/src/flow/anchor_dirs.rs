//! Which directories each family anchors before a compile (`settled_path::Anchors`): those
//! a build writes into as it goes, whose times then say nothing about the way through them.

use crate::flow::settled_path::Anchors;
use sccache_core::compiler::gcc::{CCompilation, INCLUDE_PATH_VARS};
use sccache_core::compiler::rust::RustCompilation;
use sccache_core::protocol::CompileRequest;
use std::path::{Path, PathBuf};

/// The directories whose identity is taken before a rust compile for `settled_path`: the
/// working directory, the out-dir, the input's and the externs' directories, a linking
/// compile's search directories, and
/// cargo's `OUT_DIR`, each with its ancestors (cargo adds files to `target/debug` and its
/// `deps` and `build` all through a build). Stats on a miss only.
pub fn rust(compilation: &RustCompilation, request: &CompileRequest) -> Anchors {
    let parent = |path: &std::ffi::OsString| Path::new(path).parent().map(Path::to_path_buf);
    let search = compilation.link.iter().flat_map(|link| &link.search_dirs);
    let out_dir_var = request
        .env
        .iter()
        .find(|(name, _)| name == "OUT_DIR")
        .map(|(_, value)| PathBuf::from(value));
    let dirs = std::iter::once(PathBuf::from(&compilation.out_dir))
        .chain(parent(&compilation.input))
        .chain(
            compilation
                .externs
                .iter()
                .filter_map(|(_, path)| parent(path)),
        )
        .chain(search.map(|(_, dir)| PathBuf::from(dir)))
        .chain(out_dir_var);
    Anchors::capture(dirs, Path::new(&request.cwd))
}

/// The directories whose identity is taken before a C compile for `settled_path`: the
/// working directory, the input's and the outputs' directories and the command line's include
/// directories (`-I`, `-iquote`, `-isystem`, `-idirafter`), each with its ancestors (a build
/// adds files to its object directories as it goes). A stat each, before every compile whose
/// reads are checked afterwards.
pub fn c(compilation: &CCompilation, request: &CompileRequest) -> Anchors {
    let parent = |path: &std::ffi::OsStr| Path::new(path).parent().map(Path::to_path_buf);
    let outputs = compilation
        .outputs
        .iter()
        .map(|output| output.path.as_os_str());
    let include = include_dirs(&request.args);
    let named = include
        .iter()
        .cloned()
        .chain(environment_dirs(request))
        .collect();
    let dirs = std::iter::once(compilation.input.as_os_str())
        .chain(outputs)
        .filter_map(parent)
        .chain(include);
    Anchors::capture(dirs, Path::new(&request.cwd)).with_include_dirs(named)
}

/// The include directories the environment names (`CPATH` and the language ones; an empty
/// entry is the working directory).
fn environment_dirs(request: &CompileRequest) -> Vec<PathBuf> {
    request
        .env
        .iter()
        .filter(|(name, _)| INCLUDE_PATH_VARS.iter().any(|variable| name == variable))
        .flat_map(|(_, value)| {
            value
                .as_encoded_bytes()
                .split(|byte| *byte == b':')
                .map(|dir| PathBuf::from(bytes_os(if dir.is_empty() { b"." } else { dir })))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The include directories a command line names (`-I`, `-iquote`, `-isystem`, `-idirafter`,
/// joined to their value or before it).
fn include_dirs(args: &[std::ffi::OsString]) -> Vec<PathBuf> {
    const FLAGS: [&[u8]; 4] = [b"-I", b"-iquote", b"-isystem", b"-idirafter"];
    let mut dirs = Vec::new();
    let mut args = args.iter().map(|arg| arg.as_encoded_bytes());
    while let Some(arg) = args.next() {
        for flag in FLAGS {
            if arg == flag {
                dirs.extend(args.next().map(|dir| PathBuf::from(bytes_os(dir))));
                break;
            }
            if let Some(dir) = arg.strip_prefix(flag) {
                if flag != b"-I" || !dir.is_empty() {
                    dirs.push(PathBuf::from(bytes_os(dir)));
                }
                break;
            }
        }
    }
    dirs
}

fn bytes_os(bytes: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_directories_are_read_joined_or_apart() {
        let args: Vec<std::ffi::OsString> = [
            "-Iinc",
            "-I",
            "b",
            "-isystem",
            "/s",
            "-iquote=q",
            "-idirafter",
            "a",
            "-I",
            "-c",
        ]
        .map(Into::into)
        .to_vec();
        let dirs: Vec<PathBuf> = ["inc", "b", "/s", "=q", "a", "-c"]
            .map(PathBuf::from)
            .to_vec();
        assert_eq!(include_dirs(&args), dirs);
    }
}
