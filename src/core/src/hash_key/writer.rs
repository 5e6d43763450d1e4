//! The key's writer (`KeyWriter`: labelled, length-prefixed fields under SHA-256) and the
//! parts every family's key shares: `CacheKey`, `CompilerIdentity`, the digests of bytes and
//! files, the variables of an environment.

use crate::compiler::CompilerKind;
use sha2::{Digest, Sha256};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// Changed whenever the key's recipe changes, so old entries stop matching instead of being
/// misread.
const KEY_RECIPE: &str = "sccache-actix key recipe 4";

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

impl CompilerIdentity {
    /// This identity together with what its driver runs and reads for a compile
    /// (`driver_digest`): the same driver with another `cc1`, `as` or configuration file, or
    /// expanding `-march=native` for another CPU, is another compiler.
    pub fn with_driver(&self, driver: &[u8; 32]) -> CompilerIdentity {
        let mut key = KeyWriter::new("compiler identity with its driver's programs");
        key.field("compiler", &self.digest);
        key.field("driver", driver);
        CompilerIdentity {
            kind: self.kind,
            digest: key.finish().0,
        }
    }
}

/// The digest of what a gcc/clang driver does for a compile: its dry run's text (the commands
/// with their expanded flags, the probe's own file names taken out) and the contents of every
/// file it runs or reads (programs, configuration files), by path.
pub fn driver_digest(dry_run_text: &[u8], files: &[(&OsStr, [u8; 32])]) -> [u8; 32] {
    let mut key = KeyWriter::new("driver");
    key.field("dry run", dry_run_text);
    key.field("files", &(files.len() as u64).to_le_bytes());
    for (path, digest) in files {
        key.field("path", path.as_bytes());
        key.field("contents", digest);
    }
    key.finish().0
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

/// A C key extended by the files the preprocessor read, as they are on disk (by name as the
/// line markers give them, and their contents' digests; `None` for a name that is no file,
/// such as one a `#line` directive made up). With debug info the object's line tables carry
/// columns, which the preprocessed text does not keep, so the raw text must decide the key.
pub fn with_read_files(key: CacheKey, files: &[(Vec<u8>, Option<[u8; 32]>)]) -> CacheKey {
    let mut writer = KeyWriter::new("c compile, with the files read");
    writer.field("key", &key.0);
    writer.field("files", &(files.len() as u64).to_le_bytes());
    for (name, digest) in files {
        writer.field("name", name);
        match digest {
            Some(digest) => writer.field("contents", digest),
            None => writer.field("no file", b""),
        }
    }
    writer.finish()
}

/// SHA-256 of a byte string: for file contents that reach a key through their digest.
/// SHA-256 rather than SHA-512 by measurement: with the CPU's SHA extensions, which the sha2
/// crate uses when present, it ran 2.2-2.5x faster on files of 4 KB to 10 MB
/// (`bench/sha_bench.sh`, figures in bench/README.md).
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The same digest as `digest`, of everything `reader` yields, read in a stream through a
/// buffer of 64 KB (a large file is never held whole).
pub fn digest_reader(mut reader: impl std::io::Read) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match reader.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(read) => hasher.update(&buffer[..read]),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Adds the named variables of `env` in the order of `names`, marking absent ones, so that a
/// variable set to the empty string differs from one not set.
pub(super) fn hash_env(key: &mut KeyWriter, env: &[(OsString, OsString)], names: &[&str]) {
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
