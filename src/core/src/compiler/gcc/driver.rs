//! What a gcc/clang driver does besides reading flags: the programs it runs (`cc1`, `as`, the
//! real clang behind a wrapper), the configuration files it reads, and how it expands flags
//! that depend on the machine (`-march=native`). The server learns these from the driver's own
//! dry run (`-###`) and keys them: `driver_args` picks the arguments that change that dry run,
//! `DryRun::read` reads its output.
//!
//! It must not run anything or touch a file: the server runs the probe, resolves bare program
//! names and stamps the files named here.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Arguments that change which programs the driver runs or how it expands the compile's flags,
/// as written: the program search (`-B`, toolchain and target choice, the assembler choice),
/// multilib, flags resolved on this machine (`native`), and the sanitizers (clang adds its
/// resource directory's ignorelist for each, a file the compile reads).
pub(super) fn driver_args(expanded: &[OsString]) -> Vec<OsString> {
    let mut chosen = Vec::new();
    let mut rest = expanded.iter();
    while let Some(arg) = rest.next() {
        let Some(s) = arg.to_str() else { continue };
        let separate = matches!(
            s,
            "-B" | "-target" | "-gcc-toolchain" | "--target" | "--gcc-toolchain" | "--sysroot"
        );
        if separate {
            chosen.push(arg.clone());
            if let Some(value) = rest.next() {
                chosen.push(value.clone());
            }
            continue;
        }
        let glued = s.starts_with("-B")
            || s.starts_with("--target=")
            || s.starts_with("--gcc-toolchain=")
            || s.starts_with("--sysroot=")
            || s.ends_with("=native")
            // The sanitizers (and clang's choice of their runtime and ignorelists).
            || s.starts_with("-fsanitize")
            || s.starts_with("-fno-sanitize")
            || matches!(
                s,
                "-fintegrated-as"
                    | "-fno-integrated-as"
                    | "-integrated-as"
                    | "-no-integrated-as"
                    | "-no-canonical-prefixes"
                    | "-m16"
                    | "-m32"
                    | "-m64"
                    | "-mx32"
            );
        if glued {
            chosen.push(arg.clone());
        }
    }
    chosen
}

/// The `-B` directories among driver arguments, where gcc and clang look for programs first.
pub fn program_dirs(driver_args: &[OsString]) -> Vec<OsString> {
    let mut dirs = Vec::new();
    let mut rest = driver_args.iter();
    while let Some(arg) = rest.next() {
        if arg == "-B" {
            dirs.extend(rest.next().cloned());
        } else if let Some(dir) = arg.as_bytes().strip_prefix(b"-B") {
            dirs.push(OsStr::from_bytes(dir).to_owned());
        }
    }
    dirs
}

/// What a driver's `-###` output says, with the probe's own file names taken out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DryRun {
    /// The output with every word naming a file under the probe's directory replaced by a
    /// placeholder (gcc's temporary files have random names): the same driver, flags and
    /// environment give the same text.
    pub text: Vec<u8>,
    /// The program of each command, as printed: a path, or a bare name the driver leaves to
    /// `PATH` (gcc does so for `as` when none is in its own directories).
    pub programs: Vec<OsString>,
    /// Configuration files clang read (`Configuration file: ...`).
    pub config_files: Vec<OsString>,
    /// gcc's program search directories (`COMPILER_PATH=...`), in order.
    pub search_dirs: Vec<OsString>,
    /// Who the driver says it is: gcc's `COLLECT_GCC=` (the name it was run by) or clang's
    /// `InstalledDir:` (the directory of the clang binary that ran). A wrapper that runs the
    /// driver shows the driver's, not its own.
    pub invoked_as: Option<OsString>,
    pub installed_dir: Option<OsString>,
    /// The system include directories clang's `-cc1` command lists (`-internal-isystem`,
    /// `-internal-externc-isystem`), as printed: some are there only because they exist.
    pub system_dirs: Vec<OsString>,
}

impl DryRun {
    /// Reads `-###` output; `probe_dir` is the directory the probe's input, output and
    /// temporary files were in, `cwd` the directory it ran in (clang passes it to cc1 for the
    /// debug info; the key has it where it matters, so the dry run's text must not depend on
    /// which directory probed first).
    pub fn read(output: &[u8], probe_dir: &OsStr, cwd: &OsStr) -> DryRun {
        let probe_dir = probe_dir.as_bytes();
        // `/` would be found in every path.
        let cwd = Some(cwd.as_bytes()).filter(|cwd| cwd.len() > 1);
        let mut dry_run = DryRun::default();
        for line in output.split(|byte| *byte == b'\n') {
            let words: Vec<Vec<u8>> = line
                .split(|byte| *byte == b' ')
                .map(|word| match cwd {
                    _ if contains(word, probe_dir) => b"<probe>".to_vec(),
                    Some(cwd) => replace(word, cwd, b"<cwd>"),
                    None => word.to_vec(),
                })
                .collect();
            dry_run.text.extend_from_slice(&words.join(&b' '));
            dry_run.text.push(b'\n');
            // clang notes ` (in-process)` before a cc1 it runs in its own process.
            let note = line.starts_with(b" (");
            if let Some(command) = line.strip_prefix(b" ").filter(|_| !note) {
                let mut words = command
                    .split(|byte| *byte == b' ')
                    .filter(|w| !w.is_empty());
                if let Some(program) = words.next() {
                    dry_run.programs.push(unquote(program));
                }
                let system = [
                    &b"\"-internal-isystem\""[..],
                    b"\"-internal-externc-isystem\"",
                ];
                while let Some(word) = words.next() {
                    if system.contains(&word) {
                        dry_run.system_dirs.extend(words.next().map(unquote));
                    } else if let Some(file) = read_by_the_command(word) {
                        // The sanitizers' ignorelists of clang's resource directory, which
                        // the driver adds and cc1 reads: files the compile depends on.
                        dry_run.config_files.push(file);
                    }
                }
            } else if let Some(name) = line.strip_prefix(b"COLLECT_GCC=") {
                dry_run.invoked_as = Some(OsStr::from_bytes(name).to_owned());
            } else if let Some(dir) = line.strip_prefix(b"InstalledDir: ") {
                dry_run.installed_dir = Some(OsStr::from_bytes(dir).to_owned());
            } else if let Some(file) = line.strip_prefix(b"Configuration file: ") {
                dry_run
                    .config_files
                    .push(OsStr::from_bytes(file).to_owned());
            } else if let Some(dirs) = line.strip_prefix(b"COMPILER_PATH=") {
                dry_run.search_dirs.extend(
                    dirs.split(|byte| *byte == b':')
                        .filter(|dir| !dir.is_empty())
                        .map(|dir| OsStr::from_bytes(dir).to_owned()),
                );
            }
        }
        dry_run
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// `word` with every occurrence of `from` replaced by `to`.
fn replace(word: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut replaced = Vec::with_capacity(word.len());
    let mut rest = word;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            replaced.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            replaced.push(rest[0]);
            rest = &rest[1..];
        }
    }
    replaced
}

/// The file a command's word names for the compiler to read, when the driver added it: the
/// sanitizers' ignorelists (`-fsanitize-system-ignorelist=`, also the older `blacklist`).
fn read_by_the_command(word: &[u8]) -> Option<OsString> {
    let word = unquote(word);
    let word = word.as_bytes();
    [
        &b"-fsanitize-system-ignorelist="[..],
        b"-fsanitize-system-blacklist=",
        b"-fsanitize-ignorelist=",
        b"-fsanitize-blacklist=",
    ]
    .iter()
    .find_map(|flag| word.strip_prefix(*flag))
    .map(|file| OsStr::from_bytes(file).to_owned())
}

/// A word as clang prints it (`"/usr/bin/as"`), without its quotes.
fn unquote(word: &[u8]) -> OsString {
    let word = word
        .strip_prefix(b"\"")
        .and_then(|word| word.strip_suffix(b"\""))
        .unwrap_or(word);
    OsStr::from_bytes(word).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn clang_s_listed_system_directories_are_read() {
        let output = b" \"/usr/bin/clang\" \"-cc1\" \"-internal-isystem\" \"/usr/local/include\" \
            \"-x\" \"c\" \"-internal-externc-isystem\" \"/usr/include/x86_64-linux-gnu\"\n";
        let dry_run = DryRun::read(output, OsStr::new("/tmp/p"), OsStr::new("/w"));
        assert_eq!(
            dry_run.system_dirs,
            os(&["/usr/local/include", "/usr/include/x86_64-linux-gnu"])
        );
        let output = b" \"/usr/bin/clang\" \"-cc1\" \"-fsanitize=address\" \
            \"-fsanitize-system-ignorelist=/r/share/asan_ignorelist.txt\"\n";
        let dry_run = DryRun::read(output, OsStr::new("/tmp/p"), OsStr::new("/w"));
        assert_eq!(dry_run.config_files, os(&["/r/share/asan_ignorelist.txt"]));
    }

    #[test]
    fn driver_args_are_the_ones_that_choose_programs_or_expand_on_this_machine() {
        let args = os(&[
            "-O2",
            "-B",
            "tools",
            "-Bmore",
            "-march=native",
            "-mtune=generic",
            "-c",
            "a.c",
            "-fno-integrated-as",
            "--target=x86_64-linux-gnu",
            "-target",
            "aarch64",
            "-I",
            "inc",
        ]);
        assert_eq!(
            driver_args(&args),
            os(&[
                "-B",
                "tools",
                "-Bmore",
                "-march=native",
                "-fno-integrated-as",
                "--target=x86_64-linux-gnu",
                "-target",
                "aarch64",
            ])
        );
        assert_eq!(program_dirs(&driver_args(&args)), os(&["tools", "more"]));
    }

    #[test]
    fn a_dry_run_names_programs_and_hides_the_probes_temporary_names() {
        let gcc = b"gcc version 12.2.0\n /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet /p/probe -o /p/ccAb12Cd.s\n as --64 -o /p/probe.o /p/ccAb12Cd.s\nCOMPILER_PATH=/usr/lib/gcc/x86_64-linux-gnu/12/:/usr/lib/gcc/\n";
        let read = DryRun::read(gcc, OsStr::new("/p"), OsStr::new("/w"));
        assert_eq!(
            read.programs,
            os(&["/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "as"])
        );
        assert_eq!(
            read.search_dirs,
            os(&["/usr/lib/gcc/x86_64-linux-gnu/12/", "/usr/lib/gcc/"])
        );
        let other = String::from_utf8_lossy(gcc).replace("ccAb12Cd", "ccQq34Rr");
        assert_eq!(
            DryRun::read(other.as_bytes(), OsStr::new("/p"), OsStr::new("/w")).text,
            read.text
        );
        let clang = b"InstalledDir: /usr/bin\nConfiguration file: /usr/bin/clang.cfg\n (in-process)\n \"/usr/lib/llvm-14/bin/clang\" \"-cc1\" \"/p/probe\" \"-fdebug-compilation-dir=/w/x\"\n";
        let read = DryRun::read(clang, OsStr::new("/p"), OsStr::new("/w/x"));
        let elsewhere = DryRun::read(clang, OsStr::new("/p"), OsStr::new("/w"));
        assert_ne!(read.text, elsewhere.text);
        let moved: Vec<u8> = String::from_utf8_lossy(clang)
            .replace("/w/x", "/v")
            .into_bytes();
        assert_eq!(
            DryRun::read(&moved, OsStr::new("/p"), OsStr::new("/v")).text,
            read.text
        );
        assert_eq!(read.programs, os(&["/usr/lib/llvm-14/bin/clang"]));
        assert_eq!(read.config_files, os(&["/usr/bin/clang.cfg"]));
    }
}
