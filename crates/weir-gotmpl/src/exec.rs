//! Executing template trees with Go's semantics: the cursor and variables, field access on
//! maps and objects (`missingkey=zero`, as Helm sets it), pipelines, `if`/`with`/`range`
//! with `else`, `break`/`continue`, `template`, and the built-in functions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Error;
use crate::parse::{Arg, Cmd, Node, Pipe, Pos, Trees};
use crate::print;
use crate::value::Value;

/// A function callable from templates. Errors are messages; the executor adds the template,
/// position and function name.
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// A function that needs the executor: Helm's `include` and `tpl`.
pub type ExecFunc = Arc<dyn Fn(&mut Exec<'_>, &[Value]) -> Result<Value, String> + Send + Sync>;

/// How deep templates may call each other (Helm stops recursion at 1,000 includes).
const MAX_DEPTH: usize = 1000;

/// A set of parsed templates and the functions they may call.
#[derive(Clone, Default)]
pub struct Templates {
    trees: HashMap<String, Arc<Vec<Node>>>,
    funcs: HashMap<String, Func>,
    exec_funcs: HashMap<String, ExecFunc>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.trees.keys().collect();
        names.sort();
        f.debug_struct("Templates")
            .field("templates", &names)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// An empty set with Go's built-in functions.
    pub fn new() -> Self {
        Templates::default()
    }

    /// Parses `text` as template `name`, adding it and the templates it defines (a later
    /// definition of a name replaces an earlier one).
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let (tree, defined) = crate::parse::parse(name, text)?;
        self.insert_trees(name, tree, defined);
        Ok(())
    }

    fn insert_trees(&mut self, name: &str, tree: Vec<Node>, defined: Trees) {
        for (k, v) in defined {
            self.trees.insert(k, Arc::new(v));
        }
        self.trees.insert(name.to_owned(), Arc::new(tree));
    }

    /// Whether a template by that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Adds or replaces a function.
    pub fn func(&mut self, name: &str, f: Func) {
        self.funcs.insert(name.to_owned(), f);
    }

    /// The function registered as `name`.
    pub fn function(&self, name: &str) -> Option<Func> {
        self.funcs.get(name).cloned()
    }

    /// Adds or replaces a function that needs the executor.
    pub fn exec_func(&mut self, name: &str, f: ExecFunc) {
        self.exec_funcs.insert(name.to_owned(), f);
    }

    /// Runs template `name` with `data` as `.` and `$`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        let mut exec = Exec {
            templates: self,
            extra: HashMap::new(),
            depth: 0,
        };
        let mut out = String::new();
        exec.run(name, data, &mut out)?;
        Ok(out)
    }
}

/// An execution in progress; functions given [`ExecFunc`] use it to run other templates.
pub struct Exec<'a> {
    templates: &'a Templates,
    /// Templates parsed during execution (`tpl`).
    extra: HashMap<String, Arc<Vec<Node>>>,
    depth: usize,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Frame<'b> {
    name: &'b str,
    vars: Vec<(String, Value)>,
}

impl<'a> Exec<'a> {
    fn tree(&self, name: &str) -> Option<Arc<Vec<Node>>> {
        self.extra
            .get(name)
            .or_else(|| self.templates.trees.get(name))
            .cloned()
    }

    /// Runs template `name` with `data`, appending to `out` (Helm's `include`).
    pub fn run(&mut self, name: &str, data: &Value, out: &mut String) -> Result<(), Error> {
        let Some(tree) = self.tree(name) else {
            return Err(Error::NoTemplate(name.to_owned()));
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(Error::Exec {
                template: name.to_owned(),
                line: 0,
                col: 0,
                at: String::new(),
                message: format!("exceeded max depth of {MAX_DEPTH} nested templates"),
            });
        }
        let mut frame = Frame {
            name,
            vars: vec![("$".to_owned(), data.clone())],
        };
        let result = self.list(&tree, data, &mut frame, out);
        self.depth -= 1;
        result.map(|_| ())
    }

    /// Parses `text` as template `name` for this execution only, and runs it (Helm's `tpl`).
    pub fn run_text(
        &mut self,
        name: &str,
        text: &str,
        data: &Value,
        out: &mut String,
    ) -> Result<(), Error> {
        let (tree, defined) = crate::parse::parse(name, text)?;
        for (k, v) in defined {
            self.extra.insert(k, Arc::new(v));
        }
        self.extra.insert(name.to_owned(), Arc::new(tree));
        self.run(name, data, out)
    }

    fn list(
        &mut self,
        nodes: &[Node],
        dot: &Value,
        frame: &mut Frame<'_>,
        out: &mut String,
    ) -> Result<Flow, Error> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let value = self.pipe(pipe, dot, frame)?;
                    if pipe.vars.is_empty() {
                        match &value {
                            // A nil interface prints as Go's "<no value>".
                            Value::Nil => out.push_str("<no value>"),
                            other => print::sprint_value(other, out),
                        }
                    }
                }
                Node::If(pipe, body, otherwise) | Node::With(pipe, body, otherwise) => {
                    let mark = frame.vars.len();
                    let value = self.pipe(pipe, dot, frame)?;
                    let is_with = matches!(node, Node::With(..));
                    let flow = if value.truthy() {
                        let next_dot = if is_with { value } else { dot.clone() };
                        self.list(body, &next_dot, frame, out)?
                    } else {
                        self.list(otherwise, dot, frame, out)?
                    };
                    frame.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(pipe, body, otherwise) => {
                    let mark = frame.vars.len();
                    let flow = self.range(pipe, body, otherwise, dot, frame, out)?;
                    frame.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Template(name, pipe, pos) => {
                    let data = match pipe {
                        Some(p) => self.pipe(p, dot, frame)?,
                        None => Value::Nil,
                    };
                    if self.tree(name).is_none() {
                        return Err(Error::Exec {
                            template: frame.name.to_owned(),
                            line: pos.line,
                            col: pos.col,
                            at: format!("{{{{template {}}}}}", print::quote(name)),
                            message: format!("template {} not defined", print::quote(name)),
                        });
                    }
                    self.run(name, &data, out)?;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    #[allow(clippy::too_many_arguments)]
    fn range(
        &mut self,
        pipe: &Pipe,
        body: &[Node],
        otherwise: &[Node],
        dot: &Value,
        frame: &mut Frame<'_>,
        out: &mut String,
    ) -> Result<Flow, Error> {
        // The pipeline's variables take the key and element, not the value.
        let bare = Pipe {
            vars: Vec::new(),
            ..pipe.clone()
        };
        let value = self.pipe(&bare, dot, frame)?;
        let items: Vec<(Value, Value)> = match &value {
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                .collect(),
            Value::Map(map) => map
                .snapshot()
                .into_iter()
                .map(|(k, v)| (Value::str(k), v))
                .collect(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Object(o) if o.entries().is_some() => o.entries().unwrap_or_default(),
            Value::Nil => Vec::new(),
            other => {
                return Err(self.exec_err(
                    frame,
                    pipe.pos,
                    &pipe.text,
                    format!("range can't iterate over {}", print::to_string(other)),
                ));
            }
        };
        if items.is_empty() {
            return self.list(otherwise, dot, frame, out);
        }
        let mark = frame.vars.len();
        for (key, item) in items {
            match pipe.vars.as_slice() {
                [] => {}
                [elem] => frame.vars.push((elem.clone(), item.clone())),
                [k, v, ..] => {
                    frame.vars.push((k.clone(), key));
                    frame.vars.push((v.clone(), item.clone()));
                }
            }
            let flow = self.list(body, &item, frame, out)?;
            frame.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn exec_err(&self, frame: &Frame<'_>, pos: Pos, at: &str, message: String) -> Error {
        Error::Exec {
            template: frame.name.to_owned(),
            line: pos.line,
            col: pos.col,
            at: at.to_owned(),
            message,
        }
    }

    fn pipe(&mut self, pipe: &Pipe, dot: &Value, frame: &mut Frame<'_>) -> Result<Value, Error> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.cmd(cmd, dot, frame, value, pipe)?);
        }
        let value = value.unwrap_or_default();
        for var in &pipe.vars {
            if pipe.assign {
                match frame.vars.iter_mut().rev().find(|(n, _)| n == var) {
                    Some(slot) => slot.1 = value.clone(),
                    None => {
                        return Err(self.exec_err(
                            frame,
                            pipe.pos,
                            &pipe.text,
                            format!("undefined variable: {var}"),
                        ));
                    }
                }
            } else {
                frame.vars.push((var.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn cmd(
        &mut self,
        cmd: &Cmd,
        dot: &Value,
        frame: &mut Frame<'_>,
        last: Option<Value>,
        pipe: &Pipe,
    ) -> Result<Value, Error> {
        let err = |this: &Self, frame: &Frame<'_>, message: String| {
            this.exec_err(frame, cmd.pos, &pipe.text, message)
        };
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match first {
            Arg::Ident(name) => self.call(name, rest, dot, frame, last, cmd, pipe),
            Arg::Field(fields) => {
                let receiver = dot.clone();
                self.chain(receiver, fields, rest, dot, frame, last, cmd, pipe)
            }
            Arg::Var(name, fields) => {
                let value = self
                    .var(name, frame)
                    .ok_or_else(|| err(self, frame, format!("undefined variable: {name}")))?;
                self.chain(value, fields, rest, dot, frame, last, cmd, pipe)
            }
            Arg::Sub(sub, fields) => {
                let value = self.pipe(sub, dot, frame)?;
                self.chain(value, fields, rest, dot, frame, last, cmd, pipe)
            }
            Arg::Nil => Err(err(self, frame, "nil is not a command".into())),
            literal => {
                if !rest.is_empty() || last.is_some() {
                    let shown = print::to_string(&self.arg(literal, dot, frame, pipe)?);
                    return Err(err(
                        self,
                        frame,
                        format!("can't give argument to non-function {shown}"),
                    ));
                }
                self.arg(literal, dot, frame, pipe)
            }
        }
    }

    fn var(&self, name: &str, frame: &Frame<'_>) -> Option<Value> {
        frame
            .vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    /// An operand's value (functions named as operands are called without arguments).
    fn arg(
        &mut self,
        arg: &Arg,
        dot: &Value,
        frame: &mut Frame<'_>,
        pipe: &Pipe,
    ) -> Result<Value, Error> {
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Str(s) => Value::str(s),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Field(_) | Arg::Var(..) | Arg::Sub(..) | Arg::Ident(_) => {
                let cmd = Cmd {
                    args: vec![arg.clone()],
                    pos: pipe.pos,
                };
                self.cmd(&cmd, dot, frame, None, pipe)?
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn chain(
        &mut self,
        mut value: Value,
        fields: &[String],
        rest: &[Arg],
        dot: &Value,
        frame: &mut Frame<'_>,
        last: Option<Value>,
        cmd: &Cmd,
        pipe: &Pipe,
    ) -> Result<Value, Error> {
        if fields.is_empty() {
            if !rest.is_empty() || last.is_some() {
                return Err(self.exec_err(
                    frame,
                    cmd.pos,
                    &pipe.text,
                    format!(
                        "can't give argument to non-function {}",
                        print::to_string(&value)
                    ),
                ));
            }
            return Ok(value);
        }
        // A chain that starts from nothing (a nil cursor, variable or parenthesised
        // pipeline: Go's invalid value) gives nothing; a nil met inside the chain is an error.
        if matches!(value, Value::Nil) {
            return Ok(Value::Nil);
        }
        let (init, tail) = fields.split_at(fields.len() - 1);
        for name in init {
            value = self.field(value, name, &[], frame, cmd, pipe)?;
        }
        let mut args = Vec::new();
        for a in rest {
            args.push(self.arg(a, dot, frame, pipe)?);
        }
        args.extend(last);
        self.field(value, &tail[0], &args, frame, cmd, pipe)
    }

    fn field(
        &mut self,
        receiver: Value,
        name: &str,
        args: &[Value],
        frame: &Frame<'_>,
        cmd: &Cmd,
        pipe: &Pipe,
    ) -> Result<Value, Error> {
        let fail = |message: String| self.exec_err(frame, cmd.pos, &pipe.text, message);
        match &receiver {
            Value::Map(map) => {
                if !args.is_empty() {
                    return Err(fail(format!("{name} is not a method but has arguments")));
                }
                Ok(map.get(name).unwrap_or(Value::Nil))
            }
            Value::Object(object) => {
                if let Some(result) = object.call(name, args) {
                    return result.map_err(|e| fail(format!("error calling {name}: {e}")));
                }
                if !args.is_empty() {
                    return Err(fail(format!(
                        "{name} has arguments but cannot be invoked as function"
                    )));
                }
                object.field(name).ok_or_else(|| {
                    fail(format!(
                        "can't evaluate field {name} in type {}",
                        object.type_name()
                    ))
                })
            }
            // Helm's `.Capabilities.APIVersions` is a string slice with a `Has` method.
            Value::List(items) if name == "Has" => {
                let wanted = args.first().and_then(Value::as_str).unwrap_or_default();
                Ok(Value::Bool(
                    items.iter().any(|v| v.as_str() == Some(wanted)),
                ))
            }
            Value::Nil => Err(fail(format!(
                "nil pointer evaluating interface {{}}.{name}"
            ))),
            other => Err(fail(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            ))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        name: &str,
        rest: &[Arg],
        dot: &Value,
        frame: &mut Frame<'_>,
        last: Option<Value>,
        cmd: &Cmd,
        pipe: &Pipe,
    ) -> Result<Value, Error> {
        // `and` and `or` stop at the first operand that decides.
        if name == "and" || name == "or" {
            let count = rest.len() + usize::from(last.is_some());
            if count == 0 {
                return Err(self.exec_err(
                    frame,
                    cmd.pos,
                    &pipe.text,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut value = Value::Nil;
            for a in rest {
                value = self.arg(a, dot, frame, pipe)?;
                let decided = if name == "and" {
                    !value.truthy()
                } else {
                    value.truthy()
                };
                if decided {
                    return Ok(value);
                }
            }
            if let Some(l) = last {
                value = l;
            }
            return Ok(value);
        }
        let mut args = Vec::new();
        for a in rest {
            args.push(self.arg(a, dot, frame, pipe)?);
        }
        args.extend(last);
        let result = if let Some(f) = self.templates.exec_funcs.get(name).cloned() {
            f(self, &args)
        } else if let Some(f) = self.templates.funcs.get(name).cloned() {
            f(&args)
        } else if let Some(result) = builtin(name, &args) {
            result
        } else {
            return Err(Error::Parse {
                template: frame.name.to_owned(),
                line: cmd.pos.line,
                col: cmd.pos.col,
                message: format!("function \"{name}\" not defined"),
            });
        };
        result.map_err(|e| {
            self.exec_err(
                frame,
                cmd.pos,
                &pipe.text,
                format!("error calling {name}: {e}"),
            )
        })
    }
}

#[derive(PartialEq, Eq, Debug, Clone, Copy)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Nil => Kind::Invalid,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq`: `a` equals one of `others`.
fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in others {
        let (ka, kb) = (kind(a), kind(b));
        if ka != kb {
            if ka != Kind::Invalid && kb != Kind::Invalid {
                return Err("incompatible types for comparison".into());
            }
            continue;
        }
        let truth = match (a, b) {
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::Str(x), Value::Str(y)) => x == y,
            (Value::Nil, Value::Nil) => true,
            _ => {
                return Err(format!(
                    "non-comparable type {}: {}",
                    print::to_string(b),
                    b.type_name()
                ));
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn less(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x < y),
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        (Value::Str(x), Value::Str(y)) => Ok(x < y),
        _ if kind(a) != kind(b) => Err("incompatible types for comparison".into()),
        _ => Err("invalid type for comparison".into()),
    }
}

/// An error unless `args` has `n` operands, in Go's wording.
pub(crate) fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn to_index(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

/// Go's built-in template functions (except `and`/`or`, evaluated lazily by the executor).
fn builtin(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    Some(match name {
        "not" => want(name, args, 1).map(|()| Value::Bool(!args[0].truthy())),
        "len" => want(name, args, 1).and_then(|()| match &args[0] {
            Value::Str(s) => Ok(Value::Int(s.len() as i64)),
            Value::List(l) => Ok(Value::Int(l.len() as i64)),
            Value::Map(m) => Ok(Value::Int(m.len() as i64)),
            Value::Nil => Err("len of nil pointer".into()),
            other => Err(format!("len of type {}", other.type_name())),
        }),
        "index" => {
            if args.is_empty() {
                return Some(Err(
                    "wrong number of args for index: want at least 1 got 0".into()
                ));
            }
            let mut value = args[0].clone();
            for key in &args[1..] {
                value = match (&value, key) {
                    (Value::List(items), k) => match to_index(k) {
                        Ok(i) if i >= 0 && (i as usize) < items.len() => items[i as usize].clone(),
                        Ok(i) => {
                            return Some(Err(format!(
                                "error calling index: index out of range: {i}"
                            )));
                        }
                        Err(e) => return Some(Err(e)),
                    },
                    (Value::Str(s), k) => match to_index(k) {
                        Ok(i) if i >= 0 && (i as usize) < s.len() => {
                            Value::Int(i64::from(s.as_bytes()[i as usize]))
                        }
                        Ok(i) => return Some(Err(format!("index out of range: {i}"))),
                        Err(e) => return Some(Err(e)),
                    },
                    (Value::Map(map), Value::Str(k)) => map.get(k).unwrap_or(Value::Nil),
                    (Value::Map(_), k) => {
                        return Some(Err(format!(
                            "value has type {}; should be string",
                            k.type_name()
                        )));
                    }
                    (Value::Nil, _) => return Some(Err("index of untyped nil".into())),
                    (other, _) => {
                        return Some(Err(format!(
                            "can't index item of type {}",
                            other.type_name()
                        )));
                    }
                };
            }
            Ok(value)
        }
        "slice" => {
            if args.is_empty() {
                return Some(Err(
                    "wrong number of args for slice: want at least 1 got 0".into()
                ));
            }
            let bounds: Result<Vec<i64>, String> = args[1..].iter().map(to_index).collect();
            let bounds = match bounds {
                Ok(b) => b,
                Err(e) => return Some(Err(e)),
            };
            let len = match &args[0] {
                Value::List(l) => l.len(),
                Value::Str(s) => s.len(),
                other => {
                    return Some(Err(format!(
                        "can't slice item of type {}",
                        other.type_name()
                    )));
                }
            } as i64;
            let from = bounds.first().copied().unwrap_or(0);
            let to = bounds.get(1).copied().unwrap_or(len);
            if from < 0 || to < from || to > len {
                return Some(Err(format!("index out of range: {to}")));
            }
            Ok(match &args[0] {
                Value::List(l) => Value::list(l[from as usize..to as usize].to_vec()),
                Value::Str(s) => Value::str(&s[from as usize..to as usize]),
                _ => Value::Nil,
            })
        }
        "print" => Ok(Value::str(print::sprint(args))),
        "println" => Ok(Value::str(print::sprintln(args))),
        "printf" => match args.first() {
            Some(Value::Str(format)) => Ok(Value::str(print::sprintf(format, &args[1..]))),
            Some(other) => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            None => Err("wrong number of args for printf: want at least 1 got 0".into()),
        },
        "eq" => match args.split_first() {
            Some((a, rest)) => eq(a, rest).map(Value::Bool),
            None => Err("missing argument for comparison".into()),
        },
        "ne" => {
            want(name, args, 2).and_then(|()| eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b)))
        }
        "lt" => want(name, args, 2).and_then(|()| less(&args[0], &args[1]).map(Value::Bool)),
        "le" => want(name, args, 2).and_then(|()| {
            Ok(Value::Bool(
                less(&args[0], &args[1])? || eq(&args[0], &args[1..2])?,
            ))
        }),
        "gt" => want(name, args, 2).and_then(|()| {
            Ok(Value::Bool(
                !(less(&args[0], &args[1])? || eq(&args[0], &args[1..2])?),
            ))
        }),
        "ge" => {
            want(name, args, 2).and_then(|()| less(&args[0], &args[1]).map(|b| Value::Bool(!b)))
        }
        "html" => Ok(Value::str(
            print::sprint(args)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"),
        )),
        "js" => Ok(Value::str(
            print::sprint(args)
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('"', "\\\"")
                .replace('<', "\\u003C")
                .replace('>', "\\u003E"),
        )),
        "urlquery" => Ok(Value::str(
            print::sprint(args)
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".to_owned(),
                    other => format!("%{other:02X}"),
                })
                .collect::<String>(),
        )),
        _ => return None,
    })
}
