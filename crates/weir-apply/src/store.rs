//! Keeping an [`Inventory`] in the cluster for the CLI: a ConfigMap whose `inventory` key holds
//! the entries in Flux's format (`[{"id": "<ns>_<name>_<group>_<kind>", "v": "v1"}, ...]`).
//! The controller keeps its inventory in the Kustomization's status instead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use serde_json::{Value, json};

use crate::inventory::{Entry, Inventory};

/// The data key holding the entries.
const KEY: &str = "inventory";

/// Why an inventory could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The API call failed.
    #[error("inventory ConfigMap {namespace}/{name}: {message}")]
    Api {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API server's answer (its message only, without kube's wrapping).
        message: String,
    },
    /// The ConfigMap exists but does not hold an inventory.
    #[error("inventory ConfigMap {namespace}/{name} is malformed: {message}")]
    Malformed {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the inventory in ConfigMap `namespace/name`; an absent ConfigMap is an empty
/// inventory.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Inventory, StoreError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let cm = api
        .get_opt(name)
        .await
        .map_err(|source| api_error(namespace, name, source))?;
    let Some(text) = cm.and_then(|c| c.data).and_then(|d| d.get(KEY).cloned()) else {
        return Ok(Inventory::default());
    };
    let malformed = |message: String| StoreError::Malformed {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        message,
    };
    let list: Vec<Value> = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    let mut inventory = Inventory::default();
    for item in list {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let v = item.get("v").and_then(Value::as_str).unwrap_or_default();
        inventory
            .entries
            .push(Entry::parse(id, v).map_err(|e| malformed(e.to_string()))?);
    }
    Ok(inventory)
}

/// Writes `inventory` into ConfigMap `namespace/name` (created if needed) with server-side
/// apply under `field_manager`.
pub async fn save(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    inventory: &Inventory,
    field_manager: &str,
) -> Result<(), StoreError> {
    write(client, namespace, name, inventory, field_manager, false).await
}

/// Checks with a server-side dry run that `inventory` could be written to ConfigMap
/// `namespace/name` (the namespace exists, the caller may write there), so that a command can
/// refuse before it changes anything rather than fail after applying.
pub async fn check_writable(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    inventory: &Inventory,
    field_manager: &str,
) -> Result<(), StoreError> {
    write(client, namespace, name, inventory, field_manager, true).await
}

async fn write(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    inventory: &Inventory,
    field_manager: &str,
    dry_run: bool,
) -> Result<(), StoreError> {
    let entries: Vec<Value> = inventory
        .entries
        .iter()
        .map(|e| json!({ "id": e.key(), "v": e.version }))
        .collect();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                "weir".to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            KEY.to_owned(),
            Value::Array(entries).to_string(),
        )])),
        ..ConfigMap::default()
    };
    let mut value = serde_json::to_value(&cm).map_err(|e| StoreError::Malformed {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        message: e.to_string(),
    })?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), Value::String("v1".into()));
        map.insert("kind".into(), Value::String("ConfigMap".into()));
    }
    let mut params = PatchParams::apply(field_manager).force();
    params.dry_run = dry_run;
    Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .patch(name, &params, &Patch::Apply(&value))
        .await
        .map_err(|source| api_error(namespace, name, source))?;
    Ok(())
}

/// A [`StoreError::Api`] carrying the API server's own message, with what to do when the
/// namespace is missing.
fn api_error(namespace: &str, name: &str, err: kube::Error) -> StoreError {
    let message = match err {
        kube::Error::Api(status) if !status.message.is_empty() => {
            let missing_namespace = status.code == 404
                && status
                    .details
                    .as_ref()
                    .is_some_and(|d| d.kind == "namespaces");
            if missing_namespace {
                format!(
                    "{}; create namespace {namespace} first or keep the inventory in another one",
                    status.message
                )
            } else {
                status.message
            }
        }
        other => other.to_string(),
    };
    StoreError::Api {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        message,
    }
}
