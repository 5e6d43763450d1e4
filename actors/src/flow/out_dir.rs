//! Keeping the output directory out of rustc's cache entries.
//!
//! rustc writes the output directory into the `.d` file (the rule targets) and into the
//! `--json=artifacts` notices on stderr. An entry holds a placeholder there instead, replaced
//! by this invocation's output directory on a hit, so a hit into another target directory
//! reads as if compiled there. Sources named in the `.d` file are left alone.

use crate::flow::env_dep_values;
use crate::flow::family::EntryAdapter;
use sccache_core::compiler::rust::RustCompilation;
use sccache_core::entry::CacheEntry;
use std::os::unix::ffi::OsStrExt;

/// Stands for the output directory in stored `.d` files and artifact notices, as written there
/// (rustc writes a rule's targets as they are, spaces and all). It holds a NUL, which no path
/// can, so it never matches anything rustc wrote.
const OUT_DIR_PLACEHOLDER: &[u8] = b"\0sccache-out-dir\0";

/// Stands for the output directory where a `.d` file's rule target spells it with its spaces
/// escaped (`make_escape`), as prerequisites are: rustc 1.95 does not, but a version that did
/// gets its own spelling back.
const ESCAPED_OUT_DIR_PLACEHOLDER: &[u8] = b"\0sccache-escaped-out-dir\0";

/// The starts of the notice rustc prints on stderr for each artifact under `--json=artifacts`:
/// rustc 1.95's, then older ones'.
const ARTIFACT_NOTICES: [&[u8]; 2] = [
    b"{\"$message_type\":\"artifact\",\"artifact\":\"",
    b"{\"artifact\":\"",
];

/// Keeps the output directory out of stored entries: rustc writes it into the `.d` file's
/// rule targets and into the artifact notices on stderr.
pub struct OutDir<'a> {
    compilation: &'a RustCompilation,
    /// The compile's environment, whose env-dep values are kept out too (`env_dep_values`).
    env: &'a [(std::ffi::OsString, std::ffi::OsString)],
    /// The output directory as rustc writes it.
    written: Vec<u8>,
}

impl EntryAdapter for OutDir<'_> {
    fn for_store(&self, entry: &mut CacheEntry) {
        entry.stderr = replace_artifact_dir(&entry.stderr, &self.written, OUT_DIR_PLACEHOLDER);
        let escaped = make_escape(&self.written);
        let pairs: [(&[u8], &[u8]); 2] = [
            (&self.written, OUT_DIR_PLACEHOLDER),
            (&escaped, ESCAPED_OUT_DIR_PLACEHOLDER),
        ];
        self.rewrite_dep_info(entry, &pairs, env_dep_values::strip);
    }

    fn for_restore(&self, entry: &mut CacheEntry) {
        entry.stderr = replace_artifact_dir(&entry.stderr, OUT_DIR_PLACEHOLDER, &self.written);
        let escaped = make_escape(&self.written);
        let pairs: [(&[u8], &[u8]); 2] = [
            (OUT_DIR_PLACEHOLDER, &self.written),
            (ESCAPED_OUT_DIR_PLACEHOLDER, &escaped),
        ];
        self.rewrite_dep_info(entry, &pairs, env_dep_values::refill);
    }
}

/// Keeps env-dep values out (`env_dep_values::strip`) or puts them back (`refill`).
type EnvValues = fn(&[u8], &[(std::ffi::OsString, std::ffi::OsString)]) -> Vec<u8>;

impl OutDir<'_> {
    /// Rewrites the entry's dep-info, if it has one: its env-dep values by `values`, then its
    /// rule targets, each `(from, to)` pair of `pairs` in one pass.
    fn rewrite_dep_info(
        &self,
        entry: &mut CacheEntry,
        pairs: &[(&[u8], &[u8])],
        values: EnvValues,
    ) {
        let Some(name) = &self.compilation.dep_info else {
            return;
        };
        let name = name.to_string_lossy();
        if let Some(file) = entry.files.iter_mut().find(|file| file.name == name) {
            // A large dep-info file a backend keeps outside the entry is read in first.
            file.load();
            let outputs: Vec<&[u8]> = self
                .compilation
                .outputs
                .iter()
                .map(|output| output.as_bytes())
                .collect();
            file.data = replace_rule_dir(&values(&file.data, self.env), pairs, &outputs);
        }
    }
}

impl<'a> OutDir<'a> {
    /// The adapter for a compile's entries.
    pub fn new(
        compilation: &'a RustCompilation,
        env: &'a [(std::ffi::OsString, std::ffi::OsString)],
    ) -> Self {
        OutDir {
            compilation,
            env,
            written: out_dir_as_written(compilation),
        }
    }
}

/// The output directory as rustc spells it in what it writes: as given, without a trailing
/// slash.
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

/// Replaces, for the first `(from, to)` of `pairs` that starts a line and is followed by `/`,
/// one of the compile's `outputs` and a colon (a rule target of a `.d` file), `from` by `to`.
/// Prerequisites (sources) are left alone, also their own empty rules (`src/lib.rs:`) when
/// they lie under the out-dir.
fn replace_rule_dir(data: &[u8], pairs: &[(&[u8], &[u8])], outputs: &[&[u8]]) -> Vec<u8> {
    let targets_output = |rest: &[u8]| {
        rest.strip_prefix(b"/").is_some_and(|name| {
            outputs.iter().any(|output| {
                name.strip_prefix(*output)
                    .is_some_and(|after| after.starts_with(b":"))
            })
        })
    };
    let mut result = Vec::with_capacity(data.len());
    for line in data.split_inclusive(|&byte| byte == b'\n') {
        let replaced = pairs.iter().find_map(|(from, to)| {
            let rest = line.strip_prefix(*from)?;
            targets_output(rest).then_some((*to, rest))
        });
        match replaced {
            Some((to, rest)) => {
                result.extend_from_slice(to);
                result.extend_from_slice(rest);
            }
            None => result.extend_from_slice(line),
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
    let mut result = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|&byte| byte == b'\n') {
        let notice = ARTIFACT_NOTICES.iter().find_map(|notice| {
            let rest = line.strip_prefix(*notice)?.strip_prefix(from)?;
            Some((*notice, rest.strip_prefix(b"/")?))
        });
        match notice {
            Some((notice, rest)) => {
                result.extend_from_slice(notice);
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

    /// As rustc 1.95 writes it into `/t a/debug/deps`: targets as they are, prerequisites with
    /// their spaces escaped.
    const DEP_INFO: &[u8] = b"/t a/debug/deps/foo-1.d: src/lib.rs /t\\ a/debug/deps/x.rs\n\
        \n\
        /t a/debug/deps/libfoo-1.rmeta: src/lib.rs\n\
        \n\
        src/lib.rs:\n\
        \n\
        # env-dep:CARGO_PKG_NAME=foo\n";

    /// Stores `dep_info` written into `dir` and restores it into `into`, as the adapter does.
    fn round_trip(dep_info: &[u8], dir: &[u8], into: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let outputs: &[&[u8]] = &[b"foo-1.d", b"libfoo-1.rmeta", b"src/lib.rs.fake"];
        let (escaped_from, escaped_into) = (make_escape(dir), make_escape(into));
        let stored = replace_rule_dir(
            dep_info,
            &[
                (dir, OUT_DIR_PLACEHOLDER),
                (&escaped_from, ESCAPED_OUT_DIR_PLACEHOLDER),
            ],
            outputs,
        );
        let restored = replace_rule_dir(
            &stored,
            &[
                (OUT_DIR_PLACEHOLDER, into),
                (ESCAPED_OUT_DIR_PLACEHOLDER, &escaped_into),
            ],
            outputs,
        );
        (stored, restored)
    }

    #[test]
    fn dep_info_targets_round_trip_through_the_placeholder() {
        let dir = b"/t a/debug/deps";
        let (stored, restored) = round_trip(DEP_INFO, dir, b"/u v/target/debug/deps");
        // The targets are replaced; a prerequisite in the same directory is not.
        assert!(stored.starts_with(OUT_DIR_PLACEHOLDER));
        assert!(stored
            .windows(b"src/lib.rs /t\\ a/debug/deps/x.rs".len())
            .any(|w| w == b"src/lib.rs /t\\ a/debug/deps/x.rs"));
        let text = String::from_utf8(restored).unwrap();
        assert!(text.starts_with("/u v/target/debug/deps/foo-1.d: src/lib.rs /t\\ a/"));
        assert!(text.contains("\n/u v/target/debug/deps/libfoo-1.rmeta: src/lib.rs\n"));
        assert!(text.ends_with("src/lib.rs:\n\n# env-dep:CARGO_PKG_NAME=foo\n"));
        assert_eq!(round_trip(DEP_INFO, dir, dir).1, DEP_INFO);
        // A source under the out-dir keeps its own empty rule.
        let under = b"/t a/debug/deps/libfoo-1.rmeta: /t a/debug/deps/src/lib.rs\n\n/t a/debug/deps/src/lib.rs:\n";
        let (_, restored) = round_trip(under, dir, b"/u");
        assert_eq!(
            restored,
            b"/u/libfoo-1.rmeta: /t a/debug/deps/src/lib.rs\n\n/t a/debug/deps/src/lib.rs:\n"
        );
        // Targets spelled escaped come back escaped.
        let escaped = b"/t\\ a/debug/deps/libfoo-1.rmeta: src/lib.rs\n";
        let (_, restored) = round_trip(escaped, dir, b"/u v/d");
        assert_eq!(restored, b"/u\\ v/d/libfoo-1.rmeta: src/lib.rs\n");
    }

    #[test]
    fn artifact_notices_round_trip_and_other_lines_stay() {
        let diagnostic: &[u8] = b"{\"$message_type\":\"diagnostic\",\"rendered\":\"/t/d/x\"}\n";
        // Older rustc's notice, and 1.95's.
        let notices = [
            |dir: &str| format!("{{\"artifact\":\"{dir}/libfoo.rmeta\",\"emit\":\"metadata\"}}\n"),
            |dir: &str| {
                format!(
                    "{{\"$message_type\":\"artifact\",\"artifact\":\"{dir}/libfoo.rmeta\",\
                     \"emit\":\"metadata\"}}\n"
                )
            },
        ];
        for notice in notices {
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
}
