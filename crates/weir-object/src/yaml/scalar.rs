//! How goyaml.v2 writes one scalar: the style it asks for, what the emitter allows
//! (`yaml_emitter_analyze_scalar`, `yaml_emitter_select_scalar_style`), and the
//! `yaml_emitter_write_*_scalar` functions, folding long lines at the same places.

use std::borrow::Cow;

use super::emitter::{BEST_INDENT, BEST_WIDTH, Emitter};
use super::resolve::{self, Resolved, Schema};

/// Scalar styles the encoder can ask for (it never asks for folded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// goyaml.v2 `encoder.stringv`: plain when YAML 1.1 would read the text back as the same
/// string, a literal block when it has line breaks, double quotes otherwise.
pub(super) fn string_style(text: &str) -> Style {
    if text.contains('\n') {
        Style::Literal
    } else if resolve::resolve(text, Schema::V2, true) == Resolved::Str
        && !resolve::is_base60_float(text)
    {
        Style::Plain
    } else {
        Style::DoubleQuoted
    }
}

/// A string as goyaml.v2 reads it back from the JSON kustomize prints.
///
/// `encoding/json` leaves NEL (U+0085) unescaped, and inside the double-quoted JSON string
/// goyaml.v2 takes it for a line break and folds it: with the spaces around it, one NEL becomes
/// a space and a run of `n` becomes `n - 1` line feeds.
pub(super) fn after_json_reread(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{85}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let breaks = run.chars().filter(|&c| c == '\u{85}').count();
        match breaks {
            0 => out.push_str(run),
            1 => out.push(' '),
            n => out.push_str(&"\n".repeat(n - 1)),
        }
        run.clear();
    };
    for c in text.chars() {
        if c == ' ' || c == '\u{85}' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    Cow::Owned(out)
}

/// What `yaml_emitter_analyze_scalar` finds out about a text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Analysis {
    pub(super) multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
    empty: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// libyaml's `is_blankz`, which also counts NUL as the end of the text.
fn is_blankz(c: char) -> bool {
    is_blank(c) || is_break(c) || c == '\0'
}

/// libyaml's `is_printable`: no tabs, no C1 controls, nothing outside the Basic Multilingual
/// Plane (so emoji are escaped), no byte order mark.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\x20'..='\x7e' | '\u{a0}'..='\u{d7ff}')
        || (('\u{e000}'..='\u{fffd}').contains(&c) && c != '\u{feff}')
}

pub(super) fn analyze(text: &str) -> Analysis {
    if text.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
            empty: true,
        };
    }
    let mut block_indicators = text.starts_with("---") || text.starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut line_breaks, mut special_characters) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;

    let mut chars = text.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let followed_by_whitespace = next.is_none_or(is_blank);
        let last = next.is_none();
        if first {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '-' if followed_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    block_indicators |= followed_by_whitespace;
                }
                '#' if preceded_by_whitespace => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        special_characters |= !is_printable(c);
        if c == ' ' {
            leading_space |= first;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= first;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blankz(c);
        first = false;
    }

    let mut analysis = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
        empty: false,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
    }
    if trailing_space {
        analysis.block_allowed = false;
    }
    if break_space {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
    }
    if space_break || special_characters {
        analysis.flow_plain_allowed = false;
        analysis.block_plain_allowed = false;
        analysis.single_quoted_allowed = false;
        analysis.block_allowed = false;
    }
    analysis.flow_plain_allowed &= !flow_indicators;
    analysis.block_plain_allowed &= !block_indicators;
    analysis
}

/// `yaml_emitter_select_scalar_style` for untagged, implicit scalars.
pub(super) fn select_style(
    requested: Style,
    analysis: &Analysis,
    in_flow: bool,
    simple_key: bool,
) -> Style {
    let mut style = requested;
    if simple_key && analysis.multiline {
        style = Style::DoubleQuoted;
    }
    if style == Style::Plain {
        let plain_allowed = if in_flow {
            analysis.flow_plain_allowed
        } else {
            analysis.block_plain_allowed
        };
        if !plain_allowed || (analysis.empty && (in_flow || simple_key)) {
            style = Style::SingleQuoted;
        }
    }
    if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
        style = Style::DoubleQuoted;
    }
    if style == Style::Literal && (!analysis.block_allowed || in_flow || simple_key) {
        style = Style::DoubleQuoted;
    }
    style
}

impl Emitter {
    /// `yaml_emitter_write_plain_scalar`.
    pub(super) fn write_plain(&mut self, text: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == ' ' {
                let fold = allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.peek() != Some(&' ');
                if fold {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    /// `yaml_emitter_write_single_quoted_scalar`.
    pub(super) fn write_single_quoted(&mut self, text: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == ' ' {
                // Never fold at the first or last character: the space would be lost.
                let fold = allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < text.len() - 1
                    && chars.peek().map(|&(_, next)| next) != Some(' ');
                if fold {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// `yaml_emitter_write_double_quoted_scalar`.
    pub(super) fn write_double_quoted(&mut self, text: &str, allow_breaks: bool) {
        // libyaml's `is_bom` looks at the start of the text, not the current character, so a
        // text that starts with a byte order mark is escaped in full.
        let starts_with_bom = text.starts_with('\u{feff}');
        let mut spaces = false;
        self.write_indicator("\"", true, false, false);
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let escape =
                !is_printable(c) || starts_with_bom || is_break(c) || c == '"' || c == '\\';
            if escape {
                self.put('\\');
                self.write_escape(c);
                spaces = false;
            } else if c == ' ' {
                let fold = allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i < text.len() - 1;
                if fold {
                    self.write_indent();
                    // A space at the start of a continuation line would be folded away.
                    if chars.peek().map(|&(_, next)| next) == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The part of an escape sequence after the backslash.
    fn write_escape(&mut self, c: char) {
        let short = match c {
            '\0' => Some('0'),
            '\x07' => Some('a'),
            '\x08' => Some('b'),
            '\t' => Some('t'),
            '\n' => Some('n'),
            '\x0b' => Some('v'),
            '\x0c' => Some('f'),
            '\r' => Some('r'),
            '\x1b' => Some('e'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            '\u{85}' => Some('N'),
            '\u{a0}' => Some('_'),
            '\u{2028}' => Some('L'),
            '\u{2029}' => Some('P'),
            _ => None,
        };
        if let Some(short) = short {
            self.put(short);
            return;
        }
        let code = u32::from(c);
        let (prefix, width) = match code {
            0..=0xff => ('x', 2),
            0x100..=0xffff => ('u', 4),
            _ => ('U', 8),
        };
        self.put(prefix);
        for digit in format!("{code:0width$X}").chars() {
            self.put(digit);
        }
    }

    /// `yaml_emitter_write_literal_scalar`.
    pub(super) fn write_literal(&mut self, text: &str) {
        self.write_indicator("|", true, false, false);
        self.write_block_scalar_hints(text);
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in text.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }

    /// `yaml_emitter_write_block_scalar_hints`: an indentation indicator when the text starts
    /// with a space or break, and the chomping indicator its trailing breaks need.
    fn write_block_scalar_hints(&mut self, text: &str) {
        let mut chars = text.chars();
        if chars
            .clone()
            .next()
            .is_some_and(|c| c == ' ' || is_break(c))
        {
            let hint = char::from_digit(BEST_INDENT as u32, 10).unwrap_or('2');
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        let last = chars.next_back();
        let before_last = chars.next_back();
        let chomp = match (last, before_last) {
            (None, _) => Some("-"),
            (Some(c), _) if !is_break(c) => Some("-"),
            // A text that is one line break, or ends with two, keeps its trailing breaks.
            (Some(_), None) => Some("+"),
            (Some(_), Some(c)) if is_break(c) => Some("+"),
            _ => None,
        };
        if let Some(chomp) = chomp {
            self.write_indicator(chomp, false, false, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_styles() {
        assert_eq!(string_style("plain text"), Style::Plain);
        assert_eq!(string_style("yes"), Style::DoubleQuoted);
        assert_eq!(string_style("1:20"), Style::DoubleQuoted);
        assert_eq!(string_style("2001-12-14"), Style::DoubleQuoted);
        assert_eq!(string_style(""), Style::DoubleQuoted);
        assert_eq!(string_style("a\nb"), Style::Literal);
    }

    #[test]
    fn next_line_characters_fold_on_reread() {
        assert_eq!(after_json_reread("\u{85}nel"), " nel");
        assert_eq!(after_json_reread("a \u{85} \u{85}\u{85} b"), "a\n\nb");
        assert_eq!(after_json_reread("a  b"), "a  b");
    }

    #[test]
    fn emitter_downgrades() {
        let style = |text: &str| select_style(string_style(text), &analyze(text), false, false);
        assert_eq!(style("- a"), Style::SingleQuoted);
        assert_eq!(style("a: b"), Style::SingleQuoted);
        assert_eq!(style("a #b"), Style::SingleQuoted);
        assert_eq!(style("a#b"), Style::Plain);
        assert_eq!(style(" lead"), Style::SingleQuoted);
        assert_eq!(style("tab\there"), Style::DoubleQuoted);
        assert_eq!(style("emoji 😀"), Style::DoubleQuoted);
        assert_eq!(style("é"), Style::Plain);
        assert_eq!(style("a \nb"), Style::DoubleQuoted);
        assert_eq!(style("a\n b"), Style::Literal);
    }
}
