//! The hash key: the one place that decides what goes into a cache key.
//!
//! A key is a SHA-256 over labelled, length-prefixed fields, so that no two different inputs
//! can produce the same byte stream. Everything that can change a compiler's output must reach
//! the key through a function here; anything left out is a way for a hit to be wrong.
//! Invariant: the output locations of a compile are not in the key (a compile to another
//! directory shares the entry), except where a compiler writes an output's name into an output.

use crate::compiler::gcc::CCompilation;
use crate::compiler::CompilerKind;
use sha2::{Digest, Sha256};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Changed whenever the key's recipe changes, so old entries stop matching instead of being
/// misread.
const KEY_RECIPE: &str = "sccache-actix key recipe 1";

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
    "GCC_URLS",
    "TERM_URLS",
    "COLUMNS",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
    "SDKROOT",
    "CCC_OVERRIDE_OPTIONS",
    "CLANG_CONFIG_FILE_SYSTEM_DIR",
    "CLANG_CONFIG_FILE_USER_DIR",
];

/// A cache key: the SHA-256 of everything that decides a compile's outputs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    /// The key as 64 lowercase hex digits, the form storage backends use as a name.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({self})")
    }
}

/// Who compiled: the compiler family and a digest of its binary and version text. Two
/// compilers with the same identity produce the same output for the same input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompilerIdentity {
    pub kind: CompilerKind,
    pub digest: [u8; 32],
}

impl CompilerIdentity {
    /// The identity of a compiler from the digest of its executable's bytes, its version text
    /// and any further files that decide its output (a rust sysroot's libraries).
    pub fn new(
        kind: CompilerKind,
        binary_digest: &[u8; 32],
        version_text: &[u8],
        extra: &[u8],
    ) -> Self {
        let mut key = KeyWriter::new("compiler identity");
        key.field("kind", kind.to_string().as_bytes());
        key.field("binary", binary_digest);
        key.field("version", version_text);
        key.field("extra", extra);
        CompilerIdentity {
            kind,
            digest: key.finish().0,
        }
    }
}

/// A SHA-256 writer that labels and length-prefixes every field.
pub struct KeyWriter(Sha256);

impl KeyWriter {
    pub fn new(purpose: &str) -> Self {
        let mut writer = KeyWriter(Sha256::new());
        writer.field("recipe", KEY_RECIPE.as_bytes());
        writer.field("purpose", purpose.as_bytes());
        writer
    }

    /// Adds one labelled field.
    pub fn field(&mut self, label: &str, value: &[u8]) {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }

    /// Adds a list as one field per element, preceded by its length.
    pub fn list<'a>(&mut self, label: &str, values: impl IntoIterator<Item = &'a OsStr>) {
        let values: Vec<&OsStr> = values.into_iter().collect();
        self.field(label, &(values.len() as u64).to_le_bytes());
        for value in values {
            self.field(label, value.as_bytes());
        }
    }

    pub fn finish(self) -> CacheKey {
        CacheKey(self.0.finalize().into())
    }
}

/// SHA-256 of a byte string: for file contents that reach a key through their digest.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The key of a gcc/clang compile: the compiler, the language, the arguments that change the
/// output, the preprocessed source, the environment that changes the compiler's behaviour, and
/// the working directory when the compiler writes it into an output.
pub fn c_key(
    compiler: &CompilerIdentity,
    compilation: &CCompilation,
    cwd: &OsStr,
    env: &[(OsString, OsString)],
    preprocessed: &[u8],
) -> CacheKey {
    let mut key = KeyWriter::new("c compile");
    key.field("compiler", &compiler.digest);
    key.field("language", compilation.language.as_x_arg().as_bytes());
    key.list("args", compilation.key_args.iter().map(OsString::as_os_str));
    let roles: Vec<&str> = compilation
        .outputs
        .iter()
        .map(|output| output.role.entry_name())
        .collect();
    key.field("outputs", roles.join(",").as_bytes());
    if compilation.cwd_in_key {
        key.field("cwd", cwd.as_bytes());
    }
    hash_env(&mut key, env, C_ENV_VARS);
    key.field("preprocessed", preprocessed);
    key.finish()
}

/// Adds the named variables of `env` in the order of `names`, marking absent ones, so that a
/// variable set to the empty string differs from one not set.
fn hash_env(key: &mut KeyWriter, env: &[(OsString, OsString)], names: &[&str]) {
    for name in names {
        match env
            .iter()
            .rev()
            .find(|(key, _)| key.as_bytes() == name.as_bytes())
        {
            Some((_, value)) => key.field(name, value.as_bytes()),
            None => key.field(name, b"\0unset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::gcc::COutput;
    use crate::compiler::{Language, OutputRole};

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
        }
    }

    fn identity() -> CompilerIdentity {
        CompilerIdentity::new(CompilerKind::Gcc, &[1; 32], b"gcc 12", b"")
    }

    #[test]
    fn arguments_and_source_change_the_key() {
        let base = c_key(
            &identity(),
            &compilation(&["-O2"]),
            "/w".as_ref(),
            &[],
            b"int x;",
        );
        let other_flag = c_key(
            &identity(),
            &compilation(&["-O0"]),
            "/w".as_ref(),
            &[],
            b"int x;",
        );
        let other_source = c_key(
            &identity(),
            &compilation(&["-O2"]),
            "/w".as_ref(),
            &[],
            b"int y;",
        );
        assert_ne!(base, other_flag);
        assert_ne!(base, other_source);
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        let split = c_key(
            &identity(),
            &compilation(&["-DA", "B"]),
            "/w".as_ref(),
            &[],
            b"",
        );
        let joined = c_key(
            &identity(),
            &compilation(&["-DAB"]),
            "/w".as_ref(),
            &[],
            b"",
        );
        assert_ne!(split, joined);
    }

    #[test]
    fn cwd_counts_only_when_written_into_outputs() {
        let mut plain = compilation(&[]);
        assert_eq!(
            c_key(&identity(), &plain, "/a".as_ref(), &[], b""),
            c_key(&identity(), &plain, "/b".as_ref(), &[], b"")
        );
        plain.cwd_in_key = true;
        assert_ne!(
            c_key(&identity(), &plain, "/a".as_ref(), &[], b""),
            c_key(&identity(), &plain, "/b".as_ref(), &[], b"")
        );
    }

    #[test]
    fn relevant_environment_counts_and_unset_differs_from_empty() {
        let compilation = compilation(&[]);
        let unset = c_key(&identity(), &compilation, "/".as_ref(), &[], b"");
        let empty = c_key(
            &identity(),
            &compilation,
            "/".as_ref(),
            &[("CPATH".into(), "".into())],
            b"",
        );
        let irrelevant = c_key(
            &identity(),
            &compilation,
            "/".as_ref(),
            &[("HOME".into(), "/x".into())],
            b"",
        );
        assert_ne!(unset, empty);
        assert_eq!(unset, irrelevant);
    }
}
