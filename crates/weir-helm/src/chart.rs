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
    pub files: Vec<(String, Vec<u8>)>,
    /// Subcharts.
    pub subcharts: Vec<Chart>,
    /// The `condition` of the parent's dependency entry for this chart.
    pub condition: Option<String>,
    /// The `alias` of the parent's dependency entry for this chart.
    pub alias: Option<String>,
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

    /// The key of this chart's values in its parent's.
    pub fn alias_or_name(&self) -> &str {
        self.name()
    }
}

fn read_yaml(path: &Path) -> Result<Json, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Load {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let docs =
        weir_object::yaml::parse_documents(&path.display().to_string(), &text).map_err(|e| {
            Error::Load {
                path: path.display().to_string(),
                message: e.to_string(),
            }
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
            if rel == "charts" {
                continue;
            }
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

/// Loads the chart in directory `dir`, with its subcharts (directories under `charts/`).
pub fn load_dir(dir: &Path) -> Result<Chart, Error> {
    load(dir, "")
}

fn load(dir: &Path, parent_path: &str) -> Result<Chart, Error> {
    let metadata = read_yaml(&dir.join("Chart.yaml"))?;
    let values = if dir.join("values.yaml").exists() {
        read_yaml(&dir.join("values.yaml"))?
    } else {
        Json::Object(Default::default())
    };
    let mut all = Vec::new();
    walk(dir, dir, &mut all)?;
    let ignore = all
        .iter()
        .find(|(p, _)| p == ".helmignore")
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .unwrap_or_default();
    let rules = ignore_rules(&ignore);
    let ignored = |p: &str| is_ignored(&rules, p);
    let mut chart = Chart {
        metadata,
        values,
        parent_path: parent_path.to_owned(),
        ..Chart::default()
    };
    for (path, data) in all {
        if ignored(&path) {
            continue;
        }
        if path.starts_with("templates/") {
            chart
                .templates
                .push((path, String::from_utf8_lossy(&data).into_owned()));
        } else if path.starts_with("crds/") {
            chart
                .crds
                .push((path, String::from_utf8_lossy(&data).into_owned()));
        } else {
            chart.files.push((path, data));
        }
    }
    let deps: Vec<Json> = chart
        .metadata
        .get("dependencies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let charts = dir.join("charts");
    if charts.is_dir() {
        let mut subdirs: Vec<_> = std::fs::read_dir(&charts)
            .map_err(|e| Error::Load {
                path: charts.display().to_string(),
                message: e.to_string(),
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join("Chart.yaml").exists())
            .collect();
        subdirs.sort();
        let name = chart.name().to_owned();
        for sub in subdirs {
            let mut subchart = load(&sub, &format!("{parent_path}{name}/"))?;
            let dep = deps
                .iter()
                .find(|d| d.get("name").and_then(Json::as_str) == Some(subchart.name()));
            if let Some(dep) = dep {
                subchart.condition = dep
                    .get("condition")
                    .and_then(Json::as_str)
                    .map(str::to_owned);
                subchart.alias = dep.get("alias").and_then(Json::as_str).map(str::to_owned);
            }
            chart.subcharts.push(subchart);
        }
    }
    Ok(chart)
}
