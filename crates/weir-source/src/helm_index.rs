//! Reading a Helm repository's `index.yaml` with bounded memory.
//!
//! Indexes of public repositories reach tens of megabytes; Flux's source-controller loads the
//! whole document into memory (source-controller #192). Here an index written in block style
//! (what `helm repo index` and chart servers write) is read line by line: each chart version
//! is parsed on its own and only the versions of the wanted chart are kept, so memory grows
//! with the largest entry, not with the file. JSON and flow-style indexes, which are rare,
//! are read whole.

use std::io::BufRead;

use serde_json::Value;

/// Why an index cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// Reading the file failed.
    #[error("cannot read index: {0}")]
    Io(#[from] std::io::Error),
    /// The document is not a Helm repository index.
    #[error("invalid index: {0}")]
    Invalid(String),
}

/// One version of a chart in an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartVersion {
    /// The chart version.
    pub version: String,
    /// Where it can be downloaded (absolute, or relative to the repository URL).
    pub urls: Vec<String>,
    /// `sha256` hex digest of the archive, when the index gives one.
    pub digest: Option<String>,
}

/// What a scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Charts in the index.
    pub charts: usize,
    /// Chart versions in the index.
    pub versions: usize,
    /// The versions of the wanted chart.
    pub wanted: Vec<ChartVersion>,
}

fn chart_version(entry: &Value) -> Option<ChartVersion> {
    let version = match entry.get("version")? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(ChartVersion {
        version,
        urls: entry
            .get("urls")
            .and_then(Value::as_array)
            .map(|u| {
                u.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        digest: entry
            .get("digest")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Reads the index in file `path`, keeping the versions of chart `want`.
pub fn scan_file(path: &std::path::Path, want: &str) -> Result<Scan, IndexError> {
    let open = || std::fs::File::open(path).map(std::io::BufReader::new);
    match stream(open()?, want)? {
        Some(scan) => Ok(scan),
        None => whole(open()?, want),
    }
}

/// Reads an index held in memory, keeping the versions of chart `want`.
pub fn scan(data: &[u8], want: &str) -> Result<Scan, IndexError> {
    match stream(data, want)? {
        Some(scan) => Ok(scan),
        None => whole(data, want),
    }
}

/// Reads a block-style index line by line; none when it is JSON or flow style.
fn stream(mut reader: impl BufRead, want: &str) -> Result<Option<Scan>, IndexError> {
    let mut scanner = Scanner {
        want,
        ..Scanner::default()
    };
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim_start().starts_with('{') && !scanner.api_version && !scanner.entries_seen {
            return Ok(None);
        }
        if !scanner.line(text)? {
            return Ok(None);
        }
    }
    scanner.finish().map(Some)
}

/// Reads a whole index (JSON or any YAML) at once.
fn whole(mut reader: impl std::io::Read, want: &str) -> Result<Scan, IndexError> {
    let mut text = String::new();
    reader.read_to_string(&mut text)?;
    let docs = weir_object::yaml::parse_documents("index.yaml", &text)
        .map_err(|e| IndexError::Invalid(e.to_string()))?;
    let index = docs
        .into_iter()
        .next()
        .map(|d| d.value)
        .ok_or_else(|| IndexError::Invalid("empty document".into()))?;
    if index.get("apiVersion").and_then(Value::as_str).is_none() {
        return Err(IndexError::Invalid("no apiVersion".into()));
    }
    let entries = index
        .get("entries")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut scan = Scan {
        charts: entries.len(),
        ..Scan::default()
    };
    for (name, versions) in &entries {
        let versions = versions.as_array().cloned().unwrap_or_default();
        scan.versions += versions.len();
        if name == want {
            scan.wanted = versions.iter().filter_map(chart_version).collect();
        }
    }
    Ok(scan)
}

#[derive(Debug, Default)]
struct Scanner<'a> {
    want: &'a str,
    api_version: bool,
    in_entries: bool,
    entries_seen: bool,
    chart_indent: Option<usize>,
    chart: String,
    item: Option<(usize, String)>,
    scan: Scan,
}

fn key_of(content: &str) -> String {
    let key = content.split(':').next().unwrap_or_default().trim();
    key.trim_matches(['"', '\'']).to_owned()
}

impl Scanner<'_> {
    /// Takes one line; false when the index is not in block style.
    fn line(&mut self, line: &str) -> Result<bool, IndexError> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let content = line.trim();
        if content.is_empty() || content.starts_with('#') {
            if let Some((_, item)) = &mut self.item {
                item.push_str(line);
                item.push('\n');
            }
            return Ok(true);
        }
        if indent == 0 && !content.starts_with('-') {
            self.flush()?;
            let key = key_of(content);
            let value = content.split_once(':').map_or("", |(_, v)| v.trim());
            self.in_entries = key == "entries";
            if key == "apiVersion" {
                self.api_version = true;
            }
            if self.in_entries {
                self.entries_seen = true;
                if !value.is_empty() && value != "{}" {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        if !self.in_entries {
            return Ok(true);
        }
        let chart_indent = *self.chart_indent.get_or_insert(indent);
        let is_item = content == "-" || content.starts_with("- ");
        if indent == chart_indent && !is_item {
            self.flush()?;
            self.chart = key_of(content);
            self.scan.charts += 1;
            let value = content.split_once(':').map_or("", |(_, v)| v.trim());
            if !value.is_empty() && value != "[]" {
                return Ok(false);
            }
            return Ok(true);
        }
        if is_item && self.item.as_ref().is_none_or(|(at, _)| indent <= *at) {
            self.flush()?;
            let body = format!("{}  {}\n", " ".repeat(indent), &content[1..].trim_start());
            self.item = Some((indent, body));
            return Ok(true);
        }
        match &mut self.item {
            Some((_, item)) => {
                item.push_str(line);
                item.push('\n');
            }
            None => return Ok(false),
        }
        Ok(true)
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        let Some((indent, text)) = self.item.take() else {
            return Ok(());
        };
        self.scan.versions += 1;
        if self.chart != self.want {
            return Ok(());
        }
        let cut = indent + 2;
        let body: String = text
            .lines()
            .map(|l| {
                l.get(cut.min(l.len() - l.trim_start_matches(' ').len())..)
                    .unwrap_or("")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let docs = weir_object::yaml::parse_documents("index.yaml", &body)
            .map_err(|e| IndexError::Invalid(format!("entry of chart {}: {e}", self.chart)))?;
        if let Some(v) = docs.first().and_then(|d| chart_version(&d.value)) {
            self.scan.wanted.push(v);
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Scan, IndexError> {
        self.flush()?;
        if !self.api_version {
            return Err(IndexError::Invalid("no apiVersion".into()));
        }
        Ok(self.scan)
    }
}

/// The newest version of `versions` satisfying the Masterminds constraint `constraint`
/// (`*` when empty: the newest stable version).
pub fn select<'a>(
    versions: &'a [ChartVersion],
    constraint: &str,
) -> Result<Option<&'a ChartVersion>, String> {
    let constraint = if constraint.trim().is_empty() {
        "*"
    } else {
        constraint
    };
    let mut best: Option<&ChartVersion> = None;
    for v in versions {
        // Versions that are not semantic versions are skipped, as Helm does.
        let Ok(ok) = weir_gotmpl::semver::compare(constraint, &v.version) else {
            if weir_gotmpl::semver::parts(&v.version).is_some() {
                return Err(format!("invalid version constraint '{constraint}'"));
            }
            continue;
        };
        if ok
            && best.is_none_or(|b| {
                weir_gotmpl::semver::order(&v.version, &b.version) == std::cmp::Ordering::Greater
            })
        {
            best = Some(v);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "apiVersion: v1
entries:
  other:
  - apiVersion: v2
    name: other
    urls:
    - other-1.0.0.tgz
    version: 1.0.0
  podinfo:
  - apiVersion: v2
    description: |
      Podinfo
      - not an item
    digest: abc
    name: podinfo
    urls:
    - https://example.test/podinfo-6.5.0.tgz
    version: 6.5.0
  - name: podinfo
    urls:
    - podinfo-6.4.0.tgz
    version: 6.4.0
  - name: podinfo
    urls: [podinfo-7.0.0-rc.1.tgz]
    version: 7.0.0-rc.1
  \"quoted\":
  - version: \"1.0\"
generated: \"2026-01-01T00:00:00Z\"
";

    #[test]
    fn scans_block_style_keeping_one_chart() {
        let scan = scan(INDEX.as_bytes(), "podinfo").unwrap();
        assert_eq!(scan.charts, 3);
        assert_eq!(scan.versions, 5);
        let versions: Vec<_> = scan.wanted.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(versions, ["6.5.0", "6.4.0", "7.0.0-rc.1"]);
        assert_eq!(scan.wanted[0].digest.as_deref(), Some("abc"));
        assert_eq!(scan.wanted[2].urls, ["podinfo-7.0.0-rc.1.tgz"]);
        assert_eq!(select(&scan.wanted, "*").unwrap().unwrap().version, "6.5.0");
        assert_eq!(
            select(&scan.wanted, "<6.5").unwrap().unwrap().version,
            "6.4.0"
        );
        assert_eq!(
            select(&scan.wanted, ">=7.0.0-0").unwrap().unwrap().version,
            "7.0.0-rc.1"
        );
        assert!(select(&scan.wanted, ">=8").unwrap().is_none());
    }

    #[test]
    fn json_and_flow_style_are_read_whole() {
        let json =
            r#"{"apiVersion":"v1","entries":{"podinfo":[{"version":"1.2.3","urls":["a.tgz"]}]}}"#;
        let scan = scan(json.as_bytes(), "podinfo").unwrap();
        assert_eq!(scan.wanted[0].version, "1.2.3");
        let flow = "apiVersion: v1\nentries: {podinfo: [{version: 2.0.0, urls: [b.tgz]}]}\n";
        let scan = super::scan(flow.as_bytes(), "podinfo").unwrap();
        assert_eq!(scan.wanted[0].urls, ["b.tgz"]);
    }

    #[test]
    fn refuses_what_is_not_an_index() {
        assert!(scan("hello: world\n".as_bytes(), "x").is_err());
        assert!(scan("{\"a\": 1}".as_bytes(), "x").is_err());
    }
}
