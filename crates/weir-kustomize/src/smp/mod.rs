//! Strategic merge patch, as `kustomize build` v5.5.0 applies `patches:` and
//! `patchesStrategicMerge:` entries.
//!
//! Kustomize does not use the Kubernetes apimachinery implementation but kyaml's `merge2`
//! (through api/filters/patchstrategicmerge), and the two differ. This module follows kyaml,
//! quirks included:
//!
//! - Maps merge field by field; `null` in the patch removes a field; scalars are replaced.
//! - A list merges by key only when its schema gives it the `merge` patch strategy. The keys
//!   are the schema's `x-kubernetes-list-map-keys` when present (container ports merge by
//!   `containerPort` and `protocol`, reconciling ports that lack a protocol), else its
//!   `x-kubernetes-patch-merge-key`; without a key the list is a set of primitives
//!   (`finalizers`). Every other list, including every list of a kind the schema does not
//!   know (custom resources), is replaced. `tolerations`, for one, is replaced.
//! - Elements from the patch come first, in patch order, followed by the target's elements the
//!   patch did not mention ([`ListOrder::Prepend`], which is what kustomize passes to kyaml).
//! - `$patch: delete|replace|merge` works on maps, on list elements and, as a `{$patch: ...}`
//!   element of its own, on whole associative lists; it is removed from the output. A
//!   `$patch: delete` at the top deletes the resource ([`Outcome::Deleted`]); a
//!   `$patch: replace` at the top leaves it unchanged (kustomize keeps the target's node,
//!   which kyaml's replace never touches). Other
//!   directives (`$retainKeys`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`)
//!   mean nothing to kyaml: they are merged in as ordinary fields and show up in the output.
//! - Elements lacking their merge key are not an error: kyaml handles them in ways that can
//!   reorder or drop other elements, and so does this module (see the tests).
//!
//! Schemas come from [`Schema`]: the built-in table of Kubernetes kinds, or a user's OpenAPI
//! document (kustomization `openapi: {path: ...}`), which in kustomize replaces the built-in
//! one. The schema of a resource is found by the target's `apiVersion` and `kind` (else the
//! patch's), and again for any nested object that names its own `apiVersion` and `kind` where
//! the schema has nothing. The built-in table comes from Kubernetes v1.36 where kustomize
//! embeds v1.21.2: API versions removed since are mapped to their successors, but kinds and
//! fields added since (`PodSpec.schedulingGates`, `autoscaling/v2`, ...) merge by key here
//! where kustomize, not knowing them, replaces their lists.
//!
//! Where JSON has lost what kyaml looks at, the results can differ from kustomize's:
//!
//! - A null in the target is kept, as kustomize keeps `key: null` and `key: ~`; kustomize
//!   drops an empty `key:` instead, which JSON cannot tell apart.
//! - kyaml gives a replacing scalar the quoting of the scalar it replaces. For a target string
//!   that can only have been quoted (`"8080"`, `"true"`) a number or boolean from the patch
//!   becomes a string here too; for one that may have been plain (`http`) it stays a number.
//! - kyaml's schemas in YAML comments (`# {"$ref": ...}`) are not read.
//!
//! Non-goals: restoring the target's name, kind and namespace after the merge (the patch
//! transformer does that), comments and YAML styles, and the apimachinery flavour of strategic
//! merge (`kubectl patch`), whose directive handling differs.

mod plain;
mod schema;
mod tree;
mod walk;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use schema::Schema;
pub use tree::NodeKind;

/// How a merge orders list elements and finds merge keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Where elements new to the target go.
    pub list_order: ListOrder,
    /// Merge lists that have no schema by their elements' `name` field, when every element
    /// has one (kyaml's `InferAssociativeLists`; kustomize's patches leave it off).
    pub infer_associative_lists: bool,
}

/// kyaml's `ListIncreaseDirection`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// The patch's elements first, then the target's others (kustomize's patches).
    #[default]
    Prepend,
    /// The target's elements first, then the patch's new ones.
    Append,
}

/// What a patch did to its target.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The merged object.
    Merged(Value),
    /// The patch deleted the whole object (`$patch: delete` at the top, or nothing left): the
    /// caller removes the resource.
    Deleted,
}

/// Why a strategic merge patch could not be applied. `path` is the field path in the
/// target, such as `spec.template.spec.containers[name=app].ports`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Target and patch have different kinds of value at the same place.
    #[error("{path}: cannot merge a {patch} from the patch into a {target}")]
    KindMismatch {
        /// Where.
        path: String,
        /// Kind of value in the target.
        target: NodeKind,
        /// Kind of value in the patch.
        patch: NodeKind,
    },
    /// A `$patch` directive with a value other than `replace`, `merge` or `delete`.
    #[error(
        "{path}: unknown patch strategy {value:?} in $patch (expected replace, merge or delete)"
    )]
    UnknownDirective {
        /// Where.
        path: String,
        /// The value found.
        value: String,
    },
    /// A keyed list holds an element of the wrong kind (such as a string among containers).
    #[error("{path}: list element is a {found}, expected a {expected}")]
    ElementKind {
        /// The list, or the element being merged.
        path: String,
        /// What the merge needed.
        expected: NodeKind,
        /// What it found.
        found: NodeKind,
    },
    /// When inferring merge keys: a list without a schema whose elements lack `name`.
    #[error("{path}: no merge key found (the list has no schema and its elements have no name)")]
    NoMergeKey {
        /// Where.
        path: String,
    },
    /// When inferring merge keys: target and patch lists disagree on the key.
    #[error("{path}: conflicting merge keys {first:?} and {second:?}")]
    ConflictingMergeKeys {
        /// Where.
        path: String,
        /// One list's key.
        first: String,
        /// The other's (empty when it has none).
        second: String,
    },
    /// The documents nest deeper than the merge follows.
    #[error("{path}: nested more than {limit} levels deep")]
    TooDeep {
        /// Where the limit was reached.
        path: String,
        /// The limit.
        limit: usize,
    },
}

/// Why an OpenAPI document could not be used as a merge schema. `path` is the place in the
/// document, such as `definitions.v1alpha1.MyCRD.properties`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The document, or a schema inside it, is not an object.
    #[error("OpenAPI schema: {} is not an object", if path.is_empty() { "the document" } else { path })]
    NotAnObject {
        /// Where.
        path: String,
    },
    /// A merge extension or `$ref` has the wrong type.
    #[error("OpenAPI schema: {path} is not a string (or list of strings)")]
    Extension {
        /// Where.
        path: String,
    },
    /// An `x-kubernetes-group-version-kind` entry lacks a string `version` or `kind`.
    #[error("OpenAPI schema: {path}: an entry has no string {field:?}")]
    GroupVersionKind {
        /// Where.
        path: String,
        /// The missing field.
        field: String,
    },
}

/// Applies `patch` to `target` the way `kustomize build` applies a strategic merge patch.
///
/// Neither argument is modified. The result's object key order is not meaningful (output is
/// sorted when printed); list order is.
pub fn apply(target: &Value, patch: &Value, schema: &Schema) -> Result<Outcome, Error> {
    apply_with(target, patch, schema, Options::default())
}

/// [`apply`] with explicit [`Options`].
pub fn apply_with(
    target: &Value,
    patch: &Value,
    schema: &Schema,
    options: Options,
) -> Result<Outcome, Error> {
    let too_deep = || Error::TooDeep {
        path: "(root)".into(),
        limit: walk::MAX_DEPTH,
    };
    let mut tree = tree::Tree::default();
    let dest = tree
        .add_json(target, walk::MAX_DEPTH)
        .ok_or_else(too_deep)?;
    let origin = tree.add_json(patch, walk::MAX_DEPTH).ok_or_else(too_deep)?;
    let mut merge = walk::Merge {
        tree,
        schema,
        options,
    };
    if merge.run(dest, origin)?.is_none() {
        return Ok(Outcome::Deleted);
    }
    // kustomize's `Resource.ApplyFilter` only asks whether kyaml returned a node; the resource
    // keeps its own node as the merge changed it in place. So the result is the target node,
    // and a `$patch: replace` at the top (whose result is the patch) changes nothing.
    if merge.tree.is_nil_or_empty(Some(dest)) {
        // kustomize drops a resource whose node ends up empty.
        return Ok(Outcome::Deleted);
    }
    // Aliasing cannot make a cycle, but depth stays bounded whatever the arena holds.
    merge
        .tree
        .to_json(dest, 2 * walk::MAX_DEPTH + 2)
        .map(Outcome::Merged)
        .ok_or_else(too_deep)
}
