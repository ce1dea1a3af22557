//! The build: load a kustomization, accumulate its resources (files, bases, generators,
//! components), run its transformers, then fix names and references at the top.

use serde_json::Value;

use crate::config::TransformerConfig;
use crate::generate::{self, Kind};
use crate::loader::SchemaChoice;
use crate::loader::{KUSTOMIZATION_FILE_NAMES, Loader};
use crate::origin::Origin;

use crate::resource::{ResMap, Resource};
use crate::smp;
use crate::types::{Kustomization, Var};
use crate::{Error, nameref, transform, vars, yamlio};

mod finish;
mod transformers;

use finish::{add_build_metadata, stringify_annotations};
pub(crate) use transformers::apply_sm_to_own_target;

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
