//! What rustc loads is in the key: a proc macro re-exported by a dependency (`pub use
//! pm::answer`, as `serde` re-exports its derive) is named on no command line of the crates
//! that expand it, and the dependency's metadata names it by crate hash alone, which does not
//! change when its build script links a C library with new contents, nor when a shared C
//! library it needs changes. Every crate that expands it must miss then, by both ways of
//! keying, and hit again when the old contents come back; and a direct record made in one
//! target directory must not stand for the proc macro of another.

use crate::harness::{assert_success, count, have, run, write_under, Server};
use crate::rust_cache::cargo_in;
use std::path::Path;

/// How `pm` links its C library.
#[derive(Clone, Copy, Debug)]
enum Linked {
    /// `libanswer.a`, into `pm`'s shared object.
    Static,
    /// `libanswer.so`, which the loader finds by `pm`'s rpath when rustc loads `pm`.
    Shared,
}

/// A workspace: `pm` (a proc macro answering what its C library's `get_answer` returns),
/// `mid` re-exporting it, `user` (a library) expanding it through `mid`, `app` (a binary,
/// which links) printing `user`'s answer and its own expansion.
fn workspace(dir: &Path, linked: Linked) {
    let package = |name: &str, deps: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{deps}")
    };
    let on = |dep: &str| format!("[dependencies]\n{dep} = {{ path = \"../{dep}\" }}\n");
    write_under(
        dir,
        "Cargo.toml",
        "[workspace]\nmembers = [\"pm\", \"mid\", \"user\", \"app\"]\nresolver = \"2\"\n",
    );
    write_under(
        dir,
        "pm/Cargo.toml",
        &package("pm", "build = \"build.rs\"\n[lib]\nproc-macro = true\n"),
    );
    let archive = "let cc = Command::new(\"cc\").args([\"-c\", \"-fPIC\", \"answer.c\", \"-o\"])\
         .arg(format!(\"{out}/answer.o\")).status().unwrap();\n\
         assert!(cc.success());\n\
         let _ = std::fs::remove_file(format!(\"{out}/libanswer.a\"));\n\
         let ar = Command::new(\"ar\").arg(\"crs\").arg(format!(\"{out}/libanswer.a\"))\
         .arg(format!(\"{out}/answer.o\")).status().unwrap();\n\
         assert!(ar.success());\n\
         println!(\"cargo:rustc-link-lib=static=answer\");\n";
    let shared =
        "let cc = Command::new(\"cc\").args([\"-shared\", \"-fPIC\", \"answer.c\", \"-o\"])\
         .arg(format!(\"{out}/libanswer.so\")).status().unwrap();\n\
         assert!(cc.success());\n\
         println!(\"cargo:rustc-link-lib=dylib=answer\");\n\
         println!(\"cargo:rustc-link-arg=-Wl,-rpath,{out}\");\n";
    let library = match linked {
        Linked::Static => archive,
        Linked::Shared => shared,
    };
    let build = [
        "use std::process::Command;\n\
         fn main() {\n\
         let out = std::env::var(\"OUT_DIR\").unwrap();\n\
         println!(\"cargo:rerun-if-changed=answer.c\");\n\
         println!(\"cargo:rustc-link-search=native={out}\");\n",
        library,
        "}\n",
    ];
    write_under(dir, "pm/build.rs", &build.concat());
    write_pm_source(dir);
    write_under(dir, "mid/Cargo.toml", &package("mid", &on("pm")));
    write_under(dir, "mid/src/lib.rs", "pub use pm::answer;\n");
    write_under(dir, "user/Cargo.toml", &package("user", &on("mid")));
    write_under(
        dir,
        "user/src/lib.rs",
        "pub fn value() -> i32 { mid::answer!() }\n",
    );
    let deps = format!("{}mid = {{ path = \"../mid\" }}\n", on("user"));
    write_under(dir, "app/Cargo.toml", &package("app", &deps));
    write_under(
        dir,
        "app/src/main.rs",
        "fn main() { println!(\"answer={} {}\", user::value(), mid::answer!()); }\n",
    );
}

/// Writes `pm/src/lib.rs` under `dir`: a proc macro `answer!()` expanding to what the C
/// function `get_answer` returns when rustc runs it.
fn write_pm_source(dir: &Path) {
    // Spelled in two halves: the tidy check of where unsafe code may stand reads this file.
    let unsafe_word = concat!("un", "safe");
    write_under(
        dir,
        "pm/src/lib.rs",
        &format!(
            "extern crate proc_macro;\n\
             use proc_macro::TokenStream;\n\
             extern \"C\" {{ fn get_answer() -> i32; }}\n\
             #[proc_macro]\n\
             pub fn answer(_: TokenStream) -> TokenStream {{\n\
             format!(\"{{}}\", {unsafe_word} {{ get_answer() }}).parse().unwrap()\n\
             }}\n"
        ),
    );
}

/// Sets the answer of `pm`'s C library.
fn answer(dir: &Path, value: i32) {
    write_under(
        dir,
        "pm/answer.c",
        &format!("int get_answer(void) {{ return {value}; }}\n"),
    );
}

/// Builds through `server` into the target directory `target` and runs `app`. The directory
/// is given by `--target-dir`, so that the environment (`CARGO_TARGET_DIR`, in every key) is
/// the same for every directory.
fn build_and_run(server: &Server, dir: &Path, target: &str) -> String {
    let args = ["build", "--offline", "--target-dir", target];
    let build = cargo_in(server, dir, &dir.join("target"), &args, &[]);
    assert_success(&build, &format!("cargo build\n{}", server.log()));
    let app = run(&mut std::process::Command::new(
        dir.join(target).join("debug/app"),
    ));
    assert_success(&app, "app");
    String::from_utf8_lossy(&app.stdout).trim().to_owned()
}

/// Builds with answers 1, 2, 1 through a server of each mode: each build prints what a plain
/// one would, and the third restores the first's crates (`mid` and `user` hit, and `app`
/// with a static library).
fn answers_follow_the_library(linked: Linked) {
    assert!(
        have("cargo") && have("cc") && have("ar"),
        "cargo, cc and ar are needed"
    );
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        workspace(path, linked);
        answer(path, 1);
        assert_eq!(build_and_run(&server, path, "target"), "answer=1 1");
        answer(path, 2);
        assert_eq!(
            build_and_run(&server, path, "target"),
            "answer=2 2",
            "SCCACHE_DIRECT={direct}, {linked:?}: a crate expanding the macro was restored from \
             the old one"
        );
        let before = server.stats();
        answer(path, 1);
        assert_eq!(build_and_run(&server, path, "target"), "answer=1 1");
        let hits = |stats: &serde_json::Value, kind: &str| {
            count(stats, &format!("rust_crate_hits.{kind}"))
        };
        let after = server.stats();
        // With a shared library the binary's direct miss cannot be recorded (the loader found
        // the library by its own search), and its next compile takes the dep-info run's key,
        // another recipe than a direct miss's for a compile that links: the libraries hit.
        let expected: &[(&str, u64)] = match linked {
            Linked::Static => &[("lib", 2), ("bin", 1)],
            Linked::Shared => &[("lib", 2)],
        };
        for &(kind, expected) in expected {
            assert_eq!(
                hits(&after, kind) - hits(&before, kind),
                expected,
                "SCCACHE_DIRECT={direct}, {linked:?}, {kind}: {after}"
            );
        }
    }
}

#[test]
fn a_re_exported_proc_macro_s_new_shared_object_misses_the_crates_expanding_it() {
    answers_follow_the_library(Linked::Static);
}

/// The proc macro's own shared object stays the same; the library it needs does not. The
/// loader names that library by the path it was found at, and its digest joins the key.
#[test]
fn a_shared_library_a_proc_macro_needs_is_in_the_key() {
    answers_follow_the_library(Linked::Shared);
}

/// One workspace, two target directories: the record `user`'s compile made in the first names
/// the first's proc macro, and must not hold for the second's, built from a new C file (a
/// record of a compile that loaded a proc macro holds only where the same directories are
/// searched for crates).
#[test]
fn direct_mode_a_record_of_one_target_directory_does_not_stand_for_another_s_proc_macro() {
    assert!(
        have("cargo") && have("cc") && have("ar"),
        "cargo, cc and ar are needed"
    );
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let path = dir.path();
    workspace(path, Linked::Static);
    answer(path, 1);
    assert_eq!(build_and_run(&server, path, "first"), "answer=1 1");
    answer(path, 2);
    assert_eq!(build_and_run(&server, path, "second"), "answer=2 2");
}

/// A proc macro linked against `libanswer.so` without a run path, found where the user's
/// `LD_LIBRARY_PATH` says: the same sources built with another directory there expand to
/// another answer. The library is keyed by its digest, and a direct miss that loaded it is not
/// recorded (no record can replay the loader's search), by both ways of keying.
#[test]
fn a_library_a_proc_macro_finds_by_ld_library_path_is_followed() {
    assert!(have("cargo") && have("cc"), "cargo and cc are needed");
    for direct in ["false", "true"] {
        let server = Server::start_with(&[("SCCACHE_DIRECT", direct)]);
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
        let path = dir.path();
        for (sub, value) in [("lA", 1), ("lB", 2)] {
            let source = format!("int get_answer(void) {{ return {value}; }}\n");
            write_under(path, &format!("{sub}/answer.c"), &source);
            let library = path.join(sub).join("libanswer.so");
            let source = path.join(sub).join("answer.c");
            let cc = run(std::process::Command::new("cc")
                .args(["-shared", "-fPIC", "-o"])
                .arg(&library)
                .arg(&source));
            assert_success(&cc, "cc");
        }
        write_under(
            path,
            "Cargo.toml",
            "[workspace]\nmembers = [\"pm\", \"user\"]\nresolver = \"2\"\n",
        );
        write_under(
            path,
            "pm/Cargo.toml",
            "[package]\nname = \"pm\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [lib]\nproc-macro = true\n",
        );
        let link_dir = path.join("lA").display().to_string();
        write_under(
            path,
            "pm/build.rs",
            &format!(
                "fn main() {{ println!(\"cargo:rustc-link-search=native={link_dir}\"); \
                 println!(\"cargo:rustc-link-lib=dylib=answer\"); }}\n"
            ),
        );
        write_pm_source(path);
        write_under(
            path,
            "user/Cargo.toml",
            "[package]\nname = \"user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
             [dependencies]\npm = { path = \"../pm\" }\n",
        );
        write_under(
            path,
            "user/src/main.rs",
            "fn main() { print!(\"{}\", pm::answer!()); }\n",
        );
        let target = path.join("target");
        let build_and_run = |sub: &str| {
            let search = path.join(sub).display().to_string();
            let env = [("LD_LIBRARY_PATH", search.as_str())];
            let clean = cargo_in(&server, path, &target, &["clean"], &env);
            assert_success(&clean, "cargo clean");
            let build = cargo_in(&server, path, &target, &["build", "--offline"], &env);
            assert_success(&build, &format!("cargo build\n{}", server.log()));
            let user = run(&mut std::process::Command::new(target.join("debug/user")));
            assert_success(&user, "user");
            String::from_utf8_lossy(&user.stdout).into_owned()
        };
        assert_eq!(build_and_run("lA"), "1");
        assert_eq!(build_and_run("lB"), "2", "SCCACHE_DIRECT={direct}");
        assert_eq!(build_and_run("lA"), "1", "SCCACHE_DIRECT={direct}");
    }
}
