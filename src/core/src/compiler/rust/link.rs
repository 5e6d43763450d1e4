//! What a linking rustc compile (a `bin`, `proc-macro`, `dylib` or `cdylib` crate, build
//! scripts included) hands the linker, as its command line says: the linker named, the
//! `-C link-arg(s)` and what they name, the `-l` libraries and the `-L` directories.
//!
//! It reads only the command line; resolving names to files (the linker on `PATH`, libraries
//! in the search directories) and digesting them is the actors layer's job
//! (`flow/rust_link.rs`). A link argument this module cannot read with confidence (one that
//! writes a file, reads a response file or changes where the driver finds its programs) is a
//! refusal, by label.

use std::ffi::OsString;

/// The crate types whose compile runs the linker.
pub const LINKED_CRATE_TYPES: &[&str] = &["bin", "proc-macro", "dylib", "cdylib"];

/// The `-C` options that only the linker reads: left out of the key of a compile that does
/// not link (a library), so that a linker change does not rebuild libraries; in the key of one
/// that does.
pub const LINK_ONLY_CODEGEN: &[&str] = &["linker", "link-arg", "link-args"];

/// What a linking compile asks of the linker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSpec {
    /// The `-C linker=` value (the last one), as written; `None`: rustc's default (`cc`).
    pub linker: Option<OsString>,
    /// `-L` directories with their kind, in command-line order.
    pub search_dirs: Vec<(String, OsString)>,
    /// `-l` libraries: the kind (`static`, `dylib`, `framework`, `link-arg`, or empty), the
    /// name and whether it is `+verbatim`.
    pub libs: Vec<LinkLib>,
    /// The `-C link-arg`/`link-args` words, in order.
    pub link_args: Vec<String>,
    /// The files the link arguments name (linker scripts, objects, version scripts), as
    /// written: every file each leads to when the key is taken (a name that leads to none
    /// adds nothing).
    pub arg_files: Vec<OsString>,
    /// Words that may name a file read (the value an option of ours takes as other than a
    /// file, should the table be wrong): when one names a file, the file is digested.
    pub maybe_files: Vec<OsString>,
    /// Values of options this module does not know (`--flag=value`): a file is digested, a
    /// directory (a search directory, maybe) is a refusal.
    pub unknown_values: Vec<OsString>,
    /// Library directories the link arguments add (`-L`, `-Wl,-L`, `-rpath-link`).
    pub arg_dirs: Vec<OsString>,
    /// `-fuse-ld=NAME` in the link arguments: the linker the driver is asked to run.
    pub fuse_ld: Option<String>,
}

/// One `-l` library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLib {
    pub kind: String,
    pub name: String,
    pub verbatim: bool,
}

impl LinkLib {
    /// Reads `-l [KIND[:MODIFIERS]=]NAME[:RENAME]`.
    pub fn parse(value: &str) -> LinkLib {
        let (kind, modifiers, lib) = match value.split_once('=') {
            Some((head, lib)) => {
                let (kind, modifiers) = head.split_once(':').unwrap_or((head, ""));
                (kind, modifiers, lib)
            }
            None => ("", "", value),
        };
        let name = lib.split_once(':').map_or(lib, |(n, _)| n);
        LinkLib {
            kind: kind.to_owned(),
            name: name.to_owned(),
            verbatim: modifiers.split(',').any(|m| m == "+verbatim"),
        }
    }
}

/// Linker (and driver) options that write a file or read one the cache cannot follow.
const REFUSED_LINK_ARGS: &[&str] = &[
    "-o",
    "--output",
    "-Map",
    "--Map",
    "--out-implib",
    "--dependency-file",
    "-save-temps",
    "--save-temps",
    "-B",
    "--sysroot",
    "-specs",
    "--specs",
    "--plugin",
    "-plugin",
    "--print-map",
    "-M",
    "--trace",
    "-t",
    // Another file read in an input's place, or a file of them.
    "--remap-inputs",
    "--remap-inputs-file",
    // Options that hand a file to the linker's plugin, or write files of lld's.
    "--plugin-opt",
    "--reproduce",
    "--why-extract",
    "--lto-obj-path",
    "--thinlto-cache-dir",
    // An MRI script (`-c FILE`), and the default library search path (`-Y PATH`).
    "--mri-script",
    // A program the driver runs its programs through, found on `PATH`; gcc's long `-B`;
    // clang's resource and installation directories (its runtime libraries, its `ld`); lld's
    // root for every input.
    "-resource-dir",
    "--resource-dir",
    "-ccc-install-dir",
    "--chroot",
    "-wrapper",
    "--prefix",
    // clang's configuration files, searched in its own directories.
    "--config",
    "--config-user-dir",
    "--config-system-dir",
];

/// Linker options whose value (attached by `=` or as the next word) is a file read.
const FILE_VALUED: &[&str] = &[
    "-T",
    "--script",
    "--version-script",
    "--dynamic-list",
    "--retain-symbols-file",
    "-dT",
    "--default-script",
    "--just-symbols",
    "-R",
    "--symbol-ordering-file",
    "--call-graph-ordering-file",
    "--lto-sample-profile",
    "--export-dynamic-symbol-list",
];

/// The extensions of files the driver compiles or assembles before the link (gcc's "-x"
/// languages): such a file among the link arguments is a source whose headers and includes the
/// key would not hold.
const SOURCE_EXTENSIONS: &[&str] = &[
    "c", "cc", "cp", "cxx", "cpp", "CPP", "c++", "C", "m", "mm", "M", "mi", "mii", "i", "ii", "s",
    "S", "sx", "h", "hh", "H", "hp", "hxx", "hpp", "HPP", "h++", "tcc", "f", "for", "ftn", "F",
    "FOR", "fpp", "FPP", "FTN", "f90", "f95", "f03", "f08", "F90", "F95", "F03", "F08", "go", "d",
    "di", "dd", "ads", "adb", "cu", "cl", "ll", "bc",
];

/// Linker options whose value is a library directory.
const DIR_VALUED: &[&str] = &[
    "-L",
    "--library-path",
    "-rpath-link",
    "--rpath-link",
    // gcc's long `-L`.
    "--library-directory",
];

/// Options whose value is neither a file nor a directory read (a soname, an rpath, a symbol).
const OTHER_VALUED: &[&str] = &[
    "-soname",
    "--soname",
    "-h",
    "-rpath",
    "--rpath",
    "-z",
    "-e",
    "--entry",
    "-u",
    "--undefined",
    "--defsym",
    "-m",
    "--hash-style",
    "--wrap",
    "--dynamic-linker",
    "-dynamic-linker",
    "--export-dynamic-symbol",
    "--undefined-glob",
    "--require-defined",
    "-y",
];

impl LinkSpec {
    /// Reads the link arguments: the files and directories they name. `Err` with the label of
    /// an argument that cannot be cached.
    pub fn read_link_args(&mut self) -> Result<(), String> {
        // The driver's words, with `-Wl,a,b` opened into the linker's words and `-Xlinker w`
        // into `w` (a word the driver hands the linker as it is: a file, a flag or a value).
        // Each says whether the driver reads it itself (`true`) or hands it to the linker.
        let mut words: Vec<(String, bool)> = Vec::new();
        let mut args = self.link_args.iter();
        while let Some(arg) = args.next() {
            if arg.starts_with('@') {
                return Err("link-arg @file".to_owned());
            }
            // gcc's `--for-linker` is its long `-Xlinker`.
            if arg == "-Xlinker" || arg == "--for-linker" {
                let word = args.next().ok_or("link-arg -Xlinker without a value")?;
                words.push((word.clone(), false));
                continue;
            }
            if let Some(word) = arg.strip_prefix("--for-linker=") {
                words.push((word.to_owned(), false));
                continue;
            }
            match arg.strip_prefix("-Wl,") {
                Some(rest) => words.extend(rest.split(',').map(|word| (word.to_owned(), false))),
                None => words.push((arg.clone(), true)),
            }
        }
        let mut rest = words.iter();
        while let Some((word, driver)) = rest.next() {
            let (word, driver) = (word.as_str(), *driver);
            if word.is_empty() {
                continue;
            }
            if word.starts_with('@') {
                return Err("link-arg @file".to_owned());
            }
            if driver && word.starts_with("-x") {
                // A language for the files after it: the driver would compile them.
                return Err("link-arg -x".to_owned());
            }
            if driver && !word.starts_with('-') && is_source(word) {
                return Err("link-arg source file".to_owned());
            }
            // A long option by the name the tables know it (ld takes one or two dashes); an
            // abbreviation of one that reads or writes files is refused (GNU ld and gcc take any
            // unambiguous prefix, which the tables cannot know to be unambiguous).
            let long = long_option(word)?;
            // Single-dash options with their value attached: `-c`/`-Y` (an MRI script, the
            // default search path) refused; `-l:NAME` a file found in the search directories
            // (`-lNAME`, a library, is found in directories whose libraries the key holds);
            // `-R`/`-dT` files read.
            if !word.starts_with("--") && long.is_none() {
                if word.starts_with("-c") || word.starts_with("-Y") {
                    return Err(format!("link-arg {}", &word[..2]));
                }
                if let Some(library) = word.strip_prefix("-l") {
                    let library = match library {
                        "" => rest
                            .next()
                            .map(|(next, _)| next.as_str())
                            .unwrap_or_default(),
                        attached => attached,
                    };
                    if let Some(file) = library.strip_prefix(':') {
                        self.arg_files.push(file.into());
                    }
                    continue;
                }
                if let Some(file) = word
                    .strip_prefix("-dT")
                    .or_else(|| word.strip_prefix("-R"))
                    .filter(|file| !file.is_empty())
                {
                    self.arg_files.push(file.trim_start_matches('=').into());
                    continue;
                }
            }
            let (name, attached) = match word.split_once('=') {
                Some((n, v)) if n.starts_with('-') => (n, Some(v)),
                _ => (word, None),
            };
            let name = long.unwrap_or(name);
            // The driver's `-Bprefix` changes where it finds its programs; the linker's
            // `-Bstatic`, `-Bdynamic`, `-Bsymbolic`... are modes.
            if driver && word.starts_with("-B") {
                return Err("link-arg -B".to_owned());
            }
            if REFUSED_LINK_ARGS.contains(&name) {
                return Err(format!("link-arg {name}"));
            }
            // The linker the driver runs instead of its own: by name (`ld.NAME`, found as the
            // linker is), or by path (mold's usual setup), a file digested as any other.
            if name == "-fuse-ld" || name == "--ld-path" {
                match attached {
                    Some(ld) if ld.contains('/') => self.arg_files.push(ld.into()),
                    Some(ld) if !ld.is_empty() && name == "-fuse-ld" => {
                        self.fuse_ld = Some(ld.to_owned())
                    }
                    _ => return Err(format!("link-arg {name}")),
                }
                continue;
            }
            // `-Lpath` and `-Tscript` attached without `=`.
            if let Some(dir) = word.strip_prefix("-L").filter(|d| !d.is_empty()) {
                if !word.starts_with("--") {
                    self.arg_dirs.push(dir.into());
                    continue;
                }
            }
            if let Some(file) = word.strip_prefix("-T").filter(|f| !f.is_empty()) {
                self.arg_files.push(file.into());
                continue;
            }
            let value = |rest: &mut std::slice::Iter<'_, (String, bool)>| {
                attached
                    .map(str::to_owned)
                    .or_else(|| rest.next().map(|(next, _)| next.clone()))
                    .ok_or_else(|| format!("link-arg {name} without a value"))
            };
            if name == "--library" {
                if let Some(file) = value(&mut rest)?.strip_prefix(':') {
                    self.arg_files.push(file.into());
                }
            } else if FILE_VALUED.contains(&name) {
                self.arg_files.push(value(&mut rest)?.into());
            } else if DIR_VALUED.contains(&name) {
                self.arg_dirs.push(value(&mut rest)?.into());
            } else if OTHER_VALUED.contains(&name) {
                // Should the table be wrong about the option, the word it takes may be a file
                // the linker reads: one that is there is digested.
                if attached.is_none() {
                    if let Some((next, _)) = rest.next() {
                        self.maybe_files.push(next.into());
                    }
                }
            } else if name.starts_with('-') {
                // A flag; a path-looking value after `=` is a file read, a pattern or mapping
                // (`*`, `?`, `[`, `=`) may name files, and any other value that names a file may
                // be one.
                match attached {
                    Some(v) if v.contains('/') => return Err(format!("link-arg {name}=<path>")),
                    Some(v) if v.contains(['*', '?', '[', '=']) => {
                        return Err(format!("link-arg {name}=<pattern>"))
                    }
                    Some(v) if !v.is_empty() => self.unknown_values.push(v.into()),
                    _ => {}
                }
            } else {
                // A free word: an object or library the link reads.
                self.arg_files.push(word.into());
            }
        }
        Ok(())
    }
}

/// Options without a value that are a prefix of an option that reads or writes files (and
/// so would pass for its abbreviation).
const FLAGS: &[&str] = &["--export-dynamic"];

/// The table spelling of the long option `word` names (`-script=x`, `--script x`), if a
/// table has it; `Err` when it is an abbreviation of one that reads or writes files.
fn long_option(word: &str) -> Result<Option<&'static str>, String> {
    let name = word.split_once('=').map_or(word, |(name, _)| name);
    let bare = name.trim_start_matches('-');
    if !name.starts_with('-') || bare.len() < 2 || name.starts_with("---") {
        return Ok(None);
    }
    let tables = [
        REFUSED_LINK_ARGS,
        FILE_VALUED,
        DIR_VALUED,
        OTHER_VALUED,
        FLAGS,
        &["--library", "--ld-path"][..],
    ];
    let spelled = |table: &[&'static str]| {
        table
            .iter()
            .find(|known| known.trim_start_matches('-') == bare)
            .copied()
    };
    if let Some(known) = tables.iter().find_map(|table| spelled(table)) {
        return Ok(Some(known));
    }
    let reads_or_writes = [
        REFUSED_LINK_ARGS,
        FILE_VALUED,
        DIR_VALUED,
        &["--library"][..],
    ];
    let abbreviates = reads_or_writes
        .iter()
        .flat_map(|table| table.iter())
        .any(|known| {
            let known = known.trim_start_matches('-');
            known.len() > 2 && known.starts_with(bare) && known != bare
        });
    if abbreviates {
        return Err(format!("link-arg {name} (an abbreviation)"));
    }
    Ok(None)
}

/// Whether the driver would compile `word` rather than hand it to the linker, by its extension.
fn is_source(word: &str) -> bool {
    std::path::Path::new(word)
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| SOURCE_EXTENSIONS.contains(&extension))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(args: &[&str]) -> Result<LinkSpec, String> {
        let mut spec = LinkSpec {
            link_args: args.iter().map(|a| a.to_string()).collect(),
            ..LinkSpec::default()
        };
        spec.read_link_args().map(|()| spec)
    }

    #[test]
    fn files_and_directories_named_by_link_args_are_found() {
        let spec = read(&[
            "-Wl,-T,memory.x",
            "-Wl,--version-script=v.map",
            "extra.o",
            "-Lnative",
            "-Wl,-rpath-link,/opt/lib",
            "-Wl,-soname,libx.so",
            "-fuse-ld=mold",
            "-Wl,--as-needed",
        ])
        .unwrap();
        assert_eq!(
            spec.arg_files,
            ["memory.x", "v.map", "extra.o"].map(OsString::from)
        );
        assert_eq!(spec.arg_dirs, ["native", "/opt/lib"].map(OsString::from));
        assert_eq!(spec.fuse_ld.as_deref(), Some("mold"));
        let spec = read(&["-Wl,--icf=all"]).unwrap();
        assert_eq!(spec.unknown_values, [OsString::from("all")]);
    }

    #[test]
    fn a_word_given_through_xlinker_is_read_as_the_linker_s() {
        let spec = read(&["-Xlinker", "c.o", "-Xlinker", "-T", "-Xlinker", "s.ld"]).unwrap();
        assert_eq!(spec.arg_files, ["c.o", "s.ld"].map(OsString::from));
        assert_eq!(
            read(&["-Xlinker", "-Map", "-Xlinker", "out.map"]).unwrap_err(),
            "link-arg -Map"
        );
        assert_eq!(
            read(&["-Xlinker"]).unwrap_err(),
            "link-arg -Xlinker without a value"
        );
    }

    #[test]
    fn files_named_by_attached_values_and_searched_names_are_found() {
        let spec = read(&[
            "-l:cv.obj",
            "-Wl,-l,:dv.obj",
            "-lm",
            "-Wl,--library=:ev.obj",
            "-Wl,--library=z",
            "-Wl,-Rjs.o",
            "-Wl,-dTdefault.ld",
        ])
        .unwrap();
        assert_eq!(
            spec.arg_files,
            ["cv.obj", "dv.obj", "ev.obj", "js.o", "default.ld"].map(OsString::from)
        );
    }

    #[test]
    fn long_options_are_read_with_one_dash_and_abbreviations_refused() {
        let spec = read(&[
            "-Wl,-library=:cv.obj",
            "-Wl,-library-path=xl",
            "-Wl,-script=s.ld",
            "--for-linker=-Lyl",
            "--for-linker",
            "t.o",
            "--library-directory=zl",
            "-lm",
            "-Wl,--export-dynamic",
        ])
        .unwrap();
        assert_eq!(
            spec.arg_files,
            ["cv.obj", "s.ld", "t.o"].map(OsString::from)
        );
        assert_eq!(spec.arg_dirs, ["xl", "yl", "zl"].map(OsString::from));
        for abbreviation in [
            "-Wl,--scr=s.ld",
            "-Wl,--default-scr=d.ld",
            "-Wl,--library-pa=xl",
            "-Wl,--Ma=x.map",
        ] {
            assert!(
                read(&[abbreviation])
                    .unwrap_err()
                    .ends_with("(an abbreviation)"),
                "{abbreviation}"
            );
        }
        assert_eq!(read(&["--prefix", "xb/"]).unwrap_err(), "link-arg --prefix");
        // A value of an unknown option is looked at: a file digested, a directory refused.
        assert_eq!(
            read(&["-Wl,--frob=xl"]).unwrap().unknown_values,
            [OsString::from("xl")]
        );
    }

    #[test]
    fn what_the_driver_compiles_or_the_linker_swaps_is_refused() {
        assert_eq!(read(&["cf.c"]).unwrap_err(), "link-arg source file");
        assert_eq!(read(&["start.S"]).unwrap_err(), "link-arg source file");
        assert_eq!(read(&["-x", "c", "cf"]).unwrap_err(), "link-arg -x");
        // The linker's own `-x` (discard locals) and a file it is handed are its business.
        assert!(read(&["-Wl,-x", "-Wl,odd.c"]).is_ok());
        assert_eq!(
            read(&["-Wl,--remap-inputs=*c.o=alt.o"]).unwrap_err(),
            "link-arg --remap-inputs"
        );
        assert_eq!(
            read(&["-Wl,--remap-inputs-file=r.txt"]).unwrap_err(),
            "link-arg --remap-inputs-file"
        );
        assert_eq!(
            read(&["-Wl,--frobnicate=*.o"]).unwrap_err(),
            "link-arg --frobnicate=<pattern>"
        );
        assert_eq!(read(&["-Wl,-cscript.mri"]).unwrap_err(), "link-arg -c");
        assert_eq!(read(&["--ld-path=mold"]).unwrap_err(), "link-arg --ld-path");
        assert_eq!(read(&["-wrapper", "w"]).unwrap_err(), "link-arg -wrapper");
        assert_eq!(
            read(&["--config", "x.cfg"]).unwrap_err(),
            "link-arg --config"
        );
        assert_eq!(
            read(&["--config-user-dir=cfg"]).unwrap_err(),
            "link-arg --config-user-dir"
        );
        // A linker by path is a file of the link; symbol patterns are no files.
        let spec = read(&[
            "-fuse-ld=/usr/local/bin/mold",
            "--ld-path=/usr/bin/ld.gold",
            "-Wl,--export-dynamic-symbol=rust_*",
        ])
        .unwrap();
        assert_eq!(
            spec.arg_files,
            ["/usr/local/bin/mold", "/usr/bin/ld.gold"].map(OsString::from)
        );
        // A bare `--build-id` takes no value: the next word is a file.
        let spec = read(&["-Wl,--build-id", "c.o", "-Wl,-z", "-Wl,relro"]).unwrap();
        assert_eq!(spec.arg_files, [OsString::from("c.o")]);
        assert_eq!(spec.maybe_files, [OsString::from("relro")]);
        assert!(read(&["-Wl,--dynamic-linker=/lib64/ld-linux-x86-64.so.2"]).is_ok());
        assert_eq!(read(&["-Wl,-Y,/opt/lib"]).unwrap_err(), "link-arg -Y");
    }

    #[test]
    fn link_args_that_write_or_hide_files_are_refused() {
        assert_eq!(read(&["-Wl,-Map=out.map"]).unwrap_err(), "link-arg -Map");
        assert_eq!(read(&["@args.txt"]).unwrap_err(), "link-arg @file");
        assert_eq!(read(&["-B/opt/bin"]).unwrap_err(), "link-arg -B");
        assert_eq!(read(&["-B", "/opt/bin"]).unwrap_err(), "link-arg -B");
        assert!(read(&["-Wl,-Bstatic", "-lfoo", "-Wl,-Bdynamic,-Bsymbolic"]).is_ok());
        assert_eq!(read(&["-fuse-ld="]).unwrap_err(), "link-arg -fuse-ld");
        assert_eq!(
            read(&["-Wl,--whatever=/etc/x"]).unwrap_err(),
            "link-arg --whatever=<path>"
        );
    }

    #[test]
    fn libraries_are_read_with_kind_and_modifiers() {
        assert_eq!(
            LinkLib::parse("static:+whole-archive,+verbatim=libx.a"),
            LinkLib {
                kind: "static".into(),
                name: "libx.a".into(),
                verbatim: true
            }
        );
        assert_eq!(
            LinkLib::parse("z"),
            LinkLib {
                kind: String::new(),
                name: "z".into(),
                verbatim: false
            }
        );
        assert_eq!(LinkLib::parse("dylib=foo:bar").name, "foo");
    }
}
