//! Resources and the ordered set of them a build works on.
//!
//! kustomize keeps its bookkeeping (previous names, prefixes added, generator behaviour, ...)
//! in annotations it strips before printing; here it lives in typed fields next to the object.

use serde_json::{Map, Value};

use crate::Error;
use crate::resid::{Gvk, ResId};

/// What a generated resource does to one of the same id that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Behavior {
    /// Add; an existing one is an error.
    #[default]
    Create,
    /// Merge data and metadata into the existing one.
    Merge,
    /// Replace the existing one, keeping its metadata.
    Replace,
}

impl Behavior {
    /// Parses a generator's `behavior` (empty means create).
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s {
            "" | "create" => Ok(Behavior::Create),
            "merge" => Ok(Behavior::Merge),
            "replace" => Ok(Behavior::Replace),
            other => Err(format!(
                "unknown generator behavior '{other}' (expected create, merge or replace)"
            )),
        }
    }
}

/// One Kubernetes object under construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The object.
    pub obj: Map<String, Value>,
    /// Ids it had before renames, oldest first: (name, namespace, kind).
    pub(crate) previous: Vec<(String, String, String)>,
    /// Name prefixes added, in order.
    pub(crate) prefixes: Vec<String>,
    /// Name suffixes added, in order.
    pub(crate) suffixes: Vec<String>,
    /// Generator behaviour, for generated resources.
    pub(crate) behavior: Option<Behavior>,
    /// Whether the content-hash suffix is to be appended to the name.
    pub(crate) needs_hash: bool,
    /// Patch option: may change the target's name.
    pub(crate) allow_name_change: bool,
    /// Patch option: may change the target's kind.
    pub(crate) allow_kind_change: bool,
    /// Names of vars that read this resource.
    pub(crate) ref_var_names: Vec<String>,
    /// Where it was read from, for messages.
    pub(crate) origin: String,
    /// Build-metadata origin (only tracked when `buildMetadata` asks for it).
    pub(crate) build_origin: Option<crate::origin::Origin>,
    /// Build-metadata transformations applied to it.
    pub(crate) transformations: Vec<crate::origin::Origin>,
}

fn str_at<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> &'a str {
    let mut cur = obj;
    for (i, key) in path.iter().enumerate() {
        match cur.get(*key) {
            Some(Value::Object(next)) if i + 1 < path.len() => cur = next,
            Some(Value::String(s)) if i + 1 == path.len() => return s,
            _ => return "",
        }
    }
    ""
}

impl Resource {
    /// Wraps an object read from `origin`.
    pub fn new(obj: Map<String, Value>, origin: &str) -> Self {
        Resource {
            obj,
            previous: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            behavior: None,
            needs_hash: false,
            allow_name_change: false,
            allow_kind_change: false,
            ref_var_names: Vec::new(),
            origin: origin.to_owned(),
            build_origin: None,
            transformations: Vec::new(),
        }
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        str_at(&self.obj, &["apiVersion"])
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        str_at(&self.obj, &["kind"])
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        str_at(&self.obj, &["metadata", "name"])
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        str_at(&self.obj, &["metadata", "namespace"])
    }

    /// Group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    /// The current id.
    pub fn cur_id(&self) -> ResId {
        ResId::new(self.gvk(), self.name(), self.namespace())
    }

    /// Ids before renames (with the current group and version), oldest first.
    pub fn prev_ids(&self) -> Vec<ResId> {
        let gvk = self.gvk();
        self.previous
            .iter()
            .map(|(name, ns, kind)| ResId::new(Gvk::new(&gvk.group, &gvk.version, kind), name, ns))
            .collect()
    }

    /// The id it was loaded with.
    pub fn org_id(&self) -> ResId {
        self.prev_ids()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.cur_id())
    }

    /// Previous ids and the current one.
    pub fn all_ids(&self) -> Vec<ResId> {
        let mut ids = self.prev_ids();
        ids.push(self.cur_id());
        ids
    }

    /// Records the current id before a rename (kustomize's StorePreviousId).
    pub fn store_previous_id(&mut self) {
        let id = self.cur_id();
        let ns = id.effective_namespace().to_owned();
        self.previous.push((id.name, ns, id.gvk.kind));
    }

    fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let meta = self
            .obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        meta.as_object_mut()
            .expect("metadata was just made an object")
    }

    /// Sets `metadata.name`.
    pub fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.to_owned()));
    }

    /// Sets `metadata.namespace`; an empty namespace removes the field.
    pub fn set_namespace(&mut self, ns: &str) {
        if ns.is_empty() {
            self.metadata_mut().remove("namespace");
        } else {
            self.metadata_mut()
                .insert("namespace".into(), Value::String(ns.to_owned()));
        }
    }

    /// Sets `kind`.
    pub fn set_kind(&mut self, kind: &str) {
        self.obj
            .insert("kind".into(), Value::String(kind.to_owned()));
    }

    /// Sets `apiVersion`.
    pub fn set_api_version(&mut self, api_version: &str) {
        self.obj
            .insert("apiVersion".into(), Value::String(api_version.to_owned()));
    }

    /// A string map under metadata (`labels`, `annotations`); non-string values are skipped.
    pub fn string_map(&self, field: &str) -> Vec<(String, String)> {
        match self.obj.get("metadata").and_then(|m| m.get(field)) {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Replaces a metadata string map; an empty map removes the field.
    pub fn set_string_map(&mut self, field: &str, pairs: Vec<(String, String)>) {
        if pairs.is_empty() {
            self.metadata_mut().remove(field);
            return;
        }
        let map: Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        self.metadata_mut()
            .insert(field.to_owned(), Value::Object(map));
    }

    /// Whether the object has nothing left in it (deleted by a patch).
    pub fn is_empty(&self) -> bool {
        self.obj.is_empty()
    }
}

/// The resources of a build, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResMap {
    /// The resources.
    pub list: Vec<Resource>,
}

impl ResMap {
    /// Adds a resource; an existing resource with the same current id is an error.
    pub fn append(&mut self, res: Resource) -> Result<(), Error> {
        let id = res.cur_id();
        if self.list.iter().any(|r| r.cur_id().equals(&id)) {
            return Err(conflict(&id, &res));
        }
        self.list.push(res);
        Ok(())
    }

    /// Appends all of `other`; any id already present (or repeated in `other`) is an error.
    pub fn append_all(&mut self, other: ResMap) -> Result<(), Error> {
        // Bases are merged one after the other into a growing list: look at the (few)
        // incoming ids, and only compute full ids of existing resources whose name matches.
        let mut incoming: std::collections::HashSet<IdKey> = std::collections::HashSet::new();
        for r in &other.list {
            let id = r.cur_id();
            if !incoming.insert(IdKey::of(&id)) {
                return Err(conflict(&id, r));
            }
        }
        let names: std::collections::HashSet<&str> = other.list.iter().map(|r| r.name()).collect();
        for existing in &self.list {
            if names.contains(existing.name()) && incoming.contains(&IdKey::of(&existing.cur_id()))
            {
                let id = existing.cur_id();
                let culprit = other
                    .list
                    .iter()
                    .find(|r| r.cur_id().equals(&id))
                    .unwrap_or(existing);
                return Err(conflict(&id, culprit));
            }
        }
        self.list.extend(other.list);
        Ok(())
    }

    /// Adds generated resources, honouring their merge/replace behaviour.
    pub fn absorb_all(&mut self, other: ResMap) -> Result<(), Error> {
        for r in other.list {
            self.absorb(r)?;
        }
        Ok(())
    }

    fn absorb(&mut self, mut res: Resource) -> Result<(), Error> {
        let id = res.cur_id();
        let matches: Vec<usize> = self
            .list
            .iter()
            .enumerate()
            .filter(|(_, r)| r.all_ids().iter().any(|i| id.equals(i)))
            .map(|(i, _)| i)
            .collect();
        let behavior = res.behavior.unwrap_or_default();
        match matches.as_slice() {
            [] => match behavior {
                Behavior::Create => self.append(res),
                _ => Err(Error::Conflict {
                    message: format!("id {id} does not exist; cannot merge or replace"),
                    origin: res.origin.clone(),
                }),
            },
            [index] => {
                let old = &self.list[*index];
                if res.transformations.is_empty() {
                    res.transformations = old.transformations.clone();
                }
                match behavior {
                    Behavior::Replace => {
                        copy_merge_metadata(&mut res, old);
                        if res.build_origin.is_none() {
                            res.build_origin = old.build_origin.clone();
                        }
                    }
                    Behavior::Merge => {
                        copy_merge_metadata(&mut res, old);
                        for field in ["data", "binaryData"] {
                            merge_data_map(&mut res, old, field);
                        }
                        if old.build_origin.is_some() {
                            res.build_origin = old.build_origin.clone();
                        }
                    }
                    Behavior::Create => {
                        return Err(Error::Conflict {
                            message: format!("id {id} exists; behavior must be merge or replace"),
                            origin: res.origin.clone(),
                        });
                    }
                }
                self.list[*index] = res;
                Ok(())
            }
            _ => Err(Error::Conflict {
                message: format!("found multiple objects that could accept merge of {id}"),
                origin: res.origin.clone(),
            }),
        }
    }

    /// Resources whose current or previous ids match.
    pub fn matching_any_id(&self, f: impl Fn(&ResId) -> bool) -> Vec<usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, r)| r.all_ids().iter().any(&f))
            .map(|(i, _)| i)
            .collect()
    }

    /// Drops resources emptied by patches.
    pub fn drop_empties(&mut self) {
        self.list.retain(|r| !r.is_empty());
    }

    /// Records that a transformer ran over every resource (build metadata): resources without
    /// an origin are taken to come from it.
    pub(crate) fn record_transformer(&mut self, origin: Option<&crate::origin::Origin>) {
        let Some(origin) = origin else { return };
        for r in &mut self.list {
            match &r.build_origin {
                None => r.build_origin = Some(origin.clone()),
                Some(_) => r.transformations.push(origin.clone()),
            }
        }
    }
}

/// What makes two ids equal (kustomize's ResId.Equals): GVK, name and effective namespace.
#[derive(PartialEq, Eq, Hash)]
struct IdKey(String, String, String, String, String);

impl IdKey {
    fn of(id: &ResId) -> Self {
        IdKey(
            id.gvk.group.clone(),
            id.gvk.version.clone(),
            id.gvk.kind.clone(),
            id.name.clone(),
            id.effective_namespace().to_owned(),
        )
    }
}

fn conflict(id: &ResId, res: &Resource) -> Error {
    Error::Conflict {
        message: format!("may not add resource with an already registered id: {id}"),
        origin: res.origin.clone(),
    }
}

/// kustomize's CopyMergeMetaDataFieldsFrom: labels and annotations merged (the new resource's
/// win), name and namespace and bookkeeping taken from the old resource.
fn copy_merge_metadata(res: &mut Resource, old: &Resource) {
    for field in ["labels", "annotations"] {
        let mut merged = old.string_map(field);
        for (k, v) in res.string_map(field) {
            match merged.iter_mut().find(|(mk, _)| *mk == k) {
                Some(slot) => slot.1 = v,
                None => merged.push((k, v)),
            }
        }
        res.set_string_map(field, merged);
    }
    res.set_name(old.name());
    res.set_namespace(old.namespace());
    res.previous = old.previous.clone();
    res.prefixes = old.prefixes.clone();
    res.suffixes = old.suffixes.clone();
    res.ref_var_names = old.ref_var_names.clone();
    // The hash flag survives only when both had it (kustomize takes build annotations from the
    // old resource and drops the flag when the new one lacks it).
    res.needs_hash = res.needs_hash && old.needs_hash;
}

/// Merges `old`'s `field` map under `res`'s (the new values win).
fn merge_data_map(res: &mut Resource, old: &Resource, field: &str) {
    let old_map = old.obj.get(field).and_then(Value::as_object).cloned();
    let new_map = res.obj.get(field).and_then(Value::as_object).cloned();
    let mut merged = old_map.unwrap_or_default();
    for (k, v) in new_map.unwrap_or_default() {
        merged.insert(k, v);
    }
    if merged.is_empty() {
        res.obj.remove(field);
    } else {
        res.obj.insert(field.to_owned(), Value::Object(merged));
    }
}
