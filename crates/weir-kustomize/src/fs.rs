//! The filesystem a build reads: the real disk, or an in-memory tree (tests, and the
//! controller's artifacts), behind one trait.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Largest file a build reads. Bigger files are refused rather than loaded into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Read access to a tree of files.
pub trait FileSystem {
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Whether `path` is a directory (following symlinks).
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether `path` is a regular file (following symlinks).
    fn is_file(&self, path: &Path) -> bool;
    /// The entry names of a directory, sorted.
    fn list(&self, path: &Path) -> io::Result<Vec<String>>;
    /// The absolute path with `.`/`..` and symlinks resolved.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFs;

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "file is {} MiB, over the {} MiB limit",
                    meta.len() / (1024 * 1024),
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            ));
        }
        std::fs::read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// The real filesystem, confined to one directory: anything that resolves (through `..` or
/// symlinks) outside it does not exist. Used for source artifacts, where kustomize's own load
/// restrictor is off but nothing may escape the artifact.
#[derive(Debug, Clone)]
pub struct RootedFs {
    root: PathBuf,
}

impl RootedFs {
    /// Confines reads to `root` (which must exist).
    pub fn new(root: &Path) -> io::Result<Self> {
        Ok(RootedFs {
            root: std::fs::canonicalize(root)?,
        })
    }

    fn check(&self, path: &Path) -> io::Result<PathBuf> {
        let real = std::fs::canonicalize(path)?;
        if real.starts_with(&self.root) {
            Ok(real)
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "'{}' is outside the source root '{}'",
                    path.display(),
                    self.root.display()
                ),
            ))
        }
    }
}

impl FileSystem for RootedFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        DiskFs.read(&self.check(path)?)
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.check(path).is_ok_and(|p| p.is_dir())
    }

    fn is_file(&self, path: &Path) -> bool {
        self.check(path).is_ok_and(|p| p.is_file())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        DiskFs.list(&self.check(path)?)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(path)
    }
}

/// An in-memory tree of files. Paths are absolute; directories are implied by files.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
    dirs: std::collections::BTreeSet<PathBuf>,
}

impl MemFs {
    /// An empty tree (with only `/`).
    pub fn new() -> Self {
        let mut fs = MemFs::default();
        fs.dirs.insert(PathBuf::from("/"));
        fs
    }

    /// Adds a file (and its parent directories).
    pub fn add_file(&mut self, path: impl AsRef<Path>, content: impl Into<Vec<u8>>) {
        let path = normalize(&Path::new("/").join(path));
        let mut parent = path.parent();
        while let Some(p) = parent {
            self.dirs.insert(p.to_owned());
            parent = p.parent();
        }
        self.files.insert(path, content.into());
    }

    /// Adds an empty directory.
    pub fn add_dir(&mut self, path: impl AsRef<Path>) {
        let path = normalize(&Path::new("/").join(path));
        let mut cur = Some(path.as_path());
        while let Some(p) = cur {
            self.dirs.insert(p.to_owned());
            cur = p.parent();
        }
    }
}

impl FileSystem for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.dirs.contains(&normalize(path))
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }

    fn list(&self, path: &Path) -> io::Result<Vec<String>> {
        let dir = normalize(path);
        if !self.dirs.contains(&dir) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
        }
        let mut names: Vec<String> = self
            .files
            .keys()
            .chain(self.dirs.iter())
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let p = normalize(path);
        if self.files.contains_key(&p) || self.dirs.contains(&p) {
            Ok(p)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no such file or directory",
            ))
        }
    }
}

/// Resolves `.` and `..` lexically (never above the root).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                let at_root = out.as_os_str() == "/";
                let climbs = out.file_name().is_none() && !at_root;
                if climbs || (!at_root && !out.pop()) {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
