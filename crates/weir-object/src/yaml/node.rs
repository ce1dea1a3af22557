//! The node tree of one document, built from the parser's events.
//!
//! yaml.v3 first builds a node tree and only then decodes it, and several of its rules are
//! about nodes rather than values: duplicate keys compare the raw text of key nodes, merge
//! keys are recognised by their node, and aliases point at nodes. Keeping the same two steps
//! keeps those rules simple. Aliases stay references here; the decoder expands them under a
//! budget, so the tree is never larger than the input.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};

use super::Error;

/// Index of a node in [`Tree::nodes`].
pub(super) type NodeId = usize;

/// One YAML node and where it starts.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) kind: NodeKind,
    /// 1-based line.
    pub(super) line: usize,
    /// 1-based column.
    pub(super) column: usize,
}

#[derive(Debug)]
pub(super) enum NodeKind {
    Scalar {
        text: String,
        /// Plain scalars are resolved; quoted and block scalars are strings unless tagged.
        style: ScalarStyle,
        /// The explicit tag in yaml.v3's short form (`!!int`, `!custom`), `None` when absent or
        /// the non-specific `!`.
        tag: Option<String>,
    },
    Sequence(Vec<NodeId>),
    /// Keys and values alternate, as in yaml.v3's `Node.Content`.
    Mapping(Vec<NodeId>),
    Alias {
        target: NodeId,
        /// The anchor's name, for messages.
        name: String,
    },
}

/// The nodes of one document; the root is the first node.
#[derive(Debug, Default)]
pub(super) struct Tree {
    pub(super) nodes: Vec<Node>,
}

impl Tree {
    pub(super) fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

/// Collects the events of a stream into one tree per document and hands each finished tree to
/// `on_document`.
pub(super) fn for_each_document(
    path: &str,
    text: &str,
    mut on_document: impl FnMut(Tree) -> Result<(), Error>,
) -> Result<(), Error> {
    check_characters(path, text)?;
    let mut options = granit_parser::options! {
        // libyaml (and so yaml.v3) adds no line feed to a block scalar cut off by the end of
        // the input.
        block_scalar_eof_without_line_feed: true,
        emit_anchor_events: true,
    };
    options.set_emit_comments(false);
    let mut builder = Builder::default();
    for event in Parser::new_from_str_with_options(text, options) {
        let (event, span) = event.map_err(|err| syntax_error(path, &err))?;
        match event {
            Event::DocumentStart(..) => builder = Builder::default(),
            Event::DocumentEnd => on_document(std::mem::take(&mut builder.tree))?,
            Event::Scalar(value, style, anchor, tag) => {
                let kind = NodeKind::Scalar {
                    text: value.into_owned(),
                    style,
                    tag: short_tag(tag.as_deref()),
                };
                builder.add(kind, anchor, span, path)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                let id = builder.add(NodeKind::Sequence(Vec::new()), anchor, span, path)?;
                builder.open.push(id);
            }
            Event::MappingStart(_, anchor, _) => {
                let id = builder.add(NodeKind::Mapping(Vec::new()), anchor, span, path)?;
                builder.open.push(id);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                builder.open.pop();
            }
            Event::Alias(anchor) => {
                let Some(&target) = builder.anchors.get(&anchor) else {
                    return Err(invalid(path, span, "alias to an unknown anchor"));
                };
                let name = builder.names.get(&anchor).cloned().unwrap_or_default();
                builder.add(NodeKind::Alias { target, name }, 0, span, path)?;
            }
            Event::Anchor(anchor, name) => {
                builder.names.insert(anchor, name.into_owned());
            }
            _ => {}
        }
    }
    Ok(())
}

#[derive(Default)]
struct Builder {
    tree: Tree,
    /// Collections still receiving children.
    open: Vec<NodeId>,
    /// Parser anchor ids to the nodes that define them.
    anchors: HashMap<usize, NodeId>,
    names: HashMap<usize, String>,
}

impl Builder {
    fn add(
        &mut self,
        kind: NodeKind,
        anchor: usize,
        span: Span,
        path: &str,
    ) -> Result<NodeId, Error> {
        let id = self.tree.nodes.len();
        self.tree.nodes.push(Node {
            kind,
            line: span.start.line(),
            column: span.start.col() + 1,
        });
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
        if let Some(&parent) = self.open.last() {
            match &mut self.tree.nodes[parent].kind {
                NodeKind::Sequence(children) | NodeKind::Mapping(children) => children.push(id),
                _ => return Err(invalid(path, span, "node outside of any collection")),
            }
        }
        Ok(id)
    }
}

/// libyaml's reader refuses control characters anywhere in the input, even in comments and
/// quoted text (they can only be written as escapes).
fn check_characters(path: &str, text: &str) -> Result<(), Error> {
    let refused = |c: char| {
        matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\x7f'..='\u{84}')
            || matches!(c, '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
    };
    let Some(offset) = text.find(refused) else {
        return Ok(());
    };
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    Err(Error::Syntax {
        path: path.to_owned(),
        line,
        column,
        message: "control characters are not allowed".to_owned(),
    })
}

/// yaml.v3's short form of a tag: `tag:yaml.org,2002:int` becomes `!!int`; the non-specific
/// tag `!` counts as no tag.
fn short_tag(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    let full = format!("{}{}", tag.handle(), tag.suffix());
    match full.strip_prefix("tag:yaml.org,2002:") {
        Some(core) => Some(format!("!!{core}")),
        None if full == "!" || full.is_empty() => None,
        None => Some(full),
    }
}

fn syntax_error(path: &str, err: &ScanError) -> Error {
    Error::Syntax {
        path: path.to_owned(),
        line: err.marker().line().max(1),
        column: err.marker().col() + 1,
        message: err.info(),
    }
}

fn invalid(path: &str, span: Span, message: &str) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.to_owned(),
    }
}
