//! Helm releases as Helm stores them: the release record (JSON, as Helm v3 and v4 write it),
//! its encoding (gzip, then base64) and the Secret `sh.helm.release.v1.<name>.v<version>`
//! holding it, with Helm's labels. `helm list`, `helm history` and `helm rollback` read what
//! this module writes, and it reads what they write.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use serde_json::{Map, Value as Json, json};

use crate::{Chart, Manifest, Rendered};

/// Why a stored release could not be read.
#[derive(Debug, thiserror::Error)]
#[error("release {name}: {message}")]
pub struct DecodeError {
    /// The Secret's name.
    pub name: String,
    /// What is wrong.
    pub message: String,
}

/// Helm's release states.
pub mod status {
    /// Deployed: the current release.
    pub const DEPLOYED: &str = "deployed";
    /// Replaced by a newer release.
    pub const SUPERSEDED: &str = "superseded";
    /// Failed.
    pub const FAILED: &str = "failed";
    /// Uninstalled, history kept.
    pub const UNINSTALLED: &str = "uninstalled";
    /// An uninstall is under way.
    pub const UNINSTALLING: &str = "uninstalling";
    /// An install is under way.
    pub const PENDING_INSTALL: &str = "pending-install";
    /// An upgrade is under way.
    pub const PENDING_UPGRADE: &str = "pending-upgrade";
    /// A rollback is under way.
    pub const PENDING_ROLLBACK: &str = "pending-rollback";
}

/// The Secret type Helm gives release Secrets.
pub const SECRET_TYPE: &str = "helm.sh/release.v1";

/// The name of the Secret holding `version` of release `name`.
pub fn secret_name(name: &str, version: u32) -> String {
    format!("sh.helm.release.v1.{name}.v{version}")
}

/// Files Helm keeps out of a chart's `files` (they are its metadata, values, lock, schema).
const NOT_FILES: &[&str] = &[
    "Chart.yaml",
    "values.yaml",
    "Chart.lock",
    "values.schema.json",
];

fn file_list(files: impl Iterator<Item = (String, Vec<u8>)>) -> Json {
    let b64 = base64::engine::general_purpose::STANDARD;
    Json::Array(
        files
            .map(|(name, data)| json!({ "name": name, "data": b64.encode(data) }))
            .collect(),
    )
}

/// The chart as a release records it: metadata, lock, templates, values, schema and files
/// (Helm does not record subcharts).
pub fn chart_json(chart: &Chart) -> Json {
    let b64 = base64::engine::general_purpose::STANDARD;
    let find = |name: &str| chart.files.iter().find(|(p, _)| p == name).map(|(_, d)| d);
    let lock = find("Chart.lock")
        .and_then(|d| {
            weir_object::yaml::parse_documents("Chart.lock", &String::from_utf8_lossy(d)).ok()
        })
        .and_then(|docs| docs.into_iter().next())
        .map_or(Json::Null, |d| d.value);
    let schema = find("values.schema.json").map_or(Json::Null, |d| json!(b64.encode(d)));
    json!({
        "metadata": chart.metadata,
        "lock": lock,
        "templates": file_list(chart.templates.iter().map(|(p, t)| (p.clone(), t.as_bytes().to_vec()))),
        "values": chart.values,
        "schema": schema,
        "files": file_list(
            chart
                .files
                .iter()
                .filter(|(p, _)| !NOT_FILES.contains(&p.as_str()))
                .cloned()
        ),
    })
}

fn annotation(doc: &Json, key: &str) -> Option<String> {
    doc.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(|v| match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn split_list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A hook as a release records it (Helm's defaults: weight 0, delete policy
/// `before-hook-creation` when none is given).
pub fn hook_json(hook: &Manifest) -> Json {
    let doc = weir_object::yaml::parse_documents(&hook.path, &hook.content)
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .map_or(Json::Null, |d| d.value);
    let mut policies = split_list(annotation(&doc, "helm.sh/hook-delete-policy"));
    if policies.is_empty() {
        policies.push("before-hook-creation".into());
    }
    let weight = annotation(&doc, "helm.sh/hook-weight")
        .and_then(|w| w.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let mut out = Map::new();
    out.insert(
        "name".into(),
        doc.pointer("/metadata/name").cloned().unwrap_or(Json::Null),
    );
    out.insert("kind".into(), json!(hook.kind));
    out.insert("path".into(), json!(hook.path));
    out.insert("manifest".into(), json!(hook.content));
    out.insert(
        "events".into(),
        json!(split_list(annotation(&doc, "helm.sh/hook"))),
    );
    out.insert("last_run".into(), json!({ "phase": "" }));
    if weight != 0 {
        out.insert("weight".into(), json!(weight));
    }
    out.insert("delete_policies".into(), json!(policies));
    Json::Object(out)
}

/// What a new release record holds besides the rendered chart.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The release name.
    pub name: &'a str,
    /// The release namespace.
    pub namespace: &'a str,
    /// Its version (revision), from 1.
    pub version: u32,
    /// Helm's status (see [`status`]).
    pub status: &'a str,
    /// Helm's description (`Install complete`, `Upgrade complete`, ...).
    pub description: &'a str,
    /// When the first version was deployed (RFC 3339).
    pub first_deployed: &'a str,
    /// When this version was deployed (RFC 3339).
    pub last_deployed: &'a str,
    /// The values given by the user (Helm's `config`).
    pub config: &'a Json,
}

/// A release record as Helm writes it.
pub fn new_release(record: &Record<'_>, chart: &Chart, rendered: &Rendered) -> Json {
    let mut info = Map::new();
    info.insert("first_deployed".into(), json!(record.first_deployed));
    info.insert("last_deployed".into(), json!(record.last_deployed));
    info.insert("description".into(), json!(record.description));
    info.insert("status".into(), json!(record.status));
    if !rendered.notes.is_empty() {
        info.insert("notes".into(), json!(rendered.notes));
    }
    let mut out = Map::new();
    out.insert("name".into(), json!(record.name));
    out.insert("info".into(), Json::Object(info));
    out.insert("chart".into(), chart_json(chart));
    if record.config.as_object().is_some_and(|m| !m.is_empty()) {
        out.insert("config".into(), record.config.clone());
    }
    let manifest = rendered.manifest();
    if !manifest.is_empty() {
        out.insert("manifest".into(), json!(manifest));
    }
    if !rendered.hooks.is_empty() {
        out.insert(
            "hooks".into(),
            Json::Array(rendered.hooks.iter().map(hook_json).collect()),
        );
    }
    out.insert("version".into(), json!(record.version));
    out.insert("namespace".into(), json!(record.namespace));
    out.insert("apply_method".into(), json!("ssa"));
    Json::Object(out)
}

/// The release's name.
pub fn name(release: &Json) -> &str {
    release["name"].as_str().unwrap_or_default()
}

/// The release's version.
pub fn version(release: &Json) -> u32 {
    release["version"]
        .as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

/// The release's Helm status.
pub fn status_of(release: &Json) -> &str {
    release
        .pointer("/info/status")
        .and_then(Json::as_str)
        .unwrap_or(status::DEPLOYED)
}

/// Sets the release's status and description.
pub fn set_status(release: &mut Json, status: &str, description: &str) {
    if let Some(info) = release.get_mut("info").and_then(Json::as_object_mut) {
        info.insert("status".into(), json!(status));
        info.insert("description".into(), json!(description));
    }
}

/// Encodes a release as Helm stores it: JSON, gzip (best compression), base64.
pub fn encode(release: &Json) -> String {
    let json = serde_json::to_vec(release).unwrap_or_default();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&json);
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes what [`encode`] (or Helm) wrote; `name` names the Secret in errors. Records
/// written before Helm compressed them (plain JSON) are read too.
pub fn decode(name: &str, data: &[u8]) -> Result<Json, DecodeError> {
    let fail = |message: String| DecodeError {
        name: name.to_owned(),
        message,
    };
    let text: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| fail(format!("not base64: {e}")))?;
    let json = if bytes.starts_with(&[0x1f, 0x8b, 0x08]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("not gzip: {e}")))?;
        out
    } else {
        bytes
    };
    serde_json::from_slice(&json).map_err(|e| fail(format!("not a release record: {e}")))
}

/// The Secret storing `release` in `namespace`, with Helm's labels (`name`, `owner`,
/// `status`, `version`, plus `createdAt` or `modifiedAt` at `now`, Unix seconds). Its
/// `data.release` is the Kubernetes base64 of [`encode`]'s text, as Helm's client sends it.
pub fn secret(release: &Json, namespace: &str, now_unix: i64, modified: bool) -> Json {
    let name = name(release);
    let version = version(release);
    let b64 = base64::engine::general_purpose::STANDARD;
    let stamp = if modified { "modifiedAt" } else { "createdAt" };
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(name, version),
            "namespace": namespace,
            "labels": {
                "name": name,
                "owner": "helm",
                "status": status_of(release),
                "version": version.to_string(),
                stamp: now_unix.to_string(),
            },
        },
        "type": SECRET_TYPE,
        "data": { "release": b64.encode(encode(release)) },
    })
}

/// The objects of a release manifest: each document with a `kind` (comments and empty
/// documents left out), with the template path it came from.
pub fn manifest_objects(manifest: &str) -> Vec<(String, Json)> {
    let mut out = Vec::new();
    let mut source = String::new();
    for doc in manifest.split("\n---") {
        let doc = doc.strip_prefix("---").unwrap_or(doc);
        if let Some(line) = doc
            .lines()
            .find(|l| l.starts_with("# Source: "))
            .and_then(|l| l.strip_prefix("# Source: "))
        {
            source = line.trim().to_owned();
        }
        let Ok(values) = weir_object::yaml::parse_documents(&source, doc) else {
            continue;
        };
        for v in values {
            if v.value.get("kind").is_some() {
                out.push((source.clone(), v.value));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        Chart {
            metadata: json!({ "apiVersion": "v2", "name": "demo", "version": "1.2.3" }),
            values: json!({ "replicas": 1 }),
            templates: vec![("templates/cm.yaml".into(), "kind: ConfigMap".into())],
            files: std::sync::Arc::new(vec![
                ("Chart.yaml".into(), b"name: demo".to_vec()),
                ("README.md".into(), b"hi".to_vec()),
            ]),
            ..Chart::default()
        }
    }

    #[test]
    fn round_trip_and_secret() {
        let rendered = Rendered {
            manifests: vec![Manifest {
                path: "demo/templates/cm.yaml".into(),
                content: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x".into(),
                kind: "ConfigMap".into(),
                is_test: false,
            }],
            hooks: vec![Manifest {
                path: "demo/templates/job.yaml".into(),
                content: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n    helm.sh/hook-weight: \"-5\"".into(),
                kind: "Job".into(),
                is_test: false,
            }],
            notes: "thanks".into(),
            ..Rendered::default()
        };
        let config = json!({ "replicas": 2 });
        let record = Record {
            name: "demo",
            namespace: "apps",
            version: 3,
            status: status::DEPLOYED,
            description: "Upgrade complete",
            first_deployed: "2026-01-01T00:00:00Z",
            last_deployed: "2026-01-02T00:00:00Z",
            config: &config,
        };
        let release = new_release(&record, &chart(), &rendered);
        assert_eq!(release["chart"]["files"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            release["hooks"][0]["events"],
            json!(["pre-install", "post-upgrade"])
        );
        assert_eq!(release["hooks"][0]["weight"], json!(-5));
        assert_eq!(
            release["hooks"][0]["delete_policies"],
            json!(["before-hook-creation"])
        );
        assert_eq!(release["info"]["notes"], "thanks");
        let encoded = encode(&release);
        assert_eq!(decode("x", encoded.as_bytes()).unwrap(), release);
        let secret = secret(&release, "apps", 42, false);
        assert_eq!(secret["metadata"]["name"], "sh.helm.release.v1.demo.v3");
        assert_eq!(secret["metadata"]["labels"]["status"], "deployed");
        assert_eq!(secret["metadata"]["labels"]["createdAt"], "42");
        let objects = manifest_objects(release["manifest"].as_str().unwrap());
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].0, "demo/templates/cm.yaml");
        assert!(
            decode("x", b"!!!")
                .unwrap_err()
                .to_string()
                .contains("release x")
        );
    }

    #[test]
    fn reads_uncompressed_records() {
        let plain =
            base64::engine::general_purpose::STANDARD.encode(br#"{"name":"a","version":1}"#);
        let release = decode("x", plain.as_bytes()).unwrap();
        assert_eq!(version(&release), 1);
        assert_eq!(status_of(&release), "deployed");
    }
}
