//! The built-in transformers of one kustomization, in kustomize's order, and patch entries.

use serde_json::Value;

use super::{Accumulator, Target, load_resources};
use crate::patch::{self, Parsed, PatchOptions};
use crate::resource::{ResMap, Resource};
use crate::smp;
use crate::types::Replacement;
use crate::{Error, replacement, transform, yamlio};

impl Target<'_> {
    pub(super) fn run_transformers(&self, ra: &mut Accumulator) -> Result<(), Error> {
        let k = &self.k;
        let tc = ra.config.clone();
        let res = &mut ra.resources;

        if let Some(list) = &k.patches_strategic_merge {
            let mut patches = Vec::new();
            for entry in list {
                patches.extend(self.strategic_patch_entry(entry)?);
            }
            if patches.is_empty() && !list.is_empty() {
                return Err(Error::Build {
                    context: self.file.clone(),
                    message: format!("patch appears to be empty; files={list:?}"),
                });
            }
            for p in patches {
                apply_sm_to_own_target(res, &p, &self.schema(), true)?;
            }
            res.record_transformer(
                self.builtin_origin("PatchStrategicMergeTransformer")
                    .as_ref(),
            );
        }
        for entry in k.patches.iter().flatten() {
            self.apply_patch_entry(res, entry)?;
            res.record_transformer(self.builtin_origin("PatchTransformer").as_ref());
        }
        if let Some(ns) = k.namespace.as_deref().filter(|s| !s.is_empty()) {
            transform::namespace(res, ns, &tc.name_space)?;
            res.record_transformer(self.builtin_origin("NamespaceTransformer").as_ref());
        }
        if let Some(p) = k.name_prefix.as_deref().filter(|s| !s.is_empty()) {
            transform::affix(res, p, false, &tc.name_prefix)?;
            res.record_transformer(self.builtin_origin("PrefixTransformer").as_ref());
        }
        if let Some(s) = k.name_suffix.as_deref().filter(|s| !s.is_empty()) {
            transform::affix(res, s, true, &tc.name_suffix)?;
            res.record_transformer(self.builtin_origin("SuffixTransformer").as_ref());
        }
        for label in k.labels.iter().flatten() {
            let mut specs = label.field_specs.clone();
            let merge = |specs: &mut Vec<_>, more: &[crate::types::FieldSpec]| {
                crate::config::merge_all(specs, more).map_err(|message| Error::Build {
                    context: self.file.clone(),
                    message: format!("failed to merge labels: {message}"),
                })
            };
            merge(&mut specs, &tc.labels)?;
            if label.include_selectors {
                merge(&mut specs, &tc.common_labels)?;
            } else {
                if label.include_templates {
                    merge(&mut specs, &tc.template_labels)?;
                }
                merge(
                    &mut specs,
                    &[crate::types::FieldSpec {
                        path: "metadata/labels".into(),
                        create_if_not_present: true,
                        ..Default::default()
                    }],
                )?;
            }
            let pairs: Vec<(String, String)> = label.pairs.clone().into_iter().collect();
            transform::pairs(res, &pairs, &specs)?;
            res.record_transformer(self.builtin_origin("LabelTransformer").as_ref());
        }
        let has_labels = k.labels.as_ref().is_some_and(|l| !l.is_empty());
        let common_labels = k.common_labels.clone().unwrap_or_default();
        if has_labels || !common_labels.is_empty() {
            let pairs: Vec<(String, String)> = common_labels.into_iter().collect();
            transform::pairs(res, &pairs, &tc.common_labels)?;
            res.record_transformer(self.builtin_origin("LabelTransformer").as_ref());
        }
        if let Some(annotations) = k.common_annotations.as_ref().filter(|a| !a.is_empty()) {
            let pairs: Vec<(String, String)> = annotations.clone().into_iter().collect();
            transform::pairs(res, &pairs, &tc.common_annotations)?;
            res.record_transformer(self.builtin_origin("AnnotationsTransformer").as_ref());
        }
        for entry in k.patches_json6902.iter().flatten() {
            self.apply_json6902_entry(res, entry)?;
            res.record_transformer(self.builtin_origin("PatchJson6902Transformer").as_ref());
        }
        for r in k.replicas.iter().flatten() {
            transform::replicas(res, r, &tc.replicas)?;
            res.record_transformer(self.builtin_origin("ReplicaCountTransformer").as_ref());
        }
        for image in k.images.iter().flatten() {
            transform::image(res, image, &tc.images)?;
            res.record_transformer(self.builtin_origin("ImageTagTransformer").as_ref());
        }
        if let Some(list) = &k.replacements {
            let mut all: Vec<Replacement> = Vec::new();
            for r in list {
                if !r.path.is_empty() {
                    if r.source.is_some() || !r.targets.is_empty() {
                        return Err(Error::Build {
                            context: self.file.clone(),
                            message: "cannot specify both path and inline replacement".into(),
                        });
                    }
                    all.extend(self.load_replacements(&r.path)?);
                } else {
                    all.push(Replacement {
                        source: r.source.clone(),
                        targets: r.targets.clone(),
                    });
                }
            }
            replacement::apply(res, &all)?;
            res.record_transformer(self.builtin_origin("ReplacementTransformer").as_ref());
        }
        for entry in k.transformers.iter().flatten() {
            let site = self.site();
            crate::plugins::run_transformer(
                &self.ldr,
                entry,
                &self.file,
                res,
                &tc,
                &self.schema(),
                &site,
            )?;
        }
        res.drop_empties();
        Ok(())
    }

    fn load_replacements(&self, path: &str) -> Result<Vec<Replacement>, Error> {
        let shown = self.ldr.show(path);
        let text = String::from_utf8_lossy(&self.ldr.load(path)?).into_owned();
        let docs = yamlio::parse(&shown, &text)?;
        let invalid = |e: serde_json::Error| Error::Build {
            context: shown.clone(),
            message: format!("invalid replacement: {e}"),
        };
        match docs.into_iter().next() {
            Some(v @ Value::Array(_)) => serde_json::from_value(v).map_err(invalid),
            Some(v @ Value::Object(_)) => Ok(vec![serde_json::from_value(v).map_err(invalid)?]),
            _ => Err(Error::Build {
                context: shown,
                message: "unsupported replacement type encountered within replacement path".into(),
            }),
        }
    }

    /// A `patchesStrategicMerge` entry: inline YAML objects, or a file of them.
    fn strategic_patch_entry(&self, entry: &str) -> Result<Vec<Resource>, Error> {
        if let Ok(docs) = yamlio::parse(&self.file, entry)
            && !docs.is_empty()
            && docs.iter().all(Value::is_object)
        {
            return Ok(docs
                .into_iter()
                .filter_map(|d| match d {
                    Value::Object(m) => {
                        Some(Resource::new(m, &format!("{} (inline patch)", self.file)))
                    }
                    _ => None,
                })
                .collect());
        }
        let shown = self.ldr.show(entry);
        let text = String::from_utf8_lossy(&self.ldr.load(entry)?).into_owned();
        let resources = load_resources(&shown, text.as_bytes())?;
        Ok(resources.list)
    }

    fn patch_text(&self, path: &str, inline: &str) -> Result<(String, String), Error> {
        let inline = inline.trim();
        match (inline.is_empty(), path.is_empty()) {
            (true, true) => Err(Error::Build {
                context: self.file.clone(),
                message: "a patch must specify one of patch and path".into(),
            }),
            (false, false) => Err(Error::Build {
                context: self.file.clone(),
                message: "patch and path can't be set at the same time".into(),
            }),
            (false, true) => Ok((inline.to_owned(), format!("{} (inline patch)", self.file))),
            (true, false) => {
                let shown = self.ldr.show(path);
                let text = String::from_utf8(self.ldr.load(path)?).map_err(|_| Error::Build {
                    context: shown.clone(),
                    message: "patch file is not UTF-8 text".into(),
                })?;
                Ok((text, shown))
            }
        }
    }

    fn apply_patch_entry(
        &self,
        res: &mut ResMap,
        entry: &crate::types::Patch,
    ) -> Result<(), Error> {
        let (text, source) = self.patch_text(&entry.path, &entry.patch)?;
        let opts = PatchOptions {
            allow_name_change: entry
                .options
                .get("allowNameChange")
                .copied()
                .unwrap_or(false),
            allow_kind_change: entry
                .options
                .get("allowKindChange")
                .copied()
                .unwrap_or(false),
        };
        match patch::parse(&text, &source)? {
            Parsed::Strategic(patches) => match &entry.target {
                Some(target) => {
                    if patches.len() > 1 {
                        return Err(Error::Build {
                            context: source,
                            message: "multiple strategic-merge patches in one `patches` entry cannot have a `target`".into(),
                        });
                    }
                    let selected = patch::select(res, target)?;
                    for i in selected {
                        let mut p = patches[0].clone();
                        let gvk = res.list[i].gvk();
                        p.set_api_version(&gvk.api_version());
                        patch::apply_strategic(&mut res.list[i], &p, opts, &self.schema())?;
                    }
                    res.drop_empties();
                    Ok(())
                }
                None => {
                    for p in &patches {
                        let index = find_patch_target(res, p)?;
                        patch::apply_strategic(&mut res.list[index], p, opts, &self.schema())?;
                    }
                    res.drop_empties();
                    Ok(())
                }
            },
            Parsed::Json(ops) => {
                let Some(target) = &entry.target else {
                    return Err(Error::Build {
                        context: source,
                        message: "a JSON 6902 patch needs a `target`".into(),
                    });
                };
                for i in patch::select(res, target)? {
                    res.list[i].store_previous_id();
                    patch::apply_json(&mut res.list[i], &ops, &source)?;
                }
                Ok(())
            }
        }
    }

    fn apply_json6902_entry(
        &self,
        res: &mut ResMap,
        entry: &crate::types::Patch,
    ) -> Result<(), Error> {
        let Some(target) = &entry.target else {
            return Err(Error::Build {
                context: self.file.clone(),
                message: "patchesJson6902 entries need a target".into(),
            });
        };
        if target.name.is_empty() {
            return Err(Error::Build {
                context: self.file.clone(),
                message: "must specify the target name".into(),
            });
        }
        let (text, source) = self.patch_text(&entry.path, &entry.patch)?;
        let docs = yamlio::parse(&source, &text)?;
        let ops: json_patch::Patch = match docs.into_iter().next() {
            Some(v @ Value::Array(_)) => serde_json::from_value(v).map_err(|e| Error::Build {
                context: source.clone(),
                message: format!("invalid JSON 6902 patch: {e}"),
            })?,
            _ => {
                return Err(Error::Build {
                    context: source,
                    message: "a JSON 6902 patch must be a list of operations".into(),
                });
            }
        };
        if ops.0.is_empty() {
            return Err(Error::Build {
                context: source,
                message: "patch appears to be empty".into(),
            });
        }
        for i in patch::select(res, target)? {
            patch::apply_json(&mut res.list[i], &ops, &source)?;
        }
        Ok(())
    }
}

/// The single resource a target-less strategic-merge patch applies to, by its id.
fn find_patch_target(res: &ResMap, p: &Resource) -> Result<usize, Error> {
    let id = p.org_id();
    let matches = res.matching_any_id(|x| id.equals(x));
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::Build {
            context: p.origin.clone(),
            message: format!(
                "no resource matches strategic merge patch \"{id}\": no matches for Id {id}; failed to find unique target for patch {id}"
            ),
        }),
        _ => Err(Error::Build {
            context: p.origin.clone(),
            message: format!(
                "multiple matches for Id {id}; failed to find unique target for patch {id}"
            ),
        }),
    }
}

/// `patchesStrategicMerge`: patch the resource with the patch's id, with the patch taking the
/// target's apiVersion.
pub(crate) fn apply_sm_to_own_target(
    res: &mut ResMap,
    p: &Resource,
    schema: &smp::Schema,
    copy_gvk: bool,
) -> Result<(), Error> {
    let index = find_patch_target(res, p)?;
    let mut patch = p.clone();
    if copy_gvk {
        let gvk = res.list[index].gvk();
        patch.set_api_version(&gvk.api_version());
    }
    patch::apply_strategic(
        &mut res.list[index],
        &patch,
        PatchOptions::default(),
        schema,
    )?;
    res.drop_empties();
    Ok(())
}
