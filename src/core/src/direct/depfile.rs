//! Reading a dependency file that gcc or clang wrote with `-MD` (make's syntax): the files the
//! compile read, as the compiler spelled their names, for direct mode's depend path
//! (`flow::c`), which records a manifest from them without running the preprocessor.
//!
//! The file holds one rule (the server's `-MD` has no `-MP`): a second is refused; a user's file
//! (`prerequisites_with_empty_rules`) may add `-MP`'s empty rules. Its targets
//! are skipped; its prerequisites are split on blanks, with make's escapes undone (`\ `, `\#`,
//! `$$`). A name with any other backslash, or a rule that is not whole, gives `None`: the
//! compilers escape such names differently, and direct mode then takes the preprocessor's path.

/// The prerequisites of the first rule in `text`, in order, or `None` when they cannot be read
/// for certain.
pub fn prerequisites(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (rule, rest) = first_rule(text)?;
    // `-MD` alone writes one rule: anything after it is a name with a newline in it, which
    // clang does not escape (the rule would have been cut there).
    if !rest.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    rule_prerequisites(&rule, Escapes::Strict)
}

/// How a backslash other than make's escapes is read.
#[derive(Clone, Copy, PartialEq)]
enum Escapes {
    /// Refused: the compilers spell such names differently.
    Strict,
    /// Kept as written, with what follows it (gcc writes a backslash in a name as it is): a
    /// name read wrong names no file, which a caller checking each file refuses.
    Kept,
}

/// The names a compile's own dependency file gives (the user's, or one added for a check):
/// the first rule's prerequisites, with any number of empty rules after it (`-MP` writes one
/// per header: `inc/a.h:`), a backslash that is no make escape kept as written; `None` when
/// anything else follows or the file is not whole.
pub fn prerequisites_with_empty_rules(text: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (rule, mut rest) = first_rule(text)?;
    while !rest.iter().all(u8::is_ascii_whitespace) {
        let (empty, after) = first_rule(rest)?;
        let colon = target_end(&empty)?;
        if !empty[colon + 1..].iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        rest = after;
    }
    rule_prerequisites(&rule, Escapes::Kept)
}

/// The prerequisites of one logical `rule`, make's escapes undone.
fn rule_prerequisites(rule: &[u8], escapes: Escapes) -> Option<Vec<Vec<u8>>> {
    let colon = target_end(rule)?;
    let mut names = Vec::new();
    let mut name = Vec::new();
    let mut bytes = rule[colon + 1..].iter().copied().peekable();
    while let Some(byte) = bytes.next() {
        match byte {
            b' ' | b'\t' => {
                if !name.is_empty() {
                    names.push(std::mem::take(&mut name));
                }
            }
            b'\\' => match bytes.next() {
                Some(escaped @ (b' ' | b'#')) => name.push(escaped),
                Some(other) if escapes == Escapes::Kept => name.extend_from_slice(&[b'\\', other]),
                _ => return None,
            },
            b'$' => match bytes.next() {
                Some(b'$') => name.push(b'$'),
                _ => return None,
            },
            _ => name.push(byte),
        }
    }
    if !name.is_empty() {
        names.push(name);
    }
    (!names.is_empty()).then_some(names)
}

/// The first logical line that holds a rule, with its continuations (backslash, newline)
/// joined by a blank, and the text after it. `None` when the text ends inside a continuation.
fn first_rule(text: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut rule = Vec::new();
    let mut lines = text.split(|byte| *byte == b'\n').peekable();
    let mut consumed = 0;
    while let Some(line) = lines.next() {
        consumed += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.strip_suffix(b"\\") {
            Some(continued) => {
                rule.extend_from_slice(continued);
                rule.push(b' ');
                // A continuation into nothing: the file was cut short.
                if lines.peek().is_none_or(|next| next.is_empty()) {
                    return None;
                }
            }
            None => {
                rule.extend_from_slice(line);
                if rule.iter().all(u8::is_ascii_whitespace) {
                    rule.clear();
                    continue;
                }
                return Some((rule, text.get(consumed..).unwrap_or_default()));
            }
        }
    }
    None
}

/// Where the targets end: the first colon followed by a blank or the end of the rule (a colon
/// inside a target's name is followed by something else).
fn target_end(rule: &[u8]) -> Option<usize> {
    (0..rule.len()).find(|&at| {
        rule[at] == b':'
            && rule
                .get(at + 1)
                .is_none_or(|next| matches!(next, b' ' | b'\t'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Option<Vec<String>> {
        prerequisites(text.as_bytes()).map(|names| {
            names
                .into_iter()
                .map(|name| String::from_utf8(name).unwrap())
                .collect()
        })
    }

    #[test]
    fn reads_the_first_rule_across_continuations() {
        let text = "obj/a.o: src/a.c inc/a.h \\\n /usr/include/stdio.h \\\n  b.h\n";
        assert_eq!(
            names(text).unwrap(),
            ["src/a.c", "inc/a.h", "/usr/include/stdio.h", "b.h"]
        );
    }

    #[test]
    fn several_targets_are_skipped_and_a_second_rule_refused() {
        assert_eq!(names("a.o a.d: a.c a.h\n\n").unwrap(), ["a.c", "a.h"]);
        // A second rule (`-MP`'s, or a name cut by a newline clang did not escape).
        assert_eq!(names("a.o: a.c a.h\n\na.h:\n"), None);
        assert_eq!(names("a.o: a.c x\n.h\n"), None);
    }

    #[test]
    fn undoes_makes_escapes() {
        let text = "a.o: my\\ dir/a.c a$$b.h x\\#y.h\n";
        assert_eq!(names(text).unwrap(), ["my dir/a.c", "a$b.h", "x#y.h"]);
    }

    #[test]
    fn a_colon_inside_a_target_is_not_its_end() {
        assert_eq!(names("c:/x.o: a.c\n").unwrap(), ["a.c"]);
    }

    #[test]
    fn refuses_what_it_cannot_read_for_certain() {
        assert_eq!(names("a.o: a\\b.h\n"), None);
        assert_eq!(names("a.o: a$b.h\n"), None);
        assert_eq!(names("a.o: a.c \\\n"), None);
        assert_eq!(names("a.o:\n"), None);
        assert_eq!(names(""), None);
        assert_eq!(names("no rule here\n"), None);
    }

    #[test]
    fn a_user_s_file_may_add_empty_rules_and_nothing_else() {
        let text =
            b"c.o: c.c inc/a.h \\\n /usr/include/stdio.h\n\ninc/a.h:\n\n/usr/include/stdio.h:\n";
        let names = prerequisites_with_empty_rules(text).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(prerequisites(text), None);
        assert_eq!(
            prerequisites_with_empty_rules(b"c.o: c.c\nother: x.h\n"),
            None
        );
    }
}
