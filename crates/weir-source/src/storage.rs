//! Artifact storage: tarballs of sources under a root directory, served over HTTP by the
//! controller at `http://<address>/<kind>/<namespace>/<name>/<file>`, as Flux lays them out.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest as _, Sha256};

/// Files Flux never puts in an artifact.
const VCS_EXCLUDES: &[&str] = &[".git/", ".gitignore", ".gitmodules", ".gitattributes"];

/// Files Flux leaves out unless the repository or `spec.ignore` gives patterns of its own.
const DEFAULT_EXCLUDES: &[&str] = &[
    "*.jpg",
    "*.jpeg",
    "*.gif",
    "*.png",
    "*.wmv",
    "*.flv",
    "*.tar.gz",
    "*.zip",
    ".github/",
    ".circleci/",
    ".travis.yml",
    ".gitlab-ci.yml",
    "appveyor.yml",
    ".drone.yml",
    "cloudbuild.yaml",
    "codeship-services.yml",
    "codeship-steps.yml",
    "**/.goreleaser.yml",
    "**/.sops.yaml",
    "**/.flux.yaml",
];

/// A stored artifact file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// `sha256:<hex>` of the tarball.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The storage root and the address artifacts are served at.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    address: String,
}

impl Storage {
    /// Storage under `root`, served at `address` (`host:port`, or a URL prefix).
    pub fn new(root: impl Into<PathBuf>, address: &str) -> Self {
        Storage {
            root: root.into(),
            address: address.trim_end_matches('/').to_owned(),
        }
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The relative path of an artifact: `<kind>/<namespace>/<name>/<file>`.
    pub fn path(kind: &str, namespace: &str, name: &str, file: &str) -> String {
        format!("{}/{namespace}/{name}/{file}", kind.to_ascii_lowercase())
    }

    /// The URL of the artifact at relative `path`.
    pub fn url(&self, path: &str) -> String {
        if self.address.starts_with("http://") || self.address.starts_with("https://") {
            format!("{}/{path}", self.address)
        } else {
            format!("http://{}/{path}", self.address)
        }
    }

    /// The file of the artifact at relative `path`.
    pub fn local(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// Writes a gzipped tarball of `dir` (without ignored files) to relative `path`,
    /// atomically, and returns its digest. Entries are sorted and carry no times or owners,
    /// so the same tree always gives the same digest.
    pub fn archive(&self, dir: &Path, ignore: &Gitignore, path: &str) -> io::Result<Stored> {
        let target = self.local(path);
        let parent = target.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)?;
        let mut files = Vec::new();
        collect(dir, dir, ignore, &mut files)?;
        files.sort();
        let temp = tempfile_in(parent)?;
        {
            let file = fs::File::create(&temp)?;
            let mut builder = tar::Builder::new(GzEncoder::new(file, Compression::default()));
            builder.mode(tar::HeaderMode::Deterministic);
            for (relative, full) in &files {
                builder.append_path_with_name(full, relative)?;
            }
            builder.into_inner()?.finish()?.flush()?;
        }
        let bytes = fs::read(&temp)?;
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        fs::rename(&temp, &target)?;
        Ok(Stored {
            digest,
            size: bytes.len() as u64,
        })
    }

    /// Deletes the artifacts of one object except `keep` (a file name).
    pub fn garbage_collect(&self, kind: &str, namespace: &str, name: &str, keep: &str) {
        let dir = self.local(&Self::path(kind, namespace, name, ""));
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name() != keep {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Deletes every artifact of one object.
    pub fn remove_all(&self, kind: &str, namespace: &str, name: &str) {
        let _ = fs::remove_dir_all(self.local(&Self::path(kind, namespace, name, "")));
    }
}

fn tempfile_in(dir: &Path) -> io::Result<PathBuf> {
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(dir.join(format!(".tmp-{}-{unique}", std::process::id())))
}

fn collect(
    root: &Path,
    dir: &Path,
    ignore: &Gitignore,
    out: &mut Vec<(PathBuf, PathBuf)>,
) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
        if ignore
            .matched_path_or_any_parents(&relative, kind.is_dir())
            .is_ignore()
        {
            continue;
        }
        if kind.is_dir() {
            collect(root, &path, ignore, out)?;
        } else if kind.is_file() {
            out.push((relative, path));
        }
    }
    Ok(())
}

/// The ignore rules for a source tree, as Flux builds them: the VCS files always; then the
/// root `.sourceignore` and `spec.ignore` if any, else Flux's default exclusions.
pub fn ignore_rules(dir: &Path, spec_ignore: Option<&str>) -> Result<Gitignore, ignore::Error> {
    let mut builder = GitignoreBuilder::new(dir);
    for pattern in VCS_EXCLUDES {
        builder.add_line(None, pattern)?;
    }
    let mut user = Vec::new();
    if let Ok(text) = fs::read_to_string(dir.join(".sourceignore")) {
        user.extend(text.lines().map(str::to_owned));
    }
    if let Some(extra) = spec_ignore {
        user.extend(extra.lines().map(str::to_owned));
    }
    let user: Vec<String> = user
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    if user.is_empty() {
        for pattern in DEFAULT_EXCLUDES {
            builder.add_line(None, pattern)?;
        }
    } else {
        for pattern in &user {
            builder.add_line(None, pattern)?;
        }
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(storage: &Storage, path: &str) -> Vec<String> {
        let file = fs::File::open(storage.local(path)).expect("artifact");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn archives_are_reproducible_and_follow_flux_ignore_rules() -> io::Result<()> {
        let src = tempfile::tempdir()?;
        let out = tempfile::tempdir()?;
        for (path, text) in [
            ("deploy/app.yaml", "a"),
            ("logo.png", "x"),
            (".git/config", "x"),
            (".github/workflows/ci.yaml", "x"),
            ("README.md", "r"),
        ] {
            let full = src.path().join(path);
            fs::create_dir_all(full.parent().unwrap_or(src.path()))?;
            fs::write(full, text)?;
        }
        let storage = Storage::new(out.path(), "source.flux-system.svc");
        let rules = ignore_rules(src.path(), None).map_err(io::Error::other)?;
        let path = Storage::path("GitRepository", "ns", "app", "abc.tar.gz");
        let first = storage.archive(src.path(), &rules, &path)?;
        assert_eq!(names(&storage, &path), ["README.md", "deploy/app.yaml"]);
        let again = storage.archive(src.path(), &rules, &path)?;
        assert_eq!(first, again);
        assert!(first.digest.starts_with("sha256:"));
        assert_eq!(
            storage.url(&path),
            "http://source.flux-system.svc/gitrepository/ns/app/abc.tar.gz"
        );

        // spec.ignore replaces the defaults (the png comes back) but never the VCS rules.
        let rules = ignore_rules(src.path(), Some("README.md\n")).map_err(io::Error::other)?;
        storage.archive(src.path(), &rules, &path)?;
        assert_eq!(
            names(&storage, &path),
            [".github/workflows/ci.yaml", "deploy/app.yaml", "logo.png"]
        );
        Ok(())
    }
}
