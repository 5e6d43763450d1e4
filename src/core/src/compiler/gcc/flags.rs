//! The gcc/clang flag table: for each flag that needs more than "pass it on", how it takes its
//! value (`Take`) and what it means to the cache (`Role`), and the lookup of one argument in it.
//!
//! It only classifies flags; acting on them is `scan`'s job. It must not read files or decide
//! the outcome of a compile.

/// How a table entry matches an argument and where its value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Take {
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
pub(super) enum Stop {
    Preprocess,
    Depend,
    Assemble,
}

/// What a flag means to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
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
    /// `-Xassembler`/`-Wa,`: options that may make the assembler write files or record the
    /// working directory.
    ToAssembler,
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
    /// `-mllvm`: its value is any LLVM option, some of which write files
    /// (`-info-output-file=`, `-pass-remarks-output=`).
    Mllvm,
    /// `-flto...`: gcc's LTO objects record the working directory of relative source names,
    /// debug info or not.
    Lto,
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
pub(super) static FLAGS: &[(&str, Take, Role)] = &[
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
    ("-Xlinker", Separate, Plain), ("-Xassembler", Separate, ToAssembler),
    ("-Wa,", Prefix, ToAssembler),
    ("-Xpreprocessor", Separate, ToPreprocessor), ("-Wp,", Prefix, ToPreprocessor),
    ("-Xclang", Separate, Xclang), ("-arch", Separate, Arch),
    ("-target", Separate, Plain), ("-mllvm", Separate, Mllvm), ("-mllvm=", Prefix, No("-mllvm option that may write a file")),
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
    ("-flto", Prefix, Lto),
    // Without `-E`, gcc reads `-dM` as an RTL dump; with `-E` it prints only the macros, so the
    // preprocessed text would lose the code.
    ("-dM", Alone, No("-dM")),
    ("-fprofile-use", Prefix, No("-fprofile-use")),
    ("-fprofile-instr-use", Prefix, No("-fprofile-use")),
    ("-fprofile-sample-use", Prefix, No("-fprofile-use")),
    ("-fauto-profile", Prefix, No("-fprofile-use")),
    ("-fprofile-list", Prefix, No("-fprofile-list")),
    // Flags that make the compiler read a file the preprocessor does not: its contents would
    // be missing from the key. `-fbranch-probabilities` reads the `.gcda` of a profiled run.
    ("-fbranch-probabilities", Alone, No("-fprofile-use")),
    ("-fprofile-remapping-file", Prefix, No("-fprofile-use")),
    ("-fprofile-instrument-use-path", Prefix, No("-fprofile-use")),
    ("-fprofile-note", Prefix, No("-fprofile-note")),
    ("-fxray-always-instrument", Prefix, No("-fxray attribute list")),
    ("-fxray-never-instrument", Prefix, No("-fxray attribute list")),
    ("-fxray-attr-list", Prefix, No("-fxray attribute list")),
    ("-fsanitize-system-ignorelist", Prefix, No("-fsanitize-ignorelist")),
    ("-fbasic-block-sections", Prefix, No("-fbasic-block-sections")),
    ("-fthinlto-index", Prefix, No("-fthinlto-index")),
    ("-fembed-offload-object", Prefix, No("-fembed-offload-object")),
    ("-fmodule-map-file", Prefix, No("clang modules")),
    ("-fprebuilt-module-path", Prefix, No("clang modules")),
    // With it, `-E` prints `#pragma GCC pch_preprocess "x.h.gch"` instead of the header: the
    // precompiled header's contents would reach the compile but not the key.
    ("-fpch-preprocess", Alone, No("-fpch-preprocess")),
    ("-fsanitize-blacklist", Prefix, No("-fsanitize-ignorelist")),
    ("-fsanitize-ignorelist", Prefix, No("-fsanitize-ignorelist")),
    ("-fsanitize-coverage-allowlist", Prefix, No("-fsanitize-coverage-allowlist")),
    ("-fsanitize-coverage-ignorelist", Prefix, No("-fsanitize-coverage-allowlist")),
    ("-fplugin", Prefix, No("compiler plugin")), ("-fpass-plugin", Prefix, No("compiler plugin")),
    ("-fmodules", Alone, No("clang modules")), ("-fcxx-modules", Alone, No("clang modules")),
    ("-fmodules-ts", Alone, No("C++ modules")), ("-fmodule-file", Prefix, No("C++ modules")),
    ("-fmodule-output", Prefix, No("C++ modules")),
    // A header unit (`-fmodule-header[=user|system]`) writes `gcm.cache/...gcm` beside the
    // object and may import others' `.gcm` files.
    ("-fmodule-header", Prefix, No("C++ modules")), ("-fmodule-mapper", Prefix, No("C++ modules")),
    ("-fmodule-only", Alone, No("C++ modules")),
    // clang's driver appends a line per process it runs to the file.
    ("-fproc-stat-report", Prefix, No("-fproc-stat-report")),
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
    // `--driver-mode=cl` reads the rest as cl.exe's options (`-MD` picks a runtime library).
    ("--driver-mode", Prefix, No("--driver-mode")),
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

/// Finds the table entry for a UTF-8 flag, with how it takes its value.
pub(super) fn lookup(s: &str) -> (Take, Role, usize) {
    for &(name, take, role) in FLAGS {
        let hit = match take {
            Alone | Separate => s == name,
            Either | Prefix => s.starts_with(name),
        };
        if hit {
            return (take, role, name.len());
        }
    }
    if is_dump_letters(s) {
        return (Alone, No("-d dumps"), s.len());
    }
    (Alone, Plain, s.len())
}

/// gcc's `-d<letters>` other than the preprocessor's `-dD`, `-dI`, `-dN`, `-dU` (which change
/// only what `-E` prints): RTL dumps into files beside the output (`-da`), memory statistics
/// (`-dm`), and more a hit would not reproduce.
fn is_dump_letters(s: &str) -> bool {
    s.strip_prefix("-d").is_some_and(|letters| {
        !letters.is_empty()
            && letters.bytes().all(|b| b.is_ascii_alphabetic())
            && letters
                .bytes()
                .any(|b| !matches!(b, b'D' | b'I' | b'N' | b'U'))
    })
}
