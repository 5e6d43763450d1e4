//! The files a server creates are its user's: a cache directory it creates is 0700 with 0600
//! entries, a cache directory the user made keeps its mode and entries follow it (readable by
//! the group of a group-shared directory, never by others unless the directory is), and the
//! log file is not world-readable. Every server here runs under umask 022, the common default,
//! so that what is private is so by our choice and not by the umask's.

use crate::harness::{assert_success, count, fixture, run, sccache_bin, Server};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Starts `server` under umask 022.
fn start_under_umask_022(server: &Server) {
    let output = run(server
        .command("sh")
        .args(["-c", "umask 022 && exec \"$0\" --start-server"])
        .arg(sccache_bin()));
    assert_success(&output, "sccache --start-server under umask 022");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every directory and file under `dir`, not `dir` itself.
fn everything_under(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path.clone());
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    (dirs, files)
}

/// Compiles the C fixture's sources through `server` and waits for their three entries.
fn fill_cache(server: &Server) {
    let dir = fixture("c");
    for (source, object) in [
        ("hello.c", "hello.o"),
        ("util.c", "util.o"),
        ("warn.c", "warn.o"),
    ] {
        let output = server.compile(dir.path(), "gcc", &["-c", source, "-o", object]);
        assert_success(&output, source);
    }
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 3);
}

#[test]
fn a_cache_directory_the_server_creates_is_private_to_its_user() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let cache_dir = root.path().join("cache");
    let server = Server::configured(cache_dir.clone(), &[], None);
    start_under_umask_022(&server);
    fill_cache(&server);
    assert_eq!(mode(&cache_dir), 0o700);
    let (dirs, files) = everything_under(&cache_dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for dir in dirs {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    }
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let log_mode = mode(&server.log_path());
    assert_eq!(log_mode & 0o077, 0, "log file mode {log_mode:o}");
}

#[test]
fn a_cache_directory_the_user_made_keeps_its_mode_and_entries_follow_it() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let cache_dir = root.path().join("cache");
    std::fs::create_dir(&cache_dir).unwrap_or_else(|error| panic!("{error}"));
    // Shared with the group, closed to others.
    std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o750))
        .unwrap_or_else(|error| panic!("{error}"));
    let server = Server::configured(cache_dir.clone(), &[], None);
    start_under_umask_022(&server);
    fill_cache(&server);
    assert_eq!(mode(&cache_dir), 0o750);
    let (dirs, files) = everything_under(&cache_dir);
    assert_eq!(files.len(), 3, "{files:?}");
    for dir in dirs {
        assert_eq!(mode(&dir), 0o750, "{}", dir.display());
    }
    for file in files {
        assert_eq!(mode(&file), 0o640, "{}", file.display());
    }
}

/// A binary that only tests a variable (`const ENABLED: bool =
/// option_env!("DEPLOY_TOKEN").is_some()`) holds nothing of its value, but rustc's `.d` names
/// it (`# env-dep:DEPLOY_TOKEN=...`): the value never reaches the cache (by both ways of
/// keying; an entry goes to every backend), and a hit writes the `.d` a plain rustc writes,
/// value and all. (A library's metadata records its env-deps' values: its `.rlib` holds them,
/// as the entry then does.)
#[test]
fn an_env_dep_s_value_never_reaches_the_cache() {
    let secret = "hunter2-TOPSECRET-9f8e7d";
    for direct in ["true", "false"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = dir.path();
        std::fs::write(
            path.join("main.rs"),
            "const ENABLED: bool = option_env!(\"DEPLOY_TOKEN\").is_some();\n\
             fn main() { print!(\"{ENABLED}\"); }\n",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let compile = |out: &str, through: Option<&Server>| {
            std::fs::create_dir_all(path.join(out)).unwrap_or_else(|error| panic!("{error}"));
            let args = [
                "--crate-name",
                "tested",
                "--edition=2021",
                "main.rs",
                "--crate-type",
                "bin",
                "--emit=dep-info,link",
                "--out-dir",
                out,
            ];
            let mut command = match through {
                Some(server) => {
                    let mut command = server.command(sccache_bin());
                    command.arg("rustc");
                    command
                }
                None => std::process::Command::new("rustc"),
            };
            command
                .args(args)
                .current_dir(path)
                .env("DEPLOY_TOKEN", secret);
            assert_success(&run(&mut command), "rustc");
            std::fs::read(path.join(out).join("tested.d")).unwrap_or_default()
        };
        std::thread::sleep(std::time::Duration::from_millis(30));
        compile("out1", Some(&server));
        server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
        let (_, files) = everything_under(&server.cache_dir);
        for file in files {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the value (SCCACHE_DIRECT={direct})",
                file.display()
            );
        }
        let plain = compile("out1", None);
        assert!(String::from_utf8_lossy(&plain).contains(secret));
        std::fs::remove_dir_all(path.join("out1")).unwrap_or_else(|error| panic!("{error}"));
        let restored = compile("out1", Some(&server));
        assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
        assert_eq!(
            String::from_utf8_lossy(&restored),
            String::from_utf8_lossy(&plain)
        );
    }
}
