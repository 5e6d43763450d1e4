//! One pass over the expanded gcc/clang arguments: `Scan` gathers the preprocessor and key
//! argument lists, the inputs with their `-x` language, the outputs asked for, the debug and
//! coverage settings that reach the outputs, and the first reason to refuse.
//!
//! It applies one flag at a time as the flag table classifies it. It must not look at files or
//! decide the outcome; `finish` in `mod.rs` does that once every argument is read.

use super::flags::{Role, Stop};
use super::language::x_language;
use crate::compiler::Language;
use std::ffi::{OsStr, OsString};
use Role::*;

/// Everything learnt from one pass over the expanded arguments.
#[derive(Default)]
pub(super) struct Scan {
    pub(super) pre: Vec<OsString>,
    pub(super) key: Vec<OsString>,
    /// Each input with the `-x` language in force where it stands (`None` for "by extension").
    pub(super) inputs: Vec<(OsString, Option<Language>)>,
    pub(super) x: Option<Language>,
    pub(super) compile: bool,
    pub(super) stop: Option<Stop>,
    /// The first reason found not to cache; later ones would only hide it.
    pub(super) reason: Option<&'static str>,
    pub(super) output: Option<OsString>,
    pub(super) dep_gen: bool,
    pub(super) dep_target: bool,
    pub(super) dep_path: Option<OsString>,
    /// The last debug level asked for: on, off (`-g0`), or never mentioned.
    pub(super) debug: Option<bool>,
    /// The debug level as gcc counts it (0 none, 2 for a plain `-g`, 3 with macros).
    pub(super) level: u8,
    /// clang's `-fdebug-macro` in force.
    pub(super) debug_macro: bool,
    /// `-frecord-gcc-switches`/`-frecord-command-line` in force (a section of the object).
    pub(super) record_f: bool,
    /// `-grecord-gcc-switches`/`-grecord-command-line` in force (the debug info's producer).
    pub(super) record_g: bool,
    pub(super) split_dwarf: bool,
    pub(super) notes: bool,
    pub(super) obj_in_key: bool,
    pub(super) cwd_in_key: bool,
    pub(super) arches: Vec<OsString>,
    /// The next `-Xclang` argument is the value of a known cc1 option.
    pub(super) xclang_value_next: bool,
    /// That value is cc1's `-mllvm`'s (`-Xclang -mllvm -Xclang <option>`).
    pub(super) xclang_mllvm_next: bool,
}

/// cc1 options (passed with `-Xclang`) that read no file and change the outputs only through
/// the key's arguments.
const XCLANG_KNOWN: &[&str] = &[
    "-disable-O0-optnone",
    "-disable-llvm-passes",
    "-disable-llvm-optzns",
    "-disable-llvm-verifier",
    "-fno-pch-timestamp",
    "-fexperimental-new-pass-manager",
    "-fno-experimental-new-pass-manager",
    "-mconstructor-aliases",
    "-mno-constructor-aliases",
    "-emit-llvm-uselists",
    "-fcolor-diagnostics",
    "-fno-color-diagnostics",
    "-fno-semantic-interposition",
    "-fforce-emit-vtables",
    "-no-opaque-pointers",
    "-opaque-pointers",
];

/// cc1 options with their value glued on (`-fdebug-compilation-dir=DIR`) that read no file.
const XCLANG_KNOWN_PREFIXES: &[&str] = &["-fdebug-compilation-dir=", "-mframe-pointer="];

/// cc1 options whose value is the next `-Xclang` argument and names no file.
const XCLANG_WITH_VALUE: &[&str] = &[
    "-target-feature",
    "-target-cpu",
    "-mllvm",
    "-fdebug-compilation-dir",
    "-main-file-name",
];

impl Scan {
    pub(super) fn refuse(&mut self, reason: &'static str) {
        self.reason.get_or_insert(reason);
    }

    fn both(&mut self, written: &[OsString]) {
        self.pre.extend_from_slice(written);
        self.key.extend_from_slice(written);
    }

    /// Applies one flag; `value` is its value however it was written, `written` the arguments
    /// it occupied on the command line.
    pub(super) fn flag(
        &mut self,
        s: &str,
        role: Role,
        value: Option<&OsStr>,
        written: &[OsString],
    ) {
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
            DepPath => {
                // `-MF -`: the rule goes to the compiler's stdout, not to a file named `-`.
                if value_str == Some("-") {
                    self.refuse("dependency output to stdout");
                }
                self.dep_path = value.map(OsStr::to_os_string);
            }
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
            Xclang => self.xclang(value_str, written),
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
            ToAssembler => {
                self.both(written);
                let items = if s == "-Xassembler" {
                    value_str.map(|item| vec![item])
                } else {
                    s.get(4..).map(|items| items.split(',').collect())
                };
                match items {
                    Some(items) => self.assembler_items(&items),
                    None => self.refuse("non-UTF-8 assembler option"),
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
            Mllvm => {
                self.both(written);
                if value_str.is_none_or(crate::compiler::llvm_option_may_write) {
                    self.refuse("-mllvm option that may write a file");
                }
            }
            Lto => {
                self.both(written);
                self.cwd_in_key = true;
            }
            Stop(stop) => self.stop = Some(self.stop.map_or(stop, |s| s.min(stop))),
            No(reason) => self.refuse(reason),
        }
    }

    /// Applies one `-Xclang` argument. cc1 options are many and some read files (profiles,
    /// plugins) or turn on what the key must know (debug info): only the ones known here are
    /// taken, anything else makes the compile uncacheable.
    fn xclang(&mut self, value: Option<&str>, written: &[OsString]) {
        if std::mem::take(&mut self.xclang_mllvm_next)
            && value.is_none_or(crate::compiler::llvm_option_may_write)
        {
            return self.refuse("-mllvm option that may write a file");
        }
        if std::mem::take(&mut self.xclang_value_next) {
            // The value of the cc1 option before (`-Xclang -target-feature -Xclang +avx`).
            self.both(written);
            return;
        }
        let Some(value) = value else {
            return self.refuse("-Xclang");
        };
        let plugin = matches!(value, "-load" | "-plugin" | "-add-plugin")
            || value.starts_with("-plugin-arg");
        if plugin {
            // cc1 loads plugins with `-load`/`-plugin`; their code is not in the key.
            return self.refuse("compiler plugin");
        }
        match value {
            // cc1's own `-P`: only what `-E` prints, as for `PrintOnly`.
            "-P" => self.key.extend_from_slice(written),
            "-debug-info-macro" => {
                self.debug_macro = true;
                self.both(written);
            }
            // Debug info, with the working directory in it, as `-g` would.
            _ if value.starts_with("-debug-info-kind=") => {
                self.both(written);
                self.debug = Some(true);
                self.level = self.level.max(2);
            }
            _ if XCLANG_WITH_VALUE.contains(&value) => {
                self.xclang_value_next = true;
                self.xclang_mllvm_next = value == "-mllvm";
                self.both(written);
            }
            _ if XCLANG_KNOWN.contains(&value)
                || XCLANG_KNOWN_PREFIXES.iter().any(|p| value.starts_with(p)) =>
            {
                self.both(written)
            }
            _ => self.refuse("-Xclang with an option not known to be safe"),
        }
    }

    /// Options handed to the assembler. Those that write files a hit would not restore
    /// (listings `-a...=file`, dependencies `--MD file`, another object `-o`) or read options
    /// from a file (`@file`) are refused; its own debug info (`-g`, `--gdwarf-N`) records the
    /// working directory, which then goes into the key.
    fn assembler_items(&mut self, items: &[&str]) {
        for item in items {
            let writes_file = item.starts_with("-a")
                || item.starts_with("--MD")
                || item.starts_with("-MD")
                || item.starts_with("-o")
                || item.starts_with('@');
            if writes_file {
                self.refuse("assembler option writing a file");
            }
            let debug = matches!(*item, "-g" | "--gen-debug" | "--gstabs" | "--gstabs+")
                || item.starts_with("--gdwarf")
                || item.starts_with("-gdwarf");
            if debug {
                self.cwd_in_key = true;
            }
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
            // clang embeds each file's raw text, comments and all, which the preprocessed
            // text does not carry.
            "-gembed-source" => self.refuse("-gembed-source"),
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
    pub(super) fn macros_in_object(&self) -> bool {
        self.debug_macro || self.level >= 3
    }
}
