//! Who may talk to the server: the user's private runtime directory and the TCP credential.
//!
//! The server runs the commands it is sent, so only its own user may reach it. A Unix socket
//! is private because it lives in a directory only the user can open; a TCP port is reachable
//! by every account on the machine, so a client must present a per-user secret read from a
//! file in that same directory. Both sides (client and server) call `credential` before they
//! connect or listen, so whichever comes first creates the directory and the secret.
//!
//! Invariant: an existing directory or token file is used only when it belongs to this user
//! and no one else can open it; otherwise the error names the path (an attacker could have
//! created it first). This module does no socket work; the server checks each peer's uid.
//! Threat model: docs/SECURITY.md.

use crate::config::{ConfigError, Endpoint};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The file holding the TCP credential, in the private directory.
pub const TOKEN_FILE: &str = "tcp-token";
/// Random bytes in a token; it is stored as twice as many hex digits.
const TOKEN_BYTES: usize = 32;
/// `O_NOFOLLOW` for `OpenOptionsExt::custom_flags`: files in the private directory are opened
/// without following a symbolic link someone could have planted in their place. (The flag's
/// value fits an `i32` on every architecture.)
pub const NO_FOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

/// Why the endpoint cannot be used safely.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{path} is not private to this user ({detail}); another account could reach the \
         server through it. Remove it or make it yours with mode 0700/0600"
    )]
    NotPrivate { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} does not hold a valid sccache token; remove it and a new one is made")]
    BadToken { path: PathBuf },
}

/// The effective uid of this process: the owner its files get and the uid its peers present.
pub fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// The credential a client presents for `endpoint` (empty over a Unix socket), after making
/// sure the private directory the endpoint relies on exists and is private.
///
/// A Unix socket inside `private_dir` (the default) needs the directory; an explicit
/// `SCCACHE_SERVER_UDS` elsewhere is the user's choice and is used as given (the server still
/// makes the socket 0600 and checks peers). TCP needs the directory for its token.
pub fn credential(endpoint: &Endpoint, private_dir: &Path) -> Result<String, AccessError> {
    match endpoint {
        Endpoint::Unix(path) => {
            if path.parent() == Some(private_dir) {
                ensure_private_dir(private_dir)?;
            }
            Ok(String::new())
        }
        Endpoint::Tcp(_) => {
            ensure_private_dir(private_dir)?;
            token(private_dir)
        }
    }
}

/// Creates `path` with mode 0700, or checks that the existing one is a real directory of this
/// user that no group or other can open.
pub fn ensure_private_dir(path: &Path) -> Result<(), AccessError> {
    match DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(AccessError::Io {
                path: path.to_owned(),
                source,
            })
        }
    }
    // Checked even when just created: another account may have won a race to create it.
    let metadata = fs::symlink_metadata(path).map_err(|source| AccessError::Io {
        path: path.to_owned(),
        source,
    })?;
    if !metadata.is_dir() {
        return Err(not_private(path, "not a directory".to_owned()));
    }
    check_owner_and_mode(path, &metadata)
}

/// Reads the token in `private_dir`, creating it first if there is none.
pub fn token(private_dir: &Path) -> Result<String, AccessError> {
    let path = private_dir.join(TOKEN_FILE);
    match read_token(&path) {
        Err(AccessError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            create_token(private_dir, &path)?;
            read_token(&path)
        }
        other => other,
    }
}

/// Writes a fresh token beside `path` and links it into place, so a reader never sees a
/// partial file and of two racing creators exactly one wins (the other reads the winner's).
fn create_token(private_dir: &Path, path: &Path) -> Result<(), AccessError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| AccessError::Io { path, source }
    };
    let mut random = [0u8; TOKEN_BYTES];
    fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut random))
        .map_err(io_error(Path::new("/dev/urandom")))?;
    let text: String = random.iter().map(|byte| format!("{byte:02x}")).collect();
    let temporary = private_dir.join(format!(
        "{TOKEN_FILE}.{}.{}",
        std::process::id(),
        unique_suffix()
    ));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(NO_FOLLOW)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
    let linked = written.and_then(|()| fs::hard_link(&temporary, path));
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(io_error(path)(source)),
    }
}

/// A number that differs between calls in one process, for temporary names.
fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Reads a token file, refusing one that is not this user's alone or not a token.
fn read_token(path: &Path) -> Result<String, AccessError> {
    let io_error = |source| AccessError::Io {
        path: path.to_owned(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(NO_FOLLOW)
        .open(path)
        .map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(not_private(path, "not a regular file".to_owned()));
    }
    check_owner_and_mode(path, &metadata)?;
    let mut text = String::new();
    // A token, a newline and one byte more, so that a longer file is noticed without reading it
    // all.
    file.take(2 * TOKEN_BYTES as u64 + 2)
        .read_to_string(&mut text)
        .map_err(|_| AccessError::BadToken {
            path: path.to_owned(),
        })?;
    let text = text.trim();
    if text.len() != 2 * TOKEN_BYTES || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(AccessError::BadToken {
            path: path.to_owned(),
        });
    }
    Ok(text.to_owned())
}

fn check_owner_and_mode(path: &Path, metadata: &fs::Metadata) -> Result<(), AccessError> {
    let uid = current_uid();
    if metadata.uid() != uid {
        return Err(not_private(
            path,
            format!("owned by uid {}, not {uid}", metadata.uid()),
        ));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(not_private(
            path,
            format!("mode {mode:04o} lets group or others in"),
        ));
    }
    Ok(())
}

fn not_private(path: &Path, detail: String) -> AccessError {
    AccessError::NotPrivate {
        path: path.to_owned(),
        detail,
    }
}

/// Compares two credentials in time independent of where they first differ.
pub fn credentials_match(presented: &str, expected: &str) -> bool {
    let (presented, expected) = (presented.as_bytes(), expected.as_bytes());
    presented.len() == expected.len()
        && presented
            .iter()
            .zip(expected)
            .fold(0u8, |difference, (left, right)| difference | (left ^ right))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_missing_directory_is_created_0700() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sccache");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        // A second call accepts what the first made.
        ensure_private_dir(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_can_open_is_refused_by_path() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sccache");
        fs::create_dir(&dir).unwrap();
        for mode in [0o777, 0o750, 0o705] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let error = ensure_private_dir(&dir).unwrap_err();
            assert!(matches!(error, AccessError::NotPrivate { .. }), "{error}");
            assert!(error.to_string().contains(&dir.display().to_string()));
        }
    }

    #[test]
    fn a_symlink_or_a_file_in_its_place_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = root.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let link = root.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(matches!(
            ensure_private_dir(&link),
            Err(AccessError::NotPrivate { .. })
        ));
        let file = root.path().join("file");
        fs::write(&file, b"").unwrap();
        assert!(matches!(
            ensure_private_dir(&file),
            Err(AccessError::NotPrivate { .. })
        ));
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        if current_uid() != 0 {
            eprintln!("note: not root; cannot chown a directory to another user, skipped");
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sccache");
        fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let error = ensure_private_dir(&dir).unwrap_err();
        assert!(error.to_string().contains("owned by uid 65534"), "{error}");
    }

    #[test]
    fn the_token_is_made_once_0600_and_read_back() {
        let root = tempfile::tempdir().unwrap();
        let first = token(root.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(mode_of(&root.path().join(TOKEN_FILE)), 0o600);
        assert_eq!(token(root.path()).unwrap(), first);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(token(other.path()).unwrap(), first);
    }

    #[test]
    fn racing_creators_agree_on_one_token() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_owned();
        let tokens: Vec<String> = (0..8)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || token(&dir).unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect();
        assert!(tokens.iter().all(|token| *token == tokens[0]));
    }

    #[test]
    fn a_token_file_others_can_read_or_garbage_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(TOKEN_FILE);
        token(root.path()).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let error = token(root.path()).unwrap_err();
        assert!(matches!(error, AccessError::NotPrivate { .. }), "{error}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a token").unwrap();
        assert!(matches!(
            token(root.path()),
            Err(AccessError::BadToken { .. })
        ));
    }

    #[test]
    fn credential_prepares_what_the_endpoint_needs() {
        let root = tempfile::tempdir().unwrap();
        let private = root.path().join("sccache");
        let default_socket = Endpoint::Unix(private.join("server.sock"));
        assert_eq!(credential(&default_socket, &private).unwrap(), "");
        assert_eq!(mode_of(&private), 0o700);
        assert!(!private.join(TOKEN_FILE).exists());
        // An explicit socket elsewhere does not touch the private directory.
        let other = root.path().join("other");
        let explicit = Endpoint::Unix(root.path().join("mine.sock"));
        assert_eq!(credential(&explicit, &other).unwrap(), "");
        assert!(!other.exists());
        let tcp = credential(&Endpoint::Tcp(4226), &private).unwrap();
        assert_eq!(tcp, token(&private).unwrap());
    }

    #[test]
    fn credentials_compare_exactly() {
        assert!(credentials_match("abc", "abc"));
        assert!(!credentials_match("abd", "abc"));
        assert!(!credentials_match("ab", "abc"));
        assert!(!credentials_match("", "abc"));
    }
}
