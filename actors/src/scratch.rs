//! The preprocessor's scratch files (its text, the compile's dependency file): where they go
//! (`/dev/shm` when it can be written, the temporary directory otherwise) and how they are
//! named, with the server's pid namespace and process id, so that a server started after one
//! that died without cleaning up (SIGKILL, the OOM killer) removes what that one left: a
//! preprocessed file is megabytes of memory on `/dev/shm` until the machine restarts. The
//! dependency file a compile without the preprocessor writes beside its object is named the
//! same way, and a directory's are swept the first time a server puts one there.

use std::path::{Path, PathBuf};

/// The start of a scratch file's name for preprocessed text; the pid namespace, the process id
/// and a `-` follow.
const PREFIX: &str = "sccache-cpp-";

/// The same for a compile's dependency file.
const DEPENDENCIES_PREFIX: &str = "sccache-deps-";

/// The same for a dependency file beside an object (hidden from globs).
const BESIDE_OBJECT_PREFIX: &str = ".sccache-dep-";

/// The same for the directory of the dynamic loader's logs (`flow::loaded_objects`).
const LOADER_LOGS_PREFIX: &str = "sccache-ld-";

/// Where scratch files go.
pub fn dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let writable = tempfile::tempfile_in(shm).is_ok();
        if writable {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    })
}

/// A new scratch file for preprocessed text, removed when dropped.
pub fn preprocessed() -> std::io::Result<tempfile::NamedTempFile> {
    scratch_file(PREFIX, ".i")
}

/// A new scratch file for a compile's dependency output, removed when dropped.
pub fn dependencies() -> std::io::Result<tempfile::NamedTempFile> {
    scratch_file(DEPENDENCIES_PREFIX, ".d")
}

/// A new dependency file in `dir` (an object's directory), removed when dropped. The first
/// time in this server's life, the files servers that are gone left in `dir` are removed too,
/// on the blocking pool (`sweep_beside_objects`).
pub fn dependencies_beside_object(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let file = named(BESIDE_OBJECT_PREFIX, ".d", dir)?;
    if first_time_in(dir) {
        let dir = dir.to_path_buf();
        tokio::task::spawn_blocking(move || sweep_beside_objects(&dir));
    }
    Ok(file)
}

/// This server's directory for the dynamic loader's logs (`flow::loaded_objects`), made when
/// first asked for (0700, a random name) and kept for the server's life: a process a compile
/// started may start others after the compile ended, each of which opens the log path it
/// inherited, and glibc's loader writes to standard output when it cannot. Made again when it
/// is gone (systemd-logind removes a user's `/dev/shm` files at their last logout). Left at
/// exit; the next server's `sweep` removes it. Blocking (a `stat`, a `mkdir` when made).
pub fn loader_logs() -> Option<PathBuf> {
    static DIR: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut made = DIR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(dir) = &*made {
        if std::fs::symlink_metadata(dir).is_ok_and(|metadata| metadata.is_dir()) {
            return Some(dir.clone());
        }
    }
    let prefix = format!(
        "{LOADER_LOGS_PREFIX}{}-{}-",
        pid_namespace(),
        std::process::id()
    );
    match crate::private_dir::make_in(&prefix, dir()) {
        Ok(dir) => {
            *made = Some(dir.keep());
            made.clone()
        }
        Err(error) => {
            log::warn!("cannot create a directory for the loader's logs: {error}");
            None
        }
    }
}

fn scratch_file(prefix: &str, suffix: &str) -> std::io::Result<tempfile::NamedTempFile> {
    named(prefix, suffix, dir())
}

fn named(prefix: &str, suffix: &str, dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&format!(
            "{prefix}{}-{}-",
            pid_namespace(),
            std::process::id()
        ))
        .suffix(suffix)
        .tempfile_in(dir)
}

/// Whether this server has not yet put a dependency file in `dir` (remembered for a bounded
/// number of directories; past it, forgotten all at once, and a directory is swept again).
fn first_time_in(dir: &Path) -> bool {
    const REMEMBERED: usize = 4096;
    static SEEN: std::sync::Mutex<Option<std::collections::HashSet<PathBuf>>> =
        std::sync::Mutex::new(None);
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seen = seen.get_or_insert_with(Default::default);
    if seen.contains(dir) {
        return false;
    }
    if seen.len() >= REMEMBERED {
        seen.clear();
    }
    seen.insert(dir.to_path_buf())
}

/// This process's pid namespace (the inode `/proc/self/ns/pid` names; 0 when unknown): a
/// process id means something only in its own namespace, and two servers in two (containers,
/// `unshare -p`) may share `/dev/shm`.
fn pid_namespace() -> u64 {
    static NAMESPACE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *NAMESPACE.get_or_init(|| {
        std::fs::metadata("/proc/self/ns/pid")
            .map(|metadata| std::os::unix::fs::MetadataExt::ino(&metadata))
            .unwrap_or(0)
    })
}

/// Removes the scratch files of servers that are gone: this user's files named for a process
/// of this pid namespace that does not exist. A process id reused since by another process
/// keeps its files, and so does a file of another namespace, whose ids say nothing here (they
/// are left, never another server's removed). Once, at the server's start.
pub fn sweep() {
    sweep_in(dir());
}

/// The same in an object's directory, for the dependency files put beside objects; only on a
/// local file system: there a process id names a process of this machine (the initial pid
/// namespace has the same number on every machine, and a directory shared over the network
/// may hold a live server's file of another machine).
fn sweep_beside_objects(dir: &Path) {
    let local = std::fs::File::open(dir)
        .map(|handle| crate::file_system::on_local_file_system(&handle))
        .unwrap_or(false);
    if local {
        sweep_in(dir);
    }
}

fn sweep_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let uid = rustix::process::getuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((namespace, pid)) = owner(&name.to_string_lossy()) else {
            continue;
        };
        if namespace != pid_namespace() {
            continue;
        }
        let ours = std::os::unix::fs::MetadataExt::uid(&match entry.metadata() {
            Ok(metadata) => metadata,
            Err(_) => continue,
        }) == uid;
        if ours && !alive(pid) {
            let removed = match name.to_string_lossy().starts_with(LOADER_LOGS_PREFIX) {
                true => std::fs::remove_dir_all(entry.path()),
                false => std::fs::remove_file(entry.path()),
            };
            match removed {
                Ok(()) => log::info!("removed {}, left by a server that is gone", name.display()),
                Err(error) => log::debug!("cannot remove {}: {error}", name.display()),
            }
        }
    }
}

/// The pid namespace and process id a scratch file's name carries.
fn owner(name: &str) -> Option<(u64, i32)> {
    let rest = name
        .strip_prefix(PREFIX)
        .or_else(|| name.strip_prefix(DEPENDENCIES_PREFIX))
        .or_else(|| name.strip_prefix(BESIDE_OBJECT_PREFIX))
        .or_else(|| name.strip_prefix(LOADER_LOGS_PREFIX))?;
    let (namespace, rest) = rest.split_once('-')?;
    let (pid, _) = rest.split_once('-')?;
    let pid = pid.parse().ok().filter(|pid| *pid > 0)?;
    Some((namespace.parse().ok()?, pid))
}

/// Whether a process with id `pid` exists (one of another user's counts).
fn alive(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(error) => error != rustix::io::Errno::SRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_carries_its_server_s_process_id() {
        assert_eq!(owner("sccache-cpp-77-4242-abc123.i"), Some((77, 4242)));
        assert_eq!(owner("sccache-deps-77-4242-abc123.d"), Some((77, 4242)));
        assert_eq!(owner(".sccache-dep-77-4242-abc123.d"), Some((77, 4242)));
        assert_eq!(owner("sccache-ld-77-4242-abc123"), Some((77, 4242)));
        assert_eq!(owner(".sccache-depabc123.d"), None);
        assert_eq!(owner("sccache-cpp-4242-abc123.i"), None);
        assert_eq!(owner("sccache-cpp-abc.i"), None);
        assert_eq!(owner("sccache-cppXYZ.i"), None);
        assert_eq!(owner("other-4242-x"), None);
    }

    #[test]
    fn a_gone_server_s_scratch_file_is_swept_and_a_live_one_s_is_kept() {
        let live = preprocessed().unwrap();
        // A process that has exited: its id names nobody now (the test's own child, reaped).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let left = dir().join(format!("{PREFIX}{}-{gone}-left.i", pid_namespace()));
        std::fs::write(&left, "text").unwrap();
        // Another namespace's: its process ids mean nothing here.
        let elsewhere = dir().join(format!("{PREFIX}{}-{gone}-left.i", pid_namespace() + 1));
        std::fs::write(&elsewhere, "text").unwrap();
        // A gone server's directory of loader logs, with a late process's log in it.
        let logs = dir().join(format!(
            "{LOADER_LOGS_PREFIX}{}-{gone}-left",
            pid_namespace()
        ));
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("7.1234"), "log").unwrap();
        let live_logs = loader_logs().unwrap();
        // Made again when gone.
        std::fs::remove_dir(&live_logs).unwrap();
        let live_logs = loader_logs().unwrap();
        assert!(live_logs.is_dir());
        sweep();
        assert!(live.path().exists(), "this server's file is kept");
        assert!(!left.exists(), "the gone server's file is removed");
        assert!(!logs.exists(), "the gone server's loader logs are removed");
        assert!(live_logs.exists(), "this server's loader logs are kept");
        assert!(elsewhere.exists(), "another namespace's file is kept");
        std::fs::remove_file(&elsewhere).unwrap();
    }

    /// A dependency file beside an object that a gone server left is removed when a server
    /// first puts one in that directory; a live server's stays.
    #[actix_rt::test]
    async fn a_gone_server_s_dependency_file_beside_an_object_is_swept() {
        let objects = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let left = objects.path().join(format!(
            "{BESIDE_OBJECT_PREFIX}{}-{gone}-left.d",
            pid_namespace()
        ));
        std::fs::write(&left, "util.o: util.c").unwrap();
        let live = dependencies_beside_object(objects.path()).unwrap();
        for _ in 0..100 {
            if !left.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!left.exists(), "the gone server's file is removed");
        assert!(live.path().exists(), "this server's file is kept");
    }
}
