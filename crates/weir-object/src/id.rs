//! Object identity: group, kind, namespace and name.

use std::fmt;

/// An API group and kind, without version (`apps`/`Deployment`; the core group is empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    /// API group; empty for the core group.
    pub group: String,
    /// Kind, such as `ConfigMap`.
    pub kind: String,
}

impl GroupKind {
    /// Splits an `apiVersion` (`apps/v1`, `v1`) into group and version and pairs the group with
    /// `kind`. Returns the group-kind and the version.
    pub fn from_api_version(api_version: &str, kind: &str) -> (Self, String) {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((group, version)) => (group.to_owned(), version.to_owned()),
            None => (String::new(), api_version.to_owned()),
        };
        (
            GroupKind {
                group,
                kind: kind.to_owned(),
            },
            version,
        )
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// The identity of one object in a cluster, independent of its API version.
///
/// Its [`inventory_key`](ObjectId::inventory_key) is the format Flux stores in a
/// Kustomization's `status.inventory` (`<namespace>_<name>_<group>_<kind>`), so inventories
/// written by Flux and by Weir can be read by either.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId {
    /// Group and kind.
    pub group_kind: GroupKind,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

/// A string that is not an inventory key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{key}' is not an inventory entry: expected <namespace>_<name>_<group>_<kind>")]
pub struct ParseIdError {
    /// The rejected string.
    pub key: String,
}

impl ObjectId {
    /// Builds an identity from its parts.
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ObjectId {
            group_kind: GroupKind {
                group: group.to_owned(),
                kind: kind.to_owned(),
            },
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }

    /// The Flux inventory key: `<namespace>_<name>_<group>_<kind>`.
    pub fn inventory_key(&self) -> String {
        format!(
            "{}_{}_{}_{}",
            self.namespace, self.name, self.group_kind.group, self.group_kind.kind
        )
    }

    /// Parses a Flux inventory key. Names and namespaces cannot contain `_`, and groups are DNS
    /// names, so splitting on `_` is unambiguous.
    pub fn from_inventory_key(key: &str) -> Result<Self, ParseIdError> {
        let parts: Vec<&str> = key.split('_').collect();
        match parts.as_slice() {
            [namespace, name, group, kind] if !name.is_empty() && !kind.is_empty() => {
                Ok(ObjectId::new(group, kind, namespace, name))
            }
            _ => Err(ParseIdError {
                key: key.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ObjectId {
    /// Formats as Flux prints objects in events and logs: `Kind/namespace/name`, or
    /// `Kind/name` when cluster-scoped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{}/{}", self.group_kind.kind, self.name)
        } else {
            write!(
                f,
                "{}/{}/{}",
                self.group_kind.kind, self.namespace, self.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_key_round_trips() {
        let id = ObjectId::new("apps", "Deployment", "default", "web");
        assert_eq!(id.inventory_key(), "default_web_apps_Deployment");
        assert_eq!(ObjectId::from_inventory_key(&id.inventory_key()), Ok(id));

        let ns = ObjectId::new("", "Namespace", "", "apps");
        assert_eq!(ns.inventory_key(), "_apps__Namespace");
        assert_eq!(ObjectId::from_inventory_key("_apps__Namespace"), Ok(ns));
    }

    #[test]
    fn malformed_inventory_keys_are_rejected() {
        for key in [
            "",
            "a_b_c",
            "a_b_c_d_e",
            "ns__apps_Deployment",
            "ns_x_apps_",
        ] {
            assert!(ObjectId::from_inventory_key(key).is_err(), "{key}");
        }
    }

    #[test]
    fn api_version_splits_into_group_and_version() {
        let (gk, v) = GroupKind::from_api_version("apps/v1", "Deployment");
        assert_eq!((gk.group.as_str(), v.as_str()), ("apps", "v1"));
        assert_eq!(gk.to_string(), "Deployment.apps");
        let (gk, v) = GroupKind::from_api_version("v1", "ConfigMap");
        assert_eq!((gk.group.as_str(), v.as_str()), ("", "v1"));
        assert_eq!(gk.to_string(), "ConfigMap");
    }

    #[test]
    fn display_matches_flux_event_format() {
        assert_eq!(
            ObjectId::new("", "ConfigMap", "default", "cfg").to_string(),
            "ConfigMap/default/cfg"
        );
        assert_eq!(
            ObjectId::new("", "Namespace", "", "apps").to_string(),
            "Namespace/apps"
        );
    }
}
