//! Loading a chart directory: `Chart.yaml`, `values.yaml`, `templates/`, `crds/`, other
//! files, and subcharts under `charts/` (directories).

use std::path::Path;

use serde_json::Value as Json;

use crate::Error;

/// A loaded chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// `Chart.yaml`.
    pub metadata: Json,
    /// `values.yaml`.
    pub values: Json,
    /// Templates by path from the chart root (`templates/x.yaml`).
    pub templates: Vec<(String, String)>,
    /// `crds/` files by path from the chart root.
    pub crds: Vec<(String, String)>,
    /// Every other file, by path from the chart root (for `.Files`).
    pub files: std::sync::Arc<Vec<(String, Vec<u8>)>>,
    /// Subcharts.
    pub subcharts: Vec<Chart>,
    /// The `condition` of the parent's dependency entry for this chart.
    pub condition: Option<String>,
    /// The `alias` of the parent's dependency entry for this chart.
    pub alias: Option<String>,
    /// The `tags` of the parent's dependency entry for this chart.
    pub tags: Vec<String>,
    /// The `import-values` of the parent's dependency entry for this chart.
    pub import_values: Vec<Json>,
    /// Empty for the top chart.
    pub parent_path: String,
}

impl Chart {
    /// The chart's name (`Chart.yaml` `name`, or its alias as a dependency).
    pub fn name(&self) -> &str {
        self.alias
            .as_deref()
            .or_else(|| self.metadata.get("name").and_then(Json::as_str))
            .unwrap_or("chart")
    }
}

fn parse_yaml(path: &str, data: &[u8]) -> Result<Json, Error> {
    let text = String::from_utf8_lossy(data);
    let docs = weir_object::yaml::parse_documents(path, &text).map_err(|e| Error::Load {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or_else(|| Json::Object(Default::default())))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Load {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else {
            let data = std::fs::read(&path).map_err(|e| Error::Load {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            out.push((rel, data));
        }
    }
    Ok(())
}

/// The files of a packaged chart (`.tgz`), by path from the chart root (the archive's top
/// directory removed).
fn unpack(name: &str, data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    use std::io::Read as _;
    let fail = |message: String| Error::Load {
        path: name.to_owned(),
        message,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut files = Vec::new();
    for entry in archive.entries().map_err(|e| fail(e.to_string()))? {
        let mut entry = entry.map_err(|e| fail(e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| fail(e.to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        let Some((_, rel)) = path.split_once('/') else {
            continue;
        };
        if rel.split('/').any(|part| part == "..") {
            return Err(fail(format!("archive path {path} leaves the chart")));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| fail(e.to_string()))?;
        files.push((rel.to_owned(), data));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// `.helmignore` lines: (pattern, negated, directories only).
fn ignore_rules(text: &str) -> Vec<(String, bool, bool)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (negated, l) = match l.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, l),
            };
            let dir_only = l.ends_with('/');
            (
                l.trim_end_matches('/').trim_start_matches("./").to_owned(),
                negated,
                dir_only,
            )
        })
        .collect()
}

/// Whether `path` (from the chart root) is ignored, by Helm's rules: a pattern without `/`
/// matches a file or directory name anywhere, one with `/` the path from the root; `dir/`
/// matches directories only; `!` re-includes; the last matching line wins.
fn is_ignored(rules: &[(String, bool, bool)], path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let mut ignored = false;
    for (pattern, negated, dir_only) in rules {
        let hit = if pattern.contains('/') {
            (1..=parts.len()).any(|n| {
                let prefix = parts[..n].join("/");
                crate::files::glob_match(pattern, &prefix) && (n < parts.len() || !dir_only)
            })
        } else {
            parts.iter().enumerate().any(|(i, part)| {
                let is_dir = i + 1 < parts.len();
                crate::files::glob_match(pattern, part) && (is_dir || !dir_only)
            })
        };
        if hit {
            ignored = !negated;
        }
    }
    ignored
}

/// Loads the chart in directory `dir`, or packaged in the `.tgz` file `dir`, with its
/// subcharts (directories or `.tgz` files under `charts/`).
pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
    let files = if dir.is_file() {
        let data = std::fs::read(dir).map_err(|e| Error::Load {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        unpack(&dir.display().to_string(), &data)?
    } else {
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        files
    };
    load_files(&dir.display().to_string(), files, "")
}

fn load_files(
    origin: &str,
    all: Vec<(String, Vec<u8>)>,
    parent_path: &str,
) -> Result<Chart, Error> {
    let find = |name: &str| {
        all.iter()
            .find(|(p, _)| p == name)
            .map(|(_, d)| d.as_slice())
    };
    let Some(chart_yaml) = find("Chart.yaml") else {
        return Err(Error::Load {
            path: origin.to_owned(),
            message: "no Chart.yaml: not a chart".to_owned(),
        });
    };
    let metadata = parse_yaml(&format!("{origin}/Chart.yaml"), chart_yaml)?;
    let values = match find("values.yaml") {
        Some(data) => parse_yaml(&format!("{origin}/values.yaml"), data)?,
        None => Json::Object(Default::default()),
    };
    let ignore = find(".helmignore")
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default();
    let rules = ignore_rules(&ignore);
    let mut chart = Chart {
        metadata,
        values,
        parent_path: parent_path.to_owned(),
        ..Chart::default()
    };
    // Subcharts: directories and archives under charts/.
    let mut sub_dirs: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>> =
        Default::default();
    let mut sub_archives: Vec<(String, Vec<u8>)> = Vec::new();
    let mut files = Vec::new();
    for (path, data) in all {
        if let Some(rest) = path.strip_prefix("charts/") {
            match rest.split_once('/') {
                Some((dir, inner)) => sub_dirs
                    .entry(dir.to_owned())
                    .or_default()
                    .push((inner.to_owned(), data)),
                None if rest.ends_with(".tgz") => sub_archives.push((rest.to_owned(), data)),
                None => {}
            }
            continue;
        }
        if is_ignored(&rules, &path) {
            continue;
        }
        if path.starts_with("templates/") {
            chart
                .templates
                .push((path, String::from_utf8_lossy(&data).into_owned()));
        } else if path.starts_with("crds/") {
            // CRD files are also files of the chart (`.Files.Glob "crds/*.yaml"`).
            chart
                .crds
                .push((path.clone(), String::from_utf8_lossy(&data).into_owned()));
            files.push((path, data));
        } else {
            files.push((path, data));
        }
    }
    chart.files = std::sync::Arc::new(files);
    let deps: Vec<Json> = chart
        .metadata
        .get("dependencies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let name = chart.name().to_owned();
    let child_path = format!("{parent_path}{name}/");
    let mut subs = Vec::new();
    for (dir, files) in sub_dirs {
        if files.iter().any(|(p, _)| p == "Chart.yaml") {
            subs.push(load_files(
                &format!("{origin}/charts/{dir}"),
                files,
                &child_path,
            )?);
        }
    }
    for (file, data) in sub_archives {
        let origin = format!("{origin}/charts/{file}");
        subs.push(load_files(&origin, unpack(&origin, &data)?, &child_path)?);
    }
    for mut subchart in subs {
        let dep = deps
            .iter()
            .find(|d| d.get("name").and_then(Json::as_str) == Some(subchart.name()));
        if let Some(dep) = dep {
            subchart.condition = dep
                .get("condition")
                .and_then(Json::as_str)
                .map(str::to_owned);
            subchart.alias = dep.get("alias").and_then(Json::as_str).map(str::to_owned);
            subchart.tags = dep
                .get("tags")
                .and_then(Json::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            subchart.import_values = dep
                .get("import-values")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
        }
        chart.subcharts.push(subchart);
    }
    Ok(chart)
}
