//! Name references: after names changed (prefix, suffix, hash, namespace), every field that
//! refers to a renamed object by name is updated (kustomize's "back references").

use serde_json::{Map, Value};

use crate::Error;
use crate::config::NameBackRefs;
use crate::fieldspec::{self, Create};
use crate::resid::{Gvk, ResId};
use crate::resource::{ResMap, Resource};
use crate::types::FieldSpec;

/// What the reference fixer needs to know of a possible target; names do not change while it
/// runs, so it is taken once.
struct Candidate {
    cur: ResId,
    /// The current id's effective namespace (`None` when cluster-scoped).
    ns: Option<String>,
    org: ResId,
    prev: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Candidate {
    fn of(r: &Resource) -> Self {
        let cur = r.cur_id();
        let ns = (!cur.gvk.is_cluster_scoped()).then(|| cur.effective_namespace().to_owned());
        Candidate {
            cur,
            ns,
            org: r.org_id(),
            prev: r.prev_ids(),
            prefixes: r.prefixes.clone(),
            suffixes: r.suffixes.clone(),
        }
    }

    fn affixes_equal(&self, prefixes: &[String], suffixes: &[String], allow_empty: bool) -> bool {
        // kustomize's SameEndingSubSlice: the shorter list ends the longer one, and an empty
        // list only matches an empty list.
        let same = |a: &[String], b: &[String]| {
            let n = a.len().min(b.len());
            if n == 0 {
                return a.len() == b.len();
            }
            a[a.len() - n..] == b[b.len() - n..]
        };
        if allow_empty {
            (self.prefixes.is_empty() || prefixes.is_empty() || same(&self.prefixes, prefixes))
                && (self.suffixes.is_empty()
                    || suffixes.is_empty()
                    || same(&self.suffixes, suffixes))
        } else {
            same(&self.prefixes, prefixes) && same(&self.suffixes, suffixes)
        }
    }
}

/// The referrer's side of one update.
struct Referrer<'a> {
    cur: ResId,
    prefixes: &'a [String],
    suffixes: &'a [String],
    role_ref: Option<Gvk>,
}

/// Updates every name reference in `resources` according to `backrefs`.
pub(crate) fn fix(resources: &mut ResMap, backrefs: &[NameBackRefs]) -> Result<(), Error> {
    let candidates: Vec<Candidate> = resources.list.iter().map(Candidate::of).collect();
    let mut by_namespace: std::collections::HashMap<&str, Vec<usize>> =
        std::collections::HashMap::new();
    let mut cluster_scoped = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        match &c.ns {
            Some(ns) => by_namespace.entry(ns.as_str()).or_default().push(i),
            None => cluster_scoped.push(i),
        }
    }
    let groups = Index {
        all: candidates.len(),
        by_namespace: &by_namespace,
        cluster_scoped: &cluster_scoped,
    };
    for index in 0..resources.list.len() {
        let org = candidates[index].org.clone();
        let mut filters: Vec<(&FieldSpec, Gvk)> = Vec::new();
        for br in backrefs {
            for spec in &br.referrers {
                if org.gvk.is_selected_by(&spec.gvk()) {
                    filters.push((spec, br.gvk()));
                }
            }
        }
        if filters.is_empty() {
            continue;
        }
        let res = &resources.list[index];
        let allowed = reachable(&groups, res)?;
        let prefixes = res.prefixes.clone();
        let suffixes = res.suffixes.clone();
        let role_ref = res
            .obj
            .get("roleRef")
            .and_then(Value::as_object)
            .and_then(|r| {
                Some(Gvk::new(
                    r.get("apiGroup")?.as_str()?,
                    "",
                    r.get("kind")?.as_str()?,
                ))
            });
        let referrer = Referrer {
            cur: candidates[index].cur.clone(),
            prefixes: &prefixes,
            suffixes: &suffixes,
            role_ref,
        };
        let res = &mut resources.list[index];
        for (spec, target) in filters {
            // The referrer was selected by its original kind; the field is walked whatever
            // its current kind is.
            let walk_spec = FieldSpec {
                path: spec.path.clone(),
                create_if_not_present: spec.create_if_not_present,
                ..FieldSpec::default()
            };
            let ctx = Ctx {
                candidates: &candidates,
                allowed: &allowed,
                target: &target,
                referrer: &referrer,
                role_ref_field: spec.path.ends_with("roleRef/name"),
            };
            fieldspec::apply(&mut res.obj, &walk_spec, Create::Nothing, &mut |node| {
                ctx.set(node)
            })
            .map_err(|message| Error::Build {
                context: format!(
                    "updating name reference in '{}' field of '{}'",
                    spec.path, referrer.cur
                ),
                message,
            })?;
        }
    }
    Ok(())
}

/// Candidates grouped for [`reachable`].
struct Index<'a> {
    all: usize,
    by_namespace: &'a std::collections::HashMap<&'a str, Vec<usize>>,
    cluster_scoped: &'a [usize],
}

/// Indices of resources `referrer` may refer to, in resource order: everything for
/// cluster-scoped referrers, otherwise cluster-scoped objects, objects in its namespace, and
/// for RoleBindings objects in the namespaces of its ServiceAccount subjects.
fn reachable(index: &Index<'_>, referrer: &Resource) -> Result<Vec<usize>, Error> {
    let rid = referrer.cur_id();
    if rid.gvk.is_cluster_scoped() {
        return Ok((0..index.all).collect());
    }
    let mut namespaces = vec![rid.effective_namespace().to_owned()];
    if referrer.kind() == "RoleBinding"
        && let Some(Value::Array(subjects)) = referrer.obj.get("subjects")
    {
        for s in subjects.iter().filter_map(Value::as_object) {
            if let (Some(ns), Some(kind)) = (s.get("namespace"), s.get("kind"))
                && kind.as_str() == Some("ServiceAccount")
            {
                match ns.as_str() {
                    Some(ns) => namespaces.push(ns.to_owned()),
                    None => {
                        return Err(Error::Build {
                            context: rid.to_string(),
                            message: "invalid input: a ServiceAccount subject's namespace is not a string".into(),
                        });
                    }
                }
            }
        }
    }
    let mut out: Vec<usize> = index.cluster_scoped.to_vec();
    for ns in &namespaces {
        if let Some(list) = index.by_namespace.get(ns.as_str()) {
            out.extend(list);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

struct Ctx<'a> {
    candidates: &'a [Candidate],
    allowed: &'a [usize],
    target: &'a Gvk,
    referrer: &'a Referrer<'a>,
    role_ref_field: bool,
}

impl Ctx<'_> {
    fn set(&self, node: &mut Value) -> Result<(), String> {
        match node {
            Value::Null => Ok(()),
            Value::Object(map) => self.set_mapping(map),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Null => {}
                        Value::Object(map) => self.set_mapping(map)?,
                        Value::Array(_) => {
                            return Err(
                                "a name reference list item must be a string or a map".into()
                            );
                        }
                        scalar => self.set_scalar(scalar)?,
                    }
                }
                Ok(())
            }
            scalar => self.set_scalar(scalar),
        }
    }

    fn set_scalar(&self, node: &mut Value) -> Result<(), String> {
        let Value::String(old) = node else {
            return Ok(());
        };
        let chosen = self.select(old, self.allowed.to_vec(), false)?;
        if let Some(c) = chosen
            && c.cur.name != *old
        {
            *node = Value::String(c.cur.name.clone());
        }
        Ok(())
    }

    fn set_mapping(&self, map: &mut Map<String, Value>) -> Result<(), String> {
        let Some(old) = map.get("name") else {
            return Err("path config error; no 'name' field in node".into());
        };
        let old = match old {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let pool: Vec<usize> = match map.get("namespace").and_then(Value::as_str) {
            None if map.contains_key("namespace") => self.allowed.to_vec(),
            None => self.allowed.to_vec(),
            Some(ns) => {
                let by = |f: &dyn Fn(&Candidate) -> &ResId| -> Vec<usize> {
                    self.allowed
                        .iter()
                        .copied()
                        .filter(|i| {
                            let id = f(&self.candidates[*i]);
                            !id.gvk.is_cluster_scoped() && id.effective_namespace() == ns
                        })
                        .collect()
                };
                let original = by(&|c| &c.org);
                if original.is_empty() {
                    by(&|c| &c.cur)
                } else {
                    original
                }
            }
        };
        let Some(c) = self.select(&old, pool, true)? else {
            return Ok(());
        };
        if c.cur.name == old && c.cur.namespace.is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(c.cur.name.clone()));
        if !c.cur.namespace.is_empty() {
            map.insert("namespace".into(), Value::String(c.cur.namespace.clone()));
        }
        Ok(())
    }

    /// kustomize's selectReferral: narrows the pool step by step until one target is left.
    fn select(
        &self,
        old: &str,
        pool: Vec<usize>,
        with_namespace: bool,
    ) -> Result<Option<&Candidate>, String> {
        let c = |i: &usize| &self.candidates[*i];
        let mut pool: Vec<usize> = pool
            .into_iter()
            .filter(|i| c(i).prev.iter().any(|id| id.name == old))
            .filter(|i| {
                c(i).prev
                    .iter()
                    .any(|id| id.gvk.is_selected_by(self.target))
            })
            .collect();
        if self.role_ref_field
            && let Some(gvk) = &self.referrer.role_ref
        {
            pool.retain(|i| c(i).prev.iter().any(|id| id.gvk.is_selected_by(gvk)));
        }
        let rid = &self.referrer.cur;
        if !rid.gvk.is_cluster_scoped() {
            pool.retain(|i| {
                let cand = c(i);
                cand.cur.gvk.is_cluster_scoped()
                    || cand.cur.gvk.kind == "ServiceAccount"
                    || rid.ns_equals(&cand.cur)
            });
        }
        if pool.len() == 1 {
            return Ok(Some(c(&pool[0])));
        }
        let (pre, suf) = (self.referrer.prefixes, self.referrer.suffixes);
        pool.retain(|i| c(i).affixes_equal(pre, suf, true));
        if pool.len() > 1 {
            pool.retain(|i| c(i).affixes_equal(pre, suf, false));
        }
        match pool.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(c(one))),
            [first, rest @ ..] => {
                let f = c(first);
                let identical = rest.iter().all(|i| {
                    c(i).cur.name == f.cur.name
                        && (!with_namespace || c(i).cur.namespace == f.cur.namespace)
                });
                if identical {
                    Ok(Some(f))
                } else {
                    Err(format!(
                        "found multiple possible referrals: {}",
                        pool.iter()
                            .map(|i| c(i).cur.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    }
}
