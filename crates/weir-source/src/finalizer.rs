//! Flux's finalizer on reconciled objects.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;

/// Adds [`weir_api::FINALIZER`] to `object` unless it has it.
pub async fn add(api: &Api<DynamicObject>, object: &DynamicObject) -> Result<(), kube::Error> {
    let mut finalizers = object.metadata.finalizers.clone().unwrap_or_default();
    if finalizers.iter().any(|f| f == weir_api::FINALIZER) {
        return Ok(());
    }
    finalizers.push(weir_api::FINALIZER.to_owned());
    write(api, object, finalizers).await
}

/// Removes [`weir_api::FINALIZER`] from `object`, letting its deletion finish.
pub async fn remove(api: &Api<DynamicObject>, object: &DynamicObject) -> Result<(), kube::Error> {
    let finalizers = object.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == weir_api::FINALIZER) {
        return Ok(());
    }
    let kept = finalizers
        .into_iter()
        .filter(|f| f != weir_api::FINALIZER)
        .collect();
    write(api, object, kept).await
}

async fn write(
    api: &Api<DynamicObject>,
    object: &DynamicObject,
    finalizers: Vec<String>,
) -> Result<(), kube::Error> {
    let name = object.metadata.name.clone().unwrap_or_default();
    // The resource version makes a concurrent change fail the patch instead of being lost.
    let patch = json!({ "metadata": {
        "finalizers": finalizers,
        "resourceVersion": object.metadata.resource_version,
    }});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err),
    }
}
