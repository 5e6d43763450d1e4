//! Direct mode against the review of its include searches (session 17): each case a wrong
//! direct hit the review got, where the scan or the record missed a way the compiler finds or
//! names a header. Each compiles through the cache before and after the change and compares
//! the object with a plain compile's (`Project::compile`).

use crate::c_direct::{compilers, Project};
use crate::harness::{run, sccache_bin};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Sets a file's modification time.
fn set_modified(project: &Project, name: &str, when: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(project.path(name))
        .and_then(|file| file.set_modified(when))
        .unwrap_or_else(|error| panic!("{name}: {error}"));
}

/// Compiles twice (a record, then a hit where one is allowed), applies `change`, and compiles
/// again: every object is a plain compile's.
fn same_as_plain_after(project: &Project, compiler: &str, args: &[&str], change: impl FnOnce()) {
    project.compile(compiler, args, &[]);
    project.compile(compiler, args, &[]);
    change();
    project.compile(compiler, args, &[]);
}

/// clang finds `<Foo/Bar.h>` in a `-F` directory as `Foo.framework/Headers/Bar.h`: a
/// framework appearing there is a new header first on the search.
#[test]
fn a_framework_directory_s_new_header_is_found() {
    if !crate::harness::have("clang") {
        return;
    }
    let project = Project::new(&[
        ("x.c", "#include <Foo/Bar.h>\nint v = BAR;\n"),
        ("inc/Foo/Bar.h", "#define BAR 1\n"),
        ("F/keep", ""),
    ]);
    same_as_plain_after(
        &project,
        "clang",
        &["-F", "F", "-Iinc", "-c", "x.c"],
        || project.write("F/Foo.framework/Headers/Bar.h", "#define BAR 2\n"),
    );
}

/// A `#pragma once` spelled with a vertical tab (a blank in a directive) is one: gcc skips a
/// twin of the file (same size, time and bytes) that a macro names, and such a record is not
/// made; the twin rewritten is read.
#[test]
fn a_pragma_once_spelled_with_a_vertical_tab_is_seen() {
    let project = Project::new(&[
        (
            "x.c",
            "#include \"a.h\"\n#define H \"sub/b.h\"\n#include H\nint v;\n",
        ),
        ("a.h", "#\x0bpragma once\nint twin;\n"),
        ("sub/b.h", "#\x0bpragma once\nint twin;\n"),
    ]);
    let past = SystemTime::now() - Duration::from_secs(3600);
    set_modified(&project, "a.h", past);
    set_modified(&project, "sub/b.h", past);
    for compiler in compilers() {
        same_as_plain_after(&project, compiler, &["-c", "x.c"], || {
            project.write("sub/b.h", "#pragma once\nint other = 5;\n")
        });
        project.write("sub/b.h", "#\x0bpragma once\nint twin;\n");
        set_modified(&project, "sub/b.h", past);
    }
}

/// gcc's `-remap` reads a `header.gcc` in each search directory, which maps names to others.
#[test]
fn gcc_s_remap_files_are_read() {
    let project = Project::new(&[
        ("x.c", "#include <x.h>\nint v = V;\n"),
        ("inc/x.h", "#define V 1\n"),
        ("inc/y.h", "#define V 2\n"),
    ]);
    same_as_plain_after(&project, "gcc", &["-remap", "-Iinc", "-c", "x.c"], || {
        project.write("inc/header.gcc", "x.h y.h\n")
    });
}

/// A source in UTF-16 hides its `__has_include` from a scan of its bytes.
#[test]
fn a_source_in_another_encoding_is_searched_again() {
    let utf16 =
        |text: &str| -> Vec<u8> { text.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let project = Project::new(&[("inc/keep", "")]);
    let source = "#if __has_include(\"new.h\")\n#include \"new.h\"\n#else\n#define V 1\n#endif\n\
                  int v = V;\n";
    std::fs::write(project.path("x.c"), utf16(source)).unwrap_or_default();
    let args = [
        "-nostdinc",
        "-finput-charset=UTF-16LE",
        "-Iinc",
        "-c",
        "x.c",
    ];
    same_as_plain_after(&project, "gcc", &args, || {
        std::fs::write(project.path("inc/new.h"), utf16("#define V 2\n")).unwrap_or_default()
    });
}

/// gcc includes `<stdc-predef.h>` before the source, and none is found in an empty sysroot:
/// one put on the include path is read.
#[test]
fn a_predefines_header_appearing_on_the_include_path_is_read() {
    let project = Project::new(&[
        ("x.c", "#ifndef V\n#define V 1\n#endif\nint v = V;\n"),
        ("inc/keep", ""),
        ("sysroot/keep", ""),
    ]);
    let sysroot = format!("--sysroot={}", project.path("sysroot").display());
    same_as_plain_after(&project, "gcc", &[&sysroot, "-Iinc", "-c", "x.c"], || {
        project.write("inc/stdc-predef.h", "#define V 2\n")
    });
}

/// A search directory removed after the record: gcc says so (an error here), and so does the
/// compile through the cache.
#[test]
fn a_search_directory_removed_is_reported_as_the_compiler_does() {
    let project = Project::new(&[("x.c", "int v;\n"), ("extra/keep", "")]);
    let args = ["-Werror=missing-include-dirs", "-Iextra", "-c", "x.c"];
    project.compile("gcc", &args, &[]);
    assert!(project.compile("gcc", &args, &[]), "direct before");
    std::fs::remove_dir_all(project.path("extra")).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(30));
    let cached = run(project
        .server
        .command(sccache_bin())
        .current_dir(project.dir.path())
        .arg("gcc")
        .args(args));
    let plain = run(Command::new("gcc")
        .current_dir(project.dir.path())
        .args(args));
    assert!(!plain.status.success());
    assert_eq!(cached.status.code(), plain.status.code());
    assert_eq!(cached.stderr, plain.stderr);
}

/// gcc writes a system header's name as its real path when that is shorter: a link on its
/// way pointed at an identical copy with a shorter path changes `__FILE__` and the object.
/// (The headers live outside the working directory, where no other name reaches them.)
#[test]
fn a_system_header_s_shorter_real_path_is_the_name_written() {
    let project = Project::new(&[("x.c", "#include <x.h>\n")]);
    let headers = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let header = "static const char *f = __FILE__;\nconst char *g(void) { return f; }\n";
    for dir in ["a_long_target_dir", "s"] {
        crate::harness::write_under(headers.path(), &format!("{dir}/x.h"), header);
    }
    let link = headers.path().join("inc");
    std::os::unix::fs::symlink(headers.path().join("a_long_target_dir"), &link).unwrap_or_default();
    let link_text = link.display().to_string();
    same_as_plain_after(
        &project,
        "gcc",
        &["-isystem", &link_text, "-c", "x.c"],
        || {
            std::fs::remove_file(&link).unwrap_or_default();
            std::os::unix::fs::symlink(headers.path().join("s"), &link).unwrap_or_default();
        },
    );
}

/// clang writes a backslash in a header's name as `/` in its dependency file (`a\b.h` as
/// `a/b.h`, another file): a name a macro spells is recorded from the preprocessor's text.
#[test]
fn a_header_named_with_a_backslash_by_a_macro_is_recorded_as_read() {
    if !crate::harness::have("clang") {
        return;
    }
    let project = Project::new(&[
        ("x.c", "#define H \"a\\b.h\"\n#include H\nint v = V;\n"),
        ("a\\b.h", "#define V 1\n"),
        ("a/b.h", "#define W 1\n"),
        ("warm.c", "int w;\n"),
    ]);
    // The compiler's search list known: its next miss takes the dependency path.
    project.compile("clang", &["-c", "warm.c"], &[]);
    same_as_plain_after(&project, "clang", &["-c", "x.c"], || {
        project.write("a\\b.h", "#define V 2\n")
    });
}

/// A header map: a file clang reads as a table from names to paths.
fn header_map(key: &str, prefix: &str, suffix: &str) -> Vec<u8> {
    let mut strings = vec![0u8];
    let mut add = |text: &str| {
        let at = strings.len() as u32;
        strings.extend_from_slice(text.as_bytes());
        strings.push(0);
        at
    };
    let (k, p, s) = (add(key), add(prefix), add(suffix));
    let buckets = 4u32;
    let hash = key.bytes().fold(0u32, |sum, byte| {
        sum.wrapping_add(u32::from(byte.to_ascii_lowercase()) * 13)
    });
    let mut data = Vec::new();
    data.extend_from_slice(b"pamh");
    data.extend_from_slice(&1u16.to_le_bytes());
    data.extend_from_slice(&0u16.to_le_bytes());
    for field in [
        24 + 12 * buckets,
        1,
        buckets,
        (prefix.len() + suffix.len()) as u32,
    ] {
        data.extend_from_slice(&field.to_le_bytes());
    }
    for bucket in 0..buckets {
        let entry = if bucket == hash & (buckets - 1) {
            [k, p, s]
        } else {
            [0; 3]
        };
        for field in entry {
            data.extend_from_slice(&field.to_le_bytes());
        }
    }
    data.extend_from_slice(&strings);
    data
}

/// clang takes a `-I` that is a file for a header map: one written there later sends the
/// name elsewhere.
#[test]
fn a_search_path_that_is_a_file_becomes_a_header_map() {
    if !crate::harness::have("clang") {
        return;
    }
    let project = Project::new(&[
        ("x.c", "#include \"x.h\"\nint v = V;\n"),
        ("inc/x.h", "#define V 1\n"),
        ("other/x.h", "#define V 2\n"),
        ("afile", "junk\n"),
    ]);
    let other = format!("{}/", project.path("other").display());
    same_as_plain_after(
        &project,
        "clang",
        &["-Iafile", "-Iinc", "-c", "x.c"],
        || {
            std::fs::write(project.path("afile"), header_map("x.h", &other, "x.h"))
                .unwrap_or_default()
        },
    );
}

/// A header whose comments spell `#include` without a name (`stdio.h`: "previously
/// #included.") makes no computed include: a compile reading it (with a `#pragma once` header
/// too) is stored on the dependency path, and a fresh server's compile hits it, for every
/// compiler.
#[test]
fn an_include_word_in_a_system_header_s_comment_keeps_the_dependency_path() {
    use crate::harness::{assert_success, count, write_under, Server};
    for compiler in compilers() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let cache = dir.path().join("cache");
        write_under(
            dir.path(),
            "hello.c",
            "#include <stdio.h>\n#include \"once.h\"\nint main(void) { puts(\"hi\"); return 0; }\n",
        );
        write_under(dir.path(), "once.h", "#pragma once\nint once;\n");
        write_under(dir.path(), "warm.c", "int warm;\n");
        let compile = |server: &Server, source: &str| {
            let object = source.replace(".c", ".o");
            let output = run(server
                .command(sccache_bin())
                .current_dir(dir.path())
                .args([compiler, "-c", source, "-o", &object]));
            assert_success(&output, compiler);
        };
        let settled = |stats: &serde_json::Value| {
            count(stats, "cache_hits.counts.C/C++")
                + count(stats, "cache_writes")
                + count(stats, "depend_not_stored")
        };
        for round in 0..3u64 {
            std::thread::sleep(Duration::from_millis(30));
            let server = Server::start_in(&cache, &[("SCCACHE_DIRECT", "true")]);
            // Another file first: the compiler's search list is known, and a miss of
            // `hello.c` compiles at once (the dependency path), as in a build of many files.
            compile(&server, "warm.c");
            let before = server.wait_for_stats(|stats| settled(stats) >= 1);
            compile(&server, "hello.c");
            let stats = server.wait_for_stats(|stats| settled(stats) > settled(&before));
            assert_eq!(
                count(&stats, "depend_not_stored"),
                0,
                "{compiler}: {stats:#}"
            );
            let hits = count(&stats, "cache_hits.counts.C/C++");
            assert_eq!(
                hits,
                2 * u64::from(round > 0),
                "{compiler}, round {round}: {stats:#}"
            );
            server.stop();
        }
    }
}

/// Sets a link's target by making a new link and renaming it over the old one.
fn repoint(project: &Project, link: &str, target: &str) {
    let fresh = project.path(&format!("{link}.new"));
    std::os::unix::fs::symlink(target, &fresh).unwrap_or_default();
    std::fs::rename(&fresh, project.path(link)).unwrap_or_default();
}

/// One directory by two names, one a link (`-I inc2 -I lnk`, `lnk -> inc2`): the compilers
/// search it once, and clang's report names the one it kept, so the other was in no search;
/// pointed elsewhere, the link's directory is searched again. The same for gcc keeping a
/// system directory over the `-I` one it duplicates (`-I D -isystem L`, `L -> D`), where the
/// name the header gets and the warnings it may give change.
#[test]
fn one_include_directory_by_two_names_is_searched_again_when_they_part() {
    for compiler in compilers() {
        let project = Project::new(&[
            ("x.c", "#include <late.h>\nint f(void) { return V; }\n"),
            ("inc2/keep", ""),
            ("after/late.h", "#define V 1\n"),
            ("ta/late.h", "#define V 2\n"),
        ]);
        std::os::unix::fs::symlink("inc2", project.path("lnk")).unwrap_or_default();
        let args = ["-Iinc2", "-Ilnk", "-Iafter", "-c", "x.c"];
        same_as_plain_after(&project, compiler, &args, || repoint(&project, "lnk", "ta"));

        let project = Project::new(&[
            (
                "x.c",
                "#include <x.h>\nconst char *f(void) { return x_file; }\n",
            ),
            ("D/x.h", "const char *x_file = __FILE__;\n"),
        ]);
        std::fs::create_dir(project.path("E")).unwrap_or_default();
        std::os::unix::fs::symlink("../D/x.h", project.path("E/x.h")).unwrap_or_default();
        std::os::unix::fs::symlink("D", project.path("L")).unwrap_or_default();
        let args = ["-ID", "-isystem", "L", "-c", "x.c"];
        same_as_plain_after(&project, compiler, &args, || repoint(&project, "L", "E"));
    }
}

/// An SDK switched by a link, its versions sharing files by hard links (`cp -al`): the header
/// read is the same inode through `current -> v2`, but gcc names a system header by its
/// shorter real path, now `v2`'s, in `__FILE__` and the debug information.
#[test]
fn a_directory_link_pointed_at_hard_linked_copies_is_searched_again() {
    let project = Project::new(&[
        (
            "x.c",
            "#include <x.h>\nconst char *f(void) { return x_file; }\n",
        ),
        (
            "sdk/v1/include/x.h",
            "static const char *x_file = __FILE__;\n",
        ),
    ]);
    std::fs::create_dir_all(project.path("sdk/v2/include")).unwrap_or_default();
    std::fs::hard_link(
        project.path("sdk/v1/include/x.h"),
        project.path("sdk/v2/include/x.h"),
    )
    .unwrap_or_default();
    std::os::unix::fs::symlink("v1", project.path("sdk/current")).unwrap_or_default();
    let include = project.path("sdk/current/include").display().to_string();
    same_as_plain_after(
        &project,
        "gcc",
        &["-isystem", &include, "-c", "x.c"],
        || repoint(&project, "sdk/current", "v2"),
    );
}
