//! What a single-file rustc compile that links reads, in the key: files a link argument leads
//! to, libraries that are linker scripts, verbatim libraries, a library appearing earlier on
//! the search, files the assembler reads, a source named with a newline, a `rustc-*` wrapper
//! script. Each compiles a small `main.rs` with real rustc through the real server, changes
//! what the link reads, and checks the binary prints the new answer, by both ways of keying.

use crate::harness::{assert_success, count, have, run, Server};
use crate::rust_crates::make_executable;
use std::path::Path;
use std::process::Command;

/// Compiles `main.rs` in `dir` through `server` (with `rustc`, a program name or path) into the
/// binary `out/main`, with `extra` arguments, runs it and answers its standard output.
fn build_and_run(server: &Server, dir: &Path, rustc: &str, extra: &[&str]) -> String {
    build_and_run_with(server, dir, rustc, extra, &[])
}

/// `build_and_run` with `env` set for the compile.
pub fn build_and_run_with(
    server: &Server,
    dir: &Path,
    rustc: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> String {
    let mut args = vec![
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
    args.extend_from_slice(extra);
    let compiled = run(server
        .command(crate::harness::sccache_bin())
        .current_dir(dir)
        .envs(env.iter().copied())
        .arg(rustc)
        .args(&args));
    assert_success(&compiled, "rustc");
    let output = run(&mut Command::new(dir.join("out/main")));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Compiles `int cval(void) {{ return value; }}` in `dir` and archives it as `library` (made
/// anew), then waits past the file system clock's tick, so that a record may be made of it.
pub fn cval_archive(dir: &Path, library: &Path, value: u32) {
    let source = dir.join("cv.c");
    std::fs::write(&source, format!("int cval(void) {{ return {value}; }}\n")).unwrap_or_default();
    let object = dir.join("cv.o");
    assert_success(
        &run(Command::new("gcc")
            .arg("-c")
            .arg(&source)
            .arg("-o")
            .arg(&object)),
        "gcc",
    );
    let _ = std::fs::remove_file(library);
    assert_success(
        &run(Command::new("ar").arg("rcs").arg(library).arg(&object)),
        "ar",
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
}

/// The keyword the test programs below call C with, spelled in two so that `tidy`'s check of
/// where unsafe code may stand (it reads this file's text) sees none here.
const UNSAFE: &str = concat!("un", "safe");

/// Writes `main.rs` in `dir`, a program printing what C's `cval()` returns, with `link` (a
/// `#[link(...)]` attribute, or nothing) on its `extern` block; and makes `out` and each of
/// `subdirs` under `dir`.
pub fn cval_program(dir: &Path, subdirs: &[&str], link: &str) {
    for sub in std::iter::once("out").chain(subdirs.iter().copied()) {
        std::fs::create_dir_all(dir.join(sub)).unwrap_or_default();
    }
    let program = format!(
        "{link}\nextern \"C\" {{ fn cval() -> i32; }}\n\
         fn main() {{ print!(\"{{}}\", {UNSAFE} {{ cval() }}) }}\n"
    );
    std::fs::write(dir.join("main.rs"), program).unwrap_or_default();
}

/// Files a link reads that only a link argument leads to: a linker script's `INCLUDE`d file
/// (cortex-m-rt's `memory.x`), an object a script names in `INPUT`, and an object passed
/// through `-Xlinker`. Changing any of them must miss, and the binary must be the new one.
#[test]
fn files_a_link_argument_leads_to_are_in_the_key() {
    assert!(have("gcc"), "gcc is needed");
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::write(
        path.join("main.rs"),
        format!(
            "extern \"C\" {{ static rr_sym: u8; fn cval() -> i32; fn dval() -> i32; }}\n\
             fn main() {{ {UNSAFE} {{ println!(\"{{:p}} {{}} {{}}\", &rr_sym, cval(), dval()) }} }}\n"
        ),
    )
    .unwrap_or_default();
    let object = |name: &str, function: &str, value: u32| {
        let source = path.join(format!("{name}.c"));
        std::fs::write(
            &source,
            format!("int {function}(void) {{ return {value}; }}\n"),
        )
        .unwrap_or_default();
        assert_success(
            &run(Command::new("gcc")
                .arg("-c")
                .arg(&source)
                .arg("-o")
                .arg(path.join(format!("{name}.o")))),
            "gcc",
        );
    };
    object("c", "cval", 1);
    object("d", "dval", 10);
    std::fs::write(path.join("script.ld"), "INCLUDE inc.ld\nINPUT(d.o)\n").unwrap_or_default();
    // The included file is found through the search directories.
    std::fs::create_dir_all(path.join("ld")).unwrap_or_default();
    std::fs::write(path.join("ld/inc.ld"), "rr_sym = 0x1000;\n").unwrap_or_default();
    let compile = || {
        build_and_run(
            &server,
            path,
            "rustc",
            &[
                "-C",
                "link-arg=script.ld",
                "-C",
                "link-arg=-Xlinker",
                "-C",
                "link-arg=c.o",
                "-L",
                "native=ld",
            ],
        )
    };
    let hits = || count(&server.stats(), "cache_hits.counts.Rust");
    assert_eq!(compile(), "0x1000 1 10");
    assert_eq!(compile(), "0x1000 1 10");
    assert_eq!(hits(), 1, "the same inputs hit");
    // Each change, one at a time, is a miss with the new binary.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(path.join("ld/inc.ld"), "rr_sym = 0x2000;\n").unwrap_or_default();
    assert_eq!(compile(), "0x2000 1 10");
    object("d", "dval", 20);
    assert_eq!(compile(), "0x2000 1 20");
    object("c", "cval", 2);
    assert_eq!(compile(), "0x2000 2 20");
    // A file of the included name that appears in the working directory, which ld searches
    // first, is read instead.
    std::fs::write(path.join("inc.ld"), "rr_sym = 0x3000;\n").unwrap_or_default();
    assert_eq!(compile(), "0x3000 2 20");
    assert_eq!(hits(), 1, "no stale hit");
    let stats = server.stats();
    crate::harness::assert_outcomes_add_up(&stats);
}

/// rustc escapes only spaces in its dep-info's file names: a name with a newline cuts the
/// list, and a key taken from the cut list would miss the file's changes. Such a compile is
/// not cached; the binary always has the file's current contents.
#[test]
fn a_source_named_with_a_newline_is_never_a_stale_hit() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::write(
        path.join("main.rs"),
        "fn main() { print!(\"{}\", include_str!(\"a\\nb.txt\")) }\n",
    )
    .unwrap_or_default();
    // What the cut list would name instead.
    std::fs::write(path.join("a"), "other").unwrap_or_default();
    let compile = |contents: &str| {
        std::fs::write(path.join("a\nb.txt"), contents).unwrap_or_default();
        build_and_run(&server, path, "rustc", &[])
    };
    assert_eq!(compile("v1"), "v1");
    assert_eq!(compile("v1"), "v1");
    assert_eq!(compile("v2"), "v2");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 0, "{stats:#}");
    crate::harness::assert_outcomes_add_up(&stats);
}

/// A library the link finds in a search directory that is a GNU linker script (as `libc.so`
/// is): the files it names, relative ones too (found in the working directory, its own
/// directory or the search directories), and the scripts among them, are in the key.
#[test]
fn a_library_that_is_a_linker_script_is_followed() {
    for direct in ["false", "true"] {
        a_library_script_is_followed(direct);
    }
}

fn a_library_script_is_followed(direct: &str) {
    assert!(have("gcc"), "gcc is needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    let lib = path.join("L");
    cval_program(path, &["L"], "");
    let object = |value: u32| {
        let source = path.join("cv.c");
        std::fs::write(&source, format!("int cval(void) {{ return {value}; }}\n"))
            .unwrap_or_default();
        assert_success(
            &run(Command::new("gcc")
                .arg("-c")
                .arg(&source)
                .arg("-o")
                .arg(lib.join("cv.obj"))),
            "gcc",
        );
    };
    // `libcv.so` names `next.ld` (relative, beside it), which names the object.
    std::fs::write(lib.join("libcv.so"), "INPUT(next.ld)\n").unwrap_or_default();
    std::fs::write(lib.join("next.ld"), "INPUT(cv.obj)\n").unwrap_or_default();
    object(1);
    let compile = || {
        build_and_run(
            &server,
            path,
            "rustc",
            &["-L", "native=L", "-l", "dylib=cv"],
        )
    };
    assert_eq!(compile(), "1");
    assert_eq!(compile(), "1");
    let hits = || count(&server.stats(), "cache_hits.counts.Rust");
    assert_eq!(hits(), 1, "the same inputs hit");
    std::thread::sleep(std::time::Duration::from_millis(20));
    object(2);
    assert_eq!(compile(), "2");
    assert_eq!(hits(), 1, "no stale hit");
}

/// A `rustc-*` wrapper script (cargo's `RUSTC`) that adds a flag: its text is part of the
/// compiler's identity, so editing it misses.
#[test]
fn a_rustc_wrapper_script_is_part_of_the_identity() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::write(
        path.join("main.rs"),
        "fn main() { print!(\"{}\", if cfg!(flavor_a) { \"A\" } else { \"B\" }) }\n",
    )
    .unwrap_or_default();
    let wrapper = path.join("rustc-wrapped");
    let compile = |flavor: &str| {
        std::fs::write(
            &wrapper,
            format!("#!/bin/sh\nexec rustc \"$@\" --cfg {flavor} --check-cfg 'cfg(flavor_a,flavor_b)'\n"),
        )
        .unwrap_or_default();
        make_executable(&wrapper);
        build_and_run(&server, path, &wrapper.to_string_lossy(), &[])
    };
    assert_eq!(compile("flavor_a"), "A");
    assert_eq!(compile("flavor_a"), "A");
    assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(compile("flavor_b"), "B");
    assert_eq!(count(&server.stats(), "cache_hits.counts.Rust"), 1);
}

/// A verbatim library (`-l dylib:+verbatim=NAME`) may have any name, which no library
/// directory's listing would take for a library: it is in the key by its own name.
#[test]
fn a_verbatim_library_of_any_name_is_in_the_key() {
    for (direct, in_source) in [
        ("false", false),
        ("true", false),
        ("false", true),
        ("true", true),
    ] {
        a_verbatim_library_is_in_the_key(direct, in_source);
    }
}

/// With `in_source`, the library is named by the source's `#[link]` (out of the command
/// line's sight): direct mode finds it in the command rustc printed.
fn a_verbatim_library_is_in_the_key(direct: &str, in_source: bool) {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    let lib = path.join("L");
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::create_dir_all(&lib).unwrap_or_default();
    let link = match in_source {
        true => "#[link(name = \"cv.bin\", kind = \"static\", modifiers = \"+verbatim\")]\n",
        false => "",
    };
    cval_program(path, &[], link);
    let archive = |value: u32| cval_archive(path, &lib.join("cv.bin"), value);
    let compile = || {
        let args: &[&str] = match in_source {
            true => &["-L", "native=L"],
            false => &["-L", "native=L", "-l", "dylib:+verbatim=cv.bin"],
        };
        build_and_run(&server, path, "rustc", args)
    };
    archive(1);
    assert_eq!(compile(), "1");
    assert_eq!(compile(), "1");
    let hits = || count(&server.stats(), "cache_hits.counts.Rust");
    // Named in a source, it is followed only where the link command rustc printed is read
    // (direct mode); the dep-info run's way of keying does not store such a crate.
    let hits_expected = u64::from(!in_source || direct == "true");
    assert_eq!(hits(), hits_expected, "the same inputs hit");
    std::thread::sleep(std::time::Duration::from_millis(20));
    archive(2);
    assert_eq!(compile(), "2");
    assert_eq!(hits(), hits_expected, "no stale hit");
}

/// `global_asm!` with `.incbin` makes the assembler read a file that no dep-info lists: such a
/// crate is not stored, and the program always holds the file's current bytes.
#[test]
fn a_file_the_assembler_reads_is_never_a_stale_hit() {
    for direct in ["false", "true"] {
        a_file_the_assembler_reads_is_never_stale(direct);
    }
}

fn a_file_the_assembler_reads_is_never_stale(direct: &str) {
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    let data = path.join("data.bin");
    std::fs::write(
        path.join("main.rs"),
        format!(
            "std::arch::global_asm!(\".section .rodata\", \".global blob\", \"blob:\", \
             \".incbin \\\"{}\\\"\", \".text\");\n\
             extern \"C\" {{ static blob: [u8; 3]; }}\n\
             fn main() {{ print!(\"{{}}\", String::from_utf8_lossy({UNSAFE} {{ &blob }})) }}\n",
            data.display()
        ),
    )
    .unwrap_or_default();
    let compile = |contents: &str| {
        std::fs::write(&data, contents).unwrap_or_default();
        build_and_run(&server, path, "rustc", &[])
    };
    assert_eq!(compile("v11"), "v11");
    assert_eq!(compile("v11"), "v11");
    assert_eq!(compile("v22"), "v22");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 0, "{stats:#}");
    crate::harness::assert_outcomes_add_up(&stats);
}

/// Only sources are scanned for assembler directives, not the crates a link reads: a
/// dependency whose metadata happens to hold `incbin` (its documentation here; the dependency
/// itself is not stored) does not keep the binary that links it from hitting.
#[test]
fn a_crate_whose_bytes_spell_a_directive_does_not_stop_its_users_hitting() {
    for direct in ["false", "true"] {
        crate_bytes_spelling_a_directive(direct);
    }
}

fn crate_bytes_spelling_a_directive(direct: &str) {
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::write(
        path.join("dep.rs"),
        "/// Not `.incbin`: a word of its documentation, which its metadata keeps.\n\
         pub const WORD: &str = concat!(\"inc\", \"bin\");\n",
    )
    .unwrap_or_default();
    std::fs::write(
        path.join("main.rs"),
        "fn main() { print!(\"{}\", dep::WORD) }\n",
    )
    .unwrap_or_default();
    let lib = [
        "--crate-name",
        "dep",
        "--edition=2021",
        "dep.rs",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "--out-dir",
        "out",
    ];
    let bin = [
        "--crate-name",
        "main",
        "--edition=2021",
        "main.rs",
        "--crate-type",
        "bin",
        "--emit=dep-info,link",
        "--out-dir",
        "out",
        "--extern",
        "dep=out/libdep.rlib",
        "-L",
        "dependency=out",
    ];
    assert_success(&server.compile(path, "rustc", &lib), "rustc dep");
    assert!(std::fs::read(path.join("out/libdep.rmeta"))
        .unwrap_or_default()
        .windows(6)
        .any(|window| window == b"incbin"));
    for _ in 0..2 {
        assert_success(&server.compile(path, "rustc", &bin), "rustc main");
    }
    let output = run(&mut Command::new(path.join("out/main")));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "incbin");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 1, "{stats:#}");
}

/// A shared library the source names (`#[link(name = "cv")]`, out of the command line's
/// sight), found in the second of two search directories: one of that name that appears in the
/// first is linked instead (the binary needs its soname), and misses, by both ways of keying;
/// so does that library replaced by another of the same name, and the two directories
/// searched the other way round. In direct mode a file of a
/// searched directory that the link does not read changes nothing (the directories' names
/// are in the key, and the files the link read are in the record).
#[test]
fn a_library_that_appears_in_an_earlier_directory_misses() {
    for direct in ["false", "true"] {
        a_library_in_an_earlier_directory_misses(direct);
    }
}

fn a_library_in_an_earlier_directory_misses(direct: &str) {
    assert!(have("gcc"), "gcc is needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    cval_program(path, &["A", "B"], "#[link(name = \"cv\")]");
    // A shared library whose soname says which it is.
    let library = |into: &str, soname: &str| {
        let source = path.join("cv.c");
        std::fs::write(&source, "int cval(void) { return 1; }\n").unwrap_or_default();
        let library = path.join(into).join("libcv.so");
        let _ = std::fs::remove_file(&library);
        assert_success(
            &run(Command::new("gcc")
                .args(["-shared", "-fPIC"])
                .arg(format!("-Wl,-soname,{soname}"))
                .arg(&source)
                .arg("-o")
                .arg(&library)),
            "gcc",
        );
        // Past the clock's tick: a record may be made of it.
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // The soname the binary needs, searching the directories in `order`.
    let compile_searching = |order: [&str; 2]| {
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
            "-L",
            order[0],
            "-L",
            order[1],
        ];
        assert_success(&server.compile(path, "rustc", &args), "rustc");
        let binary = std::fs::read(path.join("out/main")).unwrap_or_default();
        ["libcv_a.so", "libcv_b.so", "libcv_c.so"]
            .into_iter()
            .find(|name| binary.windows(name.len()).any(|w| w == name.as_bytes()))
            .unwrap_or("none")
    };
    let compile = || compile_searching(["native=A", "native=B"]);
    let hits = || count(&server.stats(), "cache_hits.counts.Rust");
    library("B", "libcv_b.so");
    std::fs::write(path.join("B/notes.txt"), "one").unwrap_or_default();
    assert_eq!(compile(), "libcv_b.so");
    assert_eq!(compile(), "libcv_b.so");
    assert_eq!(hits(), 1, "the same inputs hit");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(path.join("B/notes.txt"), "two").unwrap_or_default();
    assert_eq!(compile(), "libcv_b.so");
    if direct == "true" {
        assert_eq!(hits(), 2, "a file the link does not read changes nothing");
    }
    let before = hits();
    library("A", "libcv_a.so");
    assert_eq!(compile(), "libcv_a.so");
    assert_eq!(hits(), before, "no stale hit");
    library("A", "libcv_c.so");
    assert_eq!(compile(), "libcv_c.so");
    assert_eq!(hits(), before, "no stale hit");
    // The same directories searched the other way round (a build script printing them in
    // another order): B's is linked.
    assert_eq!(compile_searching(["native=B", "native=A"]), "libcv_b.so");
    assert_eq!(hits(), before, "no stale hit");
    crate::harness::assert_outcomes_add_up(&server.stats());
}

/// A library crate whose source bundles a static library named `+verbatim` (any file name,
/// which no listing of `lib*.a` finds) into its `.rlib`: the `.rlib` always holds the
/// library's current bytes, by both ways of keying. Spelled plainly it is not stored; spelled
/// with an escape (which the scan for `+verbatim` does not see), every file of the `-L native`
/// directories is in the key, so it hits until the library changes, then misses.
#[test]
fn an_rlib_bundling_a_verbatim_library_is_never_stale() {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let spellings = [("+verbatim", 0), ("+verb\\x61tim", 1)];
    for (direct, (modifier, hits)) in ["false", "true"]
        .into_iter()
        .flat_map(|direct| spellings.map(|spelling| (direct, spelling)))
    {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        for sub in ["out", "plain", "L"] {
            std::fs::create_dir_all(path.join(sub)).unwrap_or_default();
        }
        std::fs::write(
            path.join("lib.rs"),
            format!(
                "#[link(name = \"cv.bin\", kind = \"static\", modifiers = \"{modifier}\")]\n\
                 extern \"C\" {{ pub fn cval() -> i32; }}\n"
            ),
        )
        .unwrap_or_default();
        let archive = |value: u32| cval_archive(path, &path.join("L/cv.bin"), value);
        let args = |out: &'static str| {
            [
                "--crate-name",
                "cvlib",
                "--edition=2021",
                "lib.rs",
                "--crate-type",
                "lib",
                "--emit=dep-info,metadata,link",
                "--out-dir",
                out,
                "-L",
                "native=L",
            ]
        };
        let compile = || {
            assert_success(&server.compile(path, "rustc", &args("out")), "rustc");
            assert_success(
                &run(Command::new("rustc").args(args("plain")).current_dir(path)),
                "plain rustc",
            );
            let read = |out: &str| std::fs::read(path.join(out).join("libcvlib.rlib"));
            assert_eq!(
                read("out").ok(),
                read("plain").ok(),
                "the rlib a plain build makes"
            );
        };
        archive(1);
        compile();
        compile();
        archive(2);
        compile();
        let stats = server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.Rust"), hits, "{stats:#}");
    }
}

/// A library a linker script names by `-lNAME` (`libfoo.so` is the text `INPUT(-lbar)`, as
/// distributions' `libncursesw.so` names `-ltinfo`), found through a search directory: its
/// contents are in the key, by both ways of keying, when only the source names `foo`.
#[test]
fn a_library_a_linker_script_names_is_in_the_key() {
    for direct in ["false", "true"] {
        a_library_a_script_names_is_in_the_key(direct);
    }
}

fn a_library_a_script_names_is_in_the_key(direct: &str) {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    cval_program(path, &["L"], "#[link(name = \"foo\")]");
    std::fs::write(path.join("L/libfoo.so"), "INPUT(-lbar)\n").unwrap_or_default();
    // `libbar.so` is an archive (ld goes by its bytes), so its contents are in the binary.
    let archive = |value: u32| cval_archive(path, &path.join("L/libbar.so"), value);
    let compile = || build_and_run(&server, path, "rustc", &["-L", "native=L"]);
    let hits = || count(&server.stats(), "cache_hits.counts.Rust");
    archive(1);
    assert_eq!(compile(), "1");
    assert_eq!(compile(), "1");
    assert_eq!(hits(), 1, "the same inputs hit");
    archive(2);
    assert_eq!(compile(), "2");
    assert_eq!(hits(), 1, "no stale hit");
}

/// A library named with a directory (`-l:sub/libx.a`, found under any search directory's
/// `sub`) is not cached: a file that appears in an earlier directory's `sub` changes no
/// directory listing the key holds. The program always has the library it links.
#[test]
fn a_library_named_with_a_directory_is_not_cached() {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        cval_program(
            path,
            &["A/sub", "B/sub"],
            "#[link(name = \"sub/libx.a\", kind = \"static\", modifiers = \"+verbatim\")]",
        );
        let archive =
            |into: &str, value: u32| cval_archive(path, &path.join(into).join("sub/libx.a"), value);
        let compile = || {
            build_and_run(
                &server,
                path,
                "rustc",
                &["-L", "native=A", "-L", "native=B"],
            )
        };
        archive("B", 1);
        assert_eq!(compile(), "1");
        assert_eq!(compile(), "1");
        archive("A", 2);
        assert_eq!(compile(), "2");
        let stats = server.stats();
        assert_eq!(count(&stats, "cache_hits.counts.Rust"), 0, "{stats:#}");
        crate::harness::assert_outcomes_add_up(&stats);
    }
}

/// A search directory a build script names that is not there (an optional prefix) does not
/// keep a binary out of the cache: its empty listing is in the key.
#[test]
fn direct_mode_a_search_directory_that_is_not_there_still_hits() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    std::fs::create_dir_all(path.join("out")).unwrap_or_default();
    std::fs::write(path.join("main.rs"), "fn main() { print!(\"hi\") }\n").unwrap_or_default();
    let compile = || build_and_run(&server, path, "rustc", &["-L", "native=not-there"]);
    assert_eq!(compile(), "hi");
    assert_eq!(compile(), "hi");
    let stats = server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), 1, "{stats:#}");
}

/// An empty entry of `LIBRARY_PATH` (from `$LIBRARY_PATH:/opt/lib` with nothing set) is the
/// working directory to gcc: a library the source names, found there, is in the key, by both
/// ways of keying.
#[test]
fn a_library_found_through_an_empty_library_path_entry_is_in_the_key() {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        cval_program(path, &[], "#[link(name = \"lp\", kind = \"static\")]");
        let archive = |value: u32| cval_archive(path, &path.join("liblp.a"), value);
        let compile = || {
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
                .command(crate::harness::sccache_bin())
                .current_dir(path)
                .env("LIBRARY_PATH", ":/nonexistent/lib")
                .arg("rustc")
                .args(args));
            assert_success(&output, "rustc");
            let program = run(&mut Command::new(path.join("out/main")));
            String::from_utf8_lossy(&program.stdout).trim().to_owned()
        };
        let hits = || count(&server.stats(), "cache_hits.counts.Rust");
        archive(1);
        assert_eq!(compile(), "1");
        assert_eq!(compile(), "1");
        assert_eq!(hits(), 1, "the same inputs hit");
        archive(2);
        assert_eq!(compile(), "2");
        assert_eq!(hits(), 1, "no stale hit");
    }
}

/// rustc's own tracing (`RUSTC_LOG`) goes to stderr: such a compile is not cached (a hit would
/// print none of it, or another compile's).
#[test]
fn a_compile_with_rustc_log_is_not_cached() {
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.rs"), "pub fn f() -> u32 { 1 }\n").unwrap();
    std::fs::create_dir_all(dir.path().join("out")).unwrap();
    let args = [
        "--crate-name",
        "logged",
        "--edition=2021",
        "lib.rs",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "--out-dir",
        "out",
    ];
    let compile = |log: Option<&str>| {
        let mut command = server.command(crate::harness::sccache_bin());
        command.current_dir(dir.path()).arg("rustc").args(args);
        if let Some(log) = log {
            command.env("RUSTC_LOG", log);
        }
        let output = run(&mut command);
        assert_success(&output, "rustc");
        output
    };
    compile(None);
    server.wait_for_stats(|stats| count(stats, "cache_writes") >= 1);
    for _ in 0..2 {
        let logged = compile(Some("rustc_metadata=info"));
        assert!(!logged.stderr.is_empty(), "{logged:?}");
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "not_cached.RUSTC_LOG"), 2, "{stats:#}");
}
