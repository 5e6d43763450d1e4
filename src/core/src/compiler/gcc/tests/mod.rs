//! Unit tests of gcc/clang command-line reading, one file per concept; the helpers shared by
//! them are here.

mod arguments;
mod asm_directives;
mod file_flags;
mod key_and_preprocessing;
mod languages;
mod outputs;
mod response_files;

use super::*;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn parse_in(args: &[&str], cwd: &Path) -> Parsed<CCompilation> {
    parse(&os(args), cwd)
}

fn p(args: &[&str]) -> Parsed<CCompilation> {
    parse_in(args, Path::new("/nonexistent-cwd"))
}

fn ok(args: &[&str]) -> CCompilation {
    match p(args) {
        Parsed::Cacheable(c) => c,
        other => panic!("{args:?} gave {other:?}"),
    }
}

fn no(args: &[&str]) -> String {
    match p(args) {
        Parsed::NotCacheable(reason) => reason,
        other => panic!("{args:?} gave {other:?}"),
    }
}

fn strs(v: &[OsString]) -> Vec<&str> {
    v.iter().map(|s| s.to_str().unwrap()).collect()
}

fn output(c: &CCompilation, role: OutputRole) -> Option<&str> {
    c.outputs
        .iter()
        .find(|o| o.role == role)
        .map(|o| o.path.to_str().unwrap())
}
