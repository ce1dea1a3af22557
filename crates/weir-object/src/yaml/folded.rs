//! What kustomize's internal round trip does to folded (`>`) scalars.
//!
//! kyaml's `RNode.MarshalJSON` re-encodes each resource with yaml.v3 before decoding it, and
//! yaml.v3's `yaml_emitter_write_folded_scalar` decides whether a line break needs an extra
//! blank line by looking at the start of the whole text instead of the next line. Read back,
//! the text changes: a line followed by a more-indented line gains a blank line, and when the
//! text itself starts with a space, lines that were kept apart get joined. This reproduces the
//! emit-and-reread for folded scalars; the other styles survive that round trip unchanged.

use std::borrow::Cow;

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn starts_blank(line: &str) -> bool {
    line.starts_with(is_blank)
}

/// Whether yaml.v3's emitter writes `text` in folded style when asked to: not when it ends
/// with a space, has a space before a line break, or has characters it must escape.
fn stays_folded(text: &str) -> bool {
    let printable = |c: char| {
        matches!(c, '\t' | '\n' | '\x20'..='\x7e' | '\u{a0}'..='\u{d7ff}')
            || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
    };
    !text.is_empty() && !text.ends_with(' ') && !text.contains(" \n") && text.chars().all(printable)
}

/// The text of a folded scalar as kustomize ends up with it.
///
/// yaml.v3 writes with no line width, so long lines are not re-folded. Not modelled: texts
/// with line separators other than `\n` (they are returned unchanged).
pub(super) fn after_reencode(text: &str) -> Cow<'_, str> {
    if !stays_folded(text) || text.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) {
        return Cow::Borrowed(text);
    }
    let body = text.trim_start_matches('\n');
    let Some(first) = body.split('\n').next() else {
        return Cow::Borrowed(text);
    };
    // The emitter's (misplaced) test: it adds a blank line after a line break only when the
    // text's first line does not start with a blank.
    let text_starts_blank = starts_blank(body);
    let extra_blank_line = |line: &str| !starts_blank(line) && !text_starts_blank;

    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..text.len() - body.len()]);
    out.push_str(first);
    let mut previous = first;
    let mut breaks = 0;
    for line in body.split('\n').skip(1) {
        breaks += 1;
        if line.is_empty() {
            continue;
        }
        // Written: `breaks` line breaks, plus maybe a blank line. Read back: the first break
        // folds to a space between two lines that start with non-blanks, otherwise it stays.
        let empty_lines = breaks - 1 + usize::from(extra_blank_line(previous));
        if !starts_blank(previous) && !starts_blank(line) {
            if empty_lines == 0 {
                out.push(' ');
            }
            out.push_str(&"\n".repeat(empty_lines));
        } else {
            out.push_str(&"\n".repeat(empty_lines + 1));
        }
        out.push_str(line);
        previous = line;
        breaks = 0;
    }
    // Trailing breaks: the chomping indicator keeps none, one, or all of those written.
    match breaks {
        0 => {}
        1 => out.push('\n'),
        _ => out.push_str(&"\n".repeat(breaks + usize::from(extra_blank_line(previous)))),
    }
    if out == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_folded_text_survives() {
        for text in [
            "a b\nc\n",
            "a\n\nb",
            "x",
            "\n\nlead\n",
            "a\n  b\n\n  c\nd\n",
        ] {
            let expected = if text == "a\n  b\n\n  c\nd\n" {
                "a\n\n  b\n\n  c\nd\n"
            } else {
                text
            };
            assert_eq!(after_reencode(text), expected, "{text:?}");
        }
    }

    #[test]
    fn emitter_bug_cases() {
        assert_eq!(
            after_reencode("normal\n  more\nnormal\n"),
            "normal\n\n  more\nnormal\n"
        );
        assert_eq!(after_reencode("a\n\n"), "a\n\n\n");
        assert_eq!(after_reencode(" lead\na\nb\n"), " lead\na b\n");
        assert_eq!(after_reencode("trailing \nx"), "trailing \nx");
    }
}
