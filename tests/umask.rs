//! The client's umask decides the modes of the outputs, as it does for the compiler run by
//! hand: a compile run by the server creates them under it, and a hit restores them with the
//! mode that compile would have given (0666 or 0777 less the umask), also over an identical
//! file of another mode. The server here runs under umask 022, its clients under 077.

use crate::harness::{assert_success, count, fixture, run, sccache_bin, Server};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `sccache gcc -c util.c -o util.o` in `dir` under `umask`.
fn compile_under(server: &Server, dir: &Path, umask: &str) {
    let output = run(server
        .command("sh")
        .current_dir(dir)
        .args([
            "-c",
            &format!("umask {umask} && exec \"$0\" gcc -c util.c -o util.o"),
        ])
        .arg(sccache_bin()));
    assert_success(&output, &format!("sccache gcc under umask {umask}"));
}

#[test]
fn outputs_get_the_client_s_umask_on_a_miss_and_on_hits() {
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let server = Server::configured(root.path().join("cache"), &[], None);
    let started = run(server
        .command("sh")
        .args(["-c", "umask 022 && exec \"$0\" --start-server"])
        .arg(sccache_bin()));
    assert_success(&started, "sccache --start-server under umask 022");
    let dir = fixture("c");
    let object = dir.path().join("util.o");

    // What gcc itself does under umask 077.
    let plain = run(std::process::Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", "umask 077 && gcc -c util.c -o plain.o"]));
    assert_success(&plain, "gcc under umask 077");
    assert_eq!(mode(&dir.path().join("plain.o")), 0o600);

    compile_under(&server, dir.path(), "077");
    assert_eq!(mode(&object), 0o600, "a miss under umask 077");
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);

    std::fs::remove_file(&object).unwrap_or_else(|error| panic!("{error}"));
    compile_under(&server, dir.path(), "077");
    assert_eq!(mode(&object), 0o600, "a hit under umask 077");

    // The same bytes with another mode: the hit gives the mode a compile would.
    std::fs::set_permissions(&object, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|error| panic!("{error}"));
    compile_under(&server, dir.path(), "077");
    assert_eq!(mode(&object), 0o600, "an identical target of mode 0644");

    // An entry stored under 077 restored for a client under 022.
    std::fs::remove_file(&object).unwrap_or_else(|error| panic!("{error}"));
    compile_under(&server, dir.path(), "022");
    assert_eq!(mode(&object), 0o644, "a hit under umask 022");

    let stats = server.stats();
    assert_eq!(count(&stats, "cache_misses.counts.C/C++"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_hits.counts.C/C++"), 3, "{stats:#}");
}
