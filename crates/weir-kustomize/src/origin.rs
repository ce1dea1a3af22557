//! Build metadata (`buildMetadata: [originAnnotations, transformerAnnotations,
//! managedByLabel]`): where each resource came from and what transformed it.

/// Where a resource, generator or transformer came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The file, relative to the top kustomization's directory.
    pub(crate) path: String,
    /// The generator or transformer configuration's file.
    pub(crate) configured_in: String,
    /// `apiVersion` of the generator or transformer.
    pub(crate) by_api_version: String,
    /// `kind` of the generator or transformer.
    pub(crate) by_kind: String,
    /// `metadata.name` of a plugin configuration.
    pub(crate) by_name: String,
    /// `metadata.namespace` of a plugin configuration.
    pub(crate) by_namespace: String,
}

/// Joins paths as Go's filepath.Join does (cleaning `.` and `..`).
pub(crate) fn join(base: &str, rel: &str) -> String {
    let joined = if base.is_empty() {
        rel.to_owned()
    } else {
        format!("{base}/{rel}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

impl Origin {
    /// The origin of a file `rel` below this one.
    pub(crate) fn append(&self, rel: &str) -> Origin {
        Origin {
            path: join(&self.path, rel),
            ..self.clone()
        }
    }

    /// A built-in generator or transformer configured in `file`.
    pub(crate) fn builtin(&self, file_name: &str, kind: &str) -> Origin {
        Origin {
            configured_in: join(&self.path, file_name),
            by_api_version: "builtin".into(),
            by_kind: kind.into(),
            ..Origin::default()
        }
    }

    /// The YAML kustomize writes for one origin, each line prefixed by `indent` after the
    /// first.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.path.is_empty() {
            out.push(format!("path: {}", self.path));
        }
        if !self.configured_in.is_empty() {
            out.push(format!("configuredIn: {}", self.configured_in));
        }
        if !self.by_kind.is_empty() || !self.by_api_version.is_empty() {
            out.push("configuredBy:".into());
            if !self.by_api_version.is_empty() {
                out.push(format!("  apiVersion: {}", self.by_api_version));
            }
            if !self.by_kind.is_empty() {
                out.push(format!("  kind: {}", self.by_kind));
            }
            if !self.by_name.is_empty() {
                out.push(format!("  name: {}", self.by_name));
            }
            if !self.by_namespace.is_empty() {
                out.push(format!("  namespace: {}", self.by_namespace));
            }
        }
        out
    }

    /// The `config.kubernetes.io/origin` annotation value.
    pub(crate) fn annotation(&self) -> String {
        let mut s = self.lines().join("\n");
        s.push('\n');
        s
    }
}

/// The `alpha.config.kubernetes.io/transformations` annotation value.
pub(crate) fn transformations_annotation(list: &[Origin]) -> String {
    let mut s = String::new();
    for o in list {
        for (i, line) in o.lines().iter().enumerate() {
            s.push_str(if i == 0 { "- " } else { "  " });
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_go() {
        assert_eq!(join("", "a.yaml"), "a.yaml");
        assert_eq!(join("../base", "x.yaml"), "../base/x.yaml");
        assert_eq!(join("a/b", "../c"), "a/c");
        assert_eq!(join("..", "../x"), "../../x");
    }

    #[test]
    fn annotations_render_as_kustomize_does() {
        let t = Origin::default().builtin("kustomization.yaml", "PrefixTransformer");
        assert_eq!(
            transformations_annotation(&[t]),
            "- configuredIn: kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n"
        );
        assert_eq!(
            Origin::default().append("a.yaml").annotation(),
            "path: a.yaml\n"
        );
    }
}
