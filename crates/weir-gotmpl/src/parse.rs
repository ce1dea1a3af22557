//! Parsing Go templates: text and `{{ actions }}` (with `{{-` and `-}}` trimming and
//! `{{/* comments */}}`) into a tree per template, `define` and `block` adding named ones.

use std::collections::HashMap;

use crate::Error;

/// Where something is in a template source: 1-based line, 0-based byte column (as Go
/// reports them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Byte offset in the line.
    pub col: usize,
}

/// One operand of a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.` (the cursor).
    Dot,
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A quoted or raw string.
    Str(String),
    /// An integer literal (also character constants).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// `.A.B`: fields of the cursor.
    Field(Vec<String>),
    /// `$x.A.B`: a variable and fields of it.
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>),
}

/// A command: operands, the first of which is what is called or evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    /// The operands.
    pub args: Vec<Arg>,
    /// Where it starts.
    pub pos: Pos,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    /// Variables declared (`$x :=`) or assigned (`$x =`).
    pub vars: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    /// The commands.
    pub cmds: Vec<Cmd>,
    /// The source text, for error messages (`<.Values.x>`).
    pub text: String,
    /// Where it starts.
    pub pos: Pos,
}

/// A node of a template tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text copied to the output.
    Text(String),
    /// `{{ pipeline }}`.
    Action(Pipe),
    /// `{{ if }}`, `{{ with }}`: the pipeline, the list, the `else` list.
    If(Pipe, Vec<Node>, Vec<Node>),
    /// `{{ with }}`.
    With(Pipe, Vec<Node>, Vec<Node>),
    /// `{{ range }}`.
    Range(Pipe, Vec<Node>, Vec<Node>),
    /// `{{ template "name" pipeline }}`.
    Template(String, Option<Pipe>, Pos),
    /// `{{ break }}`.
    Break,
    /// `{{ continue }}`.
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    Field(String),
    Var(String),
    Dot,
    Str(String),
    Number(String),
    Char(i64),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Space,
}

struct Lexer<'a> {
    name: &'a str,
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    out: Vec<(Tok, Pos)>,
}

impl<'a> Lexer<'a> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn err(&self, pos: Pos, message: impl Into<String>) -> Error {
        Error::Parse {
            template: self.name.to_owned(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = *self.chars.get(self.i)?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += c.len_utf8();
        }
        Some(c)
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn starts(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    fn run(mut self) -> Result<Vec<(Tok, Pos)>, Error> {
        loop {
            let start = self.pos();
            // The text up to the next `{{`, taken in one go.
            let rest = &self.chars[self.i..];
            let n = rest
                .windows(2)
                .position(|w| w == ['{', '{'])
                .unwrap_or(rest.len());
            let mut text = String::with_capacity(n);
            for &c in &rest[..n] {
                text.push(c);
                if c == '\n' {
                    self.line += 1;
                    self.col = 0;
                } else {
                    self.col += c.len_utf8();
                }
            }
            self.i += n;
            if self.i >= self.chars.len() {
                if !text.is_empty() {
                    self.out.push((Tok::Text(text), start));
                }
                return Ok(self.out);
            }
            // `{{- ` trims the whitespace before.
            let trim_left =
                self.peek(2) == Some('-') && self.peek(3).is_some_and(|c| c.is_ascii_whitespace());
            if trim_left {
                text.truncate(text.trim_end_matches([' ', '\t', '\r', '\n']).len());
            }
            if !text.is_empty() {
                self.out.push((Tok::Text(text), start));
            }
            let open = self.pos();
            self.bump();
            self.bump();
            if trim_left {
                self.bump();
            }
            // A comment fills the whole action.
            let save = (self.i, self.line, self.col);
            while self.peek(0).is_some_and(|c| c.is_ascii_whitespace()) {
                self.bump();
            }
            if self.starts("/*") {
                while self.i < self.chars.len() && !self.starts("*/") {
                    self.bump();
                }
                if self.i >= self.chars.len() {
                    return Err(self.err(open, "unclosed comment"));
                }
                self.bump();
                self.bump();
                let mut trim_right = false;
                while self.peek(0).is_some_and(|c| c.is_ascii_whitespace()) {
                    self.bump();
                }
                if self.starts("-}}") {
                    trim_right = true;
                    self.bump();
                } else if !self.starts("}}") {
                    return Err(self.err(open, "comment ends before closing delimiter"));
                }
                self.bump();
                self.bump();
                if trim_right {
                    self.skip_space();
                }
                continue;
            }
            (self.i, self.line, self.col) = save;
            self.out.push((Tok::Open, open));
            self.action(open)?;
        }
    }

    fn skip_space(&mut self) {
        while self
            .peek(0)
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
        {
            self.bump();
        }
    }

    /// Tokens up to and including `}}`.
    fn action(&mut self, open: Pos) -> Result<(), Error> {
        loop {
            let pos = self.pos();
            let Some(c) = self.peek(0) else {
                return Err(self.err(open, "unclosed action"));
            };
            if c.is_ascii_whitespace() {
                // ` -}}` trims after.
                let mut k = 0;
                while self.peek(k).is_some_and(|c| c.is_ascii_whitespace()) {
                    k += 1;
                }
                if self.peek(k) == Some('-')
                    && self.peek(k + 1) == Some('}')
                    && self.peek(k + 2) == Some('}')
                {
                    for _ in 0..k + 3 {
                        self.bump();
                    }
                    self.out.push((Tok::Close, pos));
                    self.skip_space();
                    return Ok(());
                }
                for _ in 0..k {
                    self.bump();
                }
                self.out.push((Tok::Space, pos));
                continue;
            }
            if self.starts("}}") {
                self.bump();
                self.bump();
                self.out.push((Tok::Close, pos));
                return Ok(());
            }
            match c {
                '|' => {
                    self.bump();
                    self.out.push((Tok::Pipe, pos));
                }
                '(' => {
                    self.bump();
                    self.out.push((Tok::LParen, pos));
                }
                ')' => {
                    self.bump();
                    self.out.push((Tok::RParen, pos));
                }
                ',' => {
                    self.bump();
                    self.out.push((Tok::Comma, pos));
                }
                ':' if self.peek(1) == Some('=') => {
                    self.bump();
                    self.bump();
                    self.out.push((Tok::Declare, pos));
                }
                '=' => {
                    self.bump();
                    self.out.push((Tok::Assign, pos));
                }
                '"' => {
                    self.bump();
                    let mut s = String::new();
                    loop {
                        match self.bump() {
                            None | Some('\n') => {
                                return Err(self.err(pos, "unterminated quoted string"));
                            }
                            Some('"') => break,
                            Some('\\') => s.push(self.escape(pos)?),
                            Some(c) => s.push(c),
                        }
                    }
                    self.out.push((Tok::Str(s), pos));
                }
                '`' => {
                    self.bump();
                    let mut s = String::new();
                    loop {
                        match self.bump() {
                            None => return Err(self.err(pos, "unterminated raw quoted string")),
                            Some('`') => break,
                            Some(c) => s.push(c),
                        }
                    }
                    self.out.push((Tok::Str(s), pos));
                }
                '\'' => {
                    self.bump();
                    let c = match self.bump() {
                        Some('\\') => self.escape(pos)?,
                        Some(c) => c,
                        None => return Err(self.err(pos, "unterminated character constant")),
                    };
                    if self.bump() != Some('\'') {
                        return Err(self.err(pos, "unterminated character constant"));
                    }
                    self.out.push((Tok::Char(c as i64), pos));
                }
                '$' => {
                    self.bump();
                    let mut name = String::from("$");
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        name.extend(self.bump());
                    }
                    self.out.push((Tok::Var(name), pos));
                }
                '.' if self.peek(1).is_some_and(|c| c.is_alphabetic() || c == '_') => {
                    self.bump();
                    let mut name = String::new();
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        name.extend(self.bump());
                    }
                    self.out.push((Tok::Field(name), pos));
                }
                '.' if !self.peek(1).is_some_and(|c| c.is_ascii_digit()) => {
                    self.bump();
                    self.out.push((Tok::Dot, pos));
                }
                c if c.is_ascii_digit()
                    || c == '.'
                    || ((c == '-' || c == '+')
                        && self.peek(1).is_some_and(|d| d.is_ascii_digit() || d == '.')) =>
                {
                    let mut n = String::new();
                    n.extend(self.bump());
                    while self.peek(0).is_some_and(|c| {
                        c.is_ascii_alphanumeric()
                            || c == '.'
                            || c == '_'
                            || ((c == '+' || c == '-') && n.ends_with(['e', 'E', 'p', 'P']))
                    }) {
                        n.extend(self.bump());
                    }
                    self.out.push((Tok::Number(n), pos));
                }
                c if c.is_alphabetic() || c == '_' => {
                    let mut name = String::new();
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                    {
                        name.extend(self.bump());
                    }
                    self.out.push((Tok::Ident(name), pos));
                }
                other => {
                    return Err(self.err(pos, format!("unexpected \"{other}\" in command")));
                }
            }
        }
    }

    fn escape(&mut self, pos: Pos) -> Result<char, Error> {
        let c = self
            .bump()
            .ok_or_else(|| self.err(pos, "unterminated quoted string"))?;
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'x' | 'u' | 'U' => {
                let n = match c {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut hex = String::new();
                for _ in 0..n {
                    hex.extend(self.bump());
                }
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.err(pos, "invalid syntax"))?
            }
            d if d.is_digit(8) => {
                let mut oct = String::from(d);
                oct.extend(self.bump());
                oct.extend(self.bump());
                u32::from_str_radix(&oct, 8)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| self.err(pos, "invalid syntax"))?
            }
            _ => return Err(self.err(pos, "invalid syntax")),
        })
    }
}

/// Parsed templates by name.
pub type Trees = HashMap<String, Vec<Node>>;

struct Parser<'a> {
    name: &'a str,
    toks: Vec<(Tok, Pos)>,
    i: usize,
    defined: Trees,
    range_depth: usize,
}

/// What ended a list.
#[derive(Debug, PartialEq)]
enum Stop {
    Eof,
    End,
    Else(Pos),
}

impl<'a> Parser<'a> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> Error {
        Error::Parse {
            template: self.name.to_owned(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|(t, _)| t)
    }

    fn pos(&self) -> Pos {
        self.toks
            .get(self.i)
            .or_else(|| self.toks.last())
            .map(|(_, p)| *p)
            .unwrap_or_default()
    }

    fn next(&mut self) -> Option<(Tok, Pos)> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Tok::Space) {
            self.i += 1;
        }
    }

    fn expect_close(&mut self, what: &str) -> Result<(), Error> {
        self.skip_space();
        let pos = self.pos();
        match self.next() {
            Some((Tok::Close, _)) => Ok(()),
            _ => Err(self.err(pos, format!("unexpected token in {what}"))),
        }
    }

    /// Nodes until `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Stop), Error> {
        let mut nodes = Vec::new();
        loop {
            match self.next() {
                None => return Ok((nodes, Stop::Eof)),
                Some((Tok::Text(t), _)) => nodes.push(Node::Text(t)),
                Some((Tok::Open, open)) => {
                    self.skip_space();
                    let pos = self.pos();
                    let keyword = match self.peek() {
                        Some(Tok::Ident(k)) => Some(k.clone()),
                        _ => None,
                    };
                    match keyword.as_deref() {
                        Some("end") => {
                            self.i += 1;
                            self.expect_close("end")?;
                            return Ok((nodes, Stop::End));
                        }
                        Some("else") => {
                            self.i += 1;
                            return Ok((nodes, Stop::Else(pos)));
                        }
                        Some("if") => {
                            self.i += 1;
                            nodes.push(self.control("if")?);
                        }
                        Some("with") => {
                            self.i += 1;
                            nodes.push(self.control("with")?);
                        }
                        Some("range") => {
                            self.i += 1;
                            self.range_depth += 1;
                            let node = self.control("range");
                            self.range_depth -= 1;
                            nodes.push(node?);
                        }
                        Some(k @ ("break" | "continue")) => {
                            if self.range_depth == 0 {
                                return Err(
                                    self.err(pos, format!("{{{{{k}}}}} outside {{{{range}}}}"))
                                );
                            }
                            let node = if k == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            };
                            self.i += 1;
                            self.expect_close(k)?;
                            nodes.push(node);
                        }
                        Some("template") => {
                            self.i += 1;
                            let (name, pipe) = self.template_call("template")?;
                            nodes.push(Node::Template(name, pipe, open));
                        }
                        Some("define") => {
                            self.i += 1;
                            let (name, _) = self.template_call("define")?;
                            let (body, end) = self.list()?;
                            if end != Stop::End {
                                return Err(self.err(pos, "unexpected EOF in define"));
                            }
                            self.defined.insert(name, body);
                        }
                        Some("block") => {
                            self.i += 1;
                            let (name, pipe) = self.template_call("block")?;
                            let (body, end) = self.list()?;
                            if end != Stop::End {
                                return Err(self.err(pos, "unexpected EOF in block"));
                            }
                            self.defined.insert(name.clone(), body);
                            nodes.push(Node::Template(name, pipe, open));
                        }
                        _ => {
                            let pipe = self.pipeline(true)?;
                            if pipe.cmds.is_empty() {
                                return Err(self.err(pos, "missing value for command"));
                            }
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                Some((_, pos)) => return Err(self.err(pos, "unexpected token")),
            }
        }
    }

    /// `if`, `with` and `range`, with `else` and `else if`/`else with` chains.
    fn control(&mut self, kind: &str) -> Result<Node, Error> {
        let pos = self.pos();
        let pipe = self.pipeline(true)?;
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, format!("missing value for {kind}")));
        }
        let (body, end) = self.list()?;
        let otherwise = match end {
            Stop::Eof => return Err(self.err(pos, format!("unexpected EOF in {kind}"))),
            Stop::End => Vec::new(),
            Stop::Else(else_pos) => {
                self.skip_space();
                let chained = matches!(
                    self.peek(),
                    Some(Tok::Ident(k)) if (k == "if" && kind == "if") || (k == "with" && kind == "with")
                );
                if chained {
                    // `{{else if x}}`: a nested if that shares our {{end}}.
                    self.i += 1;
                    vec![self.control(kind)?]
                } else {
                    self.expect_close("else")?;
                    let (otherwise, end) = self.list()?;
                    if end != Stop::End {
                        return Err(
                            self.err(else_pos, format!("expected end; found else in {kind}"))
                        );
                    }
                    otherwise
                }
            }
        };
        Ok(match kind {
            "if" => Node::If(pipe, body, otherwise),
            "with" => Node::With(pipe, body, otherwise),
            _ => Node::Range(pipe, body, otherwise),
        })
    }

    /// `"name"` and an optional pipeline, then `}}`.
    fn template_call(&mut self, what: &str) -> Result<(String, Option<Pipe>), Error> {
        self.skip_space();
        let pos = self.pos();
        let name = match self.next() {
            Some((Tok::Str(s), _)) => s,
            _ => return Err(self.err(pos, format!("unexpected token in {what} clause"))),
        };
        self.skip_space();
        if self.peek() == Some(&Tok::Close) {
            self.i += 1;
            return Ok((name, None));
        }
        let pipe = self.pipeline(true)?;
        Ok((name, (!pipe.cmds.is_empty()).then_some(pipe)))
    }

    /// A pipeline up to `}}` (or `)` inside parentheses when `top` is false).
    fn pipeline(&mut self, top: bool) -> Result<Pipe, Error> {
        self.skip_space();
        let start = self.pos();
        let first = self.i;
        let mut vars = Vec::new();
        let mut assign = false;
        // `$x :=`, `$x, $y :=`, `$x =`.
        let save = self.i;
        let mut declared = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(Tok::Var(v)) => {
                    declared.push(v.clone());
                    self.i += 1;
                    self.skip_space();
                    match self.peek() {
                        Some(Tok::Comma) => {
                            self.i += 1;
                            continue;
                        }
                        Some(Tok::Declare) => {
                            self.i += 1;
                            vars = declared;
                            break;
                        }
                        Some(Tok::Assign) => {
                            self.i += 1;
                            vars = declared;
                            assign = true;
                            break;
                        }
                        _ => {
                            self.i = save;
                            break;
                        }
                    }
                }
                _ => {
                    self.i = save;
                    break;
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            self.skip_space();
            let pos = self.pos();
            let mut args = Vec::new();
            loop {
                self.skip_space();
                match self.peek() {
                    Some(Tok::Close) if top => break,
                    Some(Tok::RParen) if !top => break,
                    Some(Tok::Pipe) => break,
                    None => return Err(self.err(pos, "unclosed action")),
                    _ => args.push(self.operand()?),
                }
            }
            if args.is_empty() {
                if self.peek() == Some(&Tok::Pipe) || !cmds.is_empty() {
                    return Err(self.err(pos, "missing command"));
                }
            } else {
                cmds.push(Cmd { args, pos });
            }
            match self.peek() {
                Some(Tok::Pipe) => {
                    self.i += 1;
                }
                _ => break,
            }
        }
        let text = self.text_of(first, self.i);
        self.i += 1; // `}}` or `)`
        Ok(Pipe {
            vars,
            assign,
            cmds,
            text,
            pos: start,
        })
    }

    /// The source text of tokens `from..to`, as Go shows it in errors.
    fn text_of(&self, from: usize, to: usize) -> String {
        let mut out = String::new();
        for (tok, _) in &self.toks[from..to.min(self.toks.len())] {
            match tok {
                Tok::Ident(s) | Tok::Var(s) | Tok::Number(s) => out.push_str(s),
                Tok::Field(s) => {
                    out.push('.');
                    out.push_str(s);
                }
                Tok::Str(s) => out.push_str(&crate::print::quote(s)),
                Tok::Char(c) => out.push_str(&c.to_string()),
                Tok::Dot => out.push('.'),
                Tok::Pipe => out.push('|'),
                Tok::LParen => out.push('('),
                Tok::RParen => out.push(')'),
                Tok::Declare => out.push_str(":="),
                Tok::Assign => out.push('='),
                Tok::Comma => out.push(','),
                Tok::Space => out.push(' '),
                _ => {}
            }
        }
        out.trim().to_owned()
    }

    /// Field names chained right after an operand (`.a.b` after `$x` or `(...)`).
    fn chain(&mut self) -> Vec<String> {
        let mut fields = Vec::new();
        while let Some(Tok::Field(f)) = self.peek() {
            fields.push(f.clone());
            self.i += 1;
        }
        fields
    }

    fn operand(&mut self) -> Result<Arg, Error> {
        let pos = self.pos();
        let Some((tok, _)) = self.next() else {
            return Err(self.err(pos, "unexpected EOF"));
        };
        Ok(match tok {
            Tok::Dot => match self.peek() {
                Some(Tok::Field(_)) => Arg::Field(self.chain()),
                _ => Arg::Dot,
            },
            Tok::Field(f) => {
                let mut fields = vec![f];
                fields.extend(self.chain());
                Arg::Field(fields)
            }
            Tok::Var(v) => {
                let fields = self.chain();
                Arg::Var(v, fields)
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Char(c) => Arg::Int(c),
            Tok::Number(n) => {
                number(&n).ok_or_else(|| self.err(pos, format!("bad number syntax: \"{n}\"")))?
            }
            Tok::LParen => {
                let pipe = self.pipeline(false)?;
                let fields = self.chain();
                Arg::Sub(Box::new(pipe), fields)
            }
            Tok::Ident(name) => match name.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => Arg::Ident(name),
            },
            other => return Err(self.err(pos, format!("unexpected {other:?} in operand"))),
        })
    }
}

/// A number literal: decimal, hex, octal, binary integers (with `_`), or a float.
fn number(text: &str) -> Option<Arg> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean).to_owned()),
    };
    let sign = if negative { -1 } else { 1 };
    let lower = digits.to_ascii_lowercase();
    let int = if let Some(hex) = lower.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = lower.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.chars().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Arg::Int(sign * i));
    }
    let f: f64 = match lower.strip_prefix("0x") {
        // Hexadecimal floats: `0x1p60`, `0x1.8p3`.
        Some(hex) => {
            let (mantissa, exp) = hex.split_once('p')?;
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let mut m =
                i64::from_str_radix(if int.is_empty() { "0" } else { int }, 16).ok()? as f64;
            for (i, d) in frac.chars().enumerate() {
                m += f64::from(d.to_digit(16)?) / 16f64.powi(i as i32 + 1);
            }
            m * 2f64.powi(exp.parse().ok()?)
        }
        None => digits.parse().ok()?,
    };
    // Go keeps an integral float constant such as 1e3 usable as an int; a float it is here.
    Some(Arg::Float(if negative { -f } else { f }))
}

/// Parses `text` as template `name`; returns its tree and the templates it defines.
pub fn parse(name: &str, text: &str) -> Result<(Vec<Node>, Trees), Error> {
    let toks = Lexer {
        name,
        chars: text.chars().collect(),
        i: 0,
        line: 1,
        col: 0,
        out: Vec::new(),
    }
    .run()?;
    let mut parser = Parser {
        name,
        toks,
        i: 0,
        defined: HashMap::new(),
        range_depth: 0,
    };
    let (nodes, end) = parser.list()?;
    match end {
        Stop::Eof => Ok((nodes, parser.defined)),
        Stop::End => Err(parser.err(parser.pos(), "unexpected {{end}}")),
        Stop::Else(pos) => Err(parser.err(pos, "unexpected {{else}}")),
    }
}
