//! The C family's keys: a gcc/clang compile's result key (`c_key`) and its direct-mode
//! manifest's key (`manifest_key`). (The result key of a compile recorded without the
//! preprocessor is the record's: `direct::Recorded::depend_key`.)

use super::writer::{hash_env, CacheKey, CompilerIdentity, KeyWriter};
use crate::compiler::gcc::CCompilation;
use crate::source_digest::SourceSummary;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Environment variables that change what gcc or clang produce or print. Variables that only
/// move where files go are not here.
const C_ENV_VARS: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "SOURCE_DATE_EPOCH",
    "GCC_COMPARE_DEBUG",
    "GCC_COLORS",
    // gcc prints fix-it hints in a machine-readable form beside its diagnostics.
    "GCC_EXTRA_DIAGNOSTIC_OUTPUT",
    "GCC_URLS",
    "TERM_URLS",
    "COLUMNS",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
    "SDKROOT",
    "CCC_OVERRIDE_OPTIONS",
    "CLANG_CONFIG_FILE_SYSTEM_DIR",
    "CLANG_CONFIG_FILE_USER_DIR",
    // Whether clang reads its default configuration files (which may add any option).
    "CLANG_NO_DEFAULT_CONFIG",
    // LLVM writes it as the producer of bitcode (`-flto`'s objects).
    "LLVM_OVERRIDE_PRODUCER",
];

/// Variables that change what gcc's preprocessor reads or how it reads the command line, beyond
/// `C_ENV_VARS` (which every C key takes): gcc edits its own arguments by
/// `QA_OVERRIDE_GCC3_OPTIONS`. In a manifest's key only: the preprocessed text shows what they
/// did on the ordinary path.
const DIRECT_ENV_VARS: &[&str] = &["QA_OVERRIDE_GCC3_OPTIONS"];

/// The key of a gcc/clang compile: the compiler, the language, the arguments that change the
/// output, the preprocessed source (by its digest, taken as it streamed out of the
/// preprocessor: `source_digest`), the environment that changes the compiler's behaviour, and
/// the working directory when the compiler writes it into an output.
pub fn c_key(
    compiler: &CompilerIdentity,
    exe: &OsStr,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    source: &SourceSummary,
) -> CacheKey {
    let mut key = KeyWriter::new("c compile");
    key.field("compiler", &compiler.digest);
    key.field("language", compilation.language.as_x_arg().as_bytes());
    // The input's name reaches the object (the symbol table's FILE entry, debug info) even
    // where the preprocessed text does not carry it (assembler input, `-P`).
    key.field("input", compilation.input.as_bytes());
    key.list("args", compilation.key_args.iter().map(OsString::as_os_str));
    let roles: Vec<&str> = compilation
        .outputs
        .iter()
        .map(|output| output.role.entry_name())
        .collect();
    key.field("outputs", roles.join(",").as_bytes());
    if compilation.cwd_in_key {
        key.field("cwd", cwd.as_bytes());
        // gcc (libiberty's getpwd) and clang write `$PWD` as spelled when it names the working
        // directory: two symbolic links to one directory give two objects.
        hash_env(&mut key, env, &["PWD"]);
    }
    if compilation
        .key_args
        .iter()
        .any(|arg| arg == crate::compiler::gcc::RECORDED_COMMAND_LINE)
    {
        // A recorded command line holds the driver's own path too.
        key.field("exe", exe.as_bytes());
    }
    hash_env(&mut key, env, C_ENV_VARS);
    key.field("preprocessed digest", &source.digest);
    key.field("preprocessed length", &source.length.to_le_bytes());
    key.finish()
}

/// The key of a C compile's direct-mode manifest (`direct`): everything `c_key` takes except
/// the preprocessed text, which is what direct mode avoids making, and in its place the
/// source file's digest, the working directory (and `$PWD`) always (relative include
/// directories and the names a manifest records are relative to it) and the manifest format.
/// What the preprocessor then reads is in the manifest, checked on every hit.
pub fn manifest_key(
    compiler: &CompilerIdentity,
    exe: &OsStr,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    input_digest: &[u8; 32],
) -> CacheKey {
    manifest_key_without_input(compiler, exe, compilation, cwd, env).with_input(input_digest)
}

/// A C manifest key written up to the source's digest, which is read elsewhere (on the
/// hasher's threads, with the manifest's check: one trip for both).
pub struct ManifestKeyPart(KeyWriter);

impl ManifestKeyPart {
    /// The manifest key of a source with contents `input_digest`: `manifest_key`'s.
    pub fn with_input(mut self, input_digest: &[u8; 32]) -> CacheKey {
        self.0.field("input digest", input_digest);
        self.0.finish()
    }
}

/// `manifest_key` without its last field, the source's digest.
pub fn manifest_key_without_input(
    compiler: &CompilerIdentity,
    exe: &OsStr,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
) -> ManifestKeyPart {
    let no_text = SourceSummary {
        digest: [0; 32],
        length: u64::MAX,
        refusal: None,
    };
    let without_text = c_key(compiler, exe, compilation, cwd, env, &no_text);
    let mut key = KeyWriter::new("c direct manifest");
    key.field("format", &crate::manifest_version::C.to_le_bytes());
    key.field("compile", &without_text.0);
    key.field("exe", exe.as_bytes());
    key.field("cwd", cwd.as_bytes());
    hash_env(&mut key, env, &["PWD"]);
    hash_env(&mut key, env, DIRECT_ENV_VARS);
    ManifestKeyPart(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::gcc::COutput;
    use crate::compiler::CompilerKind;
    use crate::compiler::{Language, OutputRole};
    use crate::hash_key::writer::driver_digest;

    /// The variables that add include directories (`compiler::gcc::INCLUDE_PATH_VARS`, which
    /// direct mode's record searches too) are every C key's.
    #[test]
    fn every_include_path_variable_is_keyed() {
        for variable in crate::compiler::gcc::INCLUDE_PATH_VARS {
            assert!(C_ENV_VARS.contains(&variable), "{variable}");
        }
    }

    fn compilation(args: &[&str]) -> CCompilation {
        CCompilation {
            language: Language::C,
            input: "a.c".into(),
            outputs: vec![COutput {
                role: OutputRole::Object,
                path: "a.o".into(),
            }],
            preprocess_args: vec![],
            key_args: args.iter().map(OsString::from).collect(),
            cwd_in_key: false,
            debug_info: false,
            driver_args: vec![],
        }
    }

    fn source(text: &[u8]) -> SourceSummary {
        crate::source_digest::summarize(text)
    }

    /// The key of `compilation` by gcc in `cwd` with `env`, over the source `text`.
    fn key(
        compilation: &CCompilation,
        cwd: &str,
        env: &[(OsString, OsString)],
        text: &[u8],
    ) -> CacheKey {
        c_key(
            &identity(),
            "gcc".as_ref(),
            compilation,
            cwd.as_ref(),
            env,
            &source(text),
        )
    }

    fn identity() -> CompilerIdentity {
        CompilerIdentity::new(CompilerKind::Gcc, &[1; 32], b"gcc 12", b"")
    }

    #[test]
    fn arguments_and_source_change_the_key() {
        let base = key(&compilation(&["-O2"]), "/w", &[], b"int x;");
        let other_flag = key(&compilation(&["-O0"]), "/w", &[], b"int x;");
        let other_source = key(&compilation(&["-O2"]), "/w", &[], b"int y;");
        assert_ne!(base, other_flag);
        assert_ne!(base, other_source);
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let split = key(&compilation(&["-DA", "B"]), "/w", &[], b"");
        let joined = key(&compilation(&["-DAB"]), "/w", &[], b"");
        assert_ne!(split, joined);
    }

    #[test]
    fn cwd_counts_only_when_written_into_outputs() {
        let mut plain = compilation(&[]);
        assert_eq!(key(&plain, "/a", &[], b""), key(&plain, "/b", &[], b""));
        plain.cwd_in_key = true;
        assert_ne!(key(&plain, "/a", &[], b""), key(&plain, "/b", &[], b""));
    }

    #[test]
    fn relevant_environment_counts_and_unset_differs_from_empty() {
        let compilation = compilation(&[]);
        let unset = key(&compilation, "/", &[], b"");
        let empty = key(&compilation, "/", &[("CPATH".into(), "".into())], b"");
        let irrelevant = key(&compilation, "/", &[("HOME".into(), "/x".into())], b"");
        assert_ne!(unset, empty);
        assert_eq!(unset, irrelevant);
    }

    #[test]
    fn the_drivers_programs_and_dry_run_change_the_identity() {
        let base = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &[]));
        let other_cpu = identity().with_driver(&driver_digest(b"cc1 -march=haswell", &[]));
        let assembler = [("/usr/bin/as".as_ref(), [1; 32])];
        let with_as = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &assembler));
        let new_as = [("/usr/bin/as".as_ref(), [2; 32])];
        let with_new_as = identity().with_driver(&driver_digest(b"cc1 -march=x86-64", &new_as));
        assert_ne!(base, other_cpu);
        assert_ne!(base, with_as);
        assert_ne!(with_as, with_new_as);
        assert_ne!(base, identity());
    }

    #[test]
    fn a_manifest_key_takes_the_compile_the_cwd_the_include_env_and_the_source() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
        };
        let manifest = |args: &[&str], cwd: &str, vars: &[(&str, &str)], input: u8| {
            manifest_key(
                &identity(),
                "gcc".as_ref(),
                &compilation(args),
                cwd.as_ref(),
                &env(vars),
                &[input; 32],
            )
        };
        let base = manifest(&["-O2"], "/w", &[], 1);
        assert_eq!(base, manifest(&["-O2"], "/w", &[], 1));
        assert_ne!(base, manifest(&["-O0"], "/w", &[], 1));
        assert_ne!(base, manifest(&["-O2"], "/v", &[], 1));
        assert_ne!(base, manifest(&["-O2"], "/w", &[("CPATH", "inc")], 1));
        assert_ne!(
            base,
            manifest(&["-O2"], "/w", &[("SOURCE_DATE_EPOCH", "1")], 1)
        );
        assert_ne!(base, manifest(&["-O2"], "/w", &[("PWD", "/w")], 1));
        assert_ne!(
            base,
            manifest(&["-O2"], "/w", &[("LLVM_OVERRIDE_PRODUCER", "x")], 1)
        );
        assert_ne!(base, manifest(&["-O2"], "/w", &[], 2));
        // Never a result's key for any text.
        assert_ne!(base, key(&compilation(&["-O2"]), "/w", &[], b""));
    }
}
