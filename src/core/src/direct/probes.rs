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
            if dir.ends_with(b" (framework directory)") {
                // clang finds `<Foo/Bar.h>` there as `Foo.framework/Headers/Bar.h`, a
                // candidate this search does not make.
                return None;
            }
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

/// The candidate paths of a compile's include searches, grouped by the directory that holds
/// them: every directory of `search` (the `-v` list), of the files read (for `"..."`
/// includes) and `.` (for `-include`), joined with every trailing part of each name read and
/// with each `extra` spelling (`__has_include` arguments). `None` above `MAX_PROBES`.
pub fn candidates(
    search: &[Vec<u8>],
    read: &[Vec<u8>],
    extra: &[Vec<u8>],
) -> Option<BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>>> {
    let mut bases: BTreeSet<&[u8]> = search.iter().map(Vec::as_slice).collect();
    bases.insert(b".");
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
    // An absolute name (`#include "/opt/x.h"`, `__has_include("/opt/x.h")`) is searched for
    // nowhere but where it says.
    let (absolute, spellings): (BTreeSet<&[u8]>, BTreeSet<&[u8]>) = spellings
        .into_iter()
        .partition(|spelling| spelling.starts_with(b"/"));
    for spelling in absolute {
        by_dir
            .entry(parent(spelling).to_vec())
            .or_default()
            .insert(spelling.to_vec());
    }
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
        let found = candidates(&search, &read, &[b"maybe.h".to_vec()]).unwrap();
        let inc1_sub = &found[&b"inc1/sub".to_vec()];
        assert!(inc1_sub.contains(&b"inc1/sub/conf.h".to_vec()));
        let inc1 = &found[&b"inc1".to_vec()];
        assert!(inc1.contains(&b"inc1/conf.h".to_vec()));
        assert!(inc1.contains(&b"inc1/maybe.h".to_vec()));
        // The including file's own directory, for "..." includes.
        assert!(found[&b"inc2/sub".to_vec()].contains(b"inc2/sub/maybe.h".as_slice()));
        assert!(found[&b".".to_vec()].contains(b"./conf.h".as_slice()));
    }
}
