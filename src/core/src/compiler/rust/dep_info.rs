//! rustc's dep-info: the command line of a run that writes only the dep-info file
//! ([`dep_info_args`]) and the reading of that make-style file ([`parse_dep_info`]) into the
//! sources and environment variables the compile read.
//!
//! It reads no file itself; the caller runs rustc and hands over the file's text.

use super::tokens::{lookup, split_eq};
use std::ffi::{OsStr, OsString};

/// What a rustc dep-info (`.d`) file says the compile read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepInfo {
    /// The prerequisites of the first rule: every source file the compile read, as rustc wrote
    /// them, with `\ ` unescaped.
    pub files: Vec<String>,
    /// The environment variables read by `env!`/`option_env!`, with the value rustc saw (as
    /// escaped in the file) or `None` when the variable was unset.
    pub env_deps: Vec<(String, Option<String>)>,
}

/// The command line of a run of rustc that writes only the dep-info of the compile `args`
/// describes, into `out_dir`: every `--emit` and `--out-dir` is replaced, everything else is kept
/// as written (crate name, `-C extra-filename`, externs, cfgs), so the dep-info file has the
/// compile's own name and lists what the compile reads. Meant for command lines `parse` accepts.
pub fn dep_info_args(args: &[OsString], out_dir: &OsStr) -> Vec<OsString> {
    let mut result = Vec::with_capacity(args.len() + 3);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            // Free arguments follow; the replacements must come before them.
            result.extend([
                "--emit=dep-info".into(),
                "--out-dir".into(),
                out_dir.to_owned(),
            ]);
            result.push(arg.clone());
            result.extend(rest.by_ref().cloned());
            return result;
        }
        // The option's spelling and whether its value is in the same argument.
        let (name, attached) = if bytes.starts_with(b"--") {
            match split_eq(arg) {
                Some((head, _)) => (Some(head), true),
                None => (arg.to_str(), false),
            }
        } else if bytes.len() >= 2 && bytes.first() == Some(&b'-') {
            (arg.to_str().and_then(|a| a.get(..2)), bytes.len() > 2)
        } else {
            (None, true)
        };
        match name.and_then(lookup) {
            Some(("--emit" | "--out-dir", true)) => {
                if !attached {
                    rest.next();
                }
            }
            Some((_, true)) if !attached => {
                result.push(arg.clone());
                result.extend(rest.next().cloned());
            }
            _ => result.push(arg.clone()),
        }
    }
    result.extend([
        "--emit=dep-info".into(),
        "--out-dir".into(),
        out_dir.to_owned(),
    ]);
    result
}

/// Splits make prerequisites at unescaped whitespace, turning `\ ` back into a space.
fn split_escaped(list: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                word.push(' ');
                chars.next();
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// An env-dep's name or value as rustc wrote it (`escape_dep_env`: newline as `\n`, carriage
/// return as `\r`, backslash as `\\`), unescaped; `None` for any other escape.
pub fn unescape_env_dep(escaped: &str) -> Option<String> {
    let mut plain = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            plain.push(c);
            continue;
        }
        match chars.next()? {
            'n' => plain.push('\n'),
            'r' => plain.push('\r'),
            '\\' => plain.push('\\'),
            _ => return None,
        }
    }
    Some(plain)
}

/// Reads a rustc dep-info file: the prerequisites of its first rule and its `# env-dep:` lines.
/// The target is found at the first `: ` (or a trailing `:`), so that Windows drive letters in
/// the target do not end it early.
///
/// rustc escapes only spaces in file names, so a name with a newline or a trailing backslash
/// cuts the file into other rules, and the list read would miss files the compile read. The
/// file is checked against the shape rustc gives it instead: every other rule with
/// prerequisites (one per output) lists the same files, and every file has an empty rule of its
/// own (rustc's phony targets) and nothing else has. `Err` when it does not hold: a key taken
/// from such a list could hit after a file it lacks changed.
pub fn parse_dep_info(contents: &str) -> Result<DepInfo, &'static str> {
    let mut info = DepInfo::default();
    let mut first: Option<Vec<String>> = None;
    let mut phony: Vec<String> = Vec::new();
    let mut rule = String::new();
    for line in contents.lines() {
        if let Some(dep) = line.strip_prefix("# env-dep:") {
            // rustc escapes the name as it does the value: the variable's own name is the
            // one a key and a record must look up.
            let (name, value) = match dep.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (dep, None),
            };
            let name = unescape_env_dep(name).ok_or("dep-info env-dep name unreadable")?;
            info.env_deps.push((name, value));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        // A trailing backslash continues the rule on the next line.
        if let Some(part) = line.strip_suffix('\\') {
            rule.push_str(part);
            rule.push(' ');
            continue;
        }
        rule.push_str(line);
        let whole = std::mem::take(&mut rule);
        if whole.trim().is_empty() {
            continue;
        }
        let (target, list) = match whole.find(": ") {
            Some(at) => (&whole[..at], &whole[at + 2..]),
            None => match whole.trim_end().strip_suffix(':') {
                Some(target) => (target, ""),
                None => return Err("dep-info line that is no rule"),
            },
        };
        let prerequisites = split_escaped(list);
        match &first {
            None => first = Some(prerequisites),
            Some(files) if !prerequisites.is_empty() => {
                if prerequisites != *files {
                    return Err("dep-info rules that list other files");
                }
            }
            Some(_) => match split_escaped(target).as_slice() {
                [name] => phony.push(name.clone()),
                _ => return Err("dep-info rule of no one file"),
            },
        }
    }
    info.files = first.unwrap_or_default();
    if !info.files.is_empty() {
        let mut listed: Vec<&String> = info.files.iter().collect();
        let mut phony: Vec<&String> = phony.iter().collect();
        listed.sort_unstable();
        listed.dedup();
        phony.sort_unstable();
        phony.dedup();
        if listed != phony {
            return Err("dep-info files without rules of their own");
        }
    }
    Ok(info)
}
