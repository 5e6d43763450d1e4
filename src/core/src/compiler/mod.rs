//! Compiler argument parsing: what a command line asks a compiler to do, and whether that can be
//! cached.
//!
//! Owns the outcome of reading a command line (`Parsed`) and the shapes a cacheable compile takes
//! for each compiler family. It runs no process and computes no key; `hash_key` decides what a
//! key contains from what the parsers return here.

pub mod gcc;
pub mod rust;

use crate::stats::StatsLabel;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// The families of compilers the cache understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CompilerKind {
    Gcc,
    Clang,
    Rustc,
}

impl CompilerKind {
    /// The names under which hits and misses of this compiler are counted, as sccache counts
    /// them: the language group, and the language with the compiler (`c [gcc]`). `language` is
    /// the C family's source language (`None` for rustc, whose label has no compiler part).
    pub fn stats_label(self, language: Option<Language>) -> StatsLabel {
        let compiler = match self {
            CompilerKind::Gcc => "gcc",
            CompilerKind::Clang => "clang",
            CompilerKind::Rustc => {
                return StatsLabel {
                    group: "Rust",
                    detail: "rust".to_owned(),
                }
            }
        };
        let language = language.unwrap_or(Language::C);
        StatsLabel {
            group: language.stats_group(),
            detail: format!("{} [{compiler}]", language.stats_name()),
        }
    }
}

impl fmt::Display for CompilerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompilerKind::Gcc => "gcc",
            CompilerKind::Clang => "clang",
            CompilerKind::Rustc => "rustc",
        })
    }
}

/// What reading a command line found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A compile the cache can serve.
    Cacheable(T),
    /// A compile the cache must not serve; the reason is a short label shown in the stats
    /// (for example `-E`, `multiple input files`, `crate-type (bin)`).
    NotCacheable(String),
    /// Not a compilation at all (linking, `--version`, ...).
    NotCompilation,
}

/// The source language of a C-family compile, from `-x` or the input's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    C,
    Cxx,
    ObjectiveC,
    ObjectiveCxx,
    /// Already preprocessed C (`.i`, `-x cpp-output`).
    PreprocessedC,
    /// Already preprocessed C++ (`.ii`, `-x c++-cpp-output`).
    PreprocessedCxx,
    /// Assembler with C preprocessing (`.S`, `-x assembler-with-cpp`).
    AssemblerWithCpp,
    /// Plain assembler (`.s`, `-x assembler`).
    Assembler,
}

impl Language {
    /// The language group sccache counts this language under (`--show-stats`, `counts`).
    pub fn stats_group(self) -> &'static str {
        match self {
            Language::AssemblerWithCpp | Language::Assembler => "Assembler",
            _ => "C/C++",
        }
    }

    /// The language's name in sccache's detailed labels (`--show-adv-stats`, `adv_counts`):
    /// sccache's own spellings, so that dashboards keyed on them keep working.
    pub fn stats_name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "c++",
            Language::ObjectiveC => "objc",
            Language::ObjectiveCxx => "objc++",
            Language::PreprocessedC => "cPreprocessed",
            Language::PreprocessedCxx => "c++Preprocessed",
            Language::AssemblerWithCpp => "assemblerToPreprocess",
            Language::Assembler => "assembler",
        }
    }

    /// The name gcc and clang accept after `-x` for this language.
    pub fn as_x_arg(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cxx => "c++",
            Language::ObjectiveC => "objective-c",
            Language::ObjectiveCxx => "objective-c++",
            Language::PreprocessedC => "cpp-output",
            Language::PreprocessedCxx => "c++-cpp-output",
            Language::AssemblerWithCpp => "assembler-with-cpp",
            Language::Assembler => "assembler",
        }
    }
}

/// What one output file of a cached compile is for. The role, not the path, names a file inside
/// a cache entry, so that a hit can restore it wherever this invocation wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OutputRole {
    /// The object file (`-o`).
    Object,
    /// The dependency file (`-MD`/`-MMD`, `-MF`).
    DepFile,
    /// The split DWARF file (`-gsplit-dwarf`).
    SplitDwarf,
    /// The coverage notes file (`--coverage`, `-ftest-coverage`).
    CoverageNotes,
}

impl OutputRole {
    /// A stable name for the role, used inside cache entries.
    pub fn entry_name(self) -> &'static str {
        match self {
            OutputRole::Object => "obj",
            OutputRole::DepFile => "d",
            OutputRole::SplitDwarf => "dwo",
            OutputRole::CoverageNotes => "gcno",
        }
    }
}

/// Spellings of a process's own descriptors: whoever reads them reads its own.
const DESCRIPTOR_NAMES: &[&[u8]] = &[b"/dev/stdin", b"/dev/fd/", b"/proc/self/fd/", b"/dev/tty"];

/// A path written by the compile, read from `cwd`, with `.` and `..` resolved by name
/// (symbolic links are not followed).
pub fn lexical(path: &OsStr, cwd: &Path) -> PathBuf {
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
    normal
}

/// Whether an LLVM option (clang's `-mllvm`, rustc's `-C llvm-args`) may read or write a file
/// the key does not hold or a hit would not reproduce: LLVM has hundreds of options, and many
/// name files without saying so (`-dfsan-abilist=`, `-polly-dump-before`,
/// `-attributor-dump-dep-graph`), so only the tuning options of `SAFE_LLVM_OPTIONS` are taken.
pub fn llvm_option_may_write(option: &str) -> bool {
    let name = option.trim_start_matches('-');
    let name = name.split_once('=').map_or(name, |(name, _)| name);
    !SAFE_LLVM_OPTIONS.contains(&name)
}

/// LLVM options (without their dashes and value) that change code generation and read or
/// write no file.
const SAFE_LLVM_OPTIONS: &[&str] = &[
    "inline-threshold",
    "unroll-threshold",
    "x86-asm-syntax",
    "x86-branches-within-32B-boundaries",
    "x86-align-branch",
    "x86-align-branch-boundary",
    "align-all-functions",
    "align-all-blocks",
    "align-all-nofallthru-blocks",
    "enable-machine-outliner",
    "vectorize-loops",
    "vectorize-slp",
    "enable-loop-distribute",
    "enable-unroll-and-jam",
    "hot-cold-split",
    "import-instr-limit",
    "polly",
    "polly-vectorizer",
    "polly-parallel",
    "force-vector-width",
    "force-vector-interleave",
];

/// Whether a path, read from `cwd`, names a device or a kernel file (`/dev/null`,
/// `/dev/stdout`, `/proc/self/fd/1`) rather than a file: an input another process would read
/// differently, or an output a hit could not restore.
pub fn is_device(path: &OsStr, cwd: &Path) -> bool {
    let normal = lexical(path, cwd);
    // `/dev/shm` is an ordinary (memory) file system that people build in.
    (normal.starts_with("/dev") && !normal.starts_with("/dev/shm")) || normal.starts_with("/proc")
}

/// Whether an argument spells a descriptor of the process reading it, anywhere in it.
pub fn names_descriptor(arg: &OsStr) -> bool {
    let bytes = arg.as_encoded_bytes();
    DESCRIPTOR_NAMES
        .iter()
        .any(|name| memchr::memmem::find(bytes, name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_labels_are_sccaches() {
        let label = |kind: CompilerKind, language| {
            let label = kind.stats_label(language);
            (label.group, label.detail)
        };
        assert_eq!(
            label(CompilerKind::Gcc, Some(Language::C)),
            ("C/C++", "c [gcc]".to_owned())
        );
        assert_eq!(
            label(CompilerKind::Clang, Some(Language::Cxx)),
            ("C/C++", "c++ [clang]".to_owned())
        );
        assert_eq!(
            label(CompilerKind::Gcc, Some(Language::AssemblerWithCpp)),
            ("Assembler", "assemblerToPreprocess [gcc]".to_owned())
        );
        assert_eq!(
            label(CompilerKind::Rustc, None),
            ("Rust", "rust".to_owned())
        );
    }
}
