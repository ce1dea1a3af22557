//! YAML in and out, through `weir_object::yaml` (go-yaml compatible reading and writing).

use serde_json::Value;
use weir_object::yaml;

use crate::Error;

fn convert(e: yaml::Error) -> Error {
    Error::Yaml(e)
}

/// Parses a multi-document stream of resources; empty and null documents are skipped.
pub(crate) fn parse(path: &str, text: &str) -> Result<Vec<Value>, Error> {
    Ok(parse_with_lines(path, text)?
        .into_iter()
        .map(|(v, _)| v)
        .collect())
}

/// Like [`parse`], with each document's first line.
pub(crate) fn parse_with_lines(path: &str, text: &str) -> Result<Vec<(Value, usize)>, Error> {
    let docs = yaml::parse_documents(path, text).map_err(convert)?;
    Ok(docs.into_iter().map(|d| (d.value, d.line)).collect())
}

/// Parses a kustomization or configuration file: kustomize reads those with goyaml.v2, where
/// a repeated key replaces the earlier one.
pub(crate) fn parse_config(path: &str, text: &str) -> Result<Vec<Value>, Error> {
    let docs =
        yaml::parse_documents_with(path, text, &yaml::Options::lenient_keys()).map_err(convert)?;
    Ok(docs.into_iter().map(|d| d.value).collect())
}

/// Prints one object as kustomize does.
pub(crate) fn emit(value: &Value) -> String {
    yaml::to_yaml(value)
}
