//! The jobserver a build hands its compilers, as make and cargo spell it in the environment:
//! which variables carry it, whether one names file descriptors (`--jobserver-auth=R,W`, the
//! older `--jobserver-fds=R,W`) rather than a named pipe (`fifo:PATH`), the same setting
//! with other descriptor numbers, and whether a descriptor is a pipe at all.
//!
//! Sending the descriptors to the server is the client's (`src/cli/jobserver.rs`), receiving
//! them and handing them to a compiler the server's (`actors/src/jobserver.rs`); both take
//! only pipes (`is_pipe`).

/// The variables that hand a jobserver to a child, in the order rustc reads them.
pub const VARS: &[&str] = &["CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"];

/// The variable cargo sets for rustc: the one whose descriptors a client passes on.
pub const CARGO_VAR: &str = "CARGO_MAKEFLAGS";

const AUTH: &[u8] = b"--jobserver-auth=";
const FDS: &[u8] = b"--jobserver-fds=";

/// The words of a setting, as make splits them (spaces; make escapes none in these flags).
fn words(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b' ').filter(|word| !word.is_empty())
}

/// Whether `value` hands on a jobserver by file descriptor (not by a named pipe).
pub fn names_descriptors(value: &[u8]) -> bool {
    words(value).any(|word| {
        word.starts_with(FDS)
            || (word.starts_with(AUTH) && !word[AUTH.len()..].starts_with(b"fifo:"))
    })
}

/// The read and write descriptors `value` names: the last `--jobserver-auth=R,W`, else the
/// last `--jobserver-fds=R,W` (as the jobserver crate and make read them); `None` for a named
/// pipe, a malformed pair or no jobserver.
pub fn descriptors(value: &[u8]) -> Option<(i32, i32)> {
    let last = |flag: &[u8]| {
        words(value)
            .filter_map(|word| word.strip_prefix(flag))
            .last()
    };
    let pair = last(AUTH).or_else(|| last(FDS))?;
    let text = std::str::from_utf8(pair).ok()?;
    let (read, write) = text.split_once(',')?;
    let number = |text: &str| text.parse::<i32>().ok().filter(|&fd| fd >= 0);
    Some((number(read)?, number(write)?))
}

/// Whether `descriptor` is a pipe (or FIFO), as a jobserver's ends are.
pub fn is_pipe(descriptor: impl std::os::fd::AsFd) -> bool {
    rustix::fs::fstat(descriptor).is_ok_and(|stat| {
        rustix::fs::FileType::from_raw_mode(stat.st_mode) == rustix::fs::FileType::Fifo
    })
}

/// `value` with every descriptor pair it names replaced by `read,write`; its other words
/// (`-j`, `-k`, variable overrides) kept in order.
pub fn with_descriptors(value: &[u8], read: i32, write: i32) -> Vec<u8> {
    let pair = format!("{read},{write}");
    let mut out = Vec::with_capacity(value.len() + 8);
    for word in words(value) {
        if !out.is_empty() {
            out.push(b' ');
        }
        match [AUTH, FDS].into_iter().find(|flag| word.starts_with(flag)) {
            Some(flag) if !word[flag.len()..].starts_with(b"fifo:") => {
                out.extend_from_slice(flag);
                out.extend_from_slice(pair.as_bytes());
            }
            _ => out.extend_from_slice(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargos_setting_names_its_descriptors() {
        let value = b"-j --jobserver-fds=6,7 --jobserver-auth=6,7";
        assert!(names_descriptors(value));
        assert_eq!(descriptors(value), Some((6, 7)));
    }

    #[test]
    fn auth_wins_over_the_older_fds_and_the_last_one_counts() {
        assert_eq!(
            descriptors(b"--jobserver-auth=3,4 --jobserver-fds=8,9 --jobserver-auth=5,6"),
            Some((5, 6))
        );
        assert_eq!(descriptors(b"-j4 --jobserver-fds=8,9"), Some((8, 9)));
    }

    #[test]
    fn a_named_pipe_or_garbage_names_no_descriptors() {
        let fifo = b"-j4 --jobserver-auth=fifo:/tmp/GMfifo1";
        assert!(!names_descriptors(fifo));
        assert_eq!(descriptors(fifo), None);
        assert_eq!(descriptors(b"--jobserver-auth=3"), None);
        assert_eq!(descriptors(b"--jobserver-auth=-1,4"), None);
        assert_eq!(descriptors(b"--jobserver-auth=a,b"), None);
        assert_eq!(descriptors(b"-j4 -k"), None);
        assert!(!names_descriptors(b"-j4 -k"));
    }

    #[test]
    fn a_pipe_is_a_pipe_and_a_file_is_not() {
        let (read, write) = std::io::pipe().unwrap();
        assert!(is_pipe(&read) && is_pipe(&write));
        assert!(!is_pipe(tempfile::tempfile().unwrap()));
    }

    #[test]
    fn the_rewrite_keeps_the_other_words() {
        assert_eq!(
            with_descriptors(b"-j --jobserver-fds=6,7 --jobserver-auth=6,7", 11, 12),
            b"-j --jobserver-fds=11,12 --jobserver-auth=11,12"
        );
        assert_eq!(
            with_descriptors(b"-kj4  --jobserver-auth=3,4 -- CFLAGS=-O2", 9, 10),
            b"-kj4 --jobserver-auth=9,10 -- CFLAGS=-O2"
        );
    }
}
