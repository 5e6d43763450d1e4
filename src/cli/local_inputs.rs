//! Inputs only this process can read: its stdin (`-`, `/dev/stdin`; `-` is no reason when
//! stdin is `/dev/null`, empty to any reader, as cargo gives its queries), its descriptors
//! (`/dev/fd/N`, `/proc/self/fd/N`, a shell's `<(...)`), and files that are not regular files
//! (a FIFO, a socket, a terminal). The server is another process with other descriptors: it
//! would compile an empty stdin into an empty object, fail to open the descriptor, or wait
//! forever on a FIFO while holding one of its compile slots. Such compiles run here.
//!
//! The check knows no compiler's flags (the client holds no parsing of them): it looks at every
//! argument. An argument that is not a flag, or an `@file`, is a path that is stat'ed; any
//! argument naming a descriptor by its spelling (`-include/dev/stdin` too) counts. Erring
//! towards a local compile costs only the cache.

use std::ffi::OsStr;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Why `args`, run from `cwd`, read something the server cannot see as this process does.
/// `stdin_is_null`: this process's stdin is `/dev/null` (`stdin_is_null`).
pub fn reason_to_compile_here(
    args: &[std::ffi::OsString],
    cwd: &Path,
    stdin_is_null: bool,
) -> Option<&'static str> {
    args.iter()
        .find_map(|arg| reason_for(arg, cwd, stdin_is_null))
}

/// Whether this process's standard input is `/dev/null` (the server runs every command with
/// that one).
pub fn stdin_is_null() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(null) = std::fs::metadata("/dev/null") else {
        return false;
    };
    let Ok(stdin) = rustix::fs::fstat(std::io::stdin()) else {
        return false;
    };
    rustix::fs::FileType::from_raw_mode(stdin.st_mode) == rustix::fs::FileType::CharacterDevice
        && stdin.st_rdev == null.rdev()
}

fn reason_for(arg: &OsStr, cwd: &Path, stdin_is_null: bool) -> Option<&'static str> {
    if arg == "-" {
        return (!stdin_is_null).then_some("stdin input");
    }
    let bytes = arg.as_encoded_bytes();
    // The same spellings the server's parser refuses.
    if sccache_core::compiler::names_descriptor(arg) {
        return Some("a descriptor of the client");
    }
    let path = match bytes.first() {
        Some(b'-') | None => return None,
        Some(b'@') => Path::new(OsStr::new(
            arg.to_str().and_then(|arg| arg.get(1..)).unwrap_or(""),
        )),
        Some(_) => Path::new(arg),
    };
    // `/dev/null` is an empty file to any reader; writing to it is the server's to refuse.
    if path == Path::new("/dev/null") {
        return None;
    }
    // A stat of an argument that names no file (a flag's value, a target) finds nothing.
    let file_type = std::fs::metadata(cwd.join(path)).ok()?.file_type();
    let special = file_type.is_fifo()
        || file_type.is_socket()
        || file_type.is_char_device()
        || file_type.is_block_device();
    special.then_some("not a regular file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn reason(args: &[&str], cwd: &Path) -> Option<&'static str> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        reason_to_compile_here(&args, cwd, false)
    }

    #[test]
    fn stdin_descriptors_and_special_files_compile_here() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.c"), "int a;").unwrap();
        let cwd = dir.path();
        assert_eq!(reason(&["-c", "a.c", "-o", "a.o"], cwd), None);
        assert_eq!(reason(&["-c", "a.c", "-o", "/dev/null"], cwd), None);
        assert_eq!(reason(&["-x", "c", "-c", "-"], cwd), Some("stdin input"));
        // An empty stdin (`/dev/null`) is the server's too.
        let dash: Vec<OsString> = ["-x", "c", "-c", "-"].map(OsString::from).to_vec();
        assert_eq!(reason_to_compile_here(&dash, cwd, true), None);
        for args in [
            &["-c", "/dev/stdin"][..],
            &["-c", "/dev/fd/63"],
            &["-c", "/proc/self/fd/0"],
            &["-include/dev/stdin", "-c", "a.c"],
            &["-include", "/dev/stdin", "-c", "a.c"],
            &["@/dev/stdin"],
        ] {
            assert_eq!(
                reason(args, cwd),
                Some("a descriptor of the client"),
                "{args:?}"
            );
        }
        let fifo = dir.path().join("fifo.c");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        assert_eq!(reason(&["-c", "fifo.c"], cwd), Some("not a regular file"));
        assert_eq!(reason(&["@fifo.c"], cwd), Some("not a regular file"));
        assert_eq!(
            reason(&["-c", "/dev/zero"], cwd),
            Some("not a regular file")
        );
    }
}
