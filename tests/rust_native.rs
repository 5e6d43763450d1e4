//! What "native" means to rustc, in the key. A static library named only by
//! `#[link(kind = "static")]` in the source is copied into the rlib, so its contents are part of
//! what the compile produces; and `-C target-cpu=native` means this machine's CPU, which a cache
//! shared with other machines must tell apart.

use crate::harness::{assert_success, count, fixture, have, read, run, Server};
use std::path::Path;
use std::process::Command;

/// Builds `nat/libanswer.a` from `answer.c` in `dir`, answering `value`.
fn build_archive(dir: &Path, value: i32) {
    std::fs::write(
        dir.join("answer.c"),
        format!("int answer(void) {{ return {value}; }}\n"),
    )
    .unwrap_or_else(|error| panic!("{error}"));
    std::fs::create_dir_all(dir.join("nat")).unwrap_or_else(|error| panic!("{error}"));
    assert_success(
        &run(Command::new("gcc")
            .current_dir(dir)
            .args(["-c", "answer.c", "-o", "answer.o"])),
        "gcc",
    );
    let _ = std::fs::remove_file(dir.join("nat/libanswer.a"));
    assert_success(
        &run(Command::new("ar")
            .current_dir(dir)
            .args(["rcs", "nat/libanswer.a", "answer.o"])),
        "ar",
    );
}

/// rustc's arguments as cargo would pass them for the fixture's library, into `out`.
fn rustc_args(out: &str) -> Vec<String> {
    [
        "--crate-name",
        "native",
        "--edition=2021",
        "src/lib.rs",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "-C",
        "metadata=0123456789abcdef",
        "-C",
        "extra-filename=-0123456789abcdef",
        "--out-dir",
        out,
        "-L",
        "native=nat",
    ]
    .map(String::from)
    .to_vec()
}

const RLIB: &str = "libnative-0123456789abcdef.rlib";

#[test]
fn a_static_library_named_only_in_the_source_is_in_the_key() {
    assert!(have("rustc"), "rustc is not installed");
    let server = Server::start();
    let dir = fixture("native");
    let compile = |out: &str| {
        std::fs::create_dir_all(dir.path().join(out)).unwrap();
        let output = run(server
            .command(crate::harness::sccache_bin())
            .current_dir(dir.path())
            .arg("rustc")
            .args(rustc_args(out)));
        assert_success(&output, "sccache rustc");
    };
    let plain = |out: &str| {
        std::fs::create_dir_all(dir.path().join(out)).unwrap();
        let output = run(Command::new("rustc")
            .current_dir(dir.path())
            .args(rustc_args(out)));
        assert_success(&output, "rustc");
    };
    build_archive(dir.path(), 42);
    compile("out1");
    server.wait_for_stats(|stats| count(stats, "cache_writes") == 1);
    compile("out2");
    assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);

    // The library changes; the source and the command line do not.
    build_archive(dir.path(), 43);
    compile("out3");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.Rust"), 2, "{stats:#}");
    plain("plain");
    assert_eq!(
        read(&dir.path().join("out3").join(RLIB)),
        read(&dir.path().join("plain").join(RLIB)),
        "the rlib differs from a plain compile's"
    );
}

/// The fixture with a library that does not link `answer` (no static library needed), and
/// `bin/rustc`, a script with `text` that runs the real rustc.
fn with_rustc_script(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = fixture("native");
    std::fs::write(
        dir.path().join("src/lib.rs"),
        "//! x\npub fn sum(values: &[u64]) -> u64 {\n    values.iter().sum()\n}\n",
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|error| panic!("{error}"));
    crate::harness::write_script(&bin.join("rustc"), text);
    (dir, bin)
}

/// A rustc that stands for another machine's: `-C target-cpu=native` means `$FAKE_CPU` to it.
const RUSTC_ON_ANOTHER_CPU: &str = r#"#!/bin/sh
for arg in "$@"; do
  shift
  if [ "$arg" = "target-cpu=native" ]; then arg="target-cpu=$FAKE_CPU"; fi
  set -- "$@" "$arg"
done
exec rustc "$@"
"#;

#[test]
fn target_cpu_native_is_keyed_by_the_cpu_it_means() {
    assert!(have("rustc"), "rustc is not installed");
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let cache = root.path().join("cache");
    let (dir, bin) = with_rustc_script(RUSTC_ON_ANOTHER_CPU);
    let args = |out: &str| {
        let mut args = rustc_args(out);
        args.truncate(args.len() - 2); // no -L native=nat
        args.extend([
            "-C".into(),
            "target-cpu=native".into(),
            "-C".into(),
            "opt-level=3".into(),
        ]);
        args
    };
    // Two machines sharing one cache: the first's CPU is a plain x86-64, the second's a Haswell.
    for (cpu, out, hits) in [
        ("x86-64", "out1", 0),
        ("x86-64", "out2", 1),
        ("haswell", "out3", 0),
    ] {
        let server = Server::start_in(&cache, &[]);
        std::fs::create_dir_all(dir.path().join(out)).unwrap_or_else(|error| panic!("{error}"));
        let output = run(server
            .command(crate::harness::sccache_bin())
            .current_dir(dir.path())
            .env("FAKE_CPU", cpu)
            .arg(bin.join("rustc"))
            .args(args(out)));
        assert_success(&output, "sccache rustc -C target-cpu=native");
        let stats = server.wait_for_stats(|stats| {
            count(stats, "cache_hits.counts.Rust") + count(stats, "cache_writes") >= 1
        });
        assert_eq!(
            count(&stats, "cache_hits.counts.Rust"),
            hits,
            "{cpu}: {stats:#}"
        );
        let plain_out = format!("plain-{cpu}");
        std::fs::create_dir_all(dir.path().join(&plain_out))
            .unwrap_or_else(|error| panic!("{error}"));
        let mut plain_args = args(&plain_out);
        let last = plain_args.len() - 3;
        plain_args[last] = format!("target-cpu={cpu}");
        assert_success(
            &run(Command::new("rustc")
                .current_dir(dir.path())
                .args(plain_args)),
            "plain rustc",
        );
        assert_eq!(
            read(&dir.path().join(out).join(RLIB)),
            read(&dir.path().join(&plain_out).join(RLIB)),
            "{cpu}: the rlib differs from a plain compile for that CPU"
        );
    }
}

/// A rustc that logs each of its starts to `$RUSTC_STARTS_LOG`.
const LOGGING_RUSTC: &str = r#"#!/bin/sh
echo "$*" >> "$RUSTC_STARTS_LOG"
exec rustc "$@"
"#;

#[test]
fn a_hit_with_target_cpu_native_starts_no_rustc() {
    assert!(have("rustc"), "rustc is not installed");
    let root = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let (dir, bin) = with_rustc_script(LOGGING_RUSTC);
    let log = root.path().join("rustc.log");
    let starts = || {
        std::fs::read_to_string(&log)
            .map(|text| text.lines().count())
            .unwrap_or(0)
    };
    // A clock step: a source written in the compile's own tick gets no manifest record.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let server = Server::start_in(&root.path().join("cache"), &[("SCCACHE_DIRECT", "true")]);
    let compile = |out: &str| {
        std::fs::create_dir_all(dir.path().join(out)).unwrap_or_else(|error| panic!("{error}"));
        let mut args = rustc_args(out);
        args.truncate(args.len() - 2); // no -L native=nat
        args.extend(["-C".into(), "target-cpu=native".into()]);
        let output = run(server
            .command(crate::harness::sccache_bin())
            .current_dir(dir.path())
            .env("RUSTC_STARTS_LOG", &log)
            .arg(bin.join("rustc"))
            .args(args));
        assert_success(&output, "sccache rustc -C target-cpu=native");
    };
    compile("out1");
    // The result and its manifest.
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 2);
    let after_miss = starts();
    assert!(after_miss >= 2, "the miss ran no rustc? {after_miss}");
    compile("out2");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 1, "{stats:#}");
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    assert_eq!(
        starts(),
        after_miss,
        "a hit started rustc: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(
        read(&dir.path().join("out1").join(RLIB)),
        read(&dir.path().join("out2").join(RLIB))
    );
}

/// Three crates, `main` → `a` → `cee`, where `cee` bundles a vendored archive named `+verbatim` on
/// its command line (a `-sys` crate's build script), built into one target directory; then the
/// archive changes and all three are built into another. `cee` misses (its archive is keyed),
/// `a` is the same bytes (`cee`'s metadata hash does not cover bundled code), and `main`'s direct
/// record names the crates it linked in the first directory, unchanged there: the search
/// directories are in its keys, so it links the new `cee` and prints the new answer.
#[test]
fn a_binary_built_into_another_target_directory_links_that_directory_s_crates() {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    for sub in ["vendor", "t1", "t2"] {
        std::fs::create_dir_all(path.join(sub)).unwrap_or_else(|error| panic!("{error}"));
    }
    let write = |name: &str, text: &str| {
        std::fs::write(path.join(name), text).unwrap_or_else(|error| panic!("{error}"))
    };
    let unsafe_word = concat!("un", "safe");
    write(
        "cee.rs",
        &format!(
            "extern \"C\" {{ fn answer() -> i32; }}\n\
             pub fn get() -> i32 {{ {unsafe_word} {{ answer() }} }}\n"
        ),
    );
    write("a.rs", "pub fn twice() -> i32 { cee::get() * 2 }\n");
    write("main.rs", "fn main() { print!(\"{}\", a::twice()); }\n");
    let archive = |value: i32| {
        build_archive(path, value);
        std::fs::rename(path.join("nat/libanswer.a"), path.join("vendor/answer.bin"))
            .unwrap_or_else(|error| panic!("{error}"));
        // Past the clock's tick: a record may be made of it.
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let build = |target: &str| {
        let deps = format!("dependency={target}");
        let crates: [(&str, &str, Vec<String>); 3] = [
            (
                "cee",
                "lib",
                vec![
                    "-L".into(),
                    "native=vendor".into(),
                    "-l".into(),
                    "static:+verbatim=answer.bin".into(),
                ],
            ),
            (
                "a",
                "lib",
                vec!["--extern".into(), format!("cee={target}/libcee.rlib")],
            ),
            (
                "main",
                "bin",
                vec!["--extern".into(), format!("a={target}/liba.rlib")],
            ),
        ];
        for (name, crate_type, extra) in crates {
            let source = format!("{name}.rs");
            let emit = match crate_type {
                "bin" => "--emit=dep-info,link",
                _ => "--emit=dep-info,metadata,link",
            };
            let mut args: Vec<String> = [
                "--crate-name",
                name,
                "--edition=2021",
                &source,
                "--crate-type",
                crate_type,
                emit,
                "--out-dir",
                target,
                "-L",
                &deps,
            ]
            .map(String::from)
            .to_vec();
            args.extend(extra);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            assert_success(&server.compile(path, "rustc", &args), "rustc");
        }
        let output = run(&mut Command::new(path.join(target).join("main")));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    archive(1);
    assert_eq!(build("t1"), "2");
    archive(2);
    assert_eq!(build("t2"), "4", "the binary links t2's crates");
    assert_eq!(
        read(&path.join("t1/liba.rlib")),
        read(&path.join("t2/liba.rlib")),
        "a is the same bytes in both (the case this test is about)"
    );
}
