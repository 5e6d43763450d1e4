//! gcc and clang command lines (C, C++, Objective-C, assembler): which are cacheable compiles,
//! what files they write, and which of their arguments can change those files.
//!
//! It owns the reading of one command line: `@file` expansion, the flag table, the language of
//! the input, the outputs and the argument lists used for preprocessing and for the key. It must
//! not run the compiler, hash anything or touch any file other than reading `@file`s; a command
//! line it is unsure about is reported as not cacheable, because a cache hit must never be wrong.

use super::{Language, OutputRole, Parsed};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

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
    /// Every file the compile writes; the object comes first.
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
}

/// How deep `@file`s may include further `@file`s; deeper nesting is almost surely a loop.
const MAX_RESPONSE_DEPTH: usize = 16;

/// How a table entry matches an argument and where its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// The argument is exactly the flag and has no value.
    Alone,
    /// The argument is exactly the flag and its value is the next argument.
    Separate,
    /// The value is the next argument (`-I dir`) or glued to the flag (`-Idir`, `--sysroot=dir`).
    Either,
    /// Any argument starting with the flag; whatever follows is part of the argument.
    Prefix,
}

/// Which phase of a compile stops early, in gcc's order of precedence (`-E` wins over all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    Preprocess,
    Depend,
    Assemble,
}

/// What a flag means to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Can change the output: goes to the preprocessor and into the key.
    Plain,
    /// `-c`.
    Compile,
    /// `-o`: names the object, so it is kept out of both lists.
    Output,
    /// `-x`: sets the language of the inputs that follow.
    Lang,
    /// `-MD`/`-MMD`: writes a dependency file, which `-E` must not do, so key only.
    DepGen,
    /// Shapes the dependency file's contents (`-MP`, `-MG`): key only.
    DepKey,
    /// `-MT`/`-MQ`: names the dependency target; key only.
    DepTarget,
    /// `-MF`: the dependency file's path; in neither list.
    DepPath,
    /// `-g...`: debug info level, split DWARF.
    Debug,
    /// `-arch`: clang builds one object per distinct value.
    Arch,
    /// `-Xclang`: passes its value to cc1, where plugins can be loaded.
    Xclang,
    /// `-Xpreprocessor`/`-Wp,`: dependency options passed this way would write files.
    ToPreprocessor,
    /// Coverage instrumentation: whether it writes notes and whether it embeds the `.gcda` path.
    Coverage { notes: bool, arcs: bool },
    /// `-frecord-gcc-switches`/`-frecord-command-line` and their negations: whether the whole
    /// command line, output path included, is written into the object.
    RecordsCommandLine(bool),
    /// clang's `-fdebug-macro`/`-fno-debug-macro`: whether macro definitions go into the
    /// debug info.
    DebugMacro(bool),
    /// `-P`: changes only what `-E` prints (no line markers), so key only; without the markers
    /// the input's and the headers' names would vanish from the preprocessed text.
    PrintOnly,
    /// `-fopt-info...`: prints to stderr, or with `=FILE` writes a file a hit would not restore.
    OptInfo,
    /// Makes the compiler stop before writing an object.
    Stop(Stop),
    /// Makes the compile uncacheable, with the reason shown in the stats.
    No(&'static str),
}

use Role::*;
use Take::*;

/// The flags that need more than "pass it on". Entries are tried in order and the first match
/// wins, so a flag must come before any shorter `Either`/`Prefix` flag it starts with.
/// Unknown flags are `Plain` and take no value; should one in fact take a separate value, that
/// value is read as a second input and the compile is refused, which keeps hits right.
#[rustfmt::skip]
static FLAGS: &[(&str, Take, Role)] = &[
    ("-c", Alone, Compile), ("--compile", Alone, Compile),
    ("-o", Either, Output), ("--output", Either, Output),
    ("-x", Either, Lang), ("--language", Either, Lang),
    ("-E", Alone, Stop(Stop::Preprocess)), ("--preprocess", Alone, Stop(Stop::Preprocess)),
    ("-M", Alone, Stop(Stop::Depend)), ("-MM", Alone, Stop(Stop::Depend)),
    ("--dependencies", Alone, Stop(Stop::Depend)),
    ("--user-dependencies", Alone, Stop(Stop::Depend)),
    ("-S", Alone, Stop(Stop::Assemble)), ("--assemble", Alone, Stop(Stop::Assemble)),
    ("-MD", Alone, DepGen), ("-MMD", Alone, DepGen),
    ("--write-dependencies", Alone, DepGen), ("--write-user-dependencies", Alone, DepGen),
    ("-MF", Either, DepPath), ("-MT", Either, DepTarget), ("-MQ", Either, DepTarget),
    ("-MP", Alone, DepKey), ("-MG", Alone, DepKey), ("-MV", Alone, DepKey),
    ("-MJ", Either, No("-MJ")),
    ("-include-pch", Separate, No("-include-pch")),
    ("-iwithprefixbefore", Either, Plain), ("-isystem-after", Either, Plain),
    ("-I", Either, Plain), ("-isystem", Either, Plain), ("-iquote", Either, Plain),
    ("-idirafter", Either, Plain), ("-include", Either, Plain), ("-imacros", Either, Plain),
    ("-iprefix", Either, Plain), ("-iwithprefix", Either, Plain), ("-isysroot", Either, Plain),
    ("-imultilib", Separate, Plain), ("-iframework", Either, Plain),
    ("-iwithsysroot", Either, Plain), ("-ivfsoverlay", Either, Plain),
    ("--sysroot", Either, Plain), ("--include-directory", Either, Plain),
    ("--define-macro", Either, Plain), ("--undefine-macro", Either, Plain),
    ("--include", Either, Plain), ("--param", Either, Plain),
    ("--target", Either, Plain), ("--gcc-toolchain", Either, Plain),
    ("-Xlinker", Separate, Plain), ("-Xassembler", Separate, Plain),
    ("-Xpreprocessor", Separate, ToPreprocessor), ("-Wp,", Prefix, ToPreprocessor),
    ("-Xclang", Separate, Xclang), ("-arch", Separate, Arch),
    ("-target", Separate, Plain), ("-mllvm", Separate, Plain),
    ("-gcc-toolchain", Separate, Plain), ("-g", Prefix, Debug), ("--debug", Alone, Debug),
    ("--coverage", Alone, Coverage { notes: true, arcs: true }),
    ("-coverage", Alone, Coverage { notes: true, arcs: true }),
    ("-ftest-coverage", Alone, Coverage { notes: true, arcs: false }),
    ("-fprofile-arcs", Alone, Coverage { notes: false, arcs: true }),
    ("-fprofile-generate", Prefix, Coverage { notes: false, arcs: true }),
    ("-fprofile-instr-generate", Prefix, Coverage { notes: false, arcs: true }),
    ("-fcs-profile-generate", Prefix, Coverage { notes: false, arcs: true }),
    ("-fcoverage-mapping", Alone, Coverage { notes: false, arcs: false }),
    ("-frecord-gcc-switches", Alone, RecordsCommandLine(true)),
    ("-frecord-command-line", Alone, RecordsCommandLine(true)),
    ("-fno-record-gcc-switches", Alone, RecordsCommandLine(false)),
    ("-fno-record-command-line", Alone, RecordsCommandLine(false)),
    ("-fdebug-macro", Alone, DebugMacro(true)), ("-fno-debug-macro", Alone, DebugMacro(false)),
    ("-P", Alone, PrintOnly), ("--no-line-commands", Alone, PrintOnly),
    ("-fopt-info", Prefix, OptInfo),
    // Without `-E`, gcc reads `-dM` as an RTL dump; with `-E` it prints only the macros, so the
    // preprocessed text would lose the code.
    ("-dM", Alone, No("-dM")),
    ("-fprofile-use", Prefix, No("-fprofile-use")),
    ("-fprofile-instr-use", Prefix, No("-fprofile-use")),
    ("-fprofile-sample-use", Prefix, No("-fprofile-use")),
    ("-fauto-profile", Prefix, No("-fprofile-use")),
    ("-fprofile-list", Prefix, No("-fprofile-list")),
    ("-fsanitize-blacklist", Prefix, No("-fsanitize-ignorelist")),
    ("-fsanitize-ignorelist", Prefix, No("-fsanitize-ignorelist")),
    ("-fsanitize-coverage-allowlist", Prefix, No("-fsanitize-coverage-allowlist")),
    ("-fsanitize-coverage-ignorelist", Prefix, No("-fsanitize-coverage-allowlist")),
    ("-fplugin", Prefix, No("compiler plugin")), ("-fpass-plugin", Prefix, No("compiler plugin")),
    ("-fmodules", Alone, No("clang modules")), ("-fcxx-modules", Alone, No("clang modules")),
    ("-fmodules-ts", Alone, No("C++ modules")), ("-fmodule-file", Prefix, No("C++ modules")),
    ("-fmodule-output", Prefix, No("C++ modules")),
    ("-save-temps", Prefix, No("-save-temps")), ("--save-temps", Prefix, No("-save-temps")),
    ("-save-stats", Prefix, No("-save-stats")), ("--save-stats", Prefix, No("-save-stats")),
    ("-fdump-", Prefix, No("-fdump")), ("-fstack-usage", Alone, No("-fstack-usage")),
    ("-fcallgraph-info", Prefix, No("-fcallgraph-info")),
    ("-ftime-trace", Prefix, No("-ftime-trace")),
    ("-fsave-optimization-record", Prefix, No("-fsave-optimization-record")),
    ("-foptimization-record-file", Prefix, No("-fsave-optimization-record")),
    ("-fdiagnostics-format=sarif-file", Alone, No("-fdiagnostics-format")),
    ("-fdiagnostics-format=json-file", Alone, No("-fdiagnostics-format")),
    ("-fsyntax-only", Alone, No("-fsyntax-only")), ("--analyze", Alone, No("--analyze")),
    ("-emit-ast", Alone, No("-emit-ast")),
    ("-aux-info", Separate, No("-aux-info")), ("-aux-info=", Prefix, No("-aux-info")),
    ("-specs", Prefix, No("-specs")), ("--specs", Prefix, No("-specs")),
    ("--config", Either, No("--config")), ("-working-directory", Either, No("-working-directory")),
    ("-dumpbase", Separate, No("-dumpbase")), ("-dumpbase-ext", Separate, No("-dumpbase")),
    ("-dumpdir", Separate, No("-dumpbase")), ("-dump", Prefix, No("-dump")),
    ("-print-", Prefix, No("-print")), ("--print-", Prefix, No("-print")),
    ("--version", Alone, No("--version")), ("--help", Prefix, No("--help")),
    ("-###", Alone, No("-###")), ("--", Alone, No("--")),
    // One-letter flags glue any value, so they come last and shadow nothing above.
    ("-D", Either, Plain), ("-U", Either, Plain), ("-L", Either, Plain), ("-l", Either, Plain),
    ("-F", Either, Plain), ("-B", Either, Plain), ("-A", Either, Plain), ("-T", Either, Plain),
    ("-e", Either, Plain), ("-u", Either, Plain), ("-z", Either, Plain),
];

/// Everything learnt from one pass over the expanded arguments.
#[derive(Default)]
struct Scan {
    pre: Vec<OsString>,
    key: Vec<OsString>,
    /// Each input with the `-x` language in force where it stands (`None` for "by extension").
    inputs: Vec<(OsString, Option<Language>)>,
    x: Option<Language>,
    compile: bool,
    stop: Option<Stop>,
    /// The first reason found not to cache; later ones would only hide it.
    reason: Option<&'static str>,
    output: Option<OsString>,
    dep_gen: bool,
    dep_target: bool,
    dep_path: Option<OsString>,
    /// The last debug level asked for: on, off (`-g0`), or never mentioned.
    debug: Option<bool>,
    /// The debug level as gcc counts it (0 none, 2 for a plain `-g`, 3 with macros).
    level: u8,
    /// clang's `-fdebug-macro` in force.
    debug_macro: bool,
    /// `-frecord-gcc-switches`/`-frecord-command-line` in force (a section of the object).
    record_f: bool,
    /// `-grecord-gcc-switches`/`-grecord-command-line` in force (the debug info's producer).
    record_g: bool,
    split_dwarf: bool,
    notes: bool,
    obj_in_key: bool,
    cwd_in_key: bool,
    arches: Vec<OsString>,
}

impl Scan {
    fn refuse(&mut self, reason: &'static str) {
        self.reason.get_or_insert(reason);
    }

    fn both(&mut self, written: &[OsString]) {
        self.pre.extend_from_slice(written);
        self.key.extend_from_slice(written);
    }

    /// Applies one flag; `value` is its value however it was written, `written` the arguments
    /// it occupied on the command line.
    fn flag(&mut self, s: &str, role: Role, value: Option<&OsStr>, written: &[OsString]) {
        let value_str = value.and_then(OsStr::to_str);
        match role {
            Plain => self.both(written),
            Compile => self.compile = true,
            Output => {
                if self.output.is_some() {
                    self.refuse("multiple -o");
                }
                if value_str == Some("-") {
                    self.refuse("output to stdout");
                }
                self.output = value.map(OsStr::to_os_string);
            }
            Lang => {
                self.both(written);
                self.x = match value_str.map(x_language) {
                    Some(Ok(language)) => language,
                    Some(Err(reason)) => {
                        self.refuse(reason);
                        None
                    }
                    None => {
                        self.refuse("unknown -x language");
                        None
                    }
                };
            }
            DepGen => {
                self.dep_gen = true;
                self.key.extend_from_slice(written);
            }
            DepKey => self.key.extend_from_slice(written),
            DepTarget => {
                self.dep_target = true;
                self.key.extend_from_slice(written);
            }
            DepPath => self.dep_path = value.map(OsStr::to_os_string),
            Debug => {
                self.both(written);
                self.debug_flag(s);
            }
            Arch => {
                self.both(written);
                if let Some(arch) = value {
                    if !self.arches.iter().any(|a| a == arch) {
                        self.arches.push(arch.to_os_string());
                    }
                }
                if self.arches.len() > 1 {
                    self.refuse("multiple -arch");
                }
            }
            Xclang => {
                // cc1 loads plugins with `-load`/`-plugin`; their code is not in the key.
                let plugin = matches!(value_str, Some("-load" | "-plugin" | "-add-plugin"))
                    || value_str.is_some_and(|v| v.starts_with("-plugin-arg"));
                if plugin {
                    self.refuse("compiler plugin");
                }
                match value_str {
                    // cc1's own `-P`: only what `-E` prints, as for `PrintOnly`.
                    Some("-P") => self.key.extend_from_slice(written),
                    Some("-debug-info-macro") => {
                        self.debug_macro = true;
                        self.both(written);
                    }
                    _ => self.both(written),
                }
            }
            ToPreprocessor => {
                // Dependency options handed straight to the preprocessor would write a file
                // during `-E` and add an output this parser does not track.
                let items = if s == "-Xpreprocessor" {
                    value_str
                } else {
                    s.get(4..)
                };
                let writes_deps = match items {
                    Some(items) => items.split(',').any(|item| item.starts_with("-M")),
                    None => true,
                };
                if writes_deps {
                    self.refuse(if s == "-Xpreprocessor" {
                        "-Xpreprocessor -M"
                    } else {
                        "-Wp,-M"
                    });
                }
                // `-P` handed to the preprocessor only strips line markers from `-E`: key
                // only, as above; other items passed along with it still reach `-E`.
                let items = items.unwrap_or("");
                if s == "-Xpreprocessor" && items == "-P" {
                    self.key.extend_from_slice(written);
                } else if s != "-Xpreprocessor" && items.split(',').any(|item| item == "-P") {
                    self.key.extend_from_slice(written);
                    let kept: Vec<&str> = items.split(',').filter(|i| *i != "-P").collect();
                    if kept.iter().any(|i| !i.is_empty()) {
                        self.pre.push(format!("-Wp,{}", kept.join(",")).into());
                    }
                } else {
                    self.both(written);
                }
            }
            Coverage { notes, arcs } => {
                // gcc writes the working directory into the notes and the absolute `.gcda`
                // path, derived from the object path, into the object.
                self.both(written);
                self.notes |= notes;
                self.obj_in_key |= arcs;
                self.cwd_in_key = true;
            }
            RecordsCommandLine(on) => {
                self.both(written);
                self.record_f = on;
            }
            DebugMacro(on) => {
                self.both(written);
                self.debug_macro = on;
            }
            PrintOnly => self.key.extend_from_slice(written),
            OptInfo => {
                if s.contains('=') {
                    self.refuse("-fopt-info file");
                }
                self.both(written);
            }
            Stop(stop) => self.stop = Some(self.stop.map_or(stop, |s| s.min(stop))),
            No(reason) => self.refuse(reason),
        }
    }

    /// Follows the debug level, split DWARF and the recording of the command line through the
    /// `-g` flags.
    fn debug_flag(&mut self, s: &str) {
        match s {
            "-gsplit-dwarf" | "-gsplit-dwarf=split" => self.split_dwarf = true,
            "-gsplit-dwarf=single" | "-gno-split-dwarf" => self.split_dwarf = false,
            "-grecord-gcc-switches" | "-grecord-command-line" => self.record_g = true,
            "-gno-record-gcc-switches" | "-gno-record-command-line" => self.record_g = false,
            // Compression and negated features do not turn debug info on or off.
            _ if s.starts_with("-gz") || s.starts_with("-gno-") => {}
            "-gcolumn-info" | "-gstrict-dwarf" => {}
            _ if s.ends_with('0') && !s.starts_with("-gdwarf") => {
                self.debug = Some(false);
                self.level = 0;
            }
            _ => {
                self.debug = Some(true);
                // gcc: `-g3`, `-ggdb3`... set the level; a level-less `-g`, `-ggdb` or
                // `-gdwarf-N` keeps the one in force (`-g3 -g` still writes macros) and
                // starts at 2. Only an explicit lower level turns level 3 off.
                let digit = s.bytes().last().filter(u8::is_ascii_digit);
                self.level = match digit {
                    Some(d) if !s.starts_with("-gdwarf") => d - b'0',
                    _ => self.level.max(2),
                };
            }
        }
    }

    /// Whether the object gets the macro definitions in its debug info, which `-E` prints
    /// only with `-dD`. Erring towards yes only adds text to the key.
    fn macros_in_object(&self) -> bool {
        self.debug_macro || self.level >= 3
    }
}

/// The language a `-x` value names; `Ok(None)` for `-x none`.
fn x_language(x: &str) -> Result<Option<Language>, &'static str> {
    Ok(Some(match x {
        "none" => return Ok(None),
        "c" => Language::C,
        "c++" => Language::Cxx,
        "objective-c" => Language::ObjectiveC,
        "objective-c++" => Language::ObjectiveCxx,
        "cpp-output" => Language::PreprocessedC,
        "c++-cpp-output" => Language::PreprocessedCxx,
        "assembler" => Language::Assembler,
        "assembler-with-cpp" => Language::AssemblerWithCpp,
        "objective-c-cpp-output"
        | "objc-cpp-output"
        | "objective-c++-cpp-output"
        | "objc++-cpp-output" => return Err("preprocessed Objective-C"),
        _ => return Err("unknown -x language"),
    }))
}

/// The language gcc gives a source file by its extension.
fn ext_language(input: &OsStr) -> Result<Language, &'static str> {
    let ext = Path::new(input).extension().and_then(OsStr::to_str);
    Ok(match ext.unwrap_or("") {
        "c" => Language::C,
        "i" => Language::PreprocessedC,
        "cc" | "cpp" | "cxx" | "c++" | "C" | "CC" | "cp" | "CPP" => Language::Cxx,
        "ii" => Language::PreprocessedCxx,
        "m" => Language::ObjectiveC,
        "mm" | "M" => Language::ObjectiveCxx,
        "S" | "sx" => Language::AssemblerWithCpp,
        "s" => Language::Assembler,
        // The enum has no preprocessed Objective-C; calling it Objective-C would make `-E`
        // print nothing for it and every such file share one key.
        "mi" | "mii" => return Err("preprocessed Objective-C"),
        "o" | "a" | "so" | "obj" | "lib" | "dylib" => return Err("linker input file"),
        _ => return Err("unknown source language"),
    })
}

/// Finds the table entry for a UTF-8 flag, with how it takes its value.
fn lookup(s: &str) -> (Take, Role, usize) {
    for &(name, take, role) in FLAGS {
        let hit = match take {
            Alone | Separate => s == name,
            Either | Prefix => s.starts_with(name),
        };
        if hit {
            return (take, role, name.len());
        }
    }
    (Alone, Plain, s.len())
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
    finish(scan, cwd)
}

/// The key argument before the recorded command line (see `parse`).
pub const RECORDED_COMMAND_LINE: &str = "--sccache-recorded-command-line";

/// Whether a path written by the compile, read from `cwd`, names a device or a kernel file
/// (`/dev/null`, `/dev/stdout`, `/proc/self/fd/1`) rather than a file a hit could restore.
/// The check is lexical: `..` is resolved by name, symbolic links are not followed.
fn is_device(path: &OsStr, cwd: &Path) -> bool {
    use std::path::Component;
    let mut normal = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal.starts_with("/dev") || normal.starts_with("/proc")
}

/// Turns a finished scan into the outcome, in a fixed order of precedence: an early stop
/// (`-E`, `-M`, `-S`), then no `-c` (not a compile), then the first refusal, then the inputs.
fn finish(mut scan: Scan, cwd: &Path) -> Parsed<CCompilation> {
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
    // Caching what was written to `/dev/null` would store an empty object, and restoring a
    // hit would write over the device.
    let dep_path = scan.dep_path.as_ref().filter(|_| scan.dep_gen);
    if scan
        .output
        .iter()
        .chain(dep_path)
        .any(|path| is_device(path, cwd))
    {
        scan.refuse("output to a device");
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
        let path = scan.dep_path.take().unwrap_or_else(|| sibling("d"));
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
        cwd_in_key: scan.cwd_in_key || scan.debug == Some(true) || scan.split_dwarf,
    })
}

/// Why a compile's preprocessed text (or assembler source) makes it uncacheable: the assembler
/// reads files named in `.incbin`/`.include` directives, which reach neither the preprocessed
/// text nor the key.
///
/// Both assemblers take directive names in any case (`.INCBIN`), so the match ignores case; it
/// wants the name to end there (`.include_dirs` is not one) but asks nothing of what comes
/// before, since inline assembly puts directives after `"` or a `\n` escape. A C member named
/// `include` is thus refused too, which costs a miss, never a wrong hit. Linear: the dots are
/// found with `memchr`'s SIMD search, and each is followed by a bounded comparison.
pub fn refusal_in_source(source: &[u8]) -> Option<&'static str> {
    const DIRECTIVES: [(&[u8], &str); 2] = [(b"incbin", ".incbin"), (b"include", ".include")];
    for dot in memchr::memchr_iter(b'.', source) {
        let after = &source[dot + 1..];
        // Cheap reject first: nearly every dot in C is followed by something other than `in`.
        if !after
            .get(..3)
            .is_some_and(|head| head.eq_ignore_ascii_case(b"inc"))
        {
            continue;
        }
        for (name, label) in DIRECTIVES {
            let ends_name = |next: Option<&u8>| {
                !next.is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.'))
            };
            if after
                .get(..name.len())
                .is_some_and(|word| word.eq_ignore_ascii_case(name))
                && ends_name(after.get(name.len()))
            {
                return Some(label);
            }
        }
    }
    None
}

/// Replaces every `@file` by the arguments in that file, recursively, reading relative paths
/// from `cwd` as gcc does.
fn expand_response_files(
    args: &[OsString],
    cwd: &Path,
    depth: usize,
    out: &mut Vec<OsString>,
) -> Result<(), &'static str> {
    for arg in args {
        if arg.as_encoded_bytes().first() != Some(&b'@') {
            out.push(arg.clone());
            continue;
        }
        // A non-UTF-8 `@file` name is refused rather than decoded by hand.
        let path = arg
            .to_str()
            .and_then(|s| s.get(1..))
            .ok_or("unreadable @file")?;
        if depth >= MAX_RESPONSE_DEPTH {
            return Err("@file nesting too deep");
        }
        let bytes = std::fs::read(cwd.join(path)).map_err(|_| "unreadable @file")?;
        let words = split_response_file(&bytes).ok_or("unreadable @file")?;
        expand_response_files(&words, cwd, depth + 1, out)?;
    }
    Ok(())
}

/// Splits a response file like libiberty's `buildargv`: whitespace separates arguments, single
/// and double quotes group, and a backslash takes the next character literally, even in quotes.
fn split_response_file(bytes: &[u8]) -> Option<Vec<OsString>> {
    let mut words = Vec::new();
    let mut iter = bytes.iter().copied().peekable();
    loop {
        while iter.next_if(u8::is_ascii_whitespace).is_some() || iter.next_if_eq(&0x0b).is_some() {}
        if iter.peek().is_none() {
            return Some(words);
        }
        let (mut word, mut quote, mut escaped) = (Vec::new(), None, false);
        while let Some(c) = iter.peek().copied() {
            if !escaped && quote.is_none() && (c.is_ascii_whitespace() || c == 0x0b) {
                break;
            }
            iter.next();
            match (escaped, quote) {
                (true, _) => {
                    escaped = false;
                    word.push(c);
                }
                (false, _) if c == b'\\' => escaped = true,
                (false, Some(q)) if c == q => quote = None,
                (false, None) if c == b'\'' || c == b'"' => quote = Some(c),
                _ => word.push(c),
            }
        }
        words.push(bytes_to_os(word)?);
    }
}

#[cfg(unix)]
fn bytes_to_os(bytes: Vec<u8>) -> Option<OsString> {
    use std::os::unix::ffi::OsStringExt;
    Some(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn bytes_to_os(bytes: Vec<u8>) -> Option<OsString> {
    String::from_utf8(bytes).ok().map(OsString::from)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn parse_in(args: &[&str], cwd: &Path) -> Parsed<CCompilation> {
        parse(&os(args), cwd)
    }

    fn p(args: &[&str]) -> Parsed<CCompilation> {
        parse_in(args, Path::new("/nonexistent-cwd"))
    }

    fn ok(args: &[&str]) -> CCompilation {
        match p(args) {
            Parsed::Cacheable(c) => c,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn no(args: &[&str]) -> String {
        match p(args) {
            Parsed::NotCacheable(reason) => reason,
            other => panic!("{args:?} gave {other:?}"),
        }
    }

    fn strs(v: &[OsString]) -> Vec<&str> {
        v.iter().map(|s| s.to_str().unwrap()).collect()
    }

    fn output(c: &CCompilation, role: OutputRole) -> Option<&str> {
        c.outputs
            .iter()
            .find(|o| o.role == role)
            .map(|o| o.path.to_str().unwrap())
    }

    #[test]
    fn table_entries_are_not_shadowed() {
        // An entry after a shorter glued-value entry it starts with could never match.
        for (i, (name, _, _)) in FLAGS.iter().enumerate() {
            for (earlier, take, _) in &FLAGS[..i] {
                let shadows = match take {
                    Either | Prefix => name.starts_with(earlier),
                    Alone | Separate => name == earlier,
                };
                assert!(!shadows, "{name} is shadowed by {earlier}");
            }
        }
    }

    #[test]
    fn simple_compile() {
        let c = ok(&["-c", "foo.c", "-o", "foo.o"]);
        assert_eq!(c.language, Language::C);
        assert_eq!(c.input, "foo.c");
        assert_eq!(
            c.outputs,
            vec![COutput {
                role: OutputRole::Object,
                path: "foo.o".into()
            }]
        );
        assert_eq!(strs(&c.preprocess_args), ["foo.c", "-E"]);
        assert!(c.key_args.is_empty());
        assert!(!c.cwd_in_key);
    }

    #[test]
    fn default_and_attached_output() {
        assert_eq!(
            output(&ok(&["-c", "src/dir/foo.cpp"]), OutputRole::Object),
            Some("foo.o")
        );
        assert_eq!(
            output(&ok(&["-c", "a.c", "-oout/a.o"]), OutputRole::Object),
            Some("out/a.o")
        );
        assert_eq!(
            output(&ok(&["-c", "a.c", "--output=x.o"]), OutputRole::Object),
            Some("x.o")
        );
        assert_eq!(
            output(&ok(&["-c", "a.c", "--output", "y.o"]), OutputRole::Object),
            Some("y.o")
        );
    }

    #[test]
    fn output_path_is_never_in_key_or_preprocess() {
        let c = ok(&["-O2", "-c", "-o", "build/x.o", "x.c", "-Wall"]);
        assert_eq!(strs(&c.key_args), ["-O2", "-Wall"]);
        assert_eq!(strs(&c.preprocess_args), ["-O2", "x.c", "-Wall", "-E"]);
    }

    #[test]
    fn languages_by_extension() {
        let cases = [
            ("a.c", Language::C),
            ("a.i", Language::PreprocessedC),
            ("a.cc", Language::Cxx),
            ("a.cpp", Language::Cxx),
            ("a.cxx", Language::Cxx),
            ("a.c++", Language::Cxx),
            ("a.C", Language::Cxx),
            ("a.CC", Language::Cxx),
            ("a.cp", Language::Cxx),
            ("a.CPP", Language::Cxx),
            ("a.ii", Language::PreprocessedCxx),
            ("a.m", Language::ObjectiveC),
            ("a.mm", Language::ObjectiveCxx),
            ("a.M", Language::ObjectiveCxx),
            ("a.S", Language::AssemblerWithCpp),
            ("a.sx", Language::AssemblerWithCpp),
            ("a.s", Language::Assembler),
        ];
        for (file, language) in cases {
            assert_eq!(ok(&["-c", file]).language, language, "{file}");
        }
    }

    #[test]
    fn unusable_extensions() {
        let cases = [
            ("a.h", "unknown source language"),
            ("noext", "unknown source language"),
            ("a.o", "linker input file"),
            ("liba.a", "linker input file"),
            ("liba.so", "linker input file"),
            ("a.mi", "preprocessed Objective-C"),
            ("a.mii", "preprocessed Objective-C"),
        ];
        for (file, reason) in cases {
            assert_eq!(no(&["-c", file]), reason, "{file}");
        }
    }

    #[test]
    fn x_language_overrides_extension_and_stays_in_args() {
        let c = ok(&["-x", "c++", "-c", "foo.c"]);
        assert_eq!(c.language, Language::Cxx);
        assert_eq!(strs(&c.key_args), ["-x", "c++"]);
        assert_eq!(strs(&c.preprocess_args), ["-x", "c++", "foo.c", "-E"]);
        assert_eq!(ok(&["-xc", "-c", "foo.cpp"]).language, Language::C);
        assert_eq!(
            ok(&["-x", "assembler-with-cpp", "-c", "f.s"]).language,
            Language::AssemblerWithCpp
        );
        assert_eq!(
            ok(&["-x", "cpp-output", "-c", "f.c"]).language,
            Language::PreprocessedC
        );
        assert_eq!(
            ok(&["-x", "c++-cpp-output", "-c", "f.c"]).language,
            Language::PreprocessedCxx
        );
        assert_eq!(
            ok(&["-x", "objective-c", "-c", "f.c"]).language,
            Language::ObjectiveC
        );
        assert_eq!(
            ok(&["-x", "objective-c++", "-c", "f.c"]).language,
            Language::ObjectiveCxx
        );
        assert_eq!(
            ok(&["-x", "assembler", "-c", "f.c"]).language,
            Language::Assembler
        );
        // `-x` applies only to the inputs after it, and `-x none` goes back to extensions.
        assert_eq!(ok(&["-c", "f.c", "-x", "c++"]).language, Language::C);
        assert_eq!(
            ok(&["-x", "c++", "-x", "none", "-c", "f.c"]).language,
            Language::C
        );
        assert_eq!(ok(&["-x", "c", "-c", "weird.txt"]).language, Language::C);
    }

    #[test]
    fn bad_x_language() {
        assert_eq!(no(&["-x", "fortran", "-c", "f.c"]), "unknown -x language");
        assert_eq!(no(&["-x", "c-header", "-c", "f.h"]), "unknown -x language");
        assert_eq!(
            no(&["-x", "objective-c-cpp-output", "-c", "f.c"]),
            "preprocessed Objective-C"
        );
    }

    #[test]
    fn stops_and_their_precedence() {
        let cases: &[(&[&str], &str)] = &[
            (&["-E", "f.c"], "-E"),
            (&["-E", "-c", "f.c"], "-E"),
            (&["-S", "f.c"], "-S"),
            (&["-S", "-c", "f.c"], "-S"),
            (&["-M", "f.c"], "-M"),
            (&["-MM", "f.c"], "-M"),
            (&["-MM", "-c", "f.c"], "-M"),
            (&["-M", "-S", "f.c"], "-M"),
            (&["-S", "-E", "-M", "f.c"], "-E"),
            (&["--preprocess", "-c", "f.c"], "-E"),
            // A stop wins over any other refusal.
            (&["-E", "-c", "a.c", "b.c"], "-E"),
        ];
        for (args, reason) in cases {
            assert_eq!(no(args), *reason, "{args:?}");
        }
    }

    #[test]
    fn not_compilations() {
        for args in [
            &["foo.o", "-o", "app"][..],
            &["--version"],
            &["-v"],
            &[],
            &["a.c", "b.c", "-o", "app"],
            &["-save-temps", "a.c"],
            &["a.o", "-o"],
        ] {
            assert_eq!(p(args), Parsed::NotCompilation, "{args:?}");
        }
    }

    #[test]
    fn inputs() {
        assert_eq!(no(&["-c", "a.c", "b.c"]), "multiple input files");
        assert_eq!(no(&["-c", "a.c", "b.o"]), "multiple input files");
        assert_eq!(no(&["-c", "-x", "c", "-"]), "stdin input");
        assert_eq!(no(&["-c", "a.c", "-"]), "stdin input");
        assert_eq!(no(&["-c"]), "no input file");
        assert_eq!(no(&["-c", "-O2"]), "no input file");
    }

    #[test]
    fn separate_values_are_not_inputs() {
        let args = [
            "-I",
            "inc",
            "-isystem",
            "sys",
            "-iquote",
            "q",
            "-idirafter",
            "d",
            "-include",
            "pre.h",
            "-imacros",
            "m.h",
            "-iprefix",
            "p",
            "-iwithprefix",
            "w",
            "-iwithprefixbefore",
            "wb",
            "-isysroot",
            "sr",
            "--sysroot",
            "root",
            "-D",
            "X=1",
            "-U",
            "Y",
            "-L",
            "lib",
            "-l",
            "m",
            "-Xlinker",
            "x",
            "-Xassembler",
            "as",
            "-Xpreprocessor",
            "-P",
            "-Xclang",
            "-fno-pch",
            "-arch",
            "x86_64",
            "-target",
            "t",
            "--target",
            "t2",
            "-aux",
            "-u",
            "sym",
            "-z",
            "now",
            "-T",
            "ld.x",
            "-A",
            "a",
            "-B",
            "bin",
            "-e",
            "entry",
            "--param",
            "p=1",
            "-imultilib",
            "ml",
            "-isystem-after",
            "sa",
            "-F",
            "fw",
            "-mllvm",
            "-x86-asm",
            "-c",
            "main.c",
        ];
        let c = ok(&args);
        assert_eq!(c.input, "main.c");
        let mut expected: Vec<&str> = args.iter().copied().filter(|a| *a != "-c").collect();
        // `-Xpreprocessor -P` only strips line markers from `-E`: key only.
        let mut pre = expected.clone();
        let at = pre.iter().position(|a| *a == "-Xpreprocessor").unwrap();
        pre.drain(at..at + 2);
        assert_eq!(strs(&c.preprocess_args[..c.preprocess_args.len() - 1]), pre);
        expected.retain(|a| *a != "main.c");
        assert_eq!(strs(&c.key_args), expected);
    }

    #[test]
    fn attached_values() {
        let c = ok(&[
            "-Iinc",
            "-DX=1",
            "-UY",
            "--param=x=1",
            "--sysroot=/r",
            "-c",
            "f.c",
        ]);
        assert_eq!(
            strs(&c.key_args),
            ["-Iinc", "-DX=1", "-UY", "--param=x=1", "--sysroot=/r"]
        );
    }

    #[test]
    fn missing_value_at_end() {
        for flag in [
            "-o", "-I", "-D", "-x", "-MF", "-MT", "-Xclang", "-include", "-arch",
        ] {
            assert_eq!(no(&["-c", "f.c", flag]), "missing argument value", "{flag}");
        }
    }

    #[test]
    fn md_mf_keeps_path_out_and_target_in() {
        let c = ok(&[
            "-c", "f.c", "-o", "obj/f.o", "-MD", "-MF", "deps/f.d", "-MT", "tgt",
        ]);
        assert_eq!(strs(&c.key_args), ["-MD", "-MT", "tgt"]);
        assert_eq!(output(&c, OutputRole::DepFile), Some("deps/f.d"));
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
        let c = ok(&["-c", "f.c", "-MMD", "-MFdeps/f.d", "-MQ$x", "-MP"]);
        assert_eq!(strs(&c.key_args), ["-MMD", "-MQ$x", "-MP"]);
        assert_eq!(output(&c, OutputRole::DepFile), Some("deps/f.d"));
        assert_eq!(c.outputs[0].role, OutputRole::Object);
    }

    #[test]
    fn md_without_target_keys_object_path() {
        let c = ok(&["-c", "f.c", "-o", "obj/f.o", "-MD"]);
        assert_eq!(strs(&c.key_args), ["-MD", "-MQ", "obj/f.o"]);
        assert_eq!(output(&c, OutputRole::DepFile), Some("obj/f.d"));
        let c = ok(&["-c", "src/f.c", "-MMD"]);
        assert_eq!(strs(&c.key_args), ["-MMD", "-MQ", "f.o"]);
        assert_eq!(output(&c, OutputRole::DepFile), Some("f.d"));
    }

    #[test]
    fn mf_alone_is_ignored() {
        let c = ok(&["-c", "f.c", "-MF", "x.d", "-MT", "t"]);
        assert_eq!(c.outputs.len(), 1);
        assert_eq!(strs(&c.key_args), ["-MT", "t"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
    }

    #[test]
    fn preprocess_args_write_nothing() {
        let c = ok(&[
            "-c",
            "-o",
            "f.o",
            "f.c",
            "-MD",
            "-MMD",
            "-MF",
            "f.d",
            "-MT",
            "t",
            "-MQ",
            "q",
            "-MP",
            "-MG",
            "-O2",
            "-g",
            "--coverage",
            "-gsplit-dwarf",
        ]);
        let pre = strs(&c.preprocess_args);
        assert_eq!(
            pre,
            ["f.c", "-O2", "-g", "--coverage", "-gsplit-dwarf", "-E"]
        );
    }

    #[test]
    fn split_dwarf() {
        let c = ok(&["-c", "f.c", "-o", "out/f.o", "-g", "-gsplit-dwarf"]);
        assert_eq!(output(&c, OutputRole::SplitDwarf), Some("out/f.dwo"));
        assert_eq!(strs(&c.key_args), ["-g", "-gsplit-dwarf", "-o", "out/f.o"]);
        assert!(c.cwd_in_key);
        let c = ok(&["-c", "f.c", "-gsplit-dwarf"]);
        assert_eq!(output(&c, OutputRole::SplitDwarf), Some("f.dwo"));
        assert!(c.cwd_in_key);
        let c = ok(&["-c", "f.c", "-g", "-gsplit-dwarf", "-gno-split-dwarf"]);
        assert_eq!(output(&c, OutputRole::SplitDwarf), None);
        assert_eq!(
            no(&["-c", "f.c", "-gsplit-dwarf", "-g0"]),
            "-gsplit-dwarf with -g0"
        );
        assert_eq!(
            no(&["-c", "f.c", "-g0", "-gsplit-dwarf"]),
            "-gsplit-dwarf with -g0"
        );
    }

    #[test]
    fn coverage() {
        let c = ok(&["-c", "f.c", "-o", "o/f.o", "--coverage"]);
        assert_eq!(output(&c, OutputRole::CoverageNotes), Some("o/f.gcno"));
        assert_eq!(strs(&c.key_args), ["--coverage", "-o", "o/f.o"]);
        assert!(c.cwd_in_key);
        let c = ok(&["-c", "f.c", "-ftest-coverage"]);
        assert_eq!(output(&c, OutputRole::CoverageNotes), Some("f.gcno"));
        assert!(c.cwd_in_key);
        for flag in [
            "-fprofile-arcs",
            "-fprofile-generate",
            "-fprofile-generate=dir",
        ] {
            let c = ok(&["-c", "f.c", flag]);
            assert_eq!(c.outputs.len(), 1, "{flag}");
            assert_eq!(strs(&c.key_args), [flag, "-o", "f.o"]);
            assert!(c.cwd_in_key, "{flag}");
        }
    }

    #[test]
    fn all_outputs_in_order() {
        let c = ok(&[
            "-c",
            "f.c",
            "-o",
            "f.o",
            "-MD",
            "-g",
            "-gsplit-dwarf",
            "--coverage",
        ]);
        let roles: Vec<_> = c.outputs.iter().map(|o| o.role).collect();
        assert_eq!(
            roles,
            [
                OutputRole::Object,
                OutputRole::DepFile,
                OutputRole::SplitDwarf,
                OutputRole::CoverageNotes
            ]
        );
        assert_eq!(
            strs(&c.key_args),
            [
                "-MD",
                "-g",
                "-gsplit-dwarf",
                "--coverage",
                "-MQ",
                "f.o",
                "-o",
                "f.o"
            ]
        );
    }

    #[test]
    fn debug_info_puts_cwd_in_key() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["-g"], true),
            (&["-g1"], true),
            (&["-g3"], true),
            (&["-ggdb"], true),
            (&["-ggdb3"], true),
            (&["-gdwarf-4"], true),
            (&["-g", "-g0"], false),
            (&["-g0", "-g"], true),
            (&["-ggdb0"], false),
            (&["-gz"], false),
            (&["-gno-column-info"], false),
            (&["-g", "-fdebug-prefix-map=/a=/b"], true),
            (&["-fcoverage-mapping"], true),
        ];
        for (extra, expected) in cases {
            let mut args = vec!["-c", "f.c"];
            args.extend_from_slice(extra);
            assert_eq!(ok(&args).cwd_in_key, *expected, "{extra:?}");
        }
    }

    #[test]
    fn refusals() {
        let cases: &[(&[&str], &str)] = &[
            (&["-save-temps"], "-save-temps"),
            (&["-save-temps=obj"], "-save-temps"),
            (&["-fprofile-use"], "-fprofile-use"),
            (&["-fprofile-use=x.prof"], "-fprofile-use"),
            (&["-fauto-profile=x"], "-fprofile-use"),
            (&["-fprofile-sample-use=x"], "-fprofile-use"),
            (&["-fprofile-instr-use=x"], "-fprofile-use"),
            (&["-fplugin=x.so"], "compiler plugin"),
            (&["-fpass-plugin=x.so"], "compiler plugin"),
            (&["-Xclang", "-load", "-Xclang", "x.so"], "compiler plugin"),
            (&["-Xclang", "-plugin", "-Xclang", "x"], "compiler plugin"),
            (&["-specs=x"], "-specs"),
            (&["--specs=x"], "-specs"),
            (&["-fsanitize-blacklist=x"], "-fsanitize-ignorelist"),
            (&["-fsanitize-ignorelist=x"], "-fsanitize-ignorelist"),
            (&["-fprofile-list=x"], "-fprofile-list"),
            (&["-arch", "x86_64", "-arch", "arm64"], "multiple -arch"),
            (&["-fmodules"], "clang modules"),
            (&["-fcxx-modules"], "clang modules"),
            (&["-fmodules-ts"], "C++ modules"),
            (&["-MJ", "x.json"], "-MJ"),
            (&["-MJx.json"], "-MJ"),
            (&["-ftime-trace"], "-ftime-trace"),
            (&["-ftime-trace=x"], "-ftime-trace"),
            (&["-fdump-tree-all"], "-fdump"),
            (&["-fstack-usage"], "-fstack-usage"),
            (&["-fcallgraph-info"], "-fcallgraph-info"),
            (&["-save-stats"], "-save-stats"),
            (&["-fsyntax-only"], "-fsyntax-only"),
            (&["-emit-ast"], "-emit-ast"),
            (&["-include-pch", "x.pch"], "-include-pch"),
            (&["-aux-info", "x"], "-aux-info"),
            (&["-Wp,-MD,x.d"], "-Wp,-M"),
            (&["-Xpreprocessor", "-MD"], "-Xpreprocessor -M"),
            (&["-o", "a.o", "-o", "b.o"], "multiple -o"),
            (&["-o", "-"], "output to stdout"),
            (&["-fopt-info-vec-missed=opt.txt"], "-fopt-info file"),
            (&["-fopt-info=opt.txt"], "-fopt-info file"),
            (&["-fopt-info-all=stderr"], "-fopt-info file"),
            (&["-fdump-ipa-all"], "-fdump"),
            (&["-fcallgraph-info=su,da"], "-fcallgraph-info"),
            (&["-aux-info=x.h"], "-aux-info"),
            (&["-save-temps=cwd"], "-save-temps"),
            (&["--save-temps"], "-save-temps"),
            (&["-dM"], "-dM"),
            (&["--version"], "--version"),
            (&["-print-search-dirs"], "-print"),
            (&["-dumpdir", "x"], "-dumpbase"),
            (&["--"], "--"),
        ];
        for (extra, reason) in cases {
            let mut args = vec!["-c", "f.c"];
            args.extend_from_slice(extra);
            assert_eq!(no(&args), *reason, "{extra:?}");
        }
    }

    #[test]
    fn accepted_flags_stay_in_key() {
        let extra = [
            "-frandom-seed=1",
            "-fdiagnostics-color=always",
            "-fcolor-diagnostics",
            "-Werror",
            "-Wl,-z,now",
            "-Wp,-DX",
            "-Xpreprocessor",
            "-DY",
            "-Xclang",
            "-fno-pch-timestamp",
            "-arch",
            "arm64",
            "-arch",
            "arm64",
            "-std=c++17",
            "-fPIC",
            "-gcc-toolchain",
            "/tc",
        ];
        let mut args = vec!["-c", "f.cc"];
        args.extend_from_slice(&extra);
        assert_eq!(strs(&ok(&args).key_args), extra);
    }

    #[test]
    fn response_files_expand_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("args.rsp"),
            "-c 'my file.c' -D\"A=1 2\" -DB=a\\ b\n\t@inner.rsp -Iq\\'d",
        )
        .unwrap();
        std::fs::write(dir.path().join("inner.rsp"), "-o out.o -O2").unwrap();
        let c = match parse_in(&["-Wall", "@args.rsp"], dir.path()) {
            Parsed::Cacheable(c) => c,
            other => panic!("{other:?}"),
        };
        assert_eq!(c.input, "my file.c");
        assert_eq!(output(&c, OutputRole::Object), Some("out.o"));
        assert_eq!(
            strs(&c.key_args),
            ["-Wall", "-DA=1 2", "-DB=a b", "-O2", "-Iq'd"]
        );
        // The empty quoted word is an argument of its own, which here is a second input.
        std::fs::write(dir.path().join("e.rsp"), "-c f.c ''").unwrap();
        assert_eq!(
            parse_in(&["@e.rsp"], dir.path()),
            Parsed::NotCacheable("multiple input files".into())
        );
    }

    #[test]
    fn response_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            parse_in(&["-c", "f.c", "@missing.rsp"], dir.path()),
            Parsed::NotCacheable("unreadable @file".into())
        );
        std::fs::write(dir.path().join("loop.rsp"), "-c f.c @loop.rsp").unwrap();
        assert_eq!(
            parse_in(&["@loop.rsp"], dir.path()),
            Parsed::NotCacheable("@file nesting too deep".into())
        );
    }

    #[test]
    fn response_file_splitting() {
        let words = split_response_file(b"  a\\\"b \"c d\" 'e \\' f' \"\\\"\" g\\\n\\").unwrap();
        assert_eq!(strs(&words), ["a\"b", "c d", "e ' f", "\"", "g\n"]);
        assert!(split_response_file(b" \n\t ").unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_arguments_do_not_panic() {
        use std::os::unix::ffi::OsStringExt;
        let bad_input = OsString::from_vec(b"caf\xe9.c".to_vec());
        let args = vec![
            OsString::from("-c"),
            bad_input.clone(),
            OsString::from("-o"),
        ];
        let mut with_output = args.clone();
        with_output.push(OsString::from_vec(b"o\xff.o".to_vec()));
        match parse(&with_output, Path::new("/")) {
            Parsed::Cacheable(c) => {
                assert_eq!(c.input, bad_input);
                assert_eq!(c.outputs[0].path, OsString::from_vec(b"o\xff.o".to_vec()));
            }
            other => panic!("{other:?}"),
        }
        let bad_flag = vec![
            OsString::from("-c"),
            OsString::from("f.c"),
            OsString::from_vec(b"-D\xff".to_vec()),
        ];
        assert_eq!(
            parse(&bad_flag, Path::new("/")),
            Parsed::NotCacheable("non-UTF-8 argument".into())
        );
        let bad_rsp = vec![OsString::from("-c"), OsString::from_vec(b"@\xff".to_vec())];
        assert_eq!(
            parse(&bad_rsp, Path::new("/")),
            Parsed::NotCacheable("unreadable @file".into())
        );
        let bad_x = vec![
            OsString::from("-x"),
            OsString::from_vec(b"\xff".to_vec()),
            OsString::from("-c"),
            OsString::from("f.c"),
        ];
        assert_eq!(
            parse(&bad_x, Path::new("/")),
            Parsed::NotCacheable("unknown -x language".into())
        );
    }

    fn pre_without_input_and_e(c: &CCompilation) -> Vec<&str> {
        strs(&c.preprocess_args)
            .into_iter()
            .filter(|a| !matches!(*a, "f.c" | "-E"))
            .collect()
    }

    #[test]
    fn macros_in_debug_info_reach_the_preprocessed_text() {
        // (extra args, whether `-dD` is added)
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["-g"], false),
            (&["-g2"], false),
            (&["-g3"], true),
            (&["-ggdb3"], true),
            (&["-gdwarf-4", "-g3"], true),
            (&["-g3", "-gdwarf-4"], true),
            (&["-g3", "-g"], true),
            (&["-g3", "-ggdb"], true),
            (&["-g3", "-g1"], false),
            (&["-g3", "-g2"], false),
            (&["-g3", "-g0"], false),
            (&["-g3", "-g0", "-g"], false),
            (&["-ggdb3", "-ggdb2"], false),
            (&["-gdwarf-3"], false),
            (&["-g", "-fdebug-macro"], true),
            (&["-fdebug-macro", "-g"], true),
            (&["-fdebug-macro"], true),
            (&["-g", "-fdebug-macro", "-fno-debug-macro"], false),
            (&["-g", "-fno-debug-macro", "-fdebug-macro"], true),
            (&["-g", "-Xclang", "-debug-info-macro"], true),
        ];
        for (extra, macros) in cases {
            let mut args = vec!["-c", "f.c"];
            args.extend_from_slice(extra);
            let c = ok(&args);
            let pre = strs(&c.preprocess_args);
            assert_eq!(pre.last(), Some(&"-E"), "{extra:?}");
            let expected: Vec<&str> = extra
                .iter()
                .copied()
                .chain(macros.then_some("-dD"))
                .collect();
            assert_eq!(pre_without_input_and_e(&c), expected, "{extra:?}");
            // `-dD` changes only what `-E` prints; it is not a key argument.
            assert_eq!(strs(&c.key_args), *extra, "{extra:?}");
        }
        // `-dD` comes after a user's `-dN`, so the definitions are printed in full.
        let c = ok(&["-c", "f.c", "-dN", "-g3"]);
        assert_eq!(pre_without_input_and_e(&c), ["-dN", "-g3", "-dD"]);
    }

    #[test]
    fn no_line_markers_flag_stays_out_of_preprocessing() {
        let c = ok(&["-c", "f.c", "-P", "-O2"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-O2", "-E"]);
        assert_eq!(strs(&c.key_args), ["-P", "-O2"]);
        let c = ok(&["-c", "f.c", "--no-line-commands"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
        assert_eq!(strs(&c.key_args), ["--no-line-commands"]);
        let c = ok(&["-c", "f.c", "-Xpreprocessor", "-P"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
        assert_eq!(strs(&c.key_args), ["-Xpreprocessor", "-P"]);
        let c = ok(&["-c", "f.c", "-Xclang", "-P"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
        assert_eq!(strs(&c.key_args), ["-Xclang", "-P"]);
        let c = ok(&["-c", "f.c", "-Wp,-P"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-E"]);
        assert_eq!(strs(&c.key_args), ["-Wp,-P"]);
        // Other items passed along with `-P` still reach `-E`.
        let c = ok(&["-c", "f.c", "-Wp,-DX,-P,-DY"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-Wp,-DX,-DY", "-E"]);
        assert_eq!(strs(&c.key_args), ["-Wp,-DX,-P,-DY"]);
        // Names that only start with `P` are ordinary items.
        let c = ok(&["-c", "f.c", "-Wp,-PX"]);
        assert_eq!(strs(&c.preprocess_args), ["f.c", "-Wp,-PX", "-E"]);
    }

    /// The key arguments after the recorded command line's marker, if any.
    fn recorded(c: &CCompilation) -> Option<Vec<&str>> {
        let key = strs(&c.key_args);
        let at = key.iter().position(|a| *a == RECORDED_COMMAND_LINE)?;
        Some(key[at + 1..].to_vec())
    }

    #[test]
    fn recorded_command_line_puts_every_argument_in_key() {
        for flag in [
            "-frecord-gcc-switches",
            "-frecord-command-line",
            "-grecord-gcc-switches",
            "-grecord-command-line",
        ] {
            let args = [
                "-c", "src/f.c", "-o", "out/f.o", "-MD", "-MF", "d/f.d", flag,
            ];
            let c = ok(&args);
            let mut expected = vec!["8"];
            expected.extend_from_slice(&args);
            expected.push("8");
            expected.extend_from_slice(&args);
            // `-MD` without `-MT` still adds its default target after the lists.
            expected.extend(["-MQ", "out/f.o"]);
            assert_eq!(recorded(&c), Some(expected), "{flag}");
            // The marker and the lists come after the flag's own key entries.
            assert_eq!(strs(&c.key_args)[..3], ["-MD", flag, RECORDED_COMMAND_LINE]);
            // The same compile under other paths records another command line.
            let other = ok(&["-c", "f.c", "-o", "out/f.o", "-MD", "-MF", "d/f.d", flag]);
            assert_ne!(other.key_args, c.key_args, "{flag}");
        }
        // Turned off later: nothing recorded, and the object path is not needed either.
        for args in [
            &[
                "-c",
                "f.c",
                "-frecord-gcc-switches",
                "-fno-record-gcc-switches",
            ][..],
            &[
                "-c",
                "f.c",
                "-frecord-command-line",
                "-fno-record-command-line",
            ],
            &[
                "-c",
                "f.c",
                "-grecord-gcc-switches",
                "-gno-record-gcc-switches",
            ],
            &[
                "-c",
                "f.c",
                "-grecord-command-line",
                "-gno-record-command-line",
            ],
            &["-c", "f.c", "-g"],
        ] {
            let c = ok(args);
            assert_eq!(recorded(&c), None, "{args:?}");
            assert!(!strs(&c.key_args).contains(&"-o"), "{args:?}");
        }
        // The section and the debug info's producer are separate switches.
        let c = ok(&[
            "-c",
            "f.c",
            "-frecord-gcc-switches",
            "-gno-record-gcc-switches",
        ]);
        assert!(recorded(&c).is_some());
        let c = ok(&[
            "-c",
            "f.c",
            "-grecord-gcc-switches",
            "-fno-record-gcc-switches",
        ]);
        assert!(recorded(&c).is_some());
        // `-grecord-gcc-switches` does not by itself turn debug info on.
        assert!(!ok(&["-c", "f.c", "-grecord-gcc-switches"]).cwd_in_key);
    }

    #[test]
    fn recorded_command_line_keeps_response_file_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rsp"), "-c f.c").unwrap();
        std::fs::write(dir.path().join("b.rsp"), "-c f.c").unwrap();
        let key = |rsp: &str| match parse_in(&["-frecord-gcc-switches", rsp], dir.path()) {
            Parsed::Cacheable(c) => c.key_args,
            other => panic!("{other:?}"),
        };
        let a = key("@a.rsp");
        assert_eq!(
            strs(&a),
            [
                "-frecord-gcc-switches",
                RECORDED_COMMAND_LINE,
                "2",
                "-frecord-gcc-switches",
                "@a.rsp",
                "3",
                "-frecord-gcc-switches",
                "-c",
                "f.c"
            ]
        );
        assert_ne!(a, key("@b.rsp"));
    }

    #[test]
    fn output_to_a_device() {
        for extra in [
            &["-o", "/dev/null"][..],
            &["-o/dev/null"],
            &["--output=/dev/stdout"],
            &["-o", "/dev/fd/1"],
            &["-o", "/proc/self/fd/1"],
            &["-o", "/tmp/../dev/null"],
            &["-o", "/dev/null", "-MD"],
            &["-o", "f.o", "-MD", "-MF", "/dev/null"],
            &["-o", "f.o", "-MMD", "-MF/dev/stdout"],
        ] {
            let mut args = vec!["-c", "f.c"];
            args.extend_from_slice(extra);
            assert_eq!(no(&args), "output to a device", "{extra:?}");
        }
        // Relative paths are read from the working directory.
        assert_eq!(
            parse_in(&["-c", "f.c", "-o", "null"], Path::new("/dev")),
            Parsed::NotCacheable("output to a device".into())
        );
        assert_eq!(
            parse_in(&["-c", "f.c", "-o", "../dev/null"], Path::new("/tmp")),
            Parsed::NotCacheable("output to a device".into())
        );
        // Only paths the compile writes count; an `-MF` without `-MD` writes nothing.
        ok(&["-c", "f.c", "-MF", "/dev/null"]);
        ok(&["-c", "f.c", "-o", "/tmp/device.o", "-I/dev/include"]);
        ok(&["-c", "f.c", "-o", "/devices/f.o"]);
        assert_eq!(
            parse_in(&["-c", "f.c", "-o", "dev/null"], Path::new("/home")),
            Parsed::Cacheable(ok(&["-c", "f.c", "-o", "dev/null"]))
        );
    }

    #[test]
    fn opt_info_to_stderr_is_fine() {
        for flag in ["-fopt-info", "-fopt-info-vec-missed", "-ftime-report"] {
            let c = ok(&["-c", "f.c", flag]);
            assert_eq!(strs(&c.key_args), [flag]);
        }
    }

    #[test]
    fn assembler_directives_that_read_files() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"", None),
            (b"int x = a.b + 1.5;", None),
            (b".incbin \"blob.bin\"\n", Some(".incbin")),
            (b"  .include \"macros.s\"\n", Some(".include")),
            (b"\t.INCBIN \"x\"", Some(".incbin")),
            (b".IncLude\t\"x\"", Some(".include")),
            // Inline assembly: after a quote or a `\n` escape, at the very end.
            (b"asm(\".incbin \\\"x\\\"\");", Some(".incbin")),
            (b"asm(\"nop\\n.include \\\"m.s\\\"\");", Some(".include")),
            (b"asm(\".incbin\\\"x\\\"\");", Some(".incbin")),
            (b"x .include", Some(".include")),
            // Longer names are other symbols.
            (b"opts.include_dirs = 0; y.incbins; z.included", None),
            (b"a.incbin2 b.include$ c.inc", None),
            (b"int inc, incbin, include;", None),
            // The first directive found is the reason.
            (b".inc .include x .incbin y", Some(".include")),
            (b"..incbin ", Some(".incbin")),
        ];
        for (source, expected) in cases {
            assert_eq!(
                refusal_in_source(source),
                *expected,
                "{}",
                String::from_utf8_lossy(source)
            );
        }
        // A directive far into a large text is still found.
        let mut big = b"s.member = 1.0; ".repeat(200_000);
        assert_eq!(refusal_in_source(&big), None);
        big.extend_from_slice(b"\n.incbin \"x\"\n");
        assert_eq!(refusal_in_source(&big), Some(".incbin"));
    }
}
