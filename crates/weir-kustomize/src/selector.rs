//! Selecting resources: kustomize's `target`/`select` selectors (GVK, name and namespace as
//! anchored regular expressions, label and annotation selectors).

use regex::Regex;

use crate::resource::Resource;
use crate::types::Selector;

/// A selector with its regular expressions compiled.
pub(crate) struct Compiled<'a> {
    sel: &'a Selector,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<LabelSelector>,
    annotations: Option<LabelSelector>,
}

fn anchored(pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|e| format!("invalid regular expression '{pattern}': {e}"))
}

impl<'a> Compiled<'a> {
    /// Compiles a selector.
    pub(crate) fn new(sel: &'a Selector) -> Result<Self, String> {
        let parse = |s: &str| -> Result<Option<LabelSelector>, String> {
            if s.is_empty() {
                Ok(None)
            } else {
                LabelSelector::parse(s).map(Some)
            }
        };
        Ok(Compiled {
            sel,
            name: anchored(&sel.name)?,
            namespace: anchored(&sel.namespace)?,
            labels: parse(&sel.label_selector)?,
            annotations: parse(&sel.annotation_selector)?,
        })
    }

    /// Whether the resource is selected: by original or current name and namespace, current
    /// GVK, labels and annotations.
    pub(crate) fn matches(&self, r: &Resource) -> bool {
        let cur = r.cur_id();
        let org = r.org_id();
        if let Some(ns) = &self.namespace
            && !ns.is_match(org.effective_namespace())
            && !ns.is_match(cur.effective_namespace())
        {
            return false;
        }
        if let Some(name) = &self.name
            && !name.is_match(&org.name)
            && !name.is_match(&cur.name)
        {
            return false;
        }
        let sel_id = self.sel.res_id();
        if !cur.gvk.is_selected_by(&sel_id.gvk) {
            return false;
        }
        if let Some(l) = &self.labels
            && !l.matches(&r.string_map("labels"))
        {
            return false;
        }
        if let Some(a) = &self.annotations
            && !a.matches(&r.string_map("annotations"))
        {
            return false;
        }
        true
    }
}

/// A Kubernetes label selector (`a=b,c!=d,e in (f,g),!h`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl LabelSelector {
    /// Parses the label selector syntax of `kubectl -l`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || format!("unable to parse requirement '{part}' of selector '{text}'");
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement::NotExists(key.trim().to_owned())
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement::NotIn(k.trim().to_owned(), vec![v.trim().to_owned()])
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                Requirement::In(k.trim().to_owned(), vec![v.trim().to_owned()])
            } else if let Some((k, rest)) = split_word(part, " notin ") {
                Requirement::NotIn(k, set_values(&rest).ok_or_else(bad)?)
            } else if let Some((k, rest)) = split_word(part, " in ") {
                Requirement::In(k, set_values(&rest).ok_or_else(bad)?)
            } else if part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
            {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(bad());
            };
            requirements.push(req);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether a set of labels satisfies every requirement.
    pub(crate) fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_str())
        };
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

fn split_word(part: &str, word: &str) -> Option<(String, String)> {
    part.split_once(word)
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
}

fn set_values(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn label_selectors_follow_kubernetes_syntax() {
        let s =
            LabelSelector::parse("app=web,tier in (front, back),!legacy,env!=prod").expect("valid");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "front"),
            ("legacy", "")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "back"),
            ("env", "prod")
        ])));
        assert!(LabelSelector::parse("a in b").is_err());
    }
}
