//! The auto-started server as a process of the user's build: it must not keep anything of the
//! client that started it.

use crate::harness::{fixture, sccache_bin, Server};
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

/// `make 2>&1 | tee log`: the build's output is a pipe, and `tee` ends only when every writer
/// has closed it. A shell or make may leave more descriptors open on it than 0-2 (here 7);
/// the server auto-started by the first compile must not keep one, or the build "hangs" until
/// the server's idle timeout.
#[test]
fn an_auto_started_server_keeps_no_descriptor_of_its_first_client() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::configured(root.path().join("cache"), &[], None);
    let dir = fixture("c");
    let script = format!(
        "exec 7>&1; {} gcc -c hello.c -o hello.o",
        sccache_bin().display()
    );
    let mut build = server
        .command("sh")
        .current_dir(dir.path())
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut output = build.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = output.read_to_end(&mut text);
        let _ = sender.send(text);
    });
    let ended = receiver.recv_timeout(Duration::from_secs(20));
    assert!(build.wait().unwrap().success());
    assert!(
        ended.is_ok(),
        "the build's output pipe is still open after the build ended: the server holds it"
    );
    // The server it started is running and answered that compile.
    let stats = server.stats();
    assert_eq!(
        crate::harness::count(&stats, "compile_requests"),
        1,
        "{stats:#}"
    );
    server.stop();
}
