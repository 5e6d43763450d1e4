//! Every crate type through the real server with real cargo and rustc, on the fixture workspace
//! in `tests/fixtures/crates`: a proc-macro crate (`names`), a library using it whose build
//! script generates code (`corelib`), and a binary member depending on the library (`tool`).
//!
//! What users care about: a warm build after `cargo clean` is all hits and its binary is the
//! same file; an edited proc macro re-expands its users; another linker, or a linked static
//! library with new contents, misses the crates that link and only them; a link input that
//! cannot be resolved is not cached, with its reason; the stats count hits and misses per
//! crate type, and a compile that fails as a compilation failure.

use crate::harness::{assert_success, count, fixture, have, run, Server};
use crate::rust_cache::cargo_in;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The compiles of a fixture build: `names` (proc-macro), `corelib`'s build script and the
/// library itself, `tool` (bin).
const COMPILES: u64 = 4;

/// What the fixture's binary prints.
const PLAIN_OUTPUT: &str = "HELLO 7\n";

/// The fixture's compiles by `--crate-name`.
const CRATE_NAMES: [&str; 4] = ["names", "build_script_build", "corelib", "tool"];

/// A copy of the fixture with its own server.
struct Workspace {
    server: Server,
    dir: TempDir,
    /// In direct mode: a stand-in rustc logging each run's arguments (`rust_direct.rs`'s).
    rustc_log: Option<TempDir>,
}

impl Workspace {
    fn new() -> Workspace {
        assert!(have("cargo"), "cargo is not installed");
        Workspace {
            server: Server::start(),
            dir: fixture("crates"),
            rustc_log: None,
        }
    }

    /// The fixture built through a direct-mode server and a logging rustc.
    fn direct() -> Workspace {
        assert!(have("cargo"), "cargo is not installed");
        let tools = tempfile::Builder::new()
            .prefix("sccache-rustc-log")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        crate::harness::write_script(
            &tools.path().join("rustc-logging"),
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec rustc \"$@\"\n",
                tools.path().join("log").display()
            ),
        );
        Workspace {
            server: Server::start_with(&[("SCCACHE_DIRECT", "true")]),
            dir: fixture("crates"),
            rustc_log: Some(tools),
        }
    }

    /// The environment every cargo run gets: the logging rustc in direct mode.
    fn env(&self) -> Vec<(&'static str, String)> {
        self.rustc_log
            .iter()
            .map(|tools| {
                let rustc = tools.path().join("rustc-logging");
                ("RUSTC", rustc.to_string_lossy().into_owned())
            })
            .collect()
    }

    /// rustc processes started so far for the fixture's compiles (none without the log).
    fn rustc_starts(&self) -> u64 {
        let Some(tools) = &self.rustc_log else {
            return 0;
        };
        let log = std::fs::read_to_string(tools.path().join("log")).unwrap_or_default();
        log.lines()
            .filter(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                words
                    .windows(2)
                    .any(|pair| pair[0] == "--crate-name" && CRATE_NAMES.contains(&pair[1]))
            })
            .count() as u64
    }

    /// The logging rustc's log so far (direct mode).
    fn rustc_log_text(&self) -> String {
        self.rustc_log
            .as_ref()
            .and_then(|tools| std::fs::read_to_string(tools.path().join("log")).ok())
            .unwrap_or_default()
    }

    /// Waits until the writes of every miss so far have landed (in direct mode a result and a
    /// manifest, a linking compile's after its dep-info run).
    fn wait_for_writes(&self) {
        let per_miss = if self.rustc_log.is_some() { 2 } else { 1 };
        self.server.wait_for_stats(|stats| {
            count(stats, "cache_writes") + count(stats, "cache_write_errors")
                >= per_miss * count(stats, "cache_misses.counts.Rust")
        });
    }

    fn target(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    fn binary(&self) -> PathBuf {
        self.target().join("debug").join("tool")
    }

    /// `cargo clean`, then `cargo` with `args` (a build); returns the hits and misses of that
    /// build by crate type, once the earlier misses are written.
    fn clean_run(&self, args: &[&str]) -> Counts {
        self.clean_run_counting(args).0
    }

    /// `clean_run`, with how many rustc processes the build started (direct mode only).
    fn clean_run_counting(&self, args: &[&str]) -> (Counts, u64) {
        self.clean_run_in(args, &[])
    }

    /// `clean_run_counting` with the variables `extra` set for cargo (and so for the wrapper).
    fn clean_run_in(&self, args: &[&str], extra: &[(&str, &str)]) -> (Counts, u64) {
        self.wait_for_writes();
        let before = Counts::of(&self.server.stats());
        let env = self.env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        let clean = cargo_in(
            &self.server,
            self.dir.path(),
            &self.target(),
            &["clean"],
            &env,
        );
        assert_success(&clean, "cargo clean");
        let started = self.rustc_starts();
        let build = cargo_in(&self.server, self.dir.path(), &self.target(), args, &env);
        assert_success(&build, &format!("cargo {args:?}\n{}", self.server.log()));
        // A direct miss of a linking compile lists its crates after the reply.
        self.wait_for_writes();
        let counts = Counts::of(&self.server.stats()).since(&before);
        (counts, self.rustc_starts() - started)
    }

    fn clean_build(&self) -> Counts {
        self.clean_run(&["build", "--offline"])
    }

    /// What the binary prints.
    fn run_tool(&self) -> String {
        let output = run(&mut Command::new(self.binary()));
        assert_success(&output, "the fixture's binary");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
}

/// Rust hits and misses, by crate type.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    hits: [u64; 4],
    misses: [u64; 4],
}

/// The crate types of the fixture, in `Counts` order.
const KINDS: [&str; 4] = ["proc-macro", "build-script", "lib", "bin"];

impl Counts {
    fn of(stats: &serde_json::Value) -> Counts {
        let get = |field: &str| KINDS.map(|kind| count(stats, &format!("{field}.{kind}")));
        Counts {
            hits: get("rust_crate_hits"),
            misses: get("rust_crate_misses"),
        }
    }

    fn since(&self, before: &Counts) -> Counts {
        let minus = |a: [u64; 4], b: [u64; 4]| [0, 1, 2, 3].map(|i| a[i] - b[i]);
        Counts {
            hits: minus(self.hits, before.hits),
            misses: minus(self.misses, before.misses),
        }
    }

    /// Counts where the crate types marked `true` missed and the others hit.
    fn missing(missed: [bool; 4]) -> Counts {
        Counts {
            hits: missed.map(|m| u64::from(!m)),
            misses: missed.map(u64::from),
        }
    }
}

#[test]
fn a_warm_build_hits_every_crate_type_and_restores_the_same_binary() {
    warm_build_hits_every_crate_type(Workspace::new());
}

/// Direct mode: no rustc process at all for a warm build, linking compiles included; a cold
/// one starts the compiles alone (a linking compile's crates are named by the link command
/// rustc prints; no dep-info run lists them).
#[test]
fn direct_mode_a_warm_build_starts_no_rustc_and_restores_the_same_binary() {
    let workspace = Workspace::direct();
    let (cold, cold_starts) = workspace.clean_run_counting(&["build", "--offline"]);
    assert_eq!(cold, Counts::missing([true; 4]));
    assert_eq!(cold_starts, 4, "{}", workspace.rustc_log_text());
    let first = crate::harness::read(&workspace.binary());
    let (warm, warm_starts) = workspace.clean_run_counting(&["build", "--offline"]);
    assert_eq!(warm, Counts::missing([false; 4]));
    assert_eq!(warm_starts, 0, "{}", workspace.server.log());
    assert!(crate::harness::read(&workspace.binary()) == first);
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
    let stats = workspace.server.stats();
    assert_eq!(count(&stats, "direct_hits"), COMPILES, "{stats:#}");
    assert_eq!(count(&stats, "inputs_changed"), 0, "{stats:#}");
    let not_direct = stats["stats"]["not_direct"]
        .as_object()
        .map_or(0, |reasons| reasons.len());
    assert_eq!(not_direct, 0, "{stats:#}");
}

/// Direct mode: a miss of a compile that links expands its proc macros once, as a plain
/// compile does. A crate listing beside the compile once expanded them a second time at the
/// same moment, and a macro that takes a lock of its own failed the build now and then.
#[test]
fn direct_mode_a_linking_miss_expands_its_proc_macros_once() {
    let workspace = Workspace::direct();
    workspace.write(
        "names/src/lib.rs",
        "use proc_macro::TokenStream;\nuse std::io::Write;\n\n#[proc_macro]\n\
         pub fn shout(input: TokenStream) -> TokenStream {\n    \
         if let Some(log) = std::env::var_os(\"SHOUT_LOG\") {\n        \
         let name = std::env::var(\"CARGO_CRATE_NAME\").unwrap_or_default();\n        \
         let mut file = std::fs::OpenOptions::new().append(true).create(true).open(log)\n            \
         .expect(\"the log\");\n        \
         writeln!(file, \"{name}\").expect(\"a line\");\n    }\n    \
         input.to_string().to_uppercase().parse().expect(\"a string literal\")\n}\n",
    );
    workspace.write(
        "tool/Cargo.toml",
        "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ncorelib = { path = \"../corelib\" }\nnames = { path = \"../names\" }\n",
    );
    workspace.write(
        "tool/src/main.rs",
        "fn main() {\n    println!(\"{} {}\", corelib::message(), names::shout!(\"bin\"));\n}\n",
    );
    let logs = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let log = logs.path().join("expansions");
    let log_text = log.to_string_lossy().into_owned();
    let (cold, _) = workspace.clean_run_in(&["build", "--offline"], &[("SHOUT_LOG", &log_text)]);
    assert_eq!(cold, Counts::missing([true; 4]));
    assert_eq!(workspace.run_tool(), "HELLO 7 BIN\n");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|error| panic!("{error}"));
    let mut expanded: Vec<&str> = text.lines().collect();
    expanded.sort_unstable();
    assert_eq!(
        expanded,
        ["corelib", "tool"],
        "{}",
        workspace.rustc_log_text()
    );
}

/// A build script without `--extern` whose source spells `extern` has its crates listed after
/// its compile when rustc may find a crate by search (a plain `-L` directory, here from
/// `RUSTFLAGS`: the word may begin an `extern crate` item, which would load a crate its key
/// must hold); its result is still found again, directly and with the same binary.
#[test]
fn direct_mode_a_build_script_spelling_extern_has_its_crates_listed() {
    let workspace = Workspace::direct();
    let searched = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let flags = format!("-L {}", searched.path().display());
    let rustflags = [("RUSTFLAGS", flags.as_str())];
    let build = || workspace.clean_run_in(&["build", "--offline"], &rustflags);
    let (cold, _) = build();
    assert_eq!(cold, Counts::missing([true; 4]));
    let build_rs = workspace.dir.path().join("corelib/build.rs");
    let text = std::fs::read_to_string(&build_rs).unwrap_or_else(|error| panic!("{error}"));
    workspace.write(
        "corelib/build.rs",
        &format!("// Uses no extern crate: this comment only spells the word.\n{text}"),
    );
    // A clock step: a source written in the compile's own tick gets no manifest record.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let (edited, starts) = build();
    // The build script misses (new source); its output is the same, so the rest hit.
    assert_eq!(edited, Counts::missing([false, true, false, false]));
    // Its compile and its listing, after the compile.
    assert_eq!(starts, 2, "{}", workspace.rustc_log_text());
    let listings = workspace
        .rustc_log_text()
        .lines()
        .filter(|line| line.contains("-Zbinary-dep-depinfo") && line.contains("build.rs"))
        .count();
    assert_eq!(listings, 1, "{}", workspace.rustc_log_text());
    let (warm, warm_starts) = build();
    assert_eq!(warm, Counts::missing([false; 4]));
    assert_eq!(warm_starts, 0, "{}", workspace.server.log());
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
    let stats = workspace.server.stats();
    assert_eq!(count(&stats, "inputs_changed"), 0, "{stats:#}");
}

fn warm_build_hits_every_crate_type(workspace: Workspace) {
    assert_eq!(workspace.clean_build(), Counts::missing([true; 4]));
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
    let first = crate::harness::read(&workspace.binary());

    assert_eq!(workspace.clean_build(), Counts::missing([false; 4]));
    // Restored with its execute bit, byte for byte.
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
    assert!(crate::harness::read(&workspace.binary()) == first);
    let stats = workspace.server.stats();
    assert_eq!(
        count(&stats, "cache_hits.counts.Rust"),
        COMPILES,
        "{stats:#}"
    );
    assert_eq!(count(&stats, "requests_not_cacheable"), 0, "{stats:#}");
    crate::harness::assert_outcomes_add_up(&stats);
}

#[test]
fn an_edited_proc_macro_re_expands_its_users() {
    let workspace = Workspace::new();
    workspace.clean_build();
    workspace.write(
        "names/src/lib.rs",
        "//! Shouts louder.\n\nuse proc_macro::TokenStream;\n\n#[proc_macro]\n\
         pub fn shout(input: TokenStream) -> TokenStream {\n    \
         let text = input.to_string().to_uppercase();\n    \
         format!(\"{}!\\\"\", &text[..text.len() - 1]).parse().expect(\"a literal\")\n}\n",
    );
    // The macro, the library it expands into and the binary linking that library miss; the
    // build script does not depend on the macro.
    assert_eq!(
        workspace.clean_build(),
        Counts::missing([true, false, true, true])
    );
    assert_eq!(workspace.run_tool(), "HELLO! 7\n");
}

#[test]
fn another_linker_misses_the_crates_that_link_and_not_the_library() {
    another_linker_misses(Workspace::new());
}

#[test]
fn direct_mode_another_linker_misses_the_crates_that_link_and_not_the_library() {
    another_linker_misses(Workspace::direct());
}

fn another_linker_misses(workspace: Workspace) {
    workspace.clean_build();
    // A wrapper around the default linker, through cargo's configuration: every compile gets
    // `-C linker=`, which only a compile that links reads.
    let wrapper = workspace.dir.path().join("link-wrapper.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexec cc \"$@\"\n").unwrap_or_default();
    make_executable(&wrapper);
    use_linker(workspace.dir.path(), &wrapper);
    assert_eq!(
        workspace.clean_build(),
        Counts::missing([true, true, false, true])
    );
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
    // The same wrapper again: all hits.
    assert_eq!(workspace.clean_build(), Counts::missing([false; 4]));
    // The wrapper's contents are its identity.
    std::fs::write(&wrapper, "#!/bin/sh\n# another linker\nexec cc \"$@\"\n").unwrap_or_default();
    assert_eq!(
        workspace.clean_build(),
        Counts::missing([true, true, false, true])
    );
}

/// A linker wrapper that reads a variable (`exec cc $LINK_EXTRA "$@"`): its dry run holds only
/// for the environment it ran in, so a binary linked with other flags is never the other
/// environment's, and each environment's comes back on its own hit.
#[test]
fn direct_mode_a_linker_wrapper_reading_a_variable_links_for_each_environment() {
    let workspace = Workspace::direct();
    // Outside the workspace, whose directory the build changes (its `target`): a probe that
    // depends on that directory is made again at every build, which would hide a stale one.
    let tools = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let wrapper = tools.path().join("link-env.sh");
    std::fs::write(&wrapper, "#!/bin/sh\nexec cc $LINK_EXTRA \"$@\"\n").unwrap_or_default();
    make_executable(&wrapper);
    use_linker(workspace.dir.path(), &wrapper);
    let build = |extra: &str| {
        let (counts, _) = workspace.clean_run_in(&["build", "--offline"], &[("LINK_EXTRA", extra)]);
        let binary = std::fs::read(workspace.binary()).unwrap_or_default();
        assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
        (counts, binary)
    };
    let (_, with_id) = build("");
    let (counts, without_id) = build("-Wl,--build-id=none");
    assert_ne!(
        with_id, without_id,
        "the variable changed nothing the link made"
    );
    assert_eq!(counts.misses[3], 1, "{counts:?}");
    // Each environment again: a hit, with its own binary.
    let (counts, again) = build("");
    assert_eq!(counts, Counts::missing([false; 4]));
    assert!(again == with_id, "the other environment's binary");
    let (counts, again) = build("-Wl,--build-id=none");
    assert_eq!(counts, Counts::missing([false; 4]));
    assert!(again == without_id, "the other environment's binary");
}

#[test]
fn a_linked_static_library_with_new_contents_misses_the_binary() {
    static_library_change_misses(Workspace::new());
}

#[test]
fn direct_mode_a_linked_static_library_with_new_contents_misses_the_binary() {
    static_library_change_misses(Workspace::direct());
}

fn static_library_change_misses(workspace: Workspace) {
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let native = workspace.dir.path().join("native");
    let archive = |answer: u32| {
        std::fs::create_dir_all(&native).unwrap_or_default();
        let source = native.join("answer.c");
        std::fs::write(
            &source,
            format!("int answer(void) {{ return {answer}; }}\n"),
        )
        .unwrap_or_default();
        let object = native.join("answer.o");
        assert_success(
            &run(Command::new("gcc")
                .arg("-c")
                .arg(&source)
                .arg("-o")
                .arg(&object)),
            "gcc",
        );
        let lib = native.join("libanswer.a");
        let _ = std::fs::remove_file(&lib);
        assert_success(
            &run(Command::new("ar").arg("rcs").arg(&lib).arg(&object)),
            "ar",
        );
    };
    archive(42);
    let search = format!("native={}", native.display());
    let link = [
        "rustc",
        "--offline",
        "-p",
        "tool",
        "--bin",
        "tool",
        "--",
        "-L",
        &search,
        "-l",
        "static=answer",
    ];
    // `cargo rustc` builds the build-time crates with other flags than `cargo build`: a first
    // build misses every crate, the next hits them all.
    assert_eq!(workspace.clean_run(&link), Counts::missing([true; 4]));
    assert_eq!(workspace.clean_run(&link), Counts::missing([false; 4]));
    // The archive's contents change, nothing else: the binary misses.
    archive(43);
    assert_eq!(
        workspace.clean_run(&link),
        Counts::missing([false, false, false, true])
    );
    assert_eq!(workspace.run_tool(), PLAIN_OUTPUT);
}

#[test]
fn a_failing_compile_is_a_compilation_failure_not_a_miss() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    std::fs::write(
        dir.path().join("broken.rs"),
        "pub fn answer() -> u32 {\n    \"not a number\"\n}\n",
    )
    .unwrap_or_default();
    // rustc writes its dep-info into an existing directory only.
    std::fs::create_dir_all(dir.path().join("out")).unwrap_or_default();
    let args = [
        "--crate-name",
        "broken",
        "--edition=2021",
        "broken.rs",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "--out-dir",
        "out",
    ];
    for _ in 0..2 {
        let output = server.compile(dir.path(), "rustc", &args);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("mismatched types"));
    }
    let stats = server.stats();
    assert_eq!(count(&stats, "compile_fails"), 2, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.Rust"), 0, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    crate::harness::assert_outcomes_add_up(&stats);
}

/// Makes `path` executable (a stand-in program written by a test).
pub(crate) fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap_or_default();
}

/// Makes cargo link the crates of the workspace at `dir` with `wrapper` (`.cargo/config.toml`).
fn use_linker(dir: &Path, wrapper: &Path) {
    let config = dir.join(".cargo");
    std::fs::create_dir_all(&config).unwrap_or_default();
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[target.{}]\nlinker = \"{}\"\n",
            host_triple(),
            wrapper.display()
        ),
    )
    .unwrap_or_default();
}

/// The host triple rustc reports.
fn host_triple() -> String {
    let output = run(Command::new("rustc").arg("-vV"));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_link_input_that_cannot_be_resolved_is_not_cacheable_with_its_reason() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    std::fs::write(dir.path().join("main.rs"), "fn main() {}\n").unwrap_or_default();
    std::fs::create_dir_all(dir.path().join("out")).unwrap_or_default();
    let compile = |extra: &[&str]| {
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
        server.compile(dir.path(), "rustc", &args)
    };
    // A library no searched directory holds, and an object that is not there: rustc's own
    // link errors, the first's reason in the stats.
    assert!(!compile(&["-l", "dylib=sccache_no_such_library"])
        .status
        .success());
    assert!(!compile(&["-C", "link-arg=sccache-missing.o"])
        .status
        .success());
    // A link argument that writes a file.
    let mapped = compile(&["-C", "link-arg=-Wl,-Map=out/main.map"]);
    assert_success(&mapped, "a link writing a map");
    let stats = server.stats();
    assert_eq!(
        count(&stats, "not_cached.link: library not found"),
        1,
        "{stats:#}"
    );
    // A link-argument file that is nowhere adds nothing to the key (its appearance would
    // change it): the compile runs, and its link error is a compilation failure, as the
    // refused one's is.
    assert_eq!(count(&stats, "compile_fails"), 2, "{stats:#}");
    assert_eq!(count(&stats, "not_cached.link-arg -Map"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_writes"), 0, "{stats:#}");
    crate::harness::assert_outcomes_add_up(&stats);
}
