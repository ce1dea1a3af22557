//! The record of what an apply put in the cluster, in Flux's `status.inventory` format.

use std::collections::HashSet;

use weir_object::{ObjectId, ParseIdError};

use crate::changeset::ChangeSet;

/// One object in an [`Inventory`]: Flux's `{id: "<namespace>_<name>_<group>_<kind>", v: "v1"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The object.
    pub id: ObjectId,
    /// The API version it was applied with (`v1`, without the group).
    pub version: String,
}

impl Entry {
    /// Reads an entry as Flux writes it: the inventory key and the version.
    pub fn parse(key: &str, version: &str) -> Result<Self, ParseIdError> {
        Ok(Entry {
            id: ObjectId::from_inventory_key(key)?,
            version: version.to_owned(),
        })
    }

    /// The key Flux stores as the entry's `id`.
    pub fn key(&self) -> String {
        self.id.inventory_key()
    }
}

/// The objects one apply owns, in the order they were applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl Inventory {
    /// The inventory of everything a change set applied (every entry but the deleted ones).
    pub fn from_change_set(set: &ChangeSet) -> Self {
        Inventory {
            entries: set
                .entries
                .iter()
                .filter(|e| e.action != crate::Action::Deleted)
                .map(|e| Entry {
                    id: e.id.clone(),
                    version: e.version.clone(),
                })
                .collect(),
        }
    }

    /// The objects in `old` that are not in `new`, which a prune deletes, in a safe deletion
    /// order: namespaced objects first, then cluster-scoped ones, then Namespaces (after their
    /// contents), then CustomResourceDefinitions (after their custom resources). Within each
    /// group, `old`'s order is kept.
    ///
    /// Objects are compared by identity only: an object whose API version changed is not pruned.
    pub fn diff(old: &Inventory, new: &Inventory) -> Vec<ObjectId> {
        let keep: HashSet<&ObjectId> = new.entries.iter().map(|e| &e.id).collect();
        let mut gone: Vec<ObjectId> = old
            .entries
            .iter()
            .filter(|e| !keep.contains(&e.id))
            .map(|e| e.id.clone())
            .collect();
        gone.dedup();
        // A stable sort keeps `old`'s order within each group.
        gone.sort_by_key(deletion_rank);
        gone
    }
}

fn deletion_rank(id: &ObjectId) -> u8 {
    let gk = &id.group_kind;
    if gk.group == "apiextensions.k8s.io" && gk.kind == "CustomResourceDefinition" {
        3
    } else if gk.group.is_empty() && gk.kind == "Namespace" {
        2
    } else if id.namespace.is_empty() {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, ChangeSetEntry};

    fn entry(group: &str, kind: &str, namespace: &str, name: &str) -> Entry {
        Entry {
            id: ObjectId::new(group, kind, namespace, name),
            version: "v1".to_owned(),
        }
    }

    #[test]
    fn entries_round_trip_through_flux_keys() -> Result<(), ParseIdError> {
        let e = Entry::parse("apps_web_apps_Deployment", "v1")?;
        assert_eq!(e, entry("apps", "Deployment", "apps", "web"));
        assert_eq!(e.key(), "apps_web_apps_Deployment");
        let ns = Entry::parse("_apps__Namespace", "v1")?;
        assert_eq!(ns, entry("", "Namespace", "", "apps"));
        assert_eq!(ns.key(), "_apps__Namespace");
        assert!(Entry::parse("not-a-key", "v1").is_err());
        Ok(())
    }

    #[test]
    fn diff_lists_only_removed_objects() {
        let old = Inventory {
            entries: vec![
                entry("", "ConfigMap", "apps", "kept"),
                entry("", "ConfigMap", "apps", "removed"),
            ],
        };
        let new = Inventory {
            entries: vec![
                entry("", "ConfigMap", "apps", "kept"),
                entry("", "Secret", "apps", "added"),
            ],
        };
        assert_eq!(
            Inventory::diff(&old, &new),
            vec![ObjectId::new("", "ConfigMap", "apps", "removed")]
        );
        assert!(Inventory::diff(&new, &new).is_empty());
    }

    #[test]
    fn diff_orders_contents_before_namespaces_and_crds_last() {
        let old = Inventory {
            entries: vec![
                entry(
                    "apiextensions.k8s.io",
                    "CustomResourceDefinition",
                    "",
                    "widgets.example.com",
                ),
                entry("", "Namespace", "", "apps"),
                entry("rbac.authorization.k8s.io", "ClusterRole", "", "reader"),
                entry("example.com", "Widget", "apps", "w"),
                entry("", "ConfigMap", "apps", "settings"),
                entry("example.com", "ClusterWidget", "", "cw"),
            ],
        };
        let names: Vec<String> = Inventory::diff(&old, &Inventory::default())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "Widget/apps/w",
                "ConfigMap/apps/settings",
                "ClusterRole/reader",
                "ClusterWidget/cw",
                "Namespace/apps",
                "CustomResourceDefinition/widgets.example.com",
            ]
        );
    }

    #[test]
    fn inventory_from_change_set_leaves_out_deleted_objects() {
        let set = ChangeSet {
            entries: vec![
                ChangeSetEntry {
                    id: ObjectId::new("apps", "Deployment", "apps", "web"),
                    version: "v1".to_owned(),
                    action: Action::Created,
                    reason: None,
                },
                ChangeSetEntry {
                    id: ObjectId::new("", "ConfigMap", "apps", "old"),
                    version: "v1".to_owned(),
                    action: Action::Deleted,
                    reason: None,
                },
            ],
        };
        assert_eq!(
            Inventory::from_change_set(&set).entries,
            vec![entry("apps", "Deployment", "apps", "web")]
        );
    }
}
