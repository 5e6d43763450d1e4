//! gcc and clang command lines (C, C++, Objective-C, assembler): which are cacheable compiles,
//! what files they write, and which of their arguments can change those files.
//!
//! It owns the reading of one command line: `@file` expansion, the flag table, the language of
//! the input, the outputs and the argument lists used for preprocessing and for the key. It must
//! not run the compiler, hash anything or touch any file other than reading `@file`s; a command
//! line it is unsure about is reported as not cacheable, because a cache hit must never be wrong.
//!
//! The reading is split by concept: `flags` is the flag table, `scan` is one pass over the
//! expanded arguments, `language` maps `-x` values and extensions to languages,
//! `response_file` expands `@file`s, and `asm_directives` is the scan of preprocessed text for
//! assembler directives that read files. This file holds the result types, `parse`, and the
//! decision of the outcome once the scan is done.

mod asm_directives;
mod driver;
mod flags;
mod language;
mod response_file;
mod scan;

pub use asm_directives::refusal_in_source;
pub use driver::{program_dirs, DryRun};

use super::{is_device, lexical, names_descriptor, Language, OutputRole, Parsed};
use flags::{lookup, Stop, Take::*};
use language::ext_language;
use response_file::expand_response_files;
use scan::Scan;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// The environment variables that add directories to gcc's and clang's include search (each a
/// `:`-separated list; an empty entry is the working directory). Every C key holds them.
pub const INCLUDE_PATH_VARS: [&str; 5] = [
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
];

/// One output file a compile writes, by role and by the path this invocation asked for
/// (relative paths are relative to the compile's working directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct COutput {
    pub role: OutputRole,
    pub path: OsString,
}

/// A cacheable gcc/clang compile of one source file to an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CCompilation {
    pub language: Language,
    /// The source file, as written on the command line.
    pub input: OsString,
    /// Every file the compile writes and a hit restores; the object comes first. An output to
    /// `/dev/null` is left out (and `DISCARDED_OUTPUT` is in the key).
    pub outputs: Vec<COutput>,
    /// The arguments that make the same compiler print this compile's preprocessed source on
    /// stdout: `<exe> <preprocess_args>`. They include `-E` and the input and write no file.
    pub preprocess_args: Vec<OsString>,
    /// Every argument that can change the outputs, in command-line order, with the paths of the
    /// files written (`-o`, `-MF`) left out so that the same compile to another place shares a
    /// key. Where an output's name is written into another output (the default `-MD` target,
    /// the `.dwo` name in the object, the `.gcda` path under `--coverage`), that name is in here.
    pub key_args: Vec<OsString>,
    /// Whether the working directory is written into an output (debug info, coverage), so that
    /// the key must include it.
    pub cwd_in_key: bool,
    /// Whether the object gets debug info. Its line tables carry columns, which whitespace in
    /// the middle of a line moves and the preprocessed text does not show; the key then takes
    /// the sources as they are on disk too.
    pub debug_info: bool,
    /// The arguments that change which programs the driver runs or how it expands flags on
    /// this machine (`-B`, `--target`, `-march=native`...): the server's dry run of the driver
    /// (`driver::DryRun`) is made with these, and its programs and text go into the key.
    pub driver_args: Vec<OsString>,
}

/// Reads a gcc or clang command line. `cwd` resolves `@file` response files and relative paths.
pub fn parse(args: &[OsString], cwd: &Path) -> Parsed<CCompilation> {
    let mut expanded = Vec::new();
    if let Err(reason) = expand_response_files(args, cwd, 0, &mut expanded) {
        return Parsed::NotCacheable(reason.into());
    }
    let mut scan = Scan::default();
    let mut rest = expanded.iter().cloned();
    while let Some(arg) = rest.next() {
        if names_descriptor(&arg) {
            // The server's own stdin or descriptors, not the client's (`-include /dev/stdin`,
            // `/dev/fd/63` from a shell's `<(...)`); the client compiles these itself.
            scan.refuse("reads a descriptor");
        }
        let is_flag = arg.as_encoded_bytes().first() == Some(&b'-') && arg != "-";
        if !is_flag {
            scan.pre.push(arg.clone());
            scan.inputs.push((arg, scan.x));
            continue;
        }
        let Some(s) = arg.to_str() else {
            scan.refuse("non-UTF-8 argument");
            continue;
        };
        let s = s.to_owned();
        let (take, role, name_len) = lookup(&s);
        let mut written = vec![arg];
        let value = match take {
            Separate | Either if s.len() == name_len => match rest.next() {
                Some(next) => {
                    written.push(next.clone());
                    Some(next)
                }
                None => {
                    scan.refuse("missing argument value");
                    continue;
                }
            },
            // Long options glue their value with `=`, short ones directly.
            Either if s.starts_with("--") => s
                .get(name_len..)
                .map(|v| v.strip_prefix('=').unwrap_or(v).into()),
            Either => s.get(name_len..).map(OsString::from),
            Alone | Separate | Prefix => None,
        };
        scan.flag(&s, role, value.as_deref(), &written);
    }
    if scan.record_f || scan.record_g {
        // The object holds the command line as given: `-o`, `-MF`, the input's path and
        // `@file` names included. Only the very same command line may share a key, so both
        // the arguments as given and as expanded go in, each list after its length.
        scan.key.push(RECORDED_COMMAND_LINE.into());
        for list in [args, &expanded[..]] {
            scan.key.push(list.len().to_string().into());
            scan.key.extend_from_slice(list);
        }
    }
    let driver_args = driver::driver_args(&expanded);
    finish(scan, cwd, driver_args)
}

/// Variables that make gcc or clang write something beside the compile's outputs on every run:
/// a dependency rule appended to a file of their naming (`DEPENDENCIES_OUTPUT`,
/// `SUNPRO_DEPENDENCIES`), or clang's reports of the headers, options, diagnostics and
/// statistics of each run (to stderr, or to the file a `..._FILE` variable names). A compile
/// with one of them set is not cacheable (a hit would write or print nothing), and the
/// server's own probes run without them, and without their `..._FILE` companions
/// (`is_side_output_variable`), lest they write into the user's files.
pub const SIDE_OUTPUT_ENV_VARS: &[&str] = &[
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "CC_PRINT_HEADERS",
    "CC_PRINT_OPTIONS",
    "CC_LOG_DIAGNOSTICS",
    "CC_PRINT_PROC_STAT",
    "CC_PRINT_INTERNAL_STAT",
];

/// Whether a variable is one of `SIDE_OUTPUT_ENV_VARS` or names where one of them writes or
/// how (`CC_PRINT_HEADERS_FILE`, `CC_PRINT_HEADERS_FORMAT`, ...).
pub fn is_side_output_variable(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    SIDE_OUTPUT_ENV_VARS
        .iter()
        .any(|var| name.starts_with(var.as_bytes()))
}

/// The key argument before the recorded command line (see `parse`).
pub const RECORDED_COMMAND_LINE: &str = "--sccache-recorded-command-line";

/// Whether a path written by the compile is `/dev/null`: an output thrown away, which a hit
/// need not restore (a syntax check, `-o /dev/null`, or `-MF /dev/null`).
fn is_null(path: &OsStr, cwd: &Path) -> bool {
    lexical(path, cwd) == Path::new("/dev/null")
}

/// The dependency file `-MD` writes without `-MF`: the object's name with its suffix replaced
/// by `.d`, where gcc counts a leading dot as a suffix (`-o .hid` writes `.d`; its `.dwo` and
/// `.gcno` are `.hid.dwo`, `.hid.gcno`, as `Path::with_extension` has them).
fn default_dep_file(object: &OsStr) -> OsString {
    let path = Path::new(object);
    let hidden_without_suffix = path.file_name().is_some_and(|name| {
        let name = name.as_encoded_bytes();
        name.first() == Some(&b'.') && !name[1..].contains(&b'.')
    });
    if hidden_without_suffix {
        return path.with_file_name(".d").into_os_string();
    }
    path.with_extension("d").into_os_string()
}

/// Whether `output` names the file `input` does: the same path, or (both existing) the same
/// file by device and inode, as gcc compares them.
fn names_the_input(output: &OsStr, input: &OsStr, cwd: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (output, input) = (lexical(output, cwd), lexical(input, cwd));
    if output == input {
        return true;
    }
    // The input is asked only when the output exists (most compiles write a new one).
    let Ok(output) = std::fs::metadata(&output) else {
        return false;
    };
    std::fs::metadata(&input)
        .is_ok_and(|input| output.dev() == input.dev() && output.ino() == input.ino())
}

/// The key argument naming an output thrown away (`-o /dev/null`): such a compile's entry
/// lacks that file, so it must never serve a compile that keeps it.
pub const DISCARDED_OUTPUT: &str = "--sccache-discarded-output";

/// Turns a finished scan into the outcome, in a fixed order of precedence: an early stop
/// (`-E`, `-M`, `-S`), then no `-c` (not a compile), then the first refusal, then the inputs.
fn finish(mut scan: Scan, cwd: &Path, driver_args: Vec<OsString>) -> Parsed<CCompilation> {
    if let Some(stop) = scan.stop {
        let label = match stop {
            Stop::Preprocess => "-E",
            Stop::Depend => "-M",
            Stop::Assemble => "-S",
        };
        return Parsed::NotCacheable(label.into());
    }
    if !scan.compile {
        return Parsed::NotCompilation;
    }
    // Which `-g0`/`-gsplit-dwarf` orders still write a `.dwo` differs across compiler versions.
    if scan.split_dwarf && scan.debug == Some(false) {
        scan.refuse("-gsplit-dwarf with -g0");
    }
    if let Some(reason) = scan.reason {
        return Parsed::NotCacheable(reason.into());
    }
    if scan.inputs.iter().any(|(input, _)| input == "-") {
        return Parsed::NotCacheable("stdin input".into());
    }
    let (input, x) = match scan.inputs.as_slice() {
        [] => return Parsed::NotCacheable("no input file".into()),
        [one] => one.clone(),
        _ => return Parsed::NotCacheable("multiple input files".into()),
    };
    // A device read as a source (`/dev/zero`, a terminal) never ends or is not a file to key.
    if is_device(&input, cwd) {
        return Parsed::NotCacheable("input from a device".into());
    }
    let language = match x.map_or_else(|| ext_language(&input), Ok) {
        Ok(language) => language,
        Err(reason) => return Parsed::NotCacheable(reason.into()),
    };
    let object = match (scan.output.take(), Path::new(&input).file_name()) {
        (Some(output), _) => output,
        (None, Some(name)) => PathBuf::from(name).with_extension("o").into_os_string(),
        (None, None) => return Parsed::NotCacheable("no input file".into()),
    };
    let sibling = |ext: &str| Path::new(&object).with_extension(ext).into_os_string();
    let mut outputs = vec![COutput {
        role: OutputRole::Object,
        path: object.clone(),
    }];
    if scan.dep_gen {
        let path = scan
            .dep_path
            .take()
            .unwrap_or_else(|| default_dep_file(&object));
        outputs.push(COutput {
            role: OutputRole::DepFile,
            path,
        });
        if !scan.dep_target {
            // The compiler's own default target is the object path, quoted like `-MQ` does.
            scan.key.extend(["-MQ".into(), object.clone()]);
        }
    }
    if scan.split_dwarf {
        outputs.push(COutput {
            role: OutputRole::SplitDwarf,
            path: sibling("dwo"),
        });
        scan.obj_in_key = true;
    }
    if scan.notes {
        outputs.push(COutput {
            role: OutputRole::CoverageNotes,
            path: sibling("gcno"),
        });
    }
    if scan.obj_in_key {
        scan.key.extend(["-o".into(), object.clone()]);
    }
    // An output to `/dev/null` is neither collected nor restored, and the key says so (the
    // entry lacks it). Any other device is refused: `/dev/stdout` would have to reach the
    // client's stdout, which the server cannot write, and a sibling of `/dev/null`
    // (`/dev/null.d`, `.dwo`) is no file a compile can write.
    let mut kept = Vec::with_capacity(outputs.len());
    for output in outputs {
        // gcc refuses to write over its input (clang overwrites it): a restore must never.
        if names_the_input(&output.path, &input, cwd) {
            return Parsed::NotCacheable("an output is the input".into());
        }
        if is_null(&output.path, cwd) {
            scan.key
                .extend([DISCARDED_OUTPUT.into(), output.role.entry_name().into()]);
        } else if is_device(&output.path, cwd) {
            return Parsed::NotCacheable("output to a device".into());
        } else {
            kept.push(output);
        }
    }
    let outputs = kept;
    if scan.macros_in_object() {
        // The object's debug info holds every macro definition, used or not; with `-dD` the
        // preprocessed text, and so the key, holds them too. Last, so it wins over a `-dN`.
        scan.pre.push("-dD".into());
    }
    scan.pre.push("-E".into());
    Parsed::Cacheable(CCompilation {
        language,
        input,
        outputs,
        preprocess_args: scan.pre,
        key_args: scan.key,
        // gas records the working directory in the line table of a source whose `.file`/`.loc`
        // directives name a relative file, with or without `-g`.
        cwd_in_key: scan.cwd_in_key
            || scan.debug == Some(true)
            || scan.split_dwarf
            || matches!(language, Language::Assembler | Language::AssemblerWithCpp),
        debug_info: scan.debug == Some(true) || scan.split_dwarf,
        driver_args,
    })
}

#[cfg(test)]
mod tests;
