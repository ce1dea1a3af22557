//! What an apply did to each object.

use std::fmt;

use weir_object::ObjectId;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object existed and already matched; nothing was written.
    Unchanged,
    /// The object was deleted and created again, because fields the API server does not let
    /// change (a Job's template, a Service's clusterIP, selectors) changed and force was on.
    Recreated,
    /// The object was deleted.
    Deleted,
    /// The object was left alone on purpose (see the entry's reason).
    Skipped,
}

impl Action {
    /// The action as Flux spells it in events and logs, e.g. `"configured"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
            Self::Recreated => "recreated",
            Self::Deleted => "deleted",
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object's line in a [`ChangeSet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSetEntry {
    /// The object.
    pub id: ObjectId,
    /// The API version it was applied with, e.g. `v1` or `apps/v1`'s `v1`.
    pub version: String,
    /// What happened to it.
    pub action: Action,
    /// Why, when the action alone does not say (a skipped object's reason). Not part of the
    /// entry's [`Display`](fmt::Display), which is Flux's `Subject action`.
    pub reason: Option<String>,
}

impl fmt::Display for ChangeSetEntry {
    /// Formats as Flux does: `ConfigMap/ns/name configured`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.action)
    }
}

/// What an apply did, one entry per object, in the order the objects were handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    /// The entries.
    pub entries: Vec<ChangeSetEntry>,
}

impl ChangeSet {
    /// Appends the entries of `other`.
    pub fn extend(&mut self, other: ChangeSet) {
        self.entries.extend(other.entries);
    }

    /// The entries whose action is `action`.
    pub fn with_action(&self, action: Action) -> impl Iterator<Item = &ChangeSetEntry> {
        self.entries.iter().filter(move |e| e.action == action)
    }

    /// The entry for `id`, if any.
    pub fn get(&self, id: &ObjectId) -> Option<&ChangeSetEntry> {
        self.entries.iter().find(|e| &e.id == id)
    }
}

impl fmt::Display for ChangeSet {
    /// One entry per line, as Flux logs a change set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, namespace: &str, name: &str, action: Action) -> ChangeSetEntry {
        ChangeSetEntry {
            id: ObjectId::new("", kind, namespace, name),
            version: "v1".to_owned(),
            action,
            reason: None,
        }
    }

    #[test]
    fn entries_display_like_flux() {
        let set = ChangeSet {
            entries: vec![
                entry("ConfigMap", "apps", "settings", Action::Configured),
                entry("Namespace", "", "apps", Action::Unchanged),
                ChangeSetEntry {
                    reason: Some(
                        "annotated with kustomize.toolkit.fluxcd.io/reconcile: disabled".to_owned(),
                    ),
                    ..entry("Secret", "apps", "token", Action::Skipped)
                },
            ],
        };
        assert_eq!(
            set.to_string(),
            "ConfigMap/apps/settings configured\n\
             Namespace/apps unchanged\n\
             Secret/apps/token skipped"
        );
        assert_eq!(set.with_action(Action::Configured).count(), 1);
        assert_eq!(
            set.get(&ObjectId::new("", "Namespace", "", "apps"))
                .map(|e| e.action),
            Some(Action::Unchanged)
        );
    }
}
