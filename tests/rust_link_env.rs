//! Variables the link or LLVM reads that change a rust compile's output (session 17's review):
//! gcc's `LPATH`, another name for `LIBRARY_PATH`; lld's `LLD_VERSION`, written into the
//! binary; LLVM's `LLVM_OVERRIDE_PRODUCER`, written into bitcode. Each is in the key (and the
//! linker's probe is made for each `LPATH`), by both ways of keying.

use crate::harness::{assert_success, count, have, run, sccache_bin, Server};
use crate::rust_crates::{cval_archive, UNSAFE};
use std::path::Path;
use std::process::Command;

/// Compiles `main.rs` into `out/main` through `server` with `env`.
fn compile_main(server: &Server, path: &Path, env: &[(&str, &str)]) {
    let args = [
        "--crate-name",
        "main",
        "--edition=2021",
        "main.rs",
        "--crate-type",
        "bin",
        "--emit=dep-info,link",
        "--out-dir",
        "out",
    ];
    let output = run(server
        .command(sccache_bin())
        .current_dir(path)
        .envs(env.iter().copied())
        .arg("rustc")
        .args(args));
    assert_success(&output, "rustc");
}

fn run_main(path: &Path) -> String {
    let program = run(&mut Command::new(path.join("out/main")));
    String::from_utf8_lossy(&program.stdout).trim().to_owned()
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
        for sub in ["out", "libA", "libB"] {
            std::fs::create_dir_all(path.join(sub)).unwrap_or_default();
        }
        std::fs::write(
            path.join("main.rs"),
            format!(
                "#[link(name = \"lp\", kind = \"static\")]\nextern \"C\" {{ fn cval() -> i32; }}\n\
                 fn main() {{ print!(\"{{}}\", {UNSAFE} {{ cval() }}) }}\n"
            ),
        )
        .unwrap_or_default();
        cval_archive(path, &path.join("libA/liblp.a"), 1);
        cval_archive(path, &path.join("libB/liblp.a"), 2);
        let lpath = |sub: &str| path.join(sub).display().to_string();
        let (a, b) = (lpath("libA"), lpath("libB"));
        compile_main(&server, path, &[("LPATH", &a)]);
        assert_eq!(run_main(path), "1");
        compile_main(&server, path, &[("LPATH", &a)]);
        assert_eq!(run_main(path), "1");
        assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
        compile_main(&server, path, &[("LPATH", &b)]);
        assert_eq!(run_main(path), "2", "SCCACHE_DIRECT={direct}");
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
        compile_main(&server, path, &[("LLD_VERSION", injected)]);
        compile_main(&server, path, &[]);
        let binary = crate::harness::read(&path.join("out/main"));
        assert!(
            !binary
                .windows(injected.len())
                .any(|window| window == injected.as_bytes()),
            "SCCACHE_DIRECT={direct}: the binary of a link without LLD_VERSION holds it"
        );
        assert_eq!(run_main(path), "hi");
    }
}
