//! Colour for a client on a terminal: the compilers the server runs write to pipes, so where
//! the client's terminal would have had coloured diagnostics, the C family asks for them, in
//! the compile and in the key alike. It decides nothing else about a command line.

use crate::flow::request_env;
use sccache_core::compiler::gcc::CCompilation;
use sccache_core::protocol::CompileRequest;
use std::ffi::{OsStr, OsString};

/// Flags by which a user chooses whether diagnostics are coloured (the last one counts); gcc's
/// `-fdiagnostics-plain-output` turns colour off among other things.
const COLOUR_FLAGS: &[&str] = &[
    "-fdiagnostics-color",
    "-fno-diagnostics-color",
    "-fcolor-diagnostics",
    "-fno-color-diagnostics",
    "-fdiagnostics-plain-output",
];

/// gcc and clang colour their diagnostics when stderr is a terminal; the compilers the server
/// runs write to pipes. For a client on a terminal that chose nothing, and whose compiler would
/// colour there, ask for colour explicitly, in the compile and in the key (so a coloured entry
/// never replays to a pipe).
pub fn colour_for_a_terminal(request: &mut CompileRequest, compilation: &mut CCompilation) {
    if !would_colour_a_terminal(request) {
        return;
    }
    // The command line as the compiler reads it: `@file`s expanded (the key's arguments).
    let last_choice = compilation.key_args.iter().rev().find_map(|arg| {
        arg.to_str().filter(|arg| {
            COLOUR_FLAGS.iter().any(|flag| {
                arg.strip_prefix(flag)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
            })
        })
    });
    // `=auto` leaves it to the terminal, as choosing nothing does.
    let chosen = last_choice.is_some_and(|flag| flag != "-fdiagnostics-color=auto");
    if request.stderr_is_terminal && !chosen {
        let flag = OsString::from("-fdiagnostics-color=always");
        request.args.push(flag.clone());
        compilation.key_args.push(flag);
    }
}

/// Whether the compiler, writing to the client's terminal, would colour: both gcc and clang
/// stay plain when `TERM` is unset, empty or `dumb`; gcc when `GCC_COLORS` is set and empty.
/// `NO_COLOR` (set and not empty) is the user's wish for no colour; gcc 12 and clang 14 ignore
/// it, others honour it, and plain diagnostics are the side that costs nothing.
fn would_colour_a_terminal(request: &CompileRequest) -> bool {
    let term = request_env::value(request, "TERM");
    let term_colours = term.is_some_and(|term| !term.is_empty() && term != "dumb");
    let gcc_colours_off = request_env::value(request, "GCC_COLORS").is_some_and(OsStr::is_empty);
    let no_colour = request_env::value(request, "NO_COLOR").is_some_and(|value| !value.is_empty());
    term_colours && !gcc_colours_off && !no_colour
}
