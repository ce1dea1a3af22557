//! Loading files relative to a kustomization root, with kustomize's load restrictions and
//! cycle detection between bases.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::fs::{FileSystem, normalize};

/// Whether files may be loaded from outside a kustomization's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictor {
    /// Files must be in or below the kustomization's directory (kustomize's default).
    #[default]
    RootOnly,
    /// Any file may be loaded.
    None,
}

/// The file names a kustomization may have, in kustomize's order.
pub(crate) const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The strategic-merge schema in force. kustomize keeps one per process: the top
/// kustomization's `openapi`, else the first one a base or component declares, from the
/// moment it is read.
pub(crate) struct SchemaState {
    /// Whether some kustomization declared `openapi` yet.
    pub(crate) declared: bool,
    /// The schema patches use now.
    pub(crate) schema: std::rc::Rc<SchemaChoice>,
    /// Whether declared schemas add to the built-in one even at the top.
    pub(crate) layer: bool,
}

impl Default for SchemaState {
    fn default() -> Self {
        SchemaState {
            declared: false,
            schema: std::rc::Rc::new(SchemaChoice::Builtin),
            layer: false,
        }
    }
}

/// The built-in schema (shared, never copied) or one a kustomization declared.
pub(crate) enum SchemaChoice {
    /// [`crate::smp::Schema::builtin`].
    Builtin,
    /// A declared schema (possibly layered over the built-in one).
    Declared(crate::smp::Schema),
}

impl std::ops::Deref for SchemaChoice {
    type Target = crate::smp::Schema;

    fn deref(&self) -> &crate::smp::Schema {
        match self {
            SchemaChoice::Builtin => crate::smp::Schema::builtin(),
            SchemaChoice::Declared(s) => s,
        }
    }
}

/// A loader rooted at one kustomization directory.
pub(crate) struct Loader<'a> {
    pub(crate) fs: &'a dyn FileSystem,
    /// The build-wide schema state.
    pub(crate) schema: &'a std::cell::RefCell<SchemaState>,
    /// Canonical root.
    pub(crate) root: PathBuf,
    /// The root as shown to users (relative to where the build started).
    pub(crate) display: PathBuf,
    pub(crate) restrictor: LoadRestrictor,
    parent: Option<&'a Loader<'a>>,
}

/// Whether a resource entry names something remote (git or HTTP), which Weir does not fetch.
pub(crate) fn is_remote(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [
        "http://",
        "https://",
        "git::",
        "git@",
        "ssh://",
        "github.com/",
        "gitlab.com/",
        "bitbucket.org/",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        || lower.contains("?ref=")
        || lower.contains(".git//")
}

impl<'a> Loader<'a> {
    /// A loader for the build's top directory.
    pub(crate) fn root(
        fs: &'a dyn FileSystem,
        dir: &Path,
        restrictor: LoadRestrictor,
        schema: &'a std::cell::RefCell<SchemaState>,
    ) -> Result<Self, Error> {
        let root = fs.canonicalize(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        if !fs.is_dir(&root) {
            return Err(Error::Build {
                context: dir.display().to_string(),
                message: "must be a directory so that it can be used as a build root".into(),
            });
        }
        Ok(Loader {
            fs,
            schema,
            root,
            display: dir.to_owned(),
            restrictor,
            parent: None,
        })
    }

    /// The user-facing path of `rel`.
    pub(crate) fn show(&self, rel: &str) -> String {
        normalize(&self.display.join(rel)).display().to_string()
    }

    /// Reads `rel` (relative to the root). Under the root-only restrictor, a path that
    /// resolves (through `..` or symlinks) outside the root is refused.
    pub(crate) fn load(&self, rel: &str) -> Result<Vec<u8>, Error> {
        if is_remote(rel) {
            return Err(Error::Unsupported {
                path: self.show(rel),
                feature: "remote files (URLs)".into(),
            });
        }
        let joined = self.root.join(rel);
        let real = self.fs.canonicalize(&joined).map_err(|source| Error::Io {
            path: self.show(rel),
            source,
        })?;
        if self.restrictor == LoadRestrictor::RootOnly && !real.starts_with(&self.root) {
            return Err(Error::Restricted {
                path: self.show(rel),
                root: self.display.display().to_string(),
            });
        }
        self.fs.read(&real).map_err(|source| Error::Io {
            path: self.show(rel),
            source,
        })
    }

    /// Whether `rel` is an existing regular file.
    pub(crate) fn is_file(&self, rel: &str) -> bool {
        self.fs.is_file(&self.root.join(rel))
    }

    /// A loader for the base or component directory `rel`. Refuses absolute paths and cycles
    /// (a directory that contains one already being built).
    pub(crate) fn child(&'a self, rel: &str) -> Result<Loader<'a>, Error> {
        if rel.is_empty() {
            return Err(Error::Build {
                context: self.display.display().to_string(),
                message: "a resource or component path is empty".into(),
            });
        }
        if is_remote(rel) {
            return Err(Error::Unsupported {
                path: rel.to_owned(),
                feature: "remote bases (git or HTTP URLs)".into(),
            });
        }
        if Path::new(rel).is_absolute() {
            return Err(Error::Build {
                context: self.display.display().to_string(),
                message: format!("new root '{rel}' cannot be absolute"),
            });
        }
        let joined = self.root.join(rel);
        let real = self.fs.canonicalize(&joined).map_err(|source| Error::Io {
            path: self.show(rel),
            source,
        })?;
        if !self.fs.is_dir(&real) {
            return Err(Error::Build {
                context: self.show(rel),
                message: "must be a directory so that it can be used as a build root".into(),
            });
        }
        let mut visited = Some(self);
        while let Some(l) = visited {
            if l.root.starts_with(&real) {
                return Err(Error::Build {
                    context: self.show(rel),
                    message: format!(
                        "cycle detected: candidate root '{}' contains visited root '{}'",
                        self.show(rel),
                        l.display.display()
                    ),
                });
            }
            visited = l.parent;
        }
        Ok(Loader {
            fs: self.fs,
            schema: self.schema,
            root: real,
            display: normalize(&self.display.join(rel)),
            restrictor: self.restrictor,
            parent: Some(self),
        })
    }
}
