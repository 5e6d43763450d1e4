//! Temporary directories of the server's (and the client's) own: mode 0700 whatever the
//! umask, since what is written in them may be a secret. A rust dep-info run's `.d` holds the
//! value of every variable the crate reads with `env!`/`option_env!`, and rustc writes it
//! 0644: in a directory another local user could list, that user could read it.

use std::os::unix::fs::PermissionsExt;

/// A new directory in the temporary directory, named `prefix` and random letters, 0700,
/// removed with its contents when dropped.
pub fn make(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    make_in(prefix, &std::env::temp_dir())
}

/// The same in `dir`.
pub fn make_in(prefix: &str, dir: &std::path::Path) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_directory_is_its_owner_s_alone_whatever_the_umask() {
        let dir = make("sccache-test").unwrap();
        let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
