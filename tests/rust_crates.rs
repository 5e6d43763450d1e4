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

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap_or_default();
}

/// The host triple rustc reports.
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
