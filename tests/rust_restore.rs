//! A cargo build's large outputs restored from the disk cache's content files, with real cargo
//! and rustc: a crate whose rlib is kept outside its entry hits byte-identical, and an output
//! that the build later overwrites in place (as `cp` or a build script would, same inode) leaves
//! the cache as it was, so the next hit restores the original bytes.

use crate::harness::{assert_success, count, have, run, Server};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A library crate whose debug rlib is well over the 64 KiB from which the disk cache keeps an
/// output in a content file of its own.
fn write_crate(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"big\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let mut source = String::from("//! Many small functions, for a large rlib.\n");
    for n in 0..400 {
        source.push_str(&format!(
            "pub fn f{n}(x: u64) -> u64 {{ x.wrapping_mul({n}).rotate_left({}) ^ {n} }}\n",
            n % 63
        ));
    }
    std::fs::write(dir.join("src").join("lib.rs"), source)
        .unwrap_or_else(|error| panic!("{error}"));
}

fn clean_build(server: &Server, dir: &Path) {
    assert!(have("cargo"), "cargo is not installed");
    for args in [&["clean"][..], &["build", "--offline"]] {
        let output = run(server
            .command("cargo")
            .current_dir(dir)
            .args(args)
            .env("RUSTC_WRAPPER", crate::harness::sccache_bin())
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CARGO_INCREMENTAL", "0")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
            .env_remove("RUSTC_WORKSPACE_WRAPPER"));
        assert_success(&output, &format!("cargo {args:?}"));
    }
}

/// The rlib cargo built.
fn rlib(dir: &Path) -> PathBuf {
    let deps = dir.join("target").join("debug").join("deps");
    std::fs::read_dir(&deps)
        .unwrap_or_else(|error| panic!("{error}"))
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "rlib")
        })
        .unwrap_or_else(|| panic!("no rlib in {}", deps.display()))
}

/// The content files of the cache: the files of the shard directories named `<key>.<digest>`.
fn content_files(cache: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for high in std::fs::read_dir(cache)
        .unwrap_or_else(|error| panic!("{error}"))
        .flatten()
    {
        for low in std::fs::read_dir(high.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for file in std::fs::read_dir(low.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = file.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') && name.contains('.') {
                    found.push(file.path());
                }
            }
        }
    }
    found
}

#[test]
fn an_rlib_overwritten_in_place_after_a_hit_leaves_the_cache_intact() {
    let server = Server::start();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("big");
    write_crate(&dir);
    clean_build(&server, &dir);
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    let original = std::fs::read(rlib(&dir)).unwrap();
    assert!(
        original.len() > 64 * 1024,
        "rlib of {} bytes",
        original.len()
    );
    let contents = content_files(&server.cache_dir);
    assert!(!contents.is_empty(), "no content file in the cache");
    let kept: Vec<Vec<u8>> = contents
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect();

    for round in 1..=2u64 {
        clean_build(&server, &dir);
        let stats = server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.Rust"), round, "{stats:#}");
        let restored = rlib(&dir);
        assert_eq!(std::fs::read(&restored).unwrap(), original, "round {round}");
        let inode = std::fs::metadata(&restored).unwrap().ino();
        assert!(contents
            .iter()
            .all(|content| std::fs::metadata(content).unwrap().ino() != inode));
        // The build writes into its output in place: the same inode, truncated and rewritten.
        std::fs::File::create(&restored)
            .unwrap()
            .write_all(b"overwritten in place")
            .unwrap();
        let now: Vec<Vec<u8>> = contents
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect();
        assert_eq!(now, kept, "round {round}: the cache changed");
    }
}
