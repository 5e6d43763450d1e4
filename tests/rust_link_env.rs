//! Variables the link or LLVM reads that change a rust compile's output (session 17's review):
//! gcc's `LPATH`, another name for `LIBRARY_PATH`; lld's `LLD_VERSION`, written into the
//! binary; LLVM's `LLVM_OVERRIDE_PRODUCER`, written into bitcode. Each is in the key (and the
//! linker's probe is made for each `LPATH`), by both ways of keying.

use crate::harness::{count, have, Server};
use crate::rust_link_inputs::{cval_archive, cval_program};
use std::path::Path;

/// Compiles `main.rs` in `path` into `out/main` through `server` with `env`, and runs it.
fn build_and_run(server: &Server, path: &Path, env: &[(&str, &str)]) -> String {
    crate::rust_link_inputs::build_and_run_with(server, path, "rustc", &[], env)
}

/// `LPATH=libA` then `LPATH=libB`, each with its own `liblp.a`: the binary links the library
/// of the directory the variable names now.
#[test]
fn gcc_s_lpath_is_in_the_key_and_the_linker_s_probe() {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        cval_program(
            path,
            &["libA", "libB"],
            "#[link(name = \"lp\", kind = \"static\")]",
        );
        cval_archive(path, &path.join("libA/liblp.a"), 1);
        cval_archive(path, &path.join("libB/liblp.a"), 2);
        let lpath = |sub: &str| path.join(sub).display().to_string();
        let (a, b) = (lpath("libA"), lpath("libB"));
        assert_eq!(build_and_run(&server, path, &[("LPATH", &a)]), "1");
        assert_eq!(build_and_run(&server, path, &[("LPATH", &a)]), "1");
        assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
        let linked = build_and_run(&server, path, &[("LPATH", &b)]);
        assert_eq!(linked, "2", "SCCACHE_DIRECT={direct}");
    }
}

/// lld writes `LLD_VERSION` into the binary's `.comment`; a binary linked with it set is not
/// another's without it. (rustc links with its own lld on x86_64 Linux; with another linker the
/// variable is only keyed.)
#[test]
fn lld_s_version_variable_is_in_the_key() {
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        std::fs::create_dir_all(path.join("out")).unwrap_or_default();
        std::fs::write(path.join("main.rs"), "fn main() { print!(\"hi\") }\n").unwrap_or_default();
        let injected = "INJECTED-LLD-VERSION";
        build_and_run(&server, path, &[("LLD_VERSION", injected)]);
        let printed = build_and_run(&server, path, &[]);
        let binary = crate::harness::read(&path.join("out/main"));
        assert!(
            !binary
                .windows(injected.len())
                .any(|window| window == injected.as_bytes()),
            "SCCACHE_DIRECT={direct}: the binary of a link without LLD_VERSION holds it"
        );
        assert_eq!(printed, "hi");
    }
}
