//! Receivers: webhooks that ask for an immediate reconcile of Flux objects, so a `git push`
//! is applied in about a second instead of at the next interval.

use std::collections::BTreeMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::reflector::Store;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tracing::{info, warn};
use weir_api::status::{self, ConditionType, Reason};
use weir_source::reconcile::{Event, Outcome, conditions_of, patch_status, status_of, text};

/// The Receiver API resource.
pub fn resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("notification.toolkit.fluxcd.io", "v1", "Receiver"),
        "receivers",
    )
}

/// The largest request body accepted, as Flux.
pub const MAX_BODY: usize = 3 << 20;

/// The webhook path of a Receiver: `/hook/` and the hex SHA-256 of token, name and namespace.
pub fn webhook_path(token: &str, name: &str, namespace: &str) -> String {
    let digest = Sha256::digest(format!("{token}{name}{namespace}").as_bytes());
    format!("/hook/{digest:x}")
}

async fn token(client: &kube::Client, namespace: &str, spec: &Value) -> Result<String, String> {
    let name = text(spec, "/secretRef/name").ok_or("spec.secretRef is not set")?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get_opt(name)
        .await
        .map_err(|e| format!("unable to read token from secret '{namespace}/{name}': {e}"))?
        .ok_or_else(|| {
            format!("unable to read token from secret '{namespace}/{name}': not found")
        })?;
    let bytes = secret
        .data
        .unwrap_or_default()
        .remove("token")
        .ok_or_else(|| {
            format!("invalid '{namespace}/{name}' secret data: required fields 'token'")
        })?;
    String::from_utf8(bytes.0)
        .map_err(|_| format!("secret '{namespace}/{name}': token is not UTF-8"))
}

/// Reconciles one Receiver: computes its webhook path from the token and records it.
pub async fn reconcile(
    client: &kube::Client,
    object: &DynamicObject,
) -> Result<Outcome, kube::Error> {
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &namespace, &resource());
    let spec = object.data.get("spec").cloned().unwrap_or_default();
    let generation = object.metadata.generation.unwrap_or_default();
    let mut status = status_of(object);
    let mut conditions = conditions_of(&status);
    let interval = text(&spec, "/interval")
        .and_then(weir_api::duration::parse)
        .unwrap_or(Duration::from_secs(600));
    let outcome = match token(client, &namespace, &spec).await {
        Ok(token) => {
            let path = webhook_path(&token, &name, &namespace);
            let message = format!("Receiver initialized for path: {path}");
            status::set(
                &mut conditions,
                ConditionType::Ready,
                true,
                Reason::Succeeded,
                &message,
                generation,
            );
            status::remove(&mut conditions, ConditionType::Reconciling);
            status.insert("webhookPath".into(), json!(path));
            status.insert("observedGeneration".into(), json!(generation));
            Outcome {
                requeue: Some(interval),
                event: None,
                ready: Some(true),
            }
        }
        Err(message) => {
            status::set(
                &mut conditions,
                ConditionType::Ready,
                false,
                Reason::TokenNotFound,
                &message,
                generation,
            );
            status.remove("webhookPath");
            Outcome {
                requeue: Some(Duration::from_secs(10).min(interval)),
                event: Some(Event {
                    warning: true,
                    reason: Reason::TokenNotFound.as_str().into(),
                    message,
                }),
                ready: Some(false),
            }
        }
    };
    status.insert("conditions".into(), Value::Array(conditions));
    patch_status(&api, &name, status).await?;
    Ok(outcome)
}

/// A webhook call's answer: HTTP status and a message for the log.
pub type Answer = (u16, String);

/// Handles a call to `path`: finds the Receiver, authenticates the request as its type
/// requires, and annotates its resources with `reconcile.fluxcd.io/requestedAt`.
pub async fn handle(
    client: &kube::Client,
    receivers: &Store<DynamicObject>,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Answer {
    let Some(receiver) = receivers.state().into_iter().find(|r| {
        r.data
            .pointer("/status/webhookPath")
            .and_then(Value::as_str)
            == Some(path)
    }) else {
        return (404, "no receiver for this path".into());
    };
    let namespace = receiver.metadata.namespace.clone().unwrap_or_default();
    let name = receiver.metadata.name.clone().unwrap_or_default();
    let spec = receiver.data.get("spec").cloned().unwrap_or_default();
    let value = serde_json::to_value(receiver.as_ref()).unwrap_or_default();
    if spec["suspend"].as_bool() == Some(true) || !status::is_ready(&value) {
        return (
            503,
            format!("receiver {namespace}/{name} is suspended or not ready"),
        );
    }
    let token = match token(client, &namespace, &spec).await {
        Ok(token) => token,
        Err(message) => return (400, message),
    };
    if let Err(why) = authenticate(&spec, &token, headers, body) {
        info!(receiver = %format!("{namespace}/{name}"), %why, "webhook refused");
        return (400, why);
    }
    let requested = status::now_precise();
    let mut failed = Vec::new();
    for target in spec["resources"].as_array().into_iter().flatten() {
        if let Err(why) = annotate(client, &namespace, target, &requested).await {
            failed.push(why);
        }
    }
    if failed.is_empty() {
        info!(receiver = %format!("{namespace}/{name}"), "reconcile requested");
        (200, String::new())
    } else {
        warn!(receiver = %format!("{namespace}/{name}"), errors = %failed.join("; "), "some resources could not be annotated");
        (500, failed.join("; "))
    }
}

type HmacSha1 = Hmac<sha1::Sha1>;
type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<sha2::Sha512>;

/// Checks `<algo>=<hex>` against the HMAC of `body` keyed with `token`, in constant time.
fn check_signature(signature: &str, token: &str, body: &[u8]) -> Result<(), String> {
    let (algo, hex) = signature
        .split_once('=')
        .ok_or("the signature is not <algorithm>=<hex>")?;
    let expected = decode_hex(hex).ok_or("the signature is not hexadecimal")?;
    let ok = match algo {
        "sha1" => HmacSha1::new_from_slice(token.as_bytes()).map(|mut m| {
            m.update(body);
            m.verify_slice(&expected).is_ok()
        }),
        "sha256" => HmacSha256::new_from_slice(token.as_bytes()).map(|mut m| {
            m.update(body);
            m.verify_slice(&expected).is_ok()
        }),
        "sha512" => HmacSha512::new_from_slice(token.as_bytes()).map(|mut m| {
            m.update(body);
            m.verify_slice(&expected).is_ok()
        }),
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    match ok {
        Ok(true) => Ok(()),
        _ => Err("the signature does not match".into()),
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether the event type is one the Receiver accepts (all when `spec.events` is empty).
fn event_allowed(spec: &Value, event: Option<&String>) -> Result<(), String> {
    let Some(events) = spec["events"].as_array().filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let event = event.map(String::as_str).unwrap_or_default();
    if events
        .iter()
        .filter_map(Value::as_str)
        .any(|e| e.eq_ignore_ascii_case(event))
    {
        Ok(())
    } else {
        Err(format!("event '{event}' is not in spec.events"))
    }
}

fn authenticate(
    spec: &Value,
    token: &str,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<(), String> {
    let header = |name: &str| headers.get(name);
    match spec["type"].as_str().unwrap_or_default() {
        "generic" => Ok(()),
        "generic-hmac" => {
            let signature = header("x-signature").ok_or("missing header X-Signature")?;
            check_signature(signature, token, body)
        }
        kind @ ("github" | "bitbucket") => {
            let content_type = header("content-type")
                .map(|c| {
                    c.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                })
                .unwrap_or_default();
            if content_type != "application/json"
                && content_type != "application/x-www-form-urlencoded"
            {
                return Err(format!("unsupported Content-Type '{content_type}'"));
            }
            let signature = header("x-hub-signature-256").or_else(|| header("x-hub-signature"));
            match signature {
                Some(signature) => check_signature(signature, token, body)?,
                None if token.is_empty() => {}
                None => return Err("missing header X-Hub-Signature-256".into()),
            }
            let event = if kind == "github" {
                "x-github-event"
            } else {
                "x-event-key"
            };
            event_allowed(spec, header(event))
        }
        "gitlab" => {
            if header("x-gitlab-token").map(String::as_str) != Some(token) {
                return Err("the X-Gitlab-Token header does not match".into());
            }
            event_allowed(spec, header("x-gitlab-event"))
        }
        "harbor" => {
            if header("authorization").map(String::as_str) != Some(token) {
                return Err("the Authorization header does not match".into());
            }
            Ok(())
        }
        other => Err(format!("receiver type '{other}' is not supported yet")),
    }
}

/// The API version to use for a resource kind when `apiVersion` is not given, as Flux.
fn default_api_version(kind: &str) -> Option<&'static str> {
    match kind {
        "Bucket" | "HelmChart" | "HelmRepository" | "GitRepository" | "OCIRepository" => {
            Some("source.toolkit.fluxcd.io/v1")
        }
        "ImageRepository" => Some("image.toolkit.fluxcd.io/v1"),
        _ => None,
    }
}

async fn annotate(
    client: &kube::Client,
    namespace: &str,
    target: &Value,
    requested: &str,
) -> Result<(), String> {
    let kind = target["kind"].as_str().unwrap_or_default();
    let name = target["name"].as_str().unwrap_or_default();
    let target_ns = target["namespace"].as_str().unwrap_or(namespace);
    let api_version = target["apiVersion"]
        .as_str()
        .or_else(|| default_api_version(kind))
        .ok_or_else(|| format!("apiVersion must be specified for kind {kind}"))?;
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, _) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| format!("{kind} {api_version} is not served: {e}"))?;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), target_ns, &resource);
    let names: Vec<String> = if name == "*" {
        let labels = target["matchLabels"]
            .as_object()
            .ok_or_else(|| format!("matchLabels must be set when name is '*' ({kind})"))?;
        let selector = labels
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(",");
        api.list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| e.to_string())?
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect()
    } else {
        vec![name.to_owned()]
    };
    let patch =
        json!({ "metadata": { "annotations": { weir_api::RECONCILE_REQUESTED_AT: requested } } });
    for name in names {
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| format!("{kind}/{target_ns}/{name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_path_is_flux_s() {
        // sha256("token" + "name" + "ns")
        let path = webhook_path("token", "name", "ns");
        assert_eq!(path.len(), "/hook/".len() + 64);
        assert_eq!(path, format!("/hook/{:x}", Sha256::digest(b"tokennamens")));
    }

    #[test]
    fn github_signatures_and_events() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let mut mac = HmacSha256::new_from_slice(b"s3cret").expect("key");
        mac.update(body);
        let signature: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let spec = json!({ "type": "github", "events": ["push"] });
        let mut headers = BTreeMap::from([
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "x-hub-signature-256".to_owned(),
                format!("sha256={signature}"),
            ),
            ("x-github-event".to_owned(), "push".to_owned()),
        ]);
        assert_eq!(authenticate(&spec, "s3cret", &headers, body), Ok(()));
        assert!(authenticate(&spec, "other", &headers, body).is_err());
        headers.insert("x-github-event".into(), "ping".into());
        assert!(authenticate(&spec, "s3cret", &headers, body).is_err());
        let gitlab = json!({ "type": "gitlab" });
        let headers = BTreeMap::from([("x-gitlab-token".to_owned(), "s3cret".to_owned())]);
        assert_eq!(authenticate(&gitlab, "s3cret", &headers, b""), Ok(()));
    }
}
