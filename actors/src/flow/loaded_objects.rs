//! The shared objects a rustc process loaded while it ran (its proc macros), from the dynamic
//! loader's own log: glibc's `LD_DEBUG=files`, written to `LD_DEBUG_OUTPUT` in a private
//! directory (one file per process, named by its pid).
//!
//! A crate that uses a proc macro re-exported by a dependency (`pub use pm::answer`, as
//! `serde` re-exports its derive) names no file of the macro on its command line, and the
//! dependency's metadata names the macro by crate hash alone; that hash does not change when
//! the macro's shared object does for a reason outside its sources (a C library it links, a
//! `CFLAGS` its build script reads). What the loader opened is what rustc ran, so every
//! object it loaded goes into the key, by digest, and into the direct record.
//!
//! The log is trusted only when it is a rustc's: a process file that names rustc's own
//! `librustc_driver` (a rustc that is no glibc program, or a loader that ignores the
//! variables, writes none, and then nothing is known: the compile is not stored). An object
//! a proc macro brings in by name (`needed by` it) or one loaded by name without a path is
//! beyond a digest taken here, and refused.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The variables this module sets; a compile that reads either (`env!`) would see this
/// module's values, not the user's, and is not stored.
pub const VARS: [&str; 2] = ["LD_DEBUG", "LD_DEBUG_OUTPUT"];

/// Why a compile's loaded objects cannot be known.
pub const SET_BY_USER: &str = "LD_DEBUG set in the environment";
pub const UNKNOWN: &str = "proc macros loaded unknown (no loader log)";
pub const BY_NAME: &str = "a shared object loaded by name";
pub const NEEDS_LIBRARY: &str = "a proc macro needs a shared library";
pub const NOT_UTF8: &str = "a loaded object's name not UTF-8";
pub const READS_VARS: &str = "reads LD_DEBUG";
const NO_DIR: &str = "no directory for the loader's log";

/// A private directory a rustc process's loader writes its log into; removed when dropped.
pub struct LoadLog {
    dir: tempfile::TempDir,
}

impl LoadLog {
    /// A new log for a compile run with `env` (the request's); an error when the user set the
    /// loader's variables (their log is theirs) or no directory can be made.
    pub async fn make(env: &[(OsString, OsString)]) -> Result<LoadLog, &'static str> {
        if env
            .iter()
            .any(|(name, _)| VARS.iter().any(|var| name == var))
        {
            return Err(SET_BY_USER);
        }
        let made = tokio::task::spawn_blocking(|| crate::private_dir::make("sccache-loads")).await;
        match made {
            Ok(Ok(dir)) => Ok(LoadLog { dir }),
            Ok(Err(error)) => {
                log::warn!("cannot create a directory for the loader's log: {error}");
                Err(NO_DIR)
            }
            Err(_) => Err(NO_DIR),
        }
    }

    /// The variables to add to the compile's environment.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            (VARS[0].into(), "files".into()),
            (VARS[1].into(), self.dir.path().join("ld").into_os_string()),
        ]
    }

    /// The objects the rustc process(es) loaded after they started, as the loader named them
    /// (a path; a relative one is from the compile's directory), each once, sorted.
    pub async fn read(self) -> Result<Vec<String>, &'static str> {
        tokio::task::spawn_blocking(move || {
            let logs = read_logs(self.dir.path());
            drop(self.dir);
            loaded(&logs)
        })
        .await
        .unwrap_or(Err(UNKNOWN))
    }
}

/// Whether a compile read (`env!`, `option_env!`) a variable this module set.
pub fn reads_vars(env_deps: &[String]) -> bool {
    env_deps.iter().any(|name| VARS.contains(&name.as_str()))
}

/// Every file in `dir`, read (one unreadable is left out: it can only lose a rustc's log,
/// which then counts as unknown).
fn read_logs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path()).ok())
        .collect()
}

/// The objects loaded (`dynamically loaded by`) in the logs of rustc processes, or why they
/// cannot be known.
fn loaded(logs: &[Vec<u8>]) -> Result<Vec<String>, &'static str> {
    let mut objects: Vec<String> = Vec::new();
    let mut a_rustc = false;
    for log in logs {
        let lines: Vec<Line> = log.split(|&byte| byte == b'\n').filter_map(line).collect();
        let is_rustc = lines.iter().any(|line| match line {
            Line::Needed { name, .. } => file_name(name).starts_with(b"librustc_driver"),
            Line::Loaded { .. } => false,
        });
        if !is_rustc {
            continue;
        }
        a_rustc = true;
        let opened: Vec<&[u8]> = lines
            .iter()
            .filter_map(|line| match line {
                Line::Loaded { name } => Some(*name),
                Line::Needed { .. } => None,
            })
            .collect();
        for line in &lines {
            match line {
                Line::Loaded { name } if !name.contains(&b'/') => return Err(BY_NAME),
                Line::Loaded { name } => {
                    let name = std::str::from_utf8(name).map_err(|_| NOT_UTF8)?;
                    objects.push(name.to_owned());
                }
                Line::Needed { by, .. } if opened.contains(by) => return Err(NEEDS_LIBRARY),
                Line::Needed { .. } => {}
            }
        }
    }
    if !a_rustc {
        return Err(UNKNOWN);
    }
    objects.sort();
    objects.dedup();
    Ok(objects)
}

/// A line of the loader's `files` log that says an object was mapped.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    /// `file=NAME [NS];  dynamically loaded by BY [NS]`: opened by `dlopen`.
    Loaded { name: &'a [u8] },
    /// `file=NAME [NS];  needed by BY [NS]`: a dependency of `BY` (`DT_NEEDED`).
    Needed { name: &'a [u8], by: &'a [u8] },
}

/// Parses one line (`PID:\tfile=...`); `None` for any other kind.
fn line(text: &[u8]) -> Option<Line<'_>> {
    let at = find(text, b"file=")?;
    let (pid, rest) = text.split_at(at);
    let pid = pid.trim_ascii();
    if !(pid.ends_with(b":") && pid[..pid.len() - 1].iter().all(u8::is_ascii_digit)) {
        return None;
    }
    let rest = &rest[b"file=".len()..];
    for (marker, loaded) in [
        (&b"];  dynamically loaded by "[..], true),
        (&b"];  needed by "[..], false),
    ] {
        let Some(at) = find(rest, marker) else {
            continue;
        };
        let name = without_namespace(&rest[..at])?;
        let by = without_namespace(
            rest[at + marker.len()..]
                .trim_ascii_end()
                .strip_suffix(b"]")?,
        )?;
        return Some(match loaded {
            true => Line::Loaded { name },
            false => Line::Needed { name, by },
        });
    }
    None
}

/// `NAME [NS` without ` [NS`.
fn without_namespace(text: &[u8]) -> Option<&[u8]> {
    let at = text.windows(2).rposition(|pair| pair == b" [")?;
    let namespace = &text[at + 2..];
    (!namespace.is_empty() && namespace.iter().all(u8::is_ascii_digit)).then_some(&text[..at])
}

fn find(text: &[u8], needle: &[u8]) -> Option<usize> {
    text.windows(needle.len())
        .position(|window| window == needle)
}

fn file_name(name: &[u8]) -> &[u8] {
    Path::new(OsStr::from_bytes(name))
        .file_name()
        .map_or(name, OsStrExt::as_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUSTC: &str = "\
     18117:\tfile=librustc_driver-6108105cd7e839cf.so [0];  needed by /t/bin/rustc [0]
     18117:\tfile=librustc_driver-6108105cd7e839cf.so [0];  generating link map
     18117:\t  dynamic: 0x00007fbc0dd02260  base: 0x00007fbc08e00000   size: 0x0000000007be2b8c
     18117:\tfile=libc.so.6 [0];  needed by /t/bin/rustc [0]
     18117:\tcalling init: /t/bin/../lib/librustc_driver-6108105cd7e839cf.so
     18117:\t
";
    const PM: &str = "     18117:\tfile=/w/target/debug/deps/libpm-ff67.so [0];  dynamically loaded by /t/bin/../lib/librustc_driver-6108105cd7e839cf.so [0]\n";

    fn logs(texts: &[&str]) -> Vec<Vec<u8>> {
        texts.iter().map(|text| text.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_rustc_s_log_gives_the_proc_macros_it_opened() {
        let log = format!("{RUSTC}{PM}{PM}");
        assert_eq!(
            loaded(&logs(&[&log])),
            Ok(vec!["/w/target/debug/deps/libpm-ff67.so".to_owned()])
        );
        assert_eq!(loaded(&logs(&[RUSTC])), Ok(vec![]));
    }

    #[test]
    fn no_rustc_log_is_unknown_and_other_processes_logs_are_ignored() {
        assert_eq!(loaded(&[]), Err(UNKNOWN));
        let linker = "     200:\tfile=libc.so.6 [0];  needed by /usr/bin/ld [0]\n     200:\tfile=/usr/lib/liblto_plugin.so [0];  dynamically loaded by /usr/bin/ld [0]\n";
        assert_eq!(loaded(&logs(&[linker])), Err(UNKNOWN));
        assert_eq!(loaded(&logs(&[linker, RUSTC])), Ok(vec![]));
    }

    #[test]
    fn an_object_by_name_or_a_library_a_proc_macro_needs_is_refused() {
        let by_name = format!(
            "{RUSTC}     18117:\tfile=libnss_files.so.2 [0];  dynamically loaded by /lib/libc.so.6 [0]\n"
        );
        assert_eq!(loaded(&logs(&[&by_name])), Err(BY_NAME));
        let needs = format!(
            "{RUSTC}{PM}     18117:\tfile=libanswer.so [0];  needed by /w/target/debug/deps/libpm-ff67.so [0]\n"
        );
        assert_eq!(loaded(&logs(&[&needs])), Err(NEEDS_LIBRARY));
    }

    #[test]
    fn lines_of_other_kinds_are_not_taken() {
        assert_eq!(
            line(b"     1:\tcalling init: /a/file=b.so [0];  needed by x [0]"),
            None
        );
        assert_eq!(line(b"file=a [0];  needed by b [0]"), None);
        assert_eq!(line(b"  12:\tfile=a [x];  needed by b [0]"), None);
        assert_eq!(
            line(b"  12:\tfile=/a b/c.so [0];  dynamically loaded by /d [1]"),
            Some(Line::Loaded { name: b"/a b/c.so" })
        );
    }

    #[test]
    fn a_compile_reading_the_loader_s_variables_is_told_apart() {
        assert!(reads_vars(&["LD_DEBUG".into()]));
        assert!(!reads_vars(&["HOME".into()]));
    }
}
