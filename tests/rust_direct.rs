//! Rust direct mode (issue 14): a crate whose manifest record holds is restored without any
//! rustc process, and a miss runs rustc once (no dep-info run; a compile that links, the
//! binary and the build script, finds the crates it loaded in the link command rustc prints).
//! A native library bundled into an indirect dependency's `.rlib` misses the binary. Every build goes through a
//! logging stand-in for rustc (`RUSTC=<script>`), so the tests count the rustc processes each
//! crate started; they build the cargo fixture (`tests/fixtures/cargo`) after `cargo clean`.
//!
//! What the dep-info lists must reach exactly the crates that read it: an `include_str!` file,
//! a `mod` file, an `env!`/`option_env!` variable, a new file in a directory read from; a
//! `touch` without a change still hits; a module made ambiguous is never a hit. `redis.rs`
//! shares direct hits between two servers.

use crate::harness::{assert_success, count, fixture, write_script, Server};
use crate::rust_cache::{cargo_in, run_app_in, CRATES as ALL, LIBRARIES, PLAIN_OUTPUT};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// The fixture's compiles, by `--crate-name`: the libraries, then the binary and `gen`'s build
/// script, which link.
pub(crate) const CRATES: [&str; 5] = ["util", "greet", "gen", "app", "build_script_build"];

/// The rustc processes a direct miss of a crate starts: the compile alone. A compile that
/// links (`app`, `gen`'s build script) finds the crates it loaded in the link command rustc
/// prints (`--print link-args`), which names every `.rlib` of the graph: no dep-info run
/// lists them.
pub(crate) const MISS_STARTS: u64 = 1;

/// A copy of the cargo fixture built through a direct-mode server and a logging rustc.
pub(crate) struct DirectWorkspace {
    pub server: Server,
    pub dir: TempDir,
    /// The stand-in rustc and its log, outside the workspace.
    tools: TempDir,
}

impl DirectWorkspace {
    pub fn new() -> DirectWorkspace {
        DirectWorkspace::with_server(Server::start_with(&[("SCCACHE_DIRECT", "true")]))
    }

    /// The fixture, with `util` split into a `mod` file of its own.
    pub fn with_server(server: Server) -> DirectWorkspace {
        let dir = fixture("cargo");
        let tools = tempfile::Builder::new()
            .prefix("sccache-rustc-log")
            .tempdir()
            .unwrap_or_else(|error| panic!("tempdir: {error}"));
        let workspace = DirectWorkspace { server, dir, tools };
        workspace.write(
            "util/src/lib.rs",
            "//! A path dependency of `greet`.\n\nmod whisper;\npub use whisper::whisper;\n\n\
             pub fn shout(text: &str) -> String {\n    text.to_uppercase()\n}\n",
        );
        workspace.write(
            "util/src/whisper.rs",
            "pub fn whisper(text: &str) -> String {\n    text.to_lowercase()\n}\n",
        );
        // The script's name starts with `rustc`, as the detector wants; it logs each run's
        // arguments on one line and runs the real rustc found on PATH.
        let log = workspace.tools.path().join("log");
        write_script(
            &workspace.rustc(),
            &format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec rustc \"$@\"\n",
                log.display()
            ),
        );
        // Past the file system's clock tick (see `harness::fixture`).
        std::thread::sleep(std::time::Duration::from_millis(30));
        workspace
    }

    fn rustc(&self) -> PathBuf {
        self.tools.path().join("rustc-logging")
    }

    pub fn target(&self) -> PathBuf {
        self.dir.path().join("target")
    }

    pub fn write(&self, file: &str, text: &str) {
        let path = self.dir.path().join(file);
        std::fs::write(&path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }

    /// `cargo clean`, then `cargo build` into `target` with `env`, through the logging rustc.
    /// Returns how many rustc processes each library crate started during the build.
    pub fn clean_build_in(&self, target: &Path, env: &[(&str, &str)]) -> BTreeMap<String, u64> {
        self.clean_build_through(&self.server, target, env)
    }

    /// `clean_build_in` through another server (another machine with the same checkout).
    pub fn clean_build_through(
        &self,
        server: &Server,
        target: &Path,
        env: &[(&str, &str)],
    ) -> BTreeMap<String, u64> {
        let rustc = self.rustc();
        let mut all_env = vec![("RUSTC", rustc.to_str().unwrap_or_default())];
        all_env.extend_from_slice(env);
        let clean = cargo_in(server, self.dir.path(), target, &["clean"], &all_env);
        assert_success(&clean, "cargo clean");
        let before = self.rustc_starts();
        let build = cargo_in(
            server,
            self.dir.path(),
            target,
            &["build", "--offline"],
            &all_env,
        );
        assert_success(&build, &format!("cargo build\n{}", server.log()));
        // A linking compile's miss lists its crates after the reply: counted with its build.
        wait_for_writes_of(server);
        let after = self.rustc_starts();
        CRATES
            .iter()
            .map(|name| {
                let name = name.to_string();
                let started = after.get(&name).copied().unwrap_or(0)
                    - before.get(&name).copied().unwrap_or(0);
                (name, started)
            })
            .collect()
    }

    /// rustc processes started so far, by `--crate-name`.
    fn rustc_starts(&self) -> BTreeMap<String, u64> {
        let log = std::fs::read_to_string(self.tools.path().join("log")).unwrap_or_default();
        let mut starts = BTreeMap::new();
        for line in log.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Some(at) = words.iter().position(|word| *word == "--crate-name") {
                if let Some(name) = words.get(at + 1) {
                    *starts.entry(name.to_string()).or_insert(0) += 1;
                }
            }
        }
        starts
    }

    /// Waits until every write so far has landed: a miss writes its result and its manifest.
    pub fn wait_for_writes(&self) {
        wait_for_writes_of(&self.server);
    }

    /// Builds after `cargo clean` (once earlier writes have landed); returns the build's Rust
    /// hits, misses, direct hits and the crates that started rustc (with how many times).
    fn build(&self, env: &[(&str, &str)]) -> Built {
        self.wait_for_writes();
        let before = self.server.stats();
        let starts = self.clean_build_in(&self.target(), env);
        let after = self.server.stats();
        let delta = |path: &str| count(&after, path) - count(&before, path);
        Built {
            hits: delta("cache_hits.counts.Rust"),
            misses: delta("cache_misses.counts.Rust"),
            direct_hits: delta("direct_hits"),
            started: starts.into_iter().filter(|(_, n)| *n > 0).collect(),
        }
    }
}

/// Waits until every write of `server` so far has landed: a direct miss writes its result and
/// its manifest (a linking compile's after its dep-info run), a dep-info run's miss its result.
fn wait_for_writes_of(server: &Server) {
    server.wait_for_stats(|stats| {
        let per_miss = if count(stats, "direct_misses") > 0 {
            2
        } else {
            1
        };
        count(stats, "cache_writes") + count(stats, "cache_write_errors")
            >= per_miss * count(stats, "cache_misses.counts.Rust")
    });
}

/// What one build did.
#[derive(Debug, PartialEq, Eq)]
struct Built {
    hits: u64,
    misses: u64,
    direct_hits: u64,
    started: BTreeMap<String, u64>,
}

/// A build that missed `missed` (each rustc started once, no dep-info run) and direct-hit the
/// other libraries (no rustc at all).
fn missing(missed: &[&str]) -> Built {
    let misses = missed.len() as u64;
    Built {
        hits: ALL - misses,
        misses,
        direct_hits: ALL - misses,
        started: missed
            .iter()
            .map(|name| (name.to_string(), MISS_STARTS))
            .collect(),
    }
}

/// The `.rlib` and `.rmeta` files of `target` with their bytes.
pub(crate) fn artifacts(target: &Path) -> BTreeMap<String, Vec<u8>> {
    let deps = target.join("debug").join("deps");
    std::fs::read_dir(&deps)
        .unwrap_or_else(|error| panic!("{}: {error}", deps.display()))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "rlib" || extension == "rmeta")
        })
        .map(|path| {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, crate::harness::read(&path))
        })
        .collect()
}

#[test]
fn a_warm_build_starts_no_rustc_for_a_crate_that_hits_and_a_cold_one_starts_it_once() {
    let workspace = DirectWorkspace::new();
    assert_eq!(workspace.build(&[]), missing(&CRATES));
    let cold = artifacts(&workspace.target());
    assert_eq!(cold.len() as u64, 2 * LIBRARIES, "{:?}", cold.keys());
    assert_eq!(run_app_in(&workspace.target()), PLAIN_OUTPUT);

    assert_eq!(workspace.build(&[]), missing(&[]));
    assert_eq!(artifacts(&workspace.target()), cold);
    assert_eq!(run_app_in(&workspace.target()), PLAIN_OUTPUT);
    let stats = workspace.server.stats();
    assert_eq!(count(&stats, "direct_misses"), ALL, "{stats:#}");
    assert_eq!(count(&stats, "inputs_changed"), 0, "{stats:#}");
}

#[test]
fn include_str_mod_and_env_changes_miss_exactly_the_crates_they_reach_and_touch_hits() {
    let workspace = DirectWorkspace::new();
    assert_eq!(workspace.build(&[]), missing(&CRATES));

    // `include_str!`'s file is read by `greet` alone.
    workspace.write("greet/src/data.txt", "from edited data\n");
    assert_eq!(workspace.build(&[]), missing(&["greet", "app"]));
    let edited = PLAIN_OUTPUT.replace("from data.txt", "from edited data");
    assert_eq!(run_app_in(&workspace.target()), edited);

    // `util`'s `mod` file: `util` misses, and `greet`, which reads its metadata.
    workspace.write(
        "util/src/whisper.rs",
        "pub fn whisper(text: &str) -> String {\n    text.to_ascii_lowercase()\n}\n",
    );
    assert_eq!(workspace.build(&[]), missing(&["greet", "util", "app"]));

    // The variable `greet` reads with `option_env!`: set, then unset again (back to the
    // recorded result).
    let set = [("FIXTURE_ENV_DEP", "set")];
    assert_eq!(workspace.build(&set), missing(&["greet", "app"]));
    assert_eq!(
        run_app_in(&workspace.target()),
        edited.replace("unset", "set")
    );
    assert_eq!(workspace.build(&[]), missing(&[]));
    assert_eq!(run_app_in(&workspace.target()), edited);

    // A touch moves every stamp the records hold, and no byte: all hit, by digest.
    for file in [
        "greet/src/data.txt",
        "util/src/whisper.rs",
        "util/src/lib.rs",
    ] {
        let path = workspace.dir.path().join(file);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_modified(std::time::SystemTime::now()))
            .unwrap_or_else(|error| panic!("touch {}: {error}", path.display()));
    }
    assert_eq!(workspace.build(&[]), missing(&[]));

    // A file added beside the files a crate read: a proc macro may list that directory, so
    // the crate misses (and only that crate).
    workspace.write("greet/src/notes.md", "not read by rustc\n");
    assert_eq!(workspace.build(&[]), missing(&["greet"]));

    // A second spelling of a module file read makes `mod whisper;` ambiguous: never a hit.
    std::fs::create_dir_all(workspace.dir.path().join("util/src/whisper"))
        .unwrap_or_else(|error| panic!("{error}"));
    workspace.write("util/src/whisper/mod.rs", "pub fn whisper() {}\n");
    let rustc = workspace.rustc();
    let env = [("RUSTC", rustc.to_str().unwrap_or_default())];
    let cargo = |args: &[&str]| {
        cargo_in(
            &workspace.server,
            workspace.dir.path(),
            &workspace.target(),
            args,
            &env,
        )
    };
    workspace.wait_for_writes();
    assert_success(&cargo(&["clean"]), "cargo clean");
    let build = cargo(&["build", "--offline"]);
    assert!(!build.status.success(), "an ambiguous module built");
    assert!(
        String::from_utf8_lossy(&build.stderr).contains("E0761"),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
}

/// Both ways of keying a library find the same entries: what direct-mode misses stored is a
/// hit for a server that keys every compile by its dep-info run. A compile that links (the
/// binary, the build script) is keyed in direct mode by the files its link read
/// (`rust_link::Scope::Listed`), which the dep-info run's key (every file of the searched
/// directories) is not: those compile again, and the program is the same.
#[test]
fn the_dep_info_run_finds_what_direct_mode_stored() {
    let cache = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let cache_dir = cache.path().join("cache");
    let workspace =
        DirectWorkspace::with_server(Server::start_in(&cache_dir, &[("SCCACHE_DIRECT", "true")]));
    let target = workspace.target();
    workspace.clean_build_in(&target, &[]);
    let by_dep_info = Server::start_in(&cache_dir, &[("SCCACHE_DIRECT", "false")]);
    let linked = ["app", "build_script_build"];
    let times = CRATES
        .iter()
        .map(|name| (name.to_string(), 1 + u64::from(linked.contains(name))))
        .collect();
    // A dep-info run per crate; no compile but of those that link.
    assert_eq!(
        workspace.clean_build_through(&by_dep_info, &target, &[]),
        times
    );
    let stats = by_dep_info.stats();
    assert_eq!(
        count(&stats, "cache_hits.counts.Rust"),
        ALL - linked.len() as u64,
        "{stats:#}"
    );
    assert_eq!(run_app_in(&target), PLAIN_OUTPUT);
}

#[test]
fn sccache_direct_false_keeps_the_dep_info_run_for_rust() {
    let workspace =
        DirectWorkspace::with_server(Server::start_with(&[("SCCACHE_DIRECT", "false")]));
    let target = workspace.target();
    let times = |n: u64| CRATES.iter().map(|name| (name.to_string(), n)).collect();
    // A dep-info run, then the compile.
    assert_eq!(workspace.clean_build_in(&target, &[]), times(2));
    workspace
        .server
        .wait_for_stats(|stats| count(stats, "cache_writes") >= ALL);
    // A dep-info run per hit.
    assert_eq!(workspace.clean_build_in(&target, &[]), times(1));
    let stats = workspace.server.stats();
    assert_eq!(count(&stats, "cache_hits.counts.Rust"), ALL, "{stats:#}");
    assert_eq!(count(&stats, "direct_hits"), 0, "{stats:#}");
    assert_eq!(count(&stats, "direct_misses"), 0, "{stats:#}");
}

/// The case cargo's own dep-info cannot cover: a native library bundled into an indirect
/// dependency's `.rlib` (`leaf`, reached through `mid`) changes; `leaf`'s crate hash does
/// not, so `mid`'s `.rlib`, the binary's only extern, keeps its bytes. The binary links the
/// new library: a direct hit would be stale. The record's crates (from the dep-info run after
/// the first miss's reply) hold `leaf`'s `.rlib` by digest, so it misses.
#[test]
fn a_native_library_bundled_into_an_indirect_dependency_misses_the_binary() {
    use crate::harness::{have, run};
    use std::process::Command;
    assert!(have("gcc") && have("ar"), "gcc and ar are needed");
    let server = Server::start_with(&[("SCCACHE_DIRECT", "true")]);
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("tempdir: {error}"));
    let root = dir.path();
    for sub in ["native", "out", "bin"] {
        std::fs::create_dir_all(root.join(sub)).unwrap_or_else(|error| panic!("{error}"));
    }
    let write = |name: &str, text: &str| {
        std::fs::write(root.join(name), text).unwrap_or_else(|error| panic!("{name}: {error}"))
    };
    // The keyword spelled in two parts: tidy keeps the word to the modules allowed it.
    let keyword = ["un", "safe"].concat();
    write(
        "leaf.rs",
        &format!(
            "extern \"C\" {{ fn answer() -> i32; }}\npub fn get() -> i32 {{ {keyword} {{ answer() }} }}\n"
        ),
    );
    write("mid.rs", "pub fn twice() -> i32 { leaf::get() * 2 }\n");
    write("main.rs", "fn main() { println!(\"{}\", mid::twice()); }\n");
    // `leaf` bundles `libanswer.a`; both libraries are built by rustc itself, not cached.
    let libraries = |answer: u32| {
        write(
            "native/answer.c",
            &format!("int answer(void) {{ return {answer}; }}\n"),
        );
        let mut commands = [
            vec!["gcc", "-c", "native/answer.c", "-o", "native/answer.o"],
            vec!["rm", "-f", "native/libanswer.a"],
            vec!["ar", "rcs", "native/libanswer.a", "native/answer.o"],
            vec![
                "rustc",
                "--edition=2021",
                "--crate-type",
                "rlib",
                "--crate-name",
                "leaf",
                "leaf.rs",
                "-L",
                "native=native",
                "-l",
                "static=answer",
                "--out-dir",
                "out",
            ],
            vec![
                "rustc",
                "--edition=2021",
                "--crate-type",
                "rlib",
                "--crate-name",
                "mid",
                "mid.rs",
                "--extern",
                "leaf=out/libleaf.rlib",
                "-L",
                "dependency=out",
                "--out-dir",
                "out",
            ],
        ];
        for command in &mut commands {
            let output = run(Command::new(command[0])
                .args(&command[1..])
                .current_dir(root));
            assert_success(&output, command[0]);
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    };
    let binary = || {
        let output = server.compile(
            root,
            "rustc",
            &[
                "--edition=2021",
                "--crate-type",
                "bin",
                "--crate-name",
                "main",
                "main.rs",
                "--extern",
                "mid=out/libmid.rlib",
                "-L",
                "dependency=out",
                "--emit=dep-info,link",
                "--out-dir",
                "bin",
            ],
        );
        assert_success(&output, &format!("rustc main.rs\n{}", server.log()));
        // The result and the manifest, after the dep-info run that lists the crates.
        wait_for_writes_of(&server);
        let output = run(&mut Command::new(root.join("bin/main")));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    libraries(42);
    assert_eq!(binary(), "84");
    assert_eq!(binary(), "84");
    let mid = crate::harness::read(&root.join("out/libmid.rlib"));
    libraries(43);
    assert!(
        crate::harness::read(&root.join("out/libmid.rlib")) == mid,
        "mid's rlib changed: not the indirect case"
    );
    assert_eq!(binary(), "86");
    let stats = server.stats();
    assert_eq!(count(&stats, "direct_hits"), 1, "{stats:#}");
    assert_eq!(count(&stats, "cache_misses.counts.Rust"), 2, "{stats:#}");
    assert_eq!(count(&stats, "inputs_changed"), 0, "{stats:#}");
}
