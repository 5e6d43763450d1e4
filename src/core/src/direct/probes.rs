//! Which paths direct mode must find unchanged for an include search to end where it ended:
//! the search path a preprocessor reports (`-v`), and the candidates every file read could
//! have been found at instead.
//!
//! A preprocessor finds `#include "x/y.h"` (or `<x/y.h>`, `#include_next`, `-include`, a
//! `__has_include`) by trying `dir/x/y.h` in each directory of its search path (and the
//! including file's own directory for `"..."`), taking the first regular file. So the same
//! files are found again while every file read is unchanged and every candidate that was no
//! file is still none. The spelling an include used is not in the preprocessed text, and gcc
//! writes system headers' names canonicalized; so every trailing part of a file's name is
//! taken as a possible spelling, and tried in every directory that could have been searched.
//! That over-approximates the searches made, which only costs stats.
//!
//! Pure functions on names; the server stats them.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Above this many candidate paths, a result is not recorded for direct mode (checking it
/// would cost more than it saves).
pub const MAX_PROBES: usize = 200_000;

/// The directories a preprocessor run with `-v` reports on stderr: those it searches, and
/// those it left out as nonexistent or duplicate (a directory created later would be
/// searched). `None` when the report is not there or not whole.
pub fn search_dirs(stderr: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut dirs = Vec::new();
    let mut in_list = false;
    let mut ended = false;
    for line in stderr.split(|byte| *byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line
            .strip_prefix(b"ignoring nonexistent directory \"")
            .or_else(|| line.strip_prefix(b"ignoring duplicate directory \""))
        {
            dirs.push(rest.strip_suffix(b"\"")?.to_vec());
        } else if let Some(dir) = not_a_directory(line) {
            // gcc leaves out a search directory that is a file, with a warning instead.
            dirs.push(dir.to_vec());
        } else if line.ends_with(b"search starts here:") {
            in_list = true;
        } else if line == b"End of search list." {
            in_list = false;
            ended = true;
        } else if in_list {
            let dir = line.strip_prefix(b" ")?;
            if dir.ends_with(b" (headermap)") {
                // A header map is a file mapping names to paths: its contents would have to
                // be read and followed, which direct mode does not do.
                return None;
            }
            let dir = dir.strip_suffix(b" (framework directory)").unwrap_or(dir);
            dirs.push(dir.to_vec());
        }
    }
    ended.then_some(dirs)
}

/// The path of gcc's "`<program>: warning: <path>: not a directory`" line.
fn not_a_directory(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_suffix(b": not a directory")?;
    let at = memchr::memmem::find(rest, b": warning: ")?;
    Some(&rest[at + b": warning: ".len()..])
}

/// Whether a compile's command line or environment may include a file from the command line
/// (`-include`, `-imacros`): gcc and clang start that search in the working directory, which no
/// other search does unless it is on the search list or holds a file read. Conservative: any
/// option spelling `include` or `imacros` other than a search directory's, and anything that
/// passes options on out of sight (`-Wp,`, `-Xpreprocessor`, `-Xclang`, a response file, a
/// specs file, clang's `CCC_OVERRIDE_OPTIONS`), counts.
pub fn includes_from_command_line(args: &[OsString], env: &[(OsString, OsString)]) -> bool {
    const SEARCH_DIRS: [&[u8]; 8] = [
        b"-I",
        b"-isystem",
        b"-iquote",
        b"-idirafter",
        b"-iprefix",
        b"-iwithprefix",
        b"-isysroot",
        b"--sysroot",
    ];
    const PASSED_ON: [&[u8]; 6] = [
        b"-Wp,",
        b"-Xpreprocessor",
        b"-Xclang",
        b"@",
        b"-specs",
        b"--specs",
    ];
    let spells = |arg: &[u8], word: &[u8]| arg.windows(word.len()).any(|part| part == word);
    env.iter().any(|(name, _)| name == "CCC_OVERRIDE_OPTIONS")
        || args.iter().any(|arg| {
            let arg = arg.as_bytes();
            PASSED_ON.iter().any(|prefix| arg.starts_with(prefix))
                || (arg.starts_with(b"-")
                    && !SEARCH_DIRS.iter().any(|prefix| arg.starts_with(prefix))
                    && (spells(arg, b"include") || spells(arg, b"imacros")))
        })
}

/// The candidate paths of a compile's include searches, grouped by the directory that holds
/// them: every directory of `search` (the `-v` list), of the files read (for `"..."`
/// includes) and, when `from_command_line` (`includes_from_command_line`), `.` (where
/// `-include` starts), joined with every trailing part of each name read and with each
/// `extra` spelling (`__has_include` arguments). `None` above `MAX_PROBES`.
pub fn candidates(
    search: &[Vec<u8>],
    read: &[Vec<u8>],
    extra: &[Vec<u8>],
    from_command_line: bool,
) -> Option<BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>> {
    let mut bases: BTreeSet<&[u8]> = search.iter().map(Vec::as_slice).collect();
    if from_command_line {
        bases.insert(b".");
    }
    for name in read {
        bases.insert(parent(name));
    }
    let mut spellings: BTreeSet<&[u8]> = extra.iter().map(Vec::as_slice).collect();
    for name in read {
        spellings.extend(trailing_parts(name));
    }
    if bases.len().saturating_mul(spellings.len()) > MAX_PROBES {
        return None;
    }
    let mut by_dir: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for base in &bases {
        for spelling in &spellings {
            let path = join(base, spelling);
            let dir = join(base, parent_or_empty(spelling));
            by_dir.entry(dir).or_default().insert(path);
        }
    }
    Some(by_dir)
}

/// `name` and each of its trailing parts after a `/`: `a/b/c.h`, `b/c.h`, `c.h`. An absolute
/// name gives only its relative parts.
fn trailing_parts(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    let whole = (!name.starts_with(b"/")).then_some(name);
    let after_slashes = name
        .iter()
        .enumerate()
        .filter(|(_, byte)| **byte == b'/')
        .map(move |(at, _)| &name[at + 1..])
        .filter(|part| !part.is_empty());
    whole.into_iter().chain(after_slashes)
}

/// The directory part of a name, `.` when it has none.
fn parent(name: &[u8]) -> &[u8] {
    match name.iter().rposition(|byte| *byte == b'/') {
        Some(0) => b"/",
        Some(at) => &name[..at],
        None => b".",
    }
}

/// The directory part of a relative spelling, empty when it has none.
fn parent_or_empty(spelling: &[u8]) -> &[u8] {
    match spelling.iter().rposition(|byte| *byte == b'/') {
        Some(at) => &spelling[..at],
        None => b"",
    }
}

/// `base/rest`, or `base` alone when `rest` is empty.
fn join(base: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut path = base.to_vec();
    if !rest.is_empty() {
        if !path.ends_with(b"/") {
            path.push(b'/');
        }
        path.extend_from_slice(rest);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_list_includes_the_directories_left_out() {
        let stderr = b"ignoring nonexistent directory \"nope\"\n\
            cc1: warning: afile: not a directory\n\
            #include \"...\" search starts here:\n q\n\
            #include <...> search starts here:\n .\n /usr/include\nEnd of search list.\n";
        let dirs = search_dirs(stderr).unwrap();
        assert_eq!(dirs, [&b"nope"[..], b"afile", b"q", b".", b"/usr/include"]);
        assert_eq!(
            search_dirs(b"#include <...> search starts here:\n /x\n"),
            None
        );
    }

    #[test]
    fn every_spelling_is_tried_in_every_directory() {
        let search = vec![b"inc1".to_vec(), b"inc2".to_vec()];
        let read = vec![b"a.c".to_vec(), b"inc2/sub/conf.h".to_vec()];
        let found = candidates(&search, &read, &[b"maybe.h".to_vec()], true).unwrap();
        let inc1_sub = &found[&b"inc1/sub".to_vec()];
        assert!(inc1_sub.contains(&b"inc1/sub/conf.h".to_vec()));
        let inc1 = &found[&b"inc1".to_vec()];
        assert!(inc1.contains(&b"inc1/conf.h".to_vec()));
        assert!(inc1.contains(&b"inc1/maybe.h".to_vec()));
        // The including file's own directory, for "..." includes.
        assert!(found[&b"inc2/sub".to_vec()].contains(b"inc2/sub/maybe.h".as_slice()));
        assert!(found[&b".".to_vec()].contains(b"./conf.h".as_slice()));
        // The working directory only for a command line's own includes.
        let elsewhere = vec![b"src/a.c".to_vec(), b"inc2/sub/conf.h".to_vec()];
        let found = candidates(&search, &elsewhere, &[], false).unwrap();
        assert!(found
            .keys()
            .all(|dir| !dir.starts_with(b"./") && dir != b"."));
        let found = candidates(&search, &elsewhere, &[], true).unwrap();
        assert!(found[&b".".to_vec()].contains(b"./conf.h".as_slice()));
        let read_here = vec![b"a.c".to_vec(), b"h.h".to_vec()];
        let found = candidates(&search, &read_here, &[], false).unwrap();
        assert!(found[&b".".to_vec()].contains(b"./h.h".as_slice()));
    }

    #[test]
    fn a_command_line_include_is_seen_in_any_spelling() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let none: Vec<(OsString, OsString)> = Vec::new();
        for plain in [
            &["-c", "a.c", "-o", "a.o"][..],
            &[
                "-Iinclude",
                "-I",
                "/x/include",
                "-isystem/usr/include",
                "-c",
                "a.c",
            ],
            &["--sysroot=/opt/include", "-idirafter", "include"],
        ] {
            assert!(
                !includes_from_command_line(&args(plain), &none),
                "{plain:?}"
            );
        }
        for forced in [
            "-include",
            "-includeconf.h",
            "--include=conf.h",
            "-imacros",
            "--imacros=m.h",
            "-Wp,-include,x.h",
            "-Xpreprocessor",
            "-Xclang",
            "@flags",
            "-specs=my.specs",
            "-fsystem-include-if-exists",
        ] {
            assert!(
                includes_from_command_line(&args(&["-c", "a.c", forced]), &none),
                "{forced}"
            );
        }
        let overridden = vec![(
            OsString::from("CCC_OVERRIDE_OPTIONS"),
            OsString::from("+-include"),
        )];
        assert!(includes_from_command_line(
            &args(&["-c", "a.c"]),
            &overridden
        ));
    }
}
