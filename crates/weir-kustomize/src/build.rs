//! The build: load a kustomization, accumulate its resources (files, bases, generators,
//! components), run its transformers, then fix names and references at the top.

use serde_json::Value;

use crate::config::TransformerConfig;
use crate::generate::{self, Kind};
use crate::loader::SchemaChoice;
use crate::loader::{KUSTOMIZATION_FILE_NAMES, Loader};
use crate::origin::Origin;
use crate::patch::{self, Parsed, PatchOptions};
use crate::resource::{ResMap, Resource};
use crate::smp;
use crate::types::{Kustomization, Replacement, Var};
use crate::{Error, nameref, replacement, transform, vars, yamlio};

/// Resources, transformer configuration and vars gathered so far.
pub(crate) struct Accumulator {
    pub(crate) resources: ResMap,
    pub(crate) config: TransformerConfig,
    pub(crate) vars: Vec<Var>,
}

impl Accumulator {
    pub(crate) fn empty() -> Self {
        Accumulator {
            resources: ResMap::default(),
            config: TransformerConfig::default(),
            vars: Vec::new(),
        }
    }

    fn merge(&mut self, other: Accumulator, context: &str) -> Result<(), Error> {
        self.resources.append_all(other.resources)?;
        self.config
            .merge(&other.config)
            .map_err(|message| Error::Build {
                context: context.to_owned(),
                message,
            })?;
        merge_vars(&mut self.vars, other.vars)
    }
}

fn merge_vars(into: &mut Vec<Var>, more: Vec<Var>) -> Result<(), Error> {
    for v in more {
        if into.iter().any(|x| x.name == v.name) {
            return Err(Error::Build {
                context: "vars".into(),
                message: format!("var '{}' already encountered", v.name),
            });
        }
        into.push(v);
    }
    Ok(())
}

/// One kustomization directory, loaded.
pub(crate) struct Target<'a> {
    ldr: Loader<'a>,
    k: Kustomization,
    /// The kustomization file as shown to users.
    file: String,
    /// The kustomization file's name (`kustomization.yaml`, ...).
    file_name: String,
    /// The schema this kustomization's `openapi` declares, if any.
    declared_schema: Option<smp::Schema>,
    /// Build-metadata origin of this directory, when the top kustomization asks for
    /// `buildMetadata`.
    origin: Option<Origin>,
}

impl<'a> Target<'a> {
    /// Finds, parses and checks the kustomization file in the loader's root.
    pub(crate) fn load(ldr: Loader<'a>) -> Result<Self, Error> {
        let present: Vec<&str> = KUSTOMIZATION_FILE_NAMES
            .iter()
            .copied()
            .filter(|name| ldr.is_file(name))
            .collect();
        let name = match present.as_slice() {
            [] => {
                return Err(Error::MissingKustomization {
                    dir: ldr.display.display().to_string(),
                });
            }
            [one] => *one,
            _ => {
                return Err(Error::Build {
                    context: ldr.display.display().to_string(),
                    message: "found multiple kustomization files; keep one of kustomization.yaml, kustomization.yml, Kustomization".into(),
                });
            }
        };
        let file = ldr.show(name);
        let bytes = ldr.load(name)?;
        let text = String::from_utf8(bytes).map_err(|_| Error::InvalidKustomization {
            path: file.clone(),
            message: "not UTF-8 text".into(),
        })?;
        let docs = yamlio::parse_config(&file, &text)?;
        let value = match docs.len() {
            0 => Value::Object(serde_json::Map::new()),
            1 => docs.into_iter().next().unwrap_or(Value::Null),
            n => {
                return Err(Error::InvalidKustomization {
                    path: file,
                    message: format!("holds {n} YAML documents; a kustomization is one"),
                });
            }
        };
        if !value.is_object() {
            return Err(Error::InvalidKustomization {
                path: file,
                message: "is not a mapping of kustomization fields".into(),
            });
        }
        let mut value = value;
        crate::types::fold_field_names(&mut value);
        let mut k: Kustomization =
            crate::types::decode_strict(value).map_err(|message| Error::InvalidKustomization {
                path: file.clone(),
                message,
            })?;
        check_kind(&k, &file)?;
        if is_empty(&k) {
            return Err(Error::InvalidKustomization {
                path: file,
                message: "kustomization.yaml is empty".into(),
            });
        }
        for (present, feature) in [
            (
                k.helm_charts.as_ref().is_some_and(|v| !v.is_empty()),
                "helmCharts",
            ),
            (
                k.helm_chart_inflation_generator
                    .as_ref()
                    .is_some_and(|v| !v.is_empty()),
                "helmChartInflationGenerator",
            ),
            (
                k.validators.as_ref().is_some_and(|v| !v.is_empty()),
                "validators (plugins)",
            ),
        ] {
            if present {
                return Err(Error::Unsupported {
                    path: file,
                    feature: feature.into(),
                });
            }
        }
        // Deprecated aliases, folded in as kustomize does.
        if let Some(bases) = k.bases.take() {
            k.resources.get_or_insert_with(Vec::new).extend(bases);
        }
        if let Some(tags) = k.image_tags.take() {
            k.images.get_or_insert_with(Vec::new).extend(tags);
        }
        if let Some(openapi) = &k.openapi {
            match (openapi.get("version"), openapi.get("path")) {
                (Some(_), Some(_)) => {
                    return Err(Error::InvalidKustomization {
                        path: file,
                        message: "builtin version and custom schema provided, cannot use both"
                            .into(),
                    });
                }
                // kustomize embeds the v1.21.2 schema; Weir's built-in schema stands in for it.
                (Some(v), None) if v != "v1.21.2" => {
                    return Err(Error::InvalidKustomization {
                        path: file,
                        message: format!(
                            "the specified OpenAPI version {v} is not built in (only v1.21.2 is)"
                        ),
                    });
                }
                _ => {}
            }
        }
        let declared_schema = match k.openapi.as_ref().and_then(|o| o.get("path")) {
            Some(path) => {
                let text = String::from_utf8_lossy(&ldr.load(path)?).into_owned();
                let doc = yamlio::parse(&ldr.show(path), &text)?
                    .into_iter()
                    .next()
                    .unwrap_or(Value::Null);
                let custom = smp::Schema::from_openapi(&doc).map_err(|e| Error::Build {
                    context: ldr.show(path),
                    message: e.to_string(),
                })?;
                // kustomize replaces the built-in schema with the user's.
                Some(custom)
            }
            None if k
                .openapi
                .as_ref()
                .is_some_and(|o| o.contains_key("version")) =>
            {
                Some(smp::Schema::builtin().clone())
            }
            None => None,
        };
        {
            let mut state = ldr.schema.borrow_mut();
            // A base or component declaring a schema replaces the schema in force for the
            // rest of the build. kustomize keeps one process-wide schema: by then it has
            // usually loaded the built-in definitions, and the custom ones are added over
            // them, so references to built-in types still resolve.
            if !state.declared
                && let Some(s) = &declared_schema
            {
                state.declared = true;
                state.schema =
                    std::rc::Rc::new(SchemaChoice::Declared(smp::Schema::builtin().layered(s)));
            }
        }
        Ok(Target {
            ldr,
            k,
            file,
            file_name: name.to_owned(),
            declared_schema,
            origin: None,
        })
    }

    /// Loads the base or component at `path` below this target, inheriting build metadata.
    fn load_child(&'a self, path: &str) -> Result<Target<'a>, Error> {
        let mut sub = Target::load(self.ldr.child(path)?)?;
        sub.k.build_metadata = self.k.build_metadata.clone();
        sub.origin = self.origin.as_ref().map(|o| o.append(path));
        Ok(sub)
    }

    /// Sets this directory's build-metadata origin.
    pub(crate) fn set_origin(&mut self, origin: Option<Origin>) {
        self.origin = origin;
    }

    fn site(&self) -> crate::plugins::Site<'_> {
        crate::plugins::Site {
            origin: self.origin.as_ref(),
            file_name: &self.file_name,
        }
    }

    /// The origin of a built-in transformer or generator configured here.
    fn builtin_origin(&self, kind: &str) -> Option<Origin> {
        self.origin
            .as_ref()
            .map(|o| o.builtin(&self.file_name, kind))
    }

    /// The strategic-merge schema in force now.
    fn schema(&self) -> std::rc::Rc<SchemaChoice> {
        std::rc::Rc::clone(&self.ldr.schema.borrow().schema)
    }

    fn is_component(&self) -> bool {
        self.k.kind.as_deref() == Some("Component")
    }

    /// Accumulates this kustomization into `ra`.
    pub(crate) fn accumulate(&self, mut ra: Accumulator) -> Result<Accumulator, Error> {
        for path in self.k.resources.iter().flatten() {
            self.accumulate_resource(&mut ra, path)?;
        }
        let mut user = TransformerConfig::default();
        for path in self.k.configurations.iter().flatten() {
            let text = String::from_utf8_lossy(&self.ldr.load(path)?).into_owned();
            for doc in yamlio::parse_config(&self.ldr.show(path), &text)? {
                let mut c: TransformerConfig =
                    crate::types::decode_strict(doc).map_err(|e| Error::Build {
                        context: self.ldr.show(path),
                        message: format!("invalid transformer configuration: {e}"),
                    })?;
                c.sort();
                user.merge(&c).map_err(|message| Error::Build {
                    context: self.ldr.show(path),
                    message,
                })?;
            }
        }
        let mut config = TransformerConfig::builtin();
        config.merge(&user).map_err(|message| Error::Build {
            context: self.file.clone(),
            message,
        })?;
        for path in self.k.crds.iter().flatten() {
            let c = crate::crds::config_from_crd(&self.ldr, path)?;
            config.merge(&c).map_err(|message| Error::Build {
                context: self.ldr.show(path),
                message,
            })?;
        }
        ra.config.merge(&config).map_err(|message| Error::Build {
            context: self.file.clone(),
            message,
        })?;

        self.run_generators(&mut ra)?;

        for path in self.k.components.iter().flatten() {
            let sub = self.load_child(path)?;
            if !sub.is_component() {
                return Err(Error::Build {
                    context: sub.file.clone(),
                    message: format!(
                        "expected kind 'Component' for path '{}' but got '{}'",
                        path,
                        sub.k.kind.as_deref().unwrap_or("Kustomization")
                    ),
                });
            }
            ra = sub.accumulate(ra)?;
        }

        self.run_transformers(&mut ra)?;

        if let Some(v) = &self.k.vars {
            vars::bind(&mut ra.resources, v)?;
            merge_vars(&mut ra.vars, v.clone())?;
        }
        Ok(ra)
    }

    fn accumulate_resource(&self, ra: &mut Accumulator, path: &str) -> Result<(), Error> {
        if self.ldr.is_file(path) || crate::loader::is_remote(path) {
            let text = self.ldr.load(path)?;
            let shown = self.ldr.show(path);
            let mut resources = load_resources(&shown, &text)?;
            if let Some(origin) = &self.origin {
                for r in &mut resources.list {
                    r.build_origin = Some(origin.append(path));
                }
            }
            return ra.resources.append_all(resources).map_err(|e| match e {
                Error::Conflict { message, .. } => Error::Conflict {
                    message: format!("merging resources from '{shown}': {message}"),
                    origin: shown.clone(),
                },
                other => other,
            });
        }
        let sub = self.load_child(path).map_err(|e| match e {
            Error::Io { path: p, source } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::Build {
                    context: self.file.clone(),
                    message: format!("resource '{path}': '{p}' does not exist"),
                }
            }
            other => other,
        })?;
        if sub.is_component() {
            return Err(Error::Build {
                context: sub.file.clone(),
                message: format!(
                    "expected kind != 'Component' for path '{path}' (list components under `components:`)"
                ),
            });
        }
        let sub_ra = sub.accumulate(Accumulator::empty())?;
        ra.merge(sub_ra, &self.file)
    }

    fn run_generators(&self, ra: &mut Accumulator) -> Result<(), Error> {
        let global = self.k.generator_options.as_ref();
        let mut generated = ResMap::default();
        for (kind, list) in [
            (Kind::ConfigMap, &self.k.config_map_generator),
            (Kind::Secret, &self.k.secret_generator),
        ] {
            let origin = self.builtin_origin(match kind {
                Kind::ConfigMap => "ConfigMapGenerator",
                Kind::Secret => "SecretGenerator",
            });
            for args in list.iter().flatten() {
                let mut res = generate::generate(&self.ldr, kind, args, global, &self.file)?;
                if res.build_origin.is_none() {
                    res.build_origin = origin.clone();
                }
                // Each generator's output is absorbed on its own, in order.
                let mut one = ResMap::default();
                one.list.push(res);
                ra.resources.absorb_all(one)?;
            }
        }
        if let Some(gens) = &self.k.generators {
            for entry in gens {
                let site = self.site();
                let more = crate::plugins::run_generator(&self.ldr, entry, &self.file, &site)?;
                generated.list.extend(more.list);
            }
            ra.resources.absorb_all(generated)?;
        }
        Ok(())
    }

    fn run_transformers(&self, ra: &mut Accumulator) -> Result<(), Error> {
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

fn check_kind(k: &Kustomization, file: &str) -> Result<(), Error> {
    let kind = k.kind.as_deref().unwrap_or("");
    if !kind.is_empty() && kind != "Kustomization" && kind != "Component" {
        return Err(Error::InvalidKustomization {
            path: file.to_owned(),
            message: "kind should be Kustomization or Component".into(),
        });
    }
    let required = if kind == "Component" {
        "kustomize.config.k8s.io/v1alpha1"
    } else {
        "kustomize.config.k8s.io/v1beta1"
    };
    if let Some(v) = k.api_version.as_deref()
        && !v.is_empty()
        && v != required
    {
        return Err(Error::InvalidKustomization {
            path: file.to_owned(),
            message: format!(
                "apiVersion for {} should be {required}",
                if kind.is_empty() {
                    "Kustomization"
                } else {
                    kind
                }
            ),
        });
    }
    Ok(())
}

/// Whether nothing but `apiVersion` and `kind` is set (kustomize's CheckEmpty).
fn is_empty(k: &Kustomization) -> bool {
    let set = [
        k.metadata.is_some(),
        k.openapi.is_some(),
        k.name_prefix.is_some(),
        k.name_suffix.is_some(),
        k.namespace.is_some(),
        k.common_labels.is_some(),
        k.labels.is_some(),
        k.common_annotations.is_some(),
        k.patches_strategic_merge.is_some(),
        k.patches_json6902.is_some(),
        k.patches.is_some(),
        k.images.is_some(),
        k.image_tags.is_some(),
        k.replacements.is_some(),
        k.replicas.is_some(),
        k.vars.is_some(),
        k.sort_options.is_some(),
        k.resources.is_some(),
        k.components.is_some(),
        k.crds.is_some(),
        k.bases.is_some(),
        k.config_map_generator.is_some(),
        k.secret_generator.is_some(),
        k.helm_globals.is_some(),
        k.helm_charts.is_some(),
        k.helm_chart_inflation_generator.is_some(),
        k.generator_options.is_some(),
        k.configurations.is_some(),
        k.generators.is_some(),
        k.transformers.is_some(),
        k.validators.is_some(),
        k.build_metadata.is_some(),
    ];
    !set.iter().any(|s| *s)
}

/// Resources from one file: every document must be an object with kind and metadata.name
/// (`*List` kinds are expanded into their items).
pub(crate) fn load_resources(shown: &str, bytes: &[u8]) -> Result<ResMap, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::Build {
        context: shown.to_owned(),
        message: "not UTF-8 text".into(),
    })?;
    let mut out = ResMap::default();
    let mut queue: std::collections::VecDeque<(Value, usize)> =
        yamlio::parse_with_lines(shown, text)?.into();
    while let Some((doc, line)) = queue.pop_front() {
        let origin = format!("{shown}:{line}");
        let Value::Object(obj) = doc else {
            return Err(Error::Build {
                context: origin,
                message: "document is not a Kubernetes object (a mapping with apiVersion, kind and metadata)".into(),
            });
        };
        if obj.is_empty() {
            continue;
        }
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if kind.is_empty() {
            return Err(Error::Build {
                context: origin,
                message: "missing kind in object".into(),
            });
        }
        if kind.ends_with("List") {
            match obj.get("items") {
                Some(Value::Array(items)) => {
                    for item in items {
                        queue.push_back((item.clone(), line));
                    }
                    continue;
                }
                Some(Value::Null) => continue,
                None => {}
                Some(_) => {
                    return Err(Error::Build {
                        context: origin,
                        message: format!("expected array in {kind}/items"),
                    });
                }
            }
        }
        let res = Resource::new(obj, &origin);
        if res.name().is_empty() && !kind.ends_with("List") {
            return Err(Error::Build {
                context: origin,
                message: format!("missing metadata.name in {kind} object"),
            });
        }
        out.append(res)?;
    }
    Ok(out)
}

/// Builds the kustomization in the loader's root: accumulation, then hash suffixes, name
/// references, vars, and dropping local-only objects.
pub(crate) fn build_top(
    ldr: Loader<'_>,
) -> Result<(ResMap, Option<crate::types::SortOptions>), Error> {
    let mut target = Target::load(ldr)?;
    {
        // The top kustomization resets the schema: its own, or the built-in one.
        let mut state = target.ldr.schema.borrow_mut();
        state.declared = target.declared_schema.is_some();
        state.schema = std::rc::Rc::new(match &target.declared_schema {
            Some(s) if state.layer => SchemaChoice::Declared(smp::Schema::builtin().layered(s)),
            Some(s) => SchemaChoice::Declared(s.clone()),
            None => SchemaChoice::Builtin,
        });
    }
    let metadata = target.k.build_metadata.clone().unwrap_or_default();
    if !metadata.is_empty() {
        target.origin = Some(Origin::default());
    }
    let mut ra = target.accumulate(Accumulator::empty())?;
    transform::hash_names(&mut ra.resources);
    nameref::fix(&mut ra.resources, &ra.config.name_reference)?;
    vars::resolve(&mut ra.resources, &ra.vars, &ra.config.var_reference)?;
    for r in &mut ra.resources.list {
        stringify_annotations(r);
        add_build_metadata(r, &metadata);
    }
    ra.resources.list.retain(|r| {
        r.obj
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("config.kubernetes.io/local-config"))
            .and_then(Value::as_str)
            .is_none_or(|v| v == "false")
    });
    Ok((ra.resources, target.k.sort_options.clone()))
}

/// kustomize rewrites every resource's annotations as a string map at the end of a build, so
/// `port: 8080` comes out as `port: "8080"`.
fn stringify_annotations(r: &mut Resource) {
    let Some(Value::Object(annotations)) = r
        .obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    else {
        return;
    };
    for v in annotations.values_mut() {
        let text = match &*v {
            Value::String(_) => continue,
            Value::Null | Value::Object(_) | Value::Array(_) => String::new(),
            other => other.to_string(),
        };
        *v = Value::String(text);
    }
}

/// Writes the build metadata the kustomization asked for into annotations and labels.
fn add_build_metadata(r: &mut Resource, metadata: &[String]) {
    let wants = |o: &str| metadata.iter().any(|m| m == o);
    let mut annotations = r.string_map("annotations");
    let mut set = |k: &str, v: String| match annotations.iter_mut().find(|(ak, _)| ak == k) {
        Some(slot) => slot.1 = v,
        None => annotations.push((k.to_owned(), v)),
    };
    let mut changed = false;
    if wants("originAnnotations")
        && let Some(o) = &r.build_origin
    {
        set("config.kubernetes.io/origin", o.annotation());
        changed = true;
    }
    if wants("transformerAnnotations") && !r.transformations.is_empty() {
        set(
            "alpha.config.kubernetes.io/transformations",
            crate::origin::transformations_annotation(&r.transformations),
        );
        changed = true;
    }
    if changed {
        r.set_string_map("annotations", annotations);
    }
    if wants("managedByLabel") {
        let mut labels = r.string_map("labels");
        labels.retain(|(k, _)| k != "app.kubernetes.io/managed-by");
        labels.push((
            "app.kubernetes.io/managed-by".into(),
            "kustomize-v5.5.0".into(),
        ));
        r.set_string_map("labels", labels);
    }
}
