//! Unit tests of rustc command-line reading, the dep-info run's command line and dep-info
//! parsing.

use super::*;
#[cfg(unix)]
use std::ffi::OsStr;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn words(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

fn cacheable(args: &[OsString]) -> RustCompilation {
    match parse(args, Path::new("/nonexistent")) {
        Parsed::Cacheable(c) => c,
        other => panic!("expected cacheable, got {other:?} for {args:?}"),
    }
}

fn reason(args: &[OsString]) -> String {
    match parse(args, Path::new("/nonexistent")) {
        Parsed::NotCacheable(r) => r,
        other => panic!("expected not cacheable, got {other:?} for {args:?}"),
    }
}

const LIB: &str = "--crate-name foo src/lib.rs --crate-type lib --out-dir /o";
const BASE: &str = "--crate-name foo src/lib.rs --out-dir /o";

/// A line as cargo 1.8x writes it for a dependency-carrying library in a dev build.
fn cargo_lib_line() -> Vec<OsString> {
    let mut args = os(&[
        "--crate-name",
        "foo_bar",
        "--edition=2021",
        "src/lib.rs",
        "--error-format=json",
        "--json=diagnostic-rendered-ansi,artifacts,future-incompat",
        "--diagnostic-width=120",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "-C",
        "embed-bitcode=no",
        "-C",
        "debuginfo=2",
        "--check-cfg",
        "cfg(docsrs)",
        "--check-cfg",
        "cfg(feature, values(\"default\", \"std\"))",
        "--cfg",
        "feature=\"default\"",
        "--cfg",
        "feature=\"std\"",
        "-C",
        "metadata=1a2b3c4d5e6f7a8b",
        "-C",
        "extra-filename=-1a2b3c4d5e6f7a8b",
        "--out-dir",
        "/tmp/t/target/debug/deps",
        "-L",
        "dependency=/tmp/t/target/debug/deps",
        "--extern",
        "serde=/tmp/t/target/debug/deps/libserde-0123456789abcdef.rmeta",
        "--extern",
        "noprelude:alloc=/tmp/t/target/debug/deps/liballoc-0123.rlib",
        "--extern",
        "priv:itoa=/tmp/t/target/debug/deps/libitoa-4567.rmeta",
        "--cap-lints",
        "allow",
    ]);
    args.extend(words(
        "-C strip=debuginfo -C opt-level=0 -A warnings --warn unused -g",
    ));
    args
}

#[test]
fn cargo_lib_invocation_is_cacheable() {
    let c = cacheable(&cargo_lib_line());
    assert_eq!(c.crate_name, "foo_bar");
    assert_eq!(c.crate_types, vec!["lib"]);
    assert_eq!(
        c.emit,
        vec![EmitKind::Link, EmitKind::Metadata, EmitKind::DepInfo]
    );
    assert_eq!(c.input, "src/lib.rs");
    assert_eq!(c.out_dir, "/tmp/t/target/debug/deps");
    assert_eq!(c.extra_filename, "-1a2b3c4d5e6f7a8b");
    assert_eq!(c.error_format.as_deref(), Some("json"));
    assert_eq!(
        c.json.as_deref(),
        Some("diagnostic-rendered-ansi,artifacts,future-incompat")
    );
    assert_eq!(c.color, None);
    assert_eq!(
        c.outputs,
        os(&[
            "libfoo_bar-1a2b3c4d5e6f7a8b.rlib",
            "libfoo_bar-1a2b3c4d5e6f7a8b.rmeta",
            "foo_bar-1a2b3c4d5e6f7a8b.d",
        ])
    );
    assert_eq!(c.dep_info, Some("foo_bar-1a2b3c4d5e6f7a8b.d".into()));
    let names: Vec<&str> = c.externs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["serde", "alloc", "itoa"]);
    assert_eq!(
        c.externs[1].1,
        "/tmp/t/target/debug/deps/liballoc-0123.rlib"
    );
    // Paths of outputs, search directories and externs stay out of the key.
    let key: Vec<&str> = c.key_args.iter().map(|a| a.to_str().unwrap()).collect();
    assert!(key.iter().all(|a| !a.contains("/tmp/t/target")), "{key:?}");
    assert!(!key.contains(&"--out-dir") && !key.contains(&"-L"));
    for kept in [
        "src/lib.rs",
        "noprelude:alloc",
        "priv:itoa",
        "metadata=1a2b3c4d5e6f7a8b",
    ] {
        assert!(key.contains(&kept), "{kept} missing from {key:?}");
    }
    assert!(key.windows(2).any(|w| w
        == [
            "--json",
            "diagnostic-rendered-ansi,artifacts,future-incompat"
        ]));
    assert!(key.windows(2).any(|w| w == ["-W", "unused"]));
    assert!(key.ends_with(&[
        "--crate-type",
        "lib",
        "--emit",
        "link,metadata,dep-info",
        "--cfg",
        "feature=\"default\"",
        "--cfg",
        "feature=\"std\"",
        "--check-cfg",
        "cfg(docsrs)",
        "--check-cfg",
        "cfg(feature, values(\"default\", \"std\"))",
    ]));
}

#[test]
fn rlib_and_staticlib_outputs() {
    let c = cacheable(&words(
        "--crate-name foo src/lib.rs --crate-type rlib --crate-type staticlib,lib --out-dir o",
    ));
    assert_eq!(c.crate_types, vec!["rlib", "staticlib", "lib"]);
    assert_eq!(c.emit, vec![EmitKind::Link]);
    let static_name = if cfg!(target_env = "msvc") {
        "foo.lib"
    } else {
        "libfoo.a"
    };
    assert_eq!(c.outputs, os(&["libfoo.rlib", static_name]));
    assert_eq!(c.dep_info, None);
    let c = cacheable(&words(&format!(
        "{LIB} --crate-type staticlib --emit=metadata"
    )));
    assert_eq!(c.outputs, os(&["libfoo.rmeta"]));
}

#[test]
fn every_crate_type_is_read_and_a_linked_one_carries_its_link() {
    let c = cacheable(&words(&format!(
        "{BASE} --crate-type bin -C extra-filename=-h -C linker=/w/cc -l z -L native=n"
    )));
    assert_eq!(c.outputs, os(&["foo-h"]));
    let link = c.link.expect("a bin links");
    assert_eq!(link.linker, Some("/w/cc".into()));
    assert_eq!(link.libs.len(), 1);
    assert!(c.key_args.iter().any(|a| a == "linker=/w/cc"));
    let c = cacheable(&words(&format!("{BASE} --crate-type=proc-macro")));
    assert_eq!(c.outputs, os(&["libfoo.so"]));
    assert!(c.link.is_some());
    let c = cacheable(&words(&format!("{BASE} --crate-type cdylib,dylib")));
    assert_eq!(c.outputs, os(&["libfoo.so"]));
    assert_eq!(
        reason(&words(&format!("{BASE} --crate-type weird"))),
        "crate-type (unknown)"
    );
    // A build script is a bin, counted apart.
    let c = cacheable(&words(
        "--crate-name build_script_build build.rs --crate-type bin --out-dir o",
    ));
    assert_eq!(c.stats_kind(), "build-script");
}

#[test]
fn a_library_keeps_the_linker_out_of_its_key_and_has_no_link() {
    let plain = cacheable(&words(LIB));
    let linked = cacheable(&words(&format!(
        "{LIB} -C linker=/w/cc -C link-arg=-Wl,-z,now"
    )));
    assert_eq!(plain.key_args, linked.key_args);
    assert!(linked.link.is_none());
    // A bin's metadata-only compile (`cargo check`) does not link either.
    let c = cacheable(&words(&format!(
        "{BASE} --crate-type bin --emit=metadata -C linker=/w/cc"
    )));
    assert!(c.link.is_none());
    assert_eq!(c.outputs, os(&["libfoo.rmeta"]));
}

#[test]
fn a_linked_crate_refuses_split_debuginfo_and_unreadable_link_args() {
    assert_eq!(
        reason(&words(&format!(
            "{BASE} --crate-type bin -C split-debuginfo=packed --target aarch64-apple-darwin"
        ))),
        "-C split-debuginfo"
    );
    assert_eq!(
        reason(&words(&format!(
            "{BASE} --crate-type bin -C link-arg=-Wl,-Map=m.map"
        ))),
        "link-arg -Map"
    );
}

#[test]
fn incremental_in_every_spelling() {
    for flag in [
        "-C incremental=/i",
        "-Cincremental=/i",
        "--codegen incremental=/i",
        "--codegen=incremental=/i",
    ] {
        assert_eq!(
            reason(&words(&format!("{LIB} {flag}"))),
            "incremental",
            "{flag}"
        );
    }
}

#[test]
fn queries_are_not_compilations() {
    let probe = "- --crate-name ___ --print=file-names --crate-type bin --crate-type rlib \
                 --crate-type dylib --crate-type cdylib --crate-type staticlib \
                 --crate-type proc-macro --print=sysroot --print=split-debuginfo \
                 --print=crate-name --print=cfg";
    for line in [
        probe,
        "-vV",
        "-V",
        "--version",
        "--help",
        "-h",
        "-C help",
        "-W help",
        "--explain E0308",
    ] {
        assert_eq!(
            parse(&words(line), Path::new("/")),
            Parsed::NotCompilation,
            "{line}"
        );
    }
    assert_eq!(parse(&[], Path::new("/")), Parsed::NotCompilation);
    // Without `--print`, stdin input is a refusal.
    assert_eq!(
        reason(&words("- --crate-name x --crate-type lib --out-dir o")),
        "stdin input"
    );
}

#[test]
fn cfg_order_does_not_change_the_key() {
    let a = cacheable(&words(&format!(
        "{LIB} --cfg a --cfg=b --check-cfg cfg(a) --check-cfg=cfg(b)"
    )));
    let b = cacheable(&words(&format!(
        "--cfg b --check-cfg cfg(b) {LIB} --check-cfg cfg(a) --cfg a"
    )));
    assert_eq!(a.key_args, b.key_args);
    let c = cacheable(&words(&format!("{LIB} --cfg a --cfg c")));
    assert_ne!(a.key_args, c.key_args);
}

#[test]
fn attached_and_separate_values_share_a_key() {
    let a = cacheable(&words(
        "--crate-name=foo --edition=2021 src/lib.rs --crate-type=lib --emit=link,metadata \
         -Copt-level=3 -Awarnings --out-dir=/a -Ldependency=/d --extern=x=/x --cap-lints=allow \
         --codegen=debug_assertions=on -ldylib=z --target=x86_64-unknown-linux-gnu",
    ));
    let b = cacheable(&words(
        "--crate-name foo --edition 2021 src/lib.rs --crate-type lib --emit metadata --emit link \
         -C opt-level=3 --allow warnings --out-dir /b -L dependency=/e --extern x=/y --cap-lints allow \
         -C debug-assertions=on -l dylib=z --target x86_64-unknown-linux-gnu -L native=.",
    ));
    assert_eq!(a.key_args, b.key_args);
    assert_ne!(a.out_dir, b.out_dir);
}

/// A staticlib copies in every crate below it; with dependencies it is not cached.
#[test]
fn a_staticlib_with_dependencies_is_refused() {
    let staticlib = "--crate-name s src/lib.rs --crate-type staticlib --out-dir o";
    cacheable(&words(staticlib));
    for deps in [
        "--extern m=deps/libm.rlib",
        "--extern m",
        "-L dependency=deps",
        "-L crate=deps",
        "-L deps",
    ] {
        assert_eq!(
            reason(&words(&format!("{staticlib} {deps}"))),
            "staticlib with dependencies",
            "{deps}"
        );
    }
    cacheable(&words(&format!("{staticlib} -L native=n")));
    cacheable(&words(
        "--crate-name s src/lib.rs --crate-type rlib --out-dir o --extern m=deps/libm.rlib",
    ));
}

/// An out-dir JSON must escape stays in the artifact notices as written: it is in the key.
#[test]
fn an_out_dir_json_escapes_is_in_the_key() {
    let key = |dir: &str| {
        let mut line = words("--crate-name foo src/lib.rs --crate-type lib --out-dir");
        line.push(dir.into());
        cacheable(&line).key_args
    };
    assert_eq!(key("/a/o"), key("/b/o"));
    assert_ne!(key("/a\\x/o"), key("/b\\x/o"));
    assert_ne!(key("/a\"q/o"), key("/a/o"));
}

#[test]
fn llvm_args_that_may_write_files_are_refused() {
    for extra in [
        &["-C", "llvm-args=-ir-dump-directory=d"][..],
        &["-Cllvm-args=-print-after-all -info-output-file=x"],
        &["-C", "llvm-args=-pass-remarks-output=r.yaml"],
    ] {
        let mut line = words(LIB);
        line.extend(extra.iter().map(OsString::from));
        assert_eq!(
            reason(&line),
            "-C llvm-args that may write a file",
            "{extra:?}"
        );
    }
    cacheable(&words(&format!("{LIB} -C llvm-args=-inline-threshold=5")));
}

/// `-C rpath` makes a linked output name its dynamic libraries relative to the output
/// directory: a linking compile's key then holds that directory; a library's does not need it.
#[test]
fn rpath_puts_a_linking_compiles_out_dir_in_its_key() {
    let key = |line: &str| cacheable(&words(line)).key_args;
    let bin = "--crate-name t src/main.rs --crate-type bin --target x86_64-unknown-linux-gnu";
    assert_eq!(
        key(&format!("{bin} --out-dir /a")),
        key(&format!("{bin} --out-dir /b"))
    );
    for rpath in ["-C rpath", "-Crpath=yes", "-C rpath=on"] {
        assert_ne!(
            key(&format!("{bin} {rpath} --out-dir /a")),
            key(&format!("{bin} {rpath} --out-dir /b")),
            "{rpath}"
        );
    }
    assert_eq!(
        key(&format!("{bin} -C rpath=no --out-dir /a")),
        key(&format!("{bin} -C rpath=no --out-dir /b"))
    );
    // And where the dynamic libraries it links are.
    assert_ne!(
        key(&format!(
            "{bin} -C rpath --out-dir /o --extern foo=/a/libfoo.so"
        )),
        key(&format!(
            "{bin} -C rpath --out-dir /o --extern foo=/b/libfoo.so"
        ))
    );
    assert_ne!(
        key(&format!("{bin} -C rpath --out-dir /o -L dependency=/a")),
        key(&format!("{bin} -C rpath --out-dir /o -L dependency=/b"))
    );
    assert_eq!(
        key(&format!("{LIB} -C rpath").replace("/o", "/a")),
        key(&format!("{LIB} -C rpath").replace("/o", "/b"))
    );
}

#[test]
fn static_libs_are_found_in_search_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("native")).unwrap();
    std::fs::create_dir_all(tmp.path().join("deps")).unwrap();
    std::fs::create_dir_all(tmp.path().join("plain")).unwrap();
    std::fs::write(tmp.path().join("native/libz.a"), b"!<arch>\n").unwrap();
    std::fs::write(tmp.path().join("deps/libz.a"), b"!<arch>\n").unwrap();
    std::fs::write(tmp.path().join("plain/libq.a"), b"!<arch>\n").unwrap();
    std::fs::write(tmp.path().join("plain/exact.o"), b"").unwrap();
    // Any file: a source's `+verbatim` library, which an rlib bundles.
    std::fs::write(tmp.path().join("native/cv.bin"), b"!<arch>\n").unwrap();
    let target = "--target x86_64-unknown-linux-gnu";
    let line = format!(
        "{LIB} {target} -L dependency=deps -L native=native -Lplain -l static=z -lstatic=q:renamed \
         -l static:+verbatim=exact.o -l dylib=ssl -l m"
    );
    let c = match parse(&words(&line), tmp.path()) {
        Parsed::Cacheable(c) => c,
        other => panic!("{other:?}"),
    };
    let expect: Vec<OsString> = [
        "native/libz.a",
        "plain/libq.a",
        "plain/exact.o",
        "native/cv.bin",
    ]
    .iter()
    .map(|p| Path::new(p).as_os_str().to_owned())
    .collect();
    assert_eq!(c.static_libs, expect);
    assert!(c.key_args.iter().any(|a| a == "static=z"));
    let missing = format!("{LIB} {target} -L native=native -l static=nothere");
    assert_eq!(
        parse(&words(&missing), tmp.path()),
        Parsed::NotCacheable("static library not found".into())
    );
    // Directories of every kind are searched, after the native ones.
    let deps_only = format!("{LIB} {target} -L dependency=deps -l static=z");
    match parse(&words(&deps_only), tmp.path()) {
        Parsed::Cacheable(c) => assert_eq!(c.static_libs, vec![OsString::from("deps/libz.a")]),
        other => panic!("{other:?}"),
    }
}

/// Crates found by name (`extern crate foo;`) in a `-L crate=` directory, and an explicit
/// `--sysroot`'s standard library, are keyed by every file; a `dependency` directory is not.
#[test]
fn crate_directories_and_an_explicit_sysroot_are_keyed() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in [
        "crates",
        "deps",
        "sys/lib/rustlib/x86_64-unknown-linux-gnu/lib",
    ] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
    }
    std::fs::write(tmp.path().join("crates/libfoo.rlib"), b"rlib").unwrap();
    std::fs::write(tmp.path().join("deps/libbar.rlib"), b"rlib").unwrap();
    let std_rlib = "sys/lib/rustlib/x86_64-unknown-linux-gnu/lib/libstd-1.rlib";
    std::fs::write(tmp.path().join(std_rlib), b"rlib").unwrap();
    let bin = "--crate-name t src/main.rs --crate-type bin --out-dir o \
               --target x86_64-unknown-linux-gnu";
    for line in [
        format!("{bin} -L crate=crates -L dependency=deps"),
        format!("{bin} --emit=metadata -L all=crates -L dependency=deps"),
    ] {
        match parse(&words(&line), tmp.path()) {
            Parsed::Cacheable(c) => assert_eq!(
                c.static_libs,
                vec![Path::new("crates/libfoo.rlib").as_os_str().to_owned()],
                "{line}"
            ),
            other => panic!("{other:?}"),
        }
    }
    match parse(&words(&format!("{bin} --sysroot sys")), tmp.path()) {
        Parsed::Cacheable(c) => assert_eq!(
            c.static_libs,
            vec![Path::new("sys")
                .join(std_rlib.trim_start_matches("sys/"))
                .into_os_string()]
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn externs_without_path_stay_in_key_only() {
    let c = cacheable(&words(&format!(
        "{LIB} --extern proc_macro --extern a=liba.rlib"
    )));
    assert_eq!(
        c.externs,
        vec![("a".to_owned(), OsString::from("liba.rlib"))]
    );
    let key = &c.key_args;
    assert!(key.windows(2).any(|w| w == ["--extern", "proc_macro"]));
    assert!(key.windows(2).any(|w| w == ["--extern", "a"]));
    assert!(!key.iter().any(|a| a == "liba.rlib"));
}

#[test]
fn refusals() {
    let cases = [
        ("-o out.rlib", "-o"),
        ("--emit=link=out.rlib", "--emit with path"),
        ("--emit asm", "--emit (asm)"),
        ("--emit=link,llvm-ir", "--emit (llvm-ir)"),
        ("--emit mir", "--emit (mir)"),
        ("-Z unstable-options", "-Z"),
        ("-Zthreads=8", "-Z"),
        ("--test", "--test"),
        ("@args.txt", "@file"),
        ("--frobnicate", "unknown flag"),
        ("-q", "unknown flag"),
        ("--test=x", "unknown flag"),
        ("-C profile-use=/p.profdata", "-C profile-use"),
        ("-C profile-generate", "-C profile-generate"),
        ("-C save-temps", "-C save-temps"),
        ("--target my-target.json", "target spec file"),
        ("src/other.rs", "multiple input files"),
        (
            "-C split-debuginfo=unpacked --target x86_64-unknown-linux-gnu",
            "-C split-debuginfo",
        ),
        ("--cap-lints", "missing value"),
    ];
    for (extra, label) in cases {
        assert_eq!(reason(&words(&format!("{LIB} {extra}"))), label, "{extra}");
    }
    assert_eq!(
        reason(&words("--crate-type lib src/lib.rs --out-dir o")),
        "no --crate-name"
    );
    assert_eq!(
        reason(&words("--crate-name x src/lib.rs --out-dir o")),
        "no --crate-type"
    );
    assert_eq!(
        reason(&words("--crate-name x src/lib.rs --crate-type lib")),
        "no --out-dir"
    );
    // No input and nothing else wrong: not a compile at all.
    assert_eq!(
        parse(
            &words("--crate-name x --crate-type lib --out-dir o"),
            Path::new("/")
        ),
        Parsed::NotCompilation
    );
}

#[test]
fn accepted_flags() {
    for extra in [
        "-C linker=cc -C save-temps=no",
        "--remap-path-prefix /home/me=/src",
        "-C split-debuginfo=unpacked --target aarch64-apple-darwin",
        "-C split-debuginfo=off",
        "--sysroot /opt/rust -O --verbose --color always --force-warn x -D y --deny z -F w --forbid v",
    ] {
        cacheable(&words(&format!("{LIB} {extra}")));
    }
    // After a bare `--` every argument is a source file.
    let c = cacheable(&words(
        "--crate-name foo --crate-type lib --out-dir o -- src/lib.rs",
    ));
    assert_eq!(c.input, "src/lib.rs");
    let c = cacheable(&words(&format!("{LIB} --color=always")));
    assert_eq!(c.color.as_deref(), Some("always"));
    assert!(c.key_args.windows(2).any(|w| w == ["--color", "always"]));
}

#[cfg(unix)]
#[test]
fn non_utf8_never_panics() {
    use std::os::unix::ffi::OsStrExt;
    let bad = |b: &[u8]| OsStr::from_bytes(b).to_owned();
    let base = words(LIB);
    // A non-UTF-8 flag or text value is refused.
    for arg in [
        bad(b"--\xff"),
        bad(b"-\xff"),
        bad(b"--edition=\xff"),
        bad(b"-C\xff"),
    ] {
        let mut args = base.clone();
        args.push(arg.clone());
        assert_eq!(reason(&args), "non-UTF-8 argument", "{arg:?}");
    }
    // Non-UTF-8 paths are carried as they are.
    let mut args = os(&["--crate-name", "foo", "--crate-type", "lib", "--out-dir"]);
    args.extend([
        bad(b"/o\xff"),
        bad(b"src/\xfe.rs"),
        "--extern".into(),
        bad(b"a=/x\xff"),
    ]);
    args.extend([
        "-L".into(),
        bad(b"native=/n\xff"),
        "--sysroot".into(),
        bad(b"/s\xff"),
    ]);
    let c = cacheable(&args);
    assert_eq!(c.out_dir, bad(b"/o\xff"));
    assert_eq!(c.input, bad(b"src/\xfe.rs"));
    assert_eq!(c.externs, vec![("a".to_owned(), bad(b"/x\xff"))]);
    // Garbage of every shape must not panic.
    for junk in [
        b"\xff".as_slice(),
        b"-",
        b"--=",
        b"-\xff\xfe",
        b"--extern",
        b"=",
        b"@\xff",
    ] {
        let mut args = base.clone();
        args.push(bad(junk));
        let _ = parse(&args, Path::new("/"));
        let _ = parse(&[bad(junk)], Path::new("/"));
    }
}

#[test]
fn native_cpu_is_marked_for_the_flow_to_resolve() {
    assert!(cacheable(&words(&format!("{LIB} -C target-cpu=native"))).native_cpu);
    assert!(!cacheable(&words(&format!("{LIB} -C target-cpu=x86-64-v2"))).native_cpu);
    // The last one counts.
    let later = format!("{LIB} -C target-cpu=native -C target-cpu=x86-64");
    assert!(!cacheable(&words(&later)).native_cpu);
}

#[test]
fn dep_info_args_replace_emit_and_out_dir_only() {
    let args = words(
        "--crate-name foo --edition=2021 src/lib.rs --error-format=json --crate-type lib \
         --emit=dep-info,metadata,link -C embed-bitcode=no -C extra-filename=-abc \
         --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern bar=/t/libbar.rmeta \
         --cfg feature=\"x\" -Copt-level=0 -vV",
    );
    let rewritten = dep_info_args(&args, OsStr::new("/tmp/d"));
    let expected = words(
        "--crate-name foo --edition=2021 src/lib.rs --error-format=json --crate-type lib \
         -C embed-bitcode=no -C extra-filename=-abc \
         -L dependency=/t/debug/deps --extern bar=/t/libbar.rmeta \
         --cfg feature=\"x\" -Copt-level=0 -vV --emit=dep-info --out-dir /tmp/d",
    );
    assert_eq!(rewritten, expected);
    // Separate values are dropped with their option; a value that looks like an option
    // stays with the option it belongs to.
    let args = words("--emit link --out-dir o --cfg --out-dir src/lib.rs -- x.rs");
    assert_eq!(
        dep_info_args(&args, OsStr::new("d")),
        words("--cfg --out-dir src/lib.rs --emit=dep-info --out-dir d -- x.rs")
    );
    // The rewritten line is still one the parser accepts, with only dep-info emitted.
    let c = cacheable(&dep_info_args(&words(LIB), OsStr::new("/tmp/d")));
    assert_eq!(c.emit, vec![EmitKind::DepInfo]);
    assert_eq!(c.out_dir, "/tmp/d");
}

#[test]
fn dep_info_files_and_env() {
    let sample = "/tmp/t/target/debug/deps/foo-abc.d: src/lib.rs src/data.txt src/with\\ space.rs\n\
                  \n\
                  /tmp/t/target/debug/deps/libfoo-abc.rmeta: src/lib.rs src/data.txt src/with\\ space.rs\n\
                  \n\
                  src/lib.rs:\n\
                  src/data.txt:\n\
                  src/with\\ space.rs:\n\
                  \n\
                  # env-dep:CARGO_PKG_NAME=foo\n\
                  # env-dep:MY_VAR\n\
                  # env-dep:EQ=a=b\\nc\n\
                  # env-dep:BACK\\\\SLASH=v\n";
    let info = parse_dep_info(sample).unwrap();
    assert_eq!(
        info.files,
        vec!["src/lib.rs", "src/data.txt", "src/with space.rs"]
    );
    assert_eq!(
        info.env_deps,
        vec![
            ("CARGO_PKG_NAME".to_owned(), Some("foo".to_owned())),
            ("MY_VAR".to_owned(), None),
            ("EQ".to_owned(), Some("a=b\\nc".to_owned())),
            ("BACK\\SLASH".to_owned(), Some("v".to_owned())),
        ]
    );
    let windows =
        "C:\\t\\foo.d: C:\\src\\lib.rs \\\n  C:\\src\\a.rs\n\nC:\\src\\lib.rs:\nC:\\src\\a.rs:\n";
    assert_eq!(
        parse_dep_info(windows).unwrap().files,
        vec!["C:\\src\\lib.rs", "C:\\src\\a.rs"]
    );
    assert_eq!(
        parse_dep_info("foo.d:\n").unwrap().files,
        Vec::<String>::new()
    );
    assert_eq!(parse_dep_info(""), Ok(DepInfo::default()));
}

#[test]
fn a_dep_info_cut_by_a_file_name_is_refused() {
    // `src/../data/a\nb.txt`: rustc escapes spaces only, so the newline cuts both the rule and
    // the file's own rule, and the first rule alone would list `src/../data/a`.
    let newline =
        "out.d: src/main.rs src/../data/a\nb.txt\n\nsrc/main.rs:\nsrc/../data/a\nb.txt:\n";
    assert_eq!(
        parse_dep_info(newline),
        Err("dep-info line that is no rule")
    );
    // The part after the newline looks like a rule of its own.
    let rule_like = "out.d: src/main.rs data/a\nx: y\n\nsrc/main.rs:\ndata/a\nx: y:\n";
    assert!(parse_dep_info(rule_like).is_err());
    // A trailing backslash joins two names into one.
    let backslash = "out.d: src/main.rs data/a\\ src/b.rs\n\nsrc/main.rs:\ndata/a\\:\nsrc/b.rs:\n";
    assert_eq!(
        parse_dep_info(backslash),
        Err("dep-info files without rules of their own")
    );
    // Two outputs that disagree, and a file without its own rule.
    let outputs = "a.d: x.rs y.rs\nlib.rmeta: x.rs\n\nx.rs:\ny.rs:\n";
    assert_eq!(
        parse_dep_info(outputs),
        Err("dep-info rules that list other files")
    );
    assert!(parse_dep_info("a.d: x.rs y.rs\n\nx.rs:\n").is_err());
}

#[test]
fn an_input_that_is_a_device_is_refused_however_it_is_spelled() {
    let refusal = |input: &str, cwd: &str| {
        let args: Vec<OsString> = [
            "--crate-name",
            "x",
            "--crate-type",
            "lib",
            "--out-dir",
            "/tmp/out",
            input,
        ]
        .map(OsString::from)
        .to_vec();
        match parse(&args, Path::new(cwd)) {
            Parsed::NotCacheable(reason) => reason,
            other => panic!("{input} in {cwd}: {other:?}"),
        }
    };
    assert_eq!(refusal("/dev/stdin", "/tmp"), "input from a device");
    assert_eq!(refusal("/tmp/../dev/stdin", "/tmp"), "input from a device");
    assert_eq!(refusal("stdin", "/dev"), "input from a device");
    assert_eq!(refusal("/proc/self/fd/0", "/tmp"), "input from a device");
}

/// A link names every crate it loads by path unless LTO merges them or a crate may be found by
/// search (`-L` of kind `crate` or `all`); the last of an option counts, and `_` stands for
/// `-`. Rust dylibs (`-C prefer-dynamic`, which cargo gives every proc macro) are named by
/// path too.
#[test]
fn a_link_names_every_crate_unless_lto_dylibs_or_a_search_may_hide_one() {
    let bin = "--crate-name m src/main.rs --crate-type bin --out-dir /o --extern a=/d/liba.rlib \
               -L dependency=/d -L native=/n";
    let links = |extra: &str| cacheable(&words(&format!("{bin} {extra}"))).links_every_crate();
    assert!(links(""));
    assert!(links("-C lto=off"));
    assert!(links("-C lto=no -C linker-plugin-lto=false"));
    assert!(links("-C prefer-dynamic"));
    assert!(links("-C lto -C lto=off"));
    assert!(links("-C opt-level=3 -C codegen-units=1"));
    for extra in [
        "-C lto",
        "-C lto=fat",
        "-C lto=thin",
        "-C lto=off -C lto=yes",
        "-C linker-plugin-lto",
        "-C linker_plugin_lto=on",
        "-L /d2",
        "-L all=/d2",
        "-L crate=/d2",
    ] {
        assert!(!links(extra), "{extra}");
    }
    let lib = "--crate-name a src/lib.rs --crate-type lib --out-dir /o";
    assert!(
        !cacheable(&words(lib)).links_every_crate(),
        "a library links nothing"
    );
}
