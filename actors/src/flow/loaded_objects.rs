//! The shared objects a rustc process loaded while it ran (its proc macros), from the dynamic
//! loader's own log: glibc's `LD_DEBUG=files`, written to `LD_DEBUG_OUTPUT` (one file per
//! process, the path with `.<pid>` added) in the server's private directory for them
//! (`scratch::loader_logs`), under a name of the compile's own.
//!
//! A crate that uses a proc macro re-exported by a dependency (`pub use pm::answer`, as
//! `serde` re-exports its derive) names no file of the macro on its command line, and the
//! dependency's metadata names the macro by crate hash alone; that hash does not change when
//! the macro's shared object does for a reason outside its sources (a C library it links, a
//! `CFLAGS` its build script reads). What the loader opened is what rustc ran, so every
//! object it loaded goes into the key, by file name and digest, and into the direct record.
//!
//! The log is trusted only when it is a rustc's: a process file that names rustc's own
//! `librustc_driver` (a rustc that is no glibc program, or a loader that ignores the
//! variables, writes none, and then nothing is known: the compile is not stored). A library
//! a loaded object brings in (`needed by` it: a proc macro linked against a shared C library)
//! is one more object, found by the path its initialisation was called at (`calling init:`);
//! one without such a line, or an object loaded by name without a path, is refused. Such a
//! library was found by the loader's own search (`LD_LIBRARY_PATH`, a run path, `$ORIGIN`),
//! which no record can replay: it is keyed, never recorded (`Loaded::needed`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The variables this module sets; a compile that reads either (`env!`) would see this
/// module's values, not the user's, and is not stored.
pub const VARS: [&str; 2] = ["LD_DEBUG", "LD_DEBUG_OUTPUT"];

/// Why a compile's loaded objects cannot be known.
pub const SET_BY_USER: &str = "LD_DEBUG set in the environment";
pub const UNKNOWN: &str = "proc macros loaded unknown (no loader log)";
pub const BY_NAME: &str = "a shared object loaded by name";
pub const NEEDS_LIBRARY: &str = "a proc macro needs a library not found";
/// Why a compile that loaded objects cannot be recorded for direct mode (it is still stored).
pub const NEEDS_LIBRARY_UNRECORDED: &str = "a proc macro needs a shared library";
pub const OUTSIDE_SEARCH: &str = "a loaded object outside the crate search directories";
pub const NOT_UTF8: &str = "a loaded object's name not UTF-8";
pub const SAME_FILE_NAME: &str = "two loaded objects of one file name";
pub const READS_VARS: &str = "reads LD_DEBUG";
const NO_DIR: &str = "no directory for the loader's log";

/// What a compile loaded, by path as the loader named it (a relative one is from the
/// compile's directory), each once, sorted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// The objects rustc (or an object it loaded) opened by path: its proc macros.
    pub opened: Vec<String>,
    /// The libraries those brought in, found by the loader's search.
    pub needed: Vec<String>,
}

impl Loaded {
    /// Every object, opened and needed.
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.opened.iter().chain(&self.needed)
    }
}

/// A compile's loader log: the files `<dir>/<number>.<pid>` of the server's directory for
/// them, read and removed by `read` (or removed when dropped unread).
pub struct LoadLog {
    dir: PathBuf,
    /// The compile's own number, the start of its files' names.
    number: u64,
    read: bool,
}

impl LoadLog {
    /// A new log for a compile run with `env` (the request's); an error when the user set the
    /// loader's variables (their log is theirs) or the directory cannot be made.
    pub async fn make(env: &[(OsString, OsString)]) -> Result<LoadLog, &'static str> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        if env
            .iter()
            .any(|(name, _)| VARS.iter().any(|var| name == var))
        {
            return Err(SET_BY_USER);
        }
        let dir = tokio::task::spawn_blocking(crate::scratch::loader_logs)
            .await
            .ok()
            .flatten()
            .ok_or(NO_DIR)?;
        Ok(LoadLog {
            dir,
            number: NEXT.fetch_add(1, Ordering::Relaxed),
            read: false,
        })
    }

    /// The variables to add to the compile's environment.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let path = self.dir.join(self.number.to_string());
        vec![
            (VARS[0].into(), "files".into()),
            (VARS[1].into(), path.into_os_string()),
        ]
    }

    /// The objects the rustc process(es) loaded after they started.
    pub async fn read(mut self) -> Result<Loaded, &'static str> {
        self.read = true;
        let (dir, number) = (std::mem::take(&mut self.dir), self.number);
        tokio::task::spawn_blocking(move || loaded(&take_logs(&dir, number)))
            .await
            .unwrap_or(Err(UNKNOWN))
    }
}

impl Drop for LoadLog {
    fn drop(&mut self) {
        if self.read {
            return;
        }
        let (dir, number) = (std::mem::take(&mut self.dir), self.number);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || take_logs(&dir, number))),
            Err(_) => drop(take_logs(&dir, number)),
        }
    }
}

/// Whether a compile read (`env!`, `option_env!`) a variable this module set.
pub fn reads_vars(env_deps: &[String]) -> bool {
    env_deps.iter().any(|name| VARS.contains(&name.as_str()))
}

/// The name a loaded object is keyed by: its file name (cargo's carry the crate's metadata
/// hash), not its directory (the target directory's, which a result does not depend on).
pub fn key_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// `name` (an opened object, as the loader named it: rustc resolves links) spelled the way
/// the compile found it: through the first of its crate search directories (`search`, as
/// written, from `cwd`) that holds the same file under the same file name, or as an
/// `--extern` path (`externs`) to the same file. So a direct record checks the file that the
/// compile's search finds: a `target` that is a link to another directory now names another
/// file. `None` when neither holds it (a file by another name behind a link, a plugin a
/// proc macro opened itself): no record can say how it was found.
pub fn spelled(
    name: &str,
    search: &[OsString],
    externs: &[OsString],
    cwd: &Path,
) -> Option<String> {
    let identity = |path: &Path| std::fs::metadata(path).map(|meta| (meta.dev(), meta.ino()));
    let loaded = identity(&cwd.join(name)).ok()?;
    let through_search = search
        .iter()
        .map(|dir| PathBuf::from(dir).join(key_name(name)));
    let externs = externs.iter().map(PathBuf::from);
    through_search
        .chain(externs)
        .find(|path| identity(&cwd.join(path)).is_ok_and(|found| found == loaded))
        .and_then(|path| path.into_os_string().into_string().ok())
}

/// The compile's files in `dir` (`<number>.<pid>`), read and removed (one unreadable is left
/// out: it can only lose a rustc's log, which then counts as unknown).
fn take_logs(dir: &Path, number: u64) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let start = format!("{number}.");
    entries
        .flatten()
        .filter(|entry| entry.file_name().as_bytes().starts_with(start.as_bytes()))
        .filter_map(|entry| {
            let log = std::fs::read(entry.path()).ok();
            let _ = std::fs::remove_file(entry.path());
            log
        })
        .collect()
}

/// The objects loaded (`dynamically loaded by`) in the logs of rustc processes, and the
/// libraries those brought in, by path; or why they cannot be known.
fn loaded(logs: &[Vec<u8>]) -> Result<Loaded, &'static str> {
    let mut objects = Loaded::default();
    let mut a_rustc = false;
    for log in logs {
        let lines: Vec<Line> = log.split(|&byte| byte == b'\n').filter_map(line).collect();
        let is_rustc = lines.iter().any(|line| match line {
            Line::Needed { name, .. } => file_name(name).starts_with(b"librustc_driver"),
            _ => false,
        });
        if !is_rustc {
            continue;
        }
        a_rustc = true;
        let inits: Vec<&[u8]> = lines
            .iter()
            .filter_map(|line| match line {
                Line::Init { path } => Some(*path),
                _ => None,
            })
            .collect();
        // What rustc loaded after it started, and what those brought in, by path.
        let mut taken: Vec<&[u8]> = Vec::new();
        let text = |path: &[u8]| std::str::from_utf8(path).map(str::to_owned);
        for line in &lines {
            match line {
                Line::Loaded { name } if !name.contains(&b'/') => return Err(BY_NAME),
                Line::Loaded { name } => {
                    taken.push(name);
                    objects.opened.push(text(name).map_err(|_| NOT_UTF8)?);
                }
                Line::Needed { name, by } if taken.contains(by) => {
                    let path = match name.contains(&b'/') {
                        true => *name,
                        false => only_init_of(&inits, name).ok_or(NEEDS_LIBRARY)?,
                    };
                    taken.push(path);
                    objects.needed.push(text(path).map_err(|_| NOT_UTF8)?);
                }
                _ => {}
            }
        }
    }
    if !a_rustc {
        return Err(UNKNOWN);
    }
    for list in [&mut objects.opened, &mut objects.needed] {
        list.sort();
        list.dedup();
    }
    // The key names an object by its file name: two of one name would be told apart by
    // nothing but their digests, which two swapped files keep.
    let mut names: Vec<&str> = objects.all().map(|path| key_name(path)).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    if names.len() != count {
        return Err(SAME_FILE_NAME);
    }
    Ok(objects)
}

/// The one path among `inits` whose file name is `name`; `None` when none or several are (an
/// object of that name opened by path elsewhere: which one the loader found, the log does not
/// say).
fn only_init_of<'a>(inits: &[&'a [u8]], name: &[u8]) -> Option<&'a [u8]> {
    let mut found = inits.iter().copied().filter(|path| file_name(path) == name);
    let first = found.next()?;
    found.all(|other| other == first).then_some(first)
}

/// A line of the loader's `files` log that this module reads.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    /// `file=NAME [NS];  dynamically loaded by BY [NS]`: opened by `dlopen`.
    Loaded { name: &'a [u8] },
    /// `file=NAME [NS];  needed by BY [NS]`: a dependency of `BY` (`DT_NEEDED`).
    Needed { name: &'a [u8], by: &'a [u8] },
    /// `calling init: PATH`: an object's initialisation, with the path it was found at.
    Init { path: &'a [u8] },
}

/// Parses one line (`PID:\tfile=...`, `PID:\tcalling init: ...`); `None` for any other kind.
fn line(text: &[u8]) -> Option<Line<'_>> {
    const INIT: &[u8] = b"calling init: ";
    if let Some(at) = find(text, INIT) {
        if is_pid(&text[..at]) {
            let path = text[at + INIT.len()..].trim_ascii_end();
            return (!path.is_empty()).then_some(Line::Init { path });
        }
    }
    let at = find(text, b"file=")?;
    let (pid, rest) = text.split_at(at);
    if !is_pid(pid) {
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
        let by = rest[at + marker.len()..].trim_ascii_end();
        let by = without_namespace(by.strip_suffix(b"]")?)?;
        return Some(match loaded {
            true => Line::Loaded { name },
            false => Line::Needed { name, by },
        });
    }
    None
}

/// Whether `text` is a log line's start: blanks, the process id, `:`, blanks.
fn is_pid(text: &[u8]) -> bool {
    text.trim_ascii()
        .strip_suffix(b":")
        .is_some_and(|pid| !pid.is_empty() && pid.iter().all(u8::is_ascii_digit))
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
        let opened = Loaded {
            opened: vec!["/w/target/debug/deps/libpm-ff67.so".to_owned()],
            needed: vec![],
        };
        assert_eq!(loaded(&logs(&[&log])), Ok(opened));
        assert_eq!(loaded(&logs(&[RUSTC])), Ok(Loaded::default()));
    }

    #[test]
    fn no_rustc_log_is_unknown_and_other_processes_logs_are_ignored() {
        assert_eq!(loaded(&[]), Err(UNKNOWN));
        let linker = "     200:\tfile=libc.so.6 [0];  needed by /usr/bin/ld [0]\n     200:\tfile=/usr/lib/liblto_plugin.so [0];  dynamically loaded by /usr/bin/ld [0]\n";
        assert_eq!(loaded(&logs(&[linker])), Err(UNKNOWN));
        assert_eq!(loaded(&logs(&[linker, RUSTC])), Ok(Loaded::default()));
    }

    #[test]
    fn an_object_loaded_by_name_is_refused() {
        let by_name = format!(
            "{RUSTC}     18117:\tfile=libnss_files.so.2 [0];  dynamically loaded by /lib/libc.so.6 [0]\n"
        );
        assert_eq!(loaded(&logs(&[&by_name])), Err(BY_NAME));
    }

    #[test]
    fn a_library_a_proc_macro_needs_is_taken_by_the_path_it_was_initialised_at() {
        let needs = format!(
            "{RUSTC}{PM}     18117:\tfile=libssl.so.3 [0];  needed by /w/target/debug/deps/libpm-ff67.so [0]\n\
             18117:\tfile=libcrypto.so.3 [0];  needed by /usr/lib/libssl.so.3 [0]\n"
        );
        // Without the paths their initialisation was called at, they cannot be had.
        assert_eq!(loaded(&logs(&[&needs])), Err(NEEDS_LIBRARY));
        let inits = "     18117:\tcalling init: /usr/lib/libcrypto.so.3\n\
             18117:\t\n\
             18117:\tcalling init: /usr/lib/libssl.so.3\n";
        let found = format!("{needs}{inits}");
        let expected = Loaded {
            opened: vec!["/w/target/debug/deps/libpm-ff67.so".to_owned()],
            needed: vec![
                "/usr/lib/libcrypto.so.3".to_owned(),
                "/usr/lib/libssl.so.3".to_owned(),
            ],
        };
        assert_eq!(loaded(&logs(&[&found])), Ok(expected));
        // A library only rustc itself needed is not taken.
        let rustc_alone = format!("{RUSTC}{inits}");
        assert_eq!(loaded(&logs(&[&rustc_alone])), Ok(Loaded::default()));
    }

    #[test]
    fn two_objects_of_one_file_name_or_an_ambiguous_library_are_refused() {
        let plugins = format!(
            "{RUSTC}{PM}     18117:\tfile=/p1/plugin.so [0];  dynamically loaded by /w/target/debug/deps/libpm-ff67.so [0]\n\
             18117:\tfile=/p2/plugin.so [0];  dynamically loaded by /w/target/debug/deps/libpm-ff67.so [0]\n"
        );
        assert_eq!(loaded(&logs(&[&plugins])), Err(SAME_FILE_NAME));
        // `libh.so` opened by path from `B`, and needed by name, found elsewhere.
        let ambiguous = format!(
            "{RUSTC}{PM}     18117:\tfile=/B/libh.so [0];  dynamically loaded by /w/target/debug/deps/libpm-ff67.so [0]\n\
             18117:\tcalling init: /B/libh.so\n\
             18117:\tfile=libh.so [0];  needed by /w/target/debug/deps/libpm-ff67.so [0]\n\
             18117:\tcalling init: /dirA/libh.so\n"
        );
        assert_eq!(loaded(&logs(&[&ambiguous])), Err(NEEDS_LIBRARY));
    }

    #[test]
    fn lines_of_other_kinds_are_not_taken() {
        assert_eq!(line(b"     1:\tcalling fini: /a/b.so [0]"), None);
        assert_eq!(line(b"file=a [0];  needed by b [0]"), None);
        assert_eq!(line(b"  12:\tfile=a [x];  needed by b [0]"), None);
        assert_eq!(line(b":\tfile=a [0];  needed by b [0]"), None);
        assert_eq!(
            line(b"  12:\tfile=/a b/c.so [0];  dynamically loaded by /d [1]"),
            Some(Line::Loaded { name: b"/a b/c.so" })
        );
        assert_eq!(
            line(b"     1:\tcalling init: /a/file=b.so"),
            Some(Line::Init {
                path: b"/a/file=b.so"
            })
        );
    }

    #[test]
    fn an_object_is_keyed_by_its_file_name() {
        assert_eq!(
            key_name("/w/target/debug/deps/libpm-ff67.so"),
            "libpm-ff67.so"
        );
        assert_eq!(key_name("libpm.so"), "libpm.so");
    }

    #[test]
    fn an_opened_object_is_spelled_the_way_the_compile_found_it() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real/deps");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("libpm-1.so"), "pm").unwrap();
        std::os::unix::fs::symlink(root.path().join("real"), root.path().join("target")).unwrap();
        let loaded = real.join("libpm-1.so").to_string_lossy().into_owned();
        let search = [OsString::from("elsewhere"), OsString::from("target/deps")];
        let spell = |search: &[OsString], externs: &[OsString]| {
            spelled(&loaded, search, externs, root.path())
        };
        assert_eq!(
            spell(&search, &[]).as_deref(),
            Some("target/deps/libpm-1.so")
        );
        // Not through a search directory: by an extern to the same file, else not at all.
        let externs = [OsString::from("target/deps/libpm-1.so")];
        assert_eq!(
            spell(&search[..1], &externs).as_deref(),
            Some("target/deps/libpm-1.so")
        );
        assert_eq!(spell(&search[..1], &[]), None);
        // A link in a search directory to a file of another name is no spelling of it.
        std::fs::create_dir_all(root.path().join("links")).unwrap();
        std::os::unix::fs::symlink(real.join("libpm-1.so"), root.path().join("links/libpm.so"))
            .unwrap();
        assert_eq!(spell(&[OsString::from("links")], &[]), None);
    }

    #[test]
    fn a_compile_reading_the_loader_s_variables_is_told_apart() {
        assert!(reads_vars(&["LD_DEBUG".into()]));
        assert!(!reads_vars(&["HOME".into()]));
    }
}
