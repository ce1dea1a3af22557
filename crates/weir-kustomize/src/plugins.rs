//! Built-in plugin configurations listed under `generators:` and `transformers:` (objects with
//! `apiVersion: builtin`). Exec, Go and KRM-function plugins are not supported.

use serde::Deserialize;
use serde_json::Value;

use crate::Error;
use crate::config::TransformerConfig;
use crate::generate::{self, Kind};
use crate::loader::Loader;
use crate::origin::Origin;
use crate::resource::ResMap;
use crate::smp;
use crate::types::{FieldSpec, GeneratorArgs, Image, Replacement, Replica, Selector};
use crate::{patch, transform, yamlio};

/// Where a plugin entry sits, for build metadata: the directory's origin and the
/// kustomization file's name.
pub(crate) struct Site<'a> {
    pub(crate) origin: Option<&'a Origin>,
    pub(crate) file_name: &'a str,
}

type Config = (serde_json::Map<String, Value>, Option<Origin>);

/// The origin kustomize records for a generator or transformer configured by `cfg`, read from
/// a file whose origin path is `path`.
fn plugin_origin(cfg: &serde_json::Map<String, Value>, path: Option<String>) -> Option<Origin> {
    let path = path?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let meta = cfg.get("metadata");
    Some(Origin {
        configured_in: path,
        by_api_version: s(cfg.get("apiVersion")),
        by_kind: s(cfg.get("kind")),
        by_name: s(meta.and_then(|m| m.get("name"))),
        by_namespace: s(meta.and_then(|m| m.get("namespace"))),
        ..Origin::default()
    })
}

/// The plugin configuration objects an entry stands for: inline YAML, a file, or a directory
/// built as a kustomization; each with the origin of the generator or transformer it
/// configures.
fn configs(
    ldr: &Loader<'_>,
    entry: &str,
    file: &str,
    site: &Site<'_>,
) -> Result<Vec<Config>, Error> {
    let with = |docs: Vec<Value>, path: Option<String>| -> Vec<Config> {
        docs.into_iter()
            .filter_map(|d| d.as_object().cloned())
            .map(|m| {
                let o = plugin_origin(&m, path.clone());
                (m, o)
            })
            .collect()
    };
    if let Ok(docs) = yamlio::parse(file, entry)
        && !docs.is_empty()
        && docs.iter().all(Value::is_object)
    {
        let path = site.origin.map(|o| o.append(site.file_name).path);
        return Ok(with(docs, path));
    }
    if ldr.is_file(entry) {
        let shown = ldr.show(entry);
        let text = String::from_utf8_lossy(&ldr.load(entry)?).into_owned();
        let path = site.origin.map(|o| o.append(entry).path);
        return Ok(with(yamlio::parse(&shown, &text)?, path));
    }
    let child = ldr.child(entry)?;
    let mut sub = crate::build::Target::load(child)?;
    sub.set_origin(site.origin.map(|o| o.append(entry)));
    let ra = sub.accumulate(crate::build::Accumulator::empty())?;
    Ok(ra
        .resources
        .list
        .into_iter()
        .map(|r| {
            let path = r.build_origin.as_ref().map(|o| o.path.clone());
            let o = plugin_origin(&r.obj, path);
            (r.obj, o)
        })
        .collect())
}

fn unsupported(file: &str, cfg: &serde_json::Map<String, Value>) -> Error {
    let kind = cfg.get("kind").and_then(Value::as_str).unwrap_or("?");
    let api = cfg.get("apiVersion").and_then(Value::as_str).unwrap_or("?");
    Error::Unsupported {
        path: file.to_owned(),
        feature: format!("the {kind} plugin (apiVersion {api})"),
    }
}

fn decode<T: for<'de> Deserialize<'de>>(
    cfg: &serde_json::Map<String, Value>,
    file: &str,
) -> Result<T, Error> {
    let mut cfg = cfg.clone();
    cfg.remove("apiVersion");
    cfg.remove("kind");
    cfg.remove("metadata");
    serde_json::from_value(Value::Object(cfg)).map_err(|e| Error::Build {
        context: file.to_owned(),
        message: format!("invalid plugin configuration: {e}"),
    })
}

/// Runs the generators of one `generators:` entry.
pub(crate) fn run_generator(
    ldr: &Loader<'_>,
    entry: &str,
    file: &str,
    site: &Site<'_>,
) -> Result<ResMap, Error> {
    let mut out = ResMap::default();
    for (cfg, origin) in configs(ldr, entry, file, site)? {
        let start = out.list.len();
        let kind = cfg.get("kind").and_then(Value::as_str).unwrap_or("");
        let builtin = cfg.get("apiVersion").and_then(Value::as_str) == Some("builtin");
        let gen_kind = match (builtin, kind) {
            (true, "ConfigMapGenerator") => Kind::ConfigMap,
            (true, "SecretGenerator") => Kind::Secret,
            (true, "IAMPolicyGenerator") => {
                let mut r = iam_policy(&decode(&cfg, file)?, file)?;
                r.build_origin = origin.clone();
                out.list.push(r);
                continue;
            }
            _ => return Err(unsupported(file, &cfg)),
        };
        let mut args: GeneratorArgs = decode(&cfg, file)?;
        if args.name.is_empty() {
            args.name = cfg
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
        }
        if args.namespace.is_empty() {
            args.namespace = cfg
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
        }
        out.list
            .push(generate::generate(ldr, gen_kind, &args, None, file)?);
        for r in &mut out.list[start..] {
            if r.build_origin.is_none() {
                r.build_origin = origin.clone();
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AffixConfig {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    field_specs: Option<Vec<FieldSpec>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PairsConfig {
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    field_specs: Vec<FieldSpec>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct IamConfig {
    #[serde(default)]
    cloud: String,
    #[serde(default)]
    kubernetes_service: IamNamed,
    #[serde(default)]
    service_account: IamNamed,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct IamNamed {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    project_id: String,
}

/// kustomize's IAMPolicyGenerator: a ServiceAccount bound to a GKE service account.
fn iam_policy(c: &IamConfig, file: &str) -> Result<crate::resource::Resource, Error> {
    if c.cloud != "gke" {
        return Err(Error::Build {
            context: file.to_owned(),
            message: format!("cloud provider {} not supported yet", c.cloud),
        });
    }
    let mut meta = serde_json::Map::new();
    let mut annotations = serde_json::Map::new();
    annotations.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::String(format!(
            "{}@{}.iam.gserviceaccount.com",
            c.service_account.name, c.service_account.project_id
        )),
    );
    meta.insert("annotations".into(), Value::Object(annotations));
    meta.insert(
        "name".into(),
        Value::String(c.kubernetes_service.name.clone()),
    );
    if !c.kubernetes_service.namespace.is_empty() {
        meta.insert(
            "namespace".into(),
            Value::String(c.kubernetes_service.namespace.clone()),
        );
    }
    let mut obj = serde_json::Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String("ServiceAccount".into()));
    obj.insert("metadata".into(), Value::Object(meta));
    Ok(crate::resource::Resource::new(obj, file))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PatchConfig {
    #[serde(default)]
    path: String,
    #[serde(default)]
    patch: String,
    #[serde(default)]
    json_op: String,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    patches: String,
    target: Option<Selector>,
    #[serde(default)]
    options: std::collections::BTreeMap<String, bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ImageConfig {
    image_tag: Image,
    #[serde(default)]
    field_specs: Option<Vec<FieldSpec>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReplicaConfig {
    replica: Replica,
    #[serde(default)]
    field_specs: Option<Vec<FieldSpec>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReplacementConfig {
    #[serde(default)]
    replacements: Vec<Replacement>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NamespaceConfig {
    #[serde(default)]
    field_specs: Option<Vec<FieldSpec>>,
}

/// Runs the transformers of one `transformers:` entry.
pub(crate) fn run_transformer(
    ldr: &Loader<'_>,
    entry: &str,
    file: &str,
    res: &mut ResMap,
    tc: &TransformerConfig,
    schema: &smp::Schema,
    site: &Site<'_>,
) -> Result<(), Error> {
    for (cfg, origin) in configs(ldr, entry, file, site)? {
        let kind = cfg
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if cfg.get("apiVersion").and_then(Value::as_str) != Some("builtin") {
            return Err(unsupported(file, &cfg));
        }
        match kind.as_str() {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let c: AffixConfig = decode(&cfg, file)?;
                let specs = c.field_specs.unwrap_or_else(|| tc.name_prefix.clone());
                if !c.prefix.is_empty() {
                    transform::affix(res, &c.prefix, false, &specs)?;
                }
                if !c.suffix.is_empty() {
                    transform::affix(res, &c.suffix, true, &specs)?;
                }
            }
            "LabelTransformer" => {
                let c: PairsConfig = decode(&cfg, file)?;
                transform::pairs(
                    res,
                    &c.labels.into_iter().collect::<Vec<_>>(),
                    &c.field_specs,
                )?;
            }
            "AnnotationsTransformer" => {
                let c: PairsConfig = decode(&cfg, file)?;
                transform::pairs(
                    res,
                    &c.annotations.into_iter().collect::<Vec<_>>(),
                    &c.field_specs,
                )?;
            }
            "NamespaceTransformer" => {
                let c: NamespaceConfig = decode(&cfg, file)?;
                let ns = cfg
                    .get("metadata")
                    .and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                if !ns.is_empty() {
                    transform::namespace(
                        res,
                        &ns,
                        &c.field_specs.unwrap_or_else(|| tc.name_space.clone()),
                    )?;
                }
            }
            "ImageTagTransformer" => {
                let c: ImageConfig = decode(&cfg, file)?;
                transform::image(
                    res,
                    &c.image_tag,
                    &c.field_specs.unwrap_or_else(|| tc.images.clone()),
                )?;
            }
            "ReplicaCountTransformer" => {
                let c: ReplicaConfig = decode(&cfg, file)?;
                transform::replicas(
                    res,
                    &c.replica,
                    &c.field_specs.unwrap_or_else(|| tc.replicas.clone()),
                )?;
            }
            "ReplacementTransformer" => {
                let c: ReplacementConfig = decode(&cfg, file)?;
                crate::replacement::apply(res, &c.replacements)?;
            }
            "PatchTransformer" | "PatchStrategicMergeTransformer" | "PatchJson6902Transformer" => {
                let c: PatchConfig = decode(&cfg, file)?;
                let mut texts: Vec<String> = Vec::new();
                for p in &c.paths {
                    texts.push(String::from_utf8_lossy(&ldr.load(p)?).into_owned());
                }
                if !c.path.is_empty() {
                    texts.push(String::from_utf8_lossy(&ldr.load(&c.path)?).into_owned());
                }
                for inline in [&c.patch, &c.patches, &c.json_op] {
                    if !inline.trim().is_empty() {
                        texts.push(inline.trim().to_owned());
                    }
                }
                if texts.is_empty() {
                    return Err(Error::Build {
                        context: file.to_owned(),
                        message: format!("{kind} needs a patch, path, paths or jsonOp"),
                    });
                }
                for text in texts {
                    let opts = patch::PatchOptions {
                        allow_name_change: c
                            .options
                            .get("allowNameChange")
                            .copied()
                            .unwrap_or(false),
                        allow_kind_change: c
                            .options
                            .get("allowKindChange")
                            .copied()
                            .unwrap_or(false),
                    };
                    match patch::parse(&text, file)? {
                        patch::Parsed::Strategic(patches) => match &c.target {
                            Some(t) => {
                                for i in patch::select(res, t)? {
                                    for p in &patches {
                                        let mut p = p.clone();
                                        p.set_api_version(&res.list[i].gvk().api_version());
                                        patch::apply_strategic(&mut res.list[i], &p, opts, schema)?;
                                    }
                                }
                                res.drop_empties();
                            }
                            None => {
                                for p in &patches {
                                    crate::build::apply_sm_to_own_target(res, p, schema, false)?;
                                }
                            }
                        },
                        patch::Parsed::Json(ops) => {
                            let Some(t) = &c.target else {
                                return Err(Error::Build {
                                    context: file.to_owned(),
                                    message: "a JSON 6902 patch needs a target".into(),
                                });
                            };
                            for i in patch::select(res, t)? {
                                res.list[i].store_previous_id();
                                patch::apply_json(&mut res.list[i], &ops, file)?;
                            }
                        }
                    }
                }
            }
            _ => return Err(unsupported(file, &cfg)),
        }
        res.record_transformer(origin.as_ref());
        res.drop_empties();
    }
    Ok(())
}
