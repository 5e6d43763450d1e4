//! Decides what an invocation asks for: a compile (`sccache gcc ...`, or a symlink named after
//! the compiler) or one of sccache's own flags (`--show-stats`, ...).
//!
//! Invariant: a compile is recognised before clap sees anything, so no compiler argument is ever
//! taken for an sccache flag (`gcc --version` through a `gcc` symlink runs gcc). Only an
//! invocation whose first argument starts with `-` (or that has none) is parsed by clap.

use crate::stats_view::StatsFormat;
use clap::{ArgGroup, Parser};
use std::ffi::{OsStr, OsString};
use std::path::Path;

/// The file name the binary answers to; under any other name it masquerades as a compiler.
const OWN_NAME: &str = "sccache";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Invocation {
    /// Run `compiler` (a name or a path, not yet resolved) with `args` through the cache.
    Compile {
        compiler: OsString,
        args: Vec<OsString>,
    },
    /// sccache's own flags; the whole argument vector, for clap.
    Command(Vec<OsString>),
}

/// Classifies the process's argument vector (`argv[0]` included).
pub fn classify(argv: Vec<OsString>) -> Invocation {
    let mut arguments = argv.into_iter();
    let program = arguments.next().unwrap_or_else(|| OsString::from(OWN_NAME));
    let rest: Vec<OsString> = arguments.collect();
    if let Some(name) = masquerade_name(&program) {
        return Invocation::Compile {
            compiler: name,
            args: rest,
        };
    }
    match rest.split_first() {
        Some((first, compiler_args)) if !first.as_encoded_bytes().starts_with(b"-") => {
            Invocation::Compile {
                compiler: first.clone(),
                args: compiler_args.to_vec(),
            }
        }
        _ => {
            let mut command = vec![program];
            command.extend(rest);
            Invocation::Command(command)
        }
    }
}

/// The compiler name when the binary runs under another name (a `gcc` symlink to sccache).
fn masquerade_name(program: &OsStr) -> Option<OsString> {
    let name = Path::new(program).file_name()?;
    let stem = name
        .to_str()
        .map(|text| text.strip_suffix(".exe").unwrap_or(text));
    if stem == Some(OWN_NAME) {
        None
    } else {
        Some(name.to_os_string())
    }
}

/// sccache's own flags.
#[derive(Debug, Parser)]
#[command(
    name = "sccache",
    version = sccache_core::VERSION,
    about = "A shared compilation cache. Run `sccache <compiler> <args>` to compile through the cache.",
    arg_required_else_help = true,
    override_usage = "sccache <compiler> [ARGS]...\n       \
                      sccache [OPTIONS] <--start-server|--stop-server|--show-stats|--show-adv-stats|--zero-stats>",
    group(
        ArgGroup::new("command")
            .required(true)
            .args(["start_server", "stop_server", "show_stats", "show_adv_stats", "zero_stats"])
    )
)]
pub struct Cli {
    /// Start the background server (set SCCACHE_NO_DAEMON=1 to run it in the foreground).
    #[arg(long)]
    pub start_server: bool,
    /// Stop the background server and print its final statistics.
    #[arg(long)]
    pub stop_server: bool,
    /// Show the server's statistics (zeros when no server runs; none is started).
    #[arg(short = 's', long)]
    pub show_stats: bool,
    /// Show the statistics counted by language and compiler (`c [gcc]`), not by language group.
    #[arg(long)]
    pub show_adv_stats: bool,
    /// Reset the server's statistics to zero.
    #[arg(short = 'z', long)]
    pub zero_stats: bool,
    /// How to print statistics.
    #[arg(long, value_enum, default_value_t = StatsFormat::Text, value_name = "FORMAT")]
    pub stats_format: StatsFormat,
}

/// The one action a parsed command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StartServer,
    StopServer,
    ShowStats,
    ShowAdvStats,
    ZeroStats,
}

impl Cli {
    /// The action; the required, exclusive `command` group guarantees exactly one flag is set.
    pub fn action(&self) -> Action {
        if self.start_server {
            Action::StartServer
        } else if self.stop_server {
            Action::StopServer
        } else if self.zero_stats {
            Action::ZeroStats
        } else if self.show_adv_stats {
            Action::ShowAdvStats
        } else {
            Action::ShowStats
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_first_argument_without_dash_is_the_compiler() {
        assert_eq!(
            classify(argv(&["/usr/bin/sccache", "gcc", "-c", "x.c"])),
            Invocation::Compile {
                compiler: "gcc".into(),
                args: argv(&["-c", "x.c"]),
            }
        );
    }

    #[test]
    fn rustc_wrapper_invocation_is_a_compile() {
        assert_eq!(
            classify(argv(&["sccache", "/opt/rust/bin/rustc", "-vV"])),
            Invocation::Compile {
                compiler: "/opt/rust/bin/rustc".into(),
                args: argv(&["-vV"]),
            }
        );
    }

    #[test]
    fn flags_go_to_clap() {
        assert_eq!(
            classify(argv(&["sccache", "--show-stats"])),
            Invocation::Command(argv(&["sccache", "--show-stats"]))
        );
        assert_eq!(
            classify(argv(&["sccache"])),
            Invocation::Command(argv(&["sccache"]))
        );
    }

    #[test]
    fn another_name_masquerades_as_that_compiler() {
        for name in ["gcc", "/usr/local/bin/clang++", "./cc", "rustc"] {
            let expected = Path::new(name).file_name().unwrap().to_os_string();
            assert_eq!(
                classify(argv(&[name, "--version"])),
                Invocation::Compile {
                    compiler: expected,
                    args: argv(&["--version"]),
                },
                "{name}"
            );
        }
    }

    #[test]
    fn own_name_in_any_directory_is_not_a_masquerade() {
        assert_eq!(masquerade_name(OsStr::new("/x/y/sccache")), None);
        assert_eq!(masquerade_name(OsStr::new("sccache")), None);
    }

    #[test]
    fn clap_reads_each_action() {
        let parse = |items: &[&str]| Cli::try_parse_from(argv(items)).map(|cli| cli.action());
        assert_eq!(parse(&["sccache", "-s"]).unwrap(), Action::ShowStats);
        assert_eq!(parse(&["sccache", "-z"]).unwrap(), Action::ZeroStats);
        assert_eq!(
            parse(&["sccache", "--show-adv-stats"]).unwrap(),
            Action::ShowAdvStats
        );
        assert_eq!(
            parse(&["sccache", "--start-server"]).unwrap(),
            Action::StartServer
        );
        assert_eq!(
            parse(&["sccache", "--stop-server"]).unwrap(),
            Action::StopServer
        );
        let cli = Cli::try_parse_from(argv(&["sccache", "--show-stats", "--stats-format", "json"]))
            .unwrap();
        assert_eq!(cli.stats_format, StatsFormat::Json);
    }

    #[test]
    fn unknown_or_conflicting_flags_are_usage_errors() {
        for items in [
            &["sccache", "--frobnicate"][..],
            &["sccache", "--show-stats", "--zero-stats"],
            &["sccache", "--stats-format", "json"],
            &["sccache", "--show-stats", "--stats-format", "xml"],
        ] {
            let error = Cli::try_parse_from(argv(items)).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{items:?}");
        }
    }
}
