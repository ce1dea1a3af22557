//! Conditions as Flux writes them, with typed reasons.

use serde_json::{Value, json};

/// Condition types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionType {
    /// The object is reconciled and its outcome is good.
    Ready,
    /// A reconcile is in progress (present only when true).
    Reconciling,
    /// Reconciling cannot make progress until the object changes (present only when true).
    Stalled,
    /// The applied objects are healthy (Kustomization).
    Healthy,
    /// The source's artifact is in storage (GitRepository).
    ArtifactInStorage,
    /// Fetching the source failed (present only when true).
    FetchFailed,
    /// The last Helm action succeeded (HelmRelease).
    Released,
    /// The release was remediated after a failure (HelmRelease).
    Remediated,
    /// The release's tests passed (HelmRelease).
    TestSuccess,
}

impl ConditionType {
    /// The type as written in `status.conditions[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Reconciling => "Reconciling",
            Self::Stalled => "Stalled",
            Self::Healthy => "Healthy",
            Self::ArtifactInStorage => "ArtifactInStorage",
            Self::FetchFailed => "FetchFailed",
            Self::Released => "Released",
            Self::Remediated => "Remediated",
            Self::TestSuccess => "TestSuccess",
        }
    }
}

/// Condition reasons Flux's controllers use for these kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Success (sources, Healthy, Receiver).
    Succeeded,
    /// Work in progress.
    Progressing,
    /// Retrying after a failure.
    ProgressingWithRetry,
    /// A Git operation failed (clone, fetch, checkout).
    GitOperationFailed,
    /// Credentials are missing, invalid or refused.
    AuthenticationFailed,
    /// The URL cannot be used.
    UrlInvalid,
    /// Writing the artifact failed.
    ArchiveOperationFailed,
    /// A Kustomization was applied.
    ReconciliationSucceeded,
    /// Applying failed.
    ReconciliationFailed,
    /// The source artifact is missing or unusable.
    ArtifactFailed,
    /// Building the manifests failed.
    BuildFailed,
    /// Deleting objects that left the source failed.
    PruneFailed,
    /// Applied objects did not become ready.
    HealthCheckFailed,
    /// A health check was cut short by a new source revision.
    HealthCheckCanceled,
    /// A dependency is not ready.
    DependencyNotReady,
    /// A CEL expression does not compile.
    InvalidCelExpression,
    /// A reference crosses namespaces where that is forbidden.
    AccessDenied,
    /// The webhook token cannot be read (Receiver).
    TokenNotFound,
    /// The object is suspended.
    Suspended,
    /// The spec uses a field Weir does not implement yet (the message names it).
    Unsupported,
    /// A Helm repository index cannot be fetched or read.
    IndexationFailed,
    /// A chart cannot be found or downloaded.
    ChartPullFailed,
    /// A chart cannot be loaded or packaged from its source.
    ChartPackageFailed,
    /// A Helm install succeeded.
    InstallSucceeded,
    /// A Helm install failed.
    InstallFailed,
    /// A Helm upgrade succeeded.
    UpgradeSucceeded,
    /// A Helm upgrade failed.
    UpgradeFailed,
    /// A Helm rollback succeeded.
    RollbackSucceeded,
    /// A Helm rollback failed.
    RollbackFailed,
    /// A Helm uninstall succeeded.
    UninstallSucceeded,
    /// A Helm uninstall failed.
    UninstallFailed,
    /// The release cannot be prepared (chart, values, storage).
    InitFailed,
    /// Remediation retries are exhausted.
    RetriesExceeded,
    /// The release's test hooks succeeded.
    TestSucceeded,
    /// A test hook of the release failed.
    TestFailed,
}

impl Reason {
    /// The reason as written in `status.conditions[].reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Progressing => "Progressing",
            Self::ProgressingWithRetry => "ProgressingWithRetry",
            Self::GitOperationFailed => "GitOperationFailed",
            Self::AuthenticationFailed => "AuthenticationFailed",
            Self::UrlInvalid => "URLInvalid",
            Self::ArchiveOperationFailed => "ArchiveOperationFailed",
            Self::ReconciliationSucceeded => "ReconciliationSucceeded",
            Self::ReconciliationFailed => "ReconciliationFailed",
            Self::ArtifactFailed => "ArtifactFailed",
            Self::BuildFailed => "BuildFailed",
            Self::PruneFailed => "PruneFailed",
            Self::HealthCheckFailed => "HealthCheckFailed",
            Self::HealthCheckCanceled => "HealthCheckCanceled",
            Self::DependencyNotReady => "DependencyNotReady",
            Self::InvalidCelExpression => "InvalidCELExpression",
            Self::AccessDenied => "AccessDenied",
            Self::TokenNotFound => "TokenNotFound",
            Self::Suspended => "Suspended",
            Self::Unsupported => "Unsupported",
            Self::IndexationFailed => "IndexationFailed",
            Self::ChartPullFailed => "ChartPullFailed",
            Self::ChartPackageFailed => "ChartPackageFailed",
            Self::InstallSucceeded => "InstallSucceeded",
            Self::InstallFailed => "InstallFailed",
            Self::UpgradeSucceeded => "UpgradeSucceeded",
            Self::UpgradeFailed => "UpgradeFailed",
            Self::RollbackSucceeded => "RollbackSucceeded",
            Self::RollbackFailed => "RollbackFailed",
            Self::UninstallSucceeded => "UninstallSucceeded",
            Self::UninstallFailed => "UninstallFailed",
            Self::InitFailed => "InitFailed",
            Self::RetriesExceeded => "RetriesExceeded",
            Self::TestSucceeded => "TestSucceeded",
            Self::TestFailed => "TestFailed",
        }
    }
}

/// Flux caps condition messages at this many bytes.
const MAX_MESSAGE: usize = 20_000;

/// The current time as Kubernetes writes it (RFC 3339, seconds, UTC).
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The current time with nanoseconds, for `reconcile.fluxcd.io/requestedAt` (an opaque token
/// that must change on every request).
pub fn now_precise() -> String {
    jiff::Timestamp::now().to_string()
}

/// Sets condition `kind` in `conditions`, keeping its `lastTransitionTime` when the status
/// does not change.
pub fn set(
    conditions: &mut Vec<Value>,
    kind: ConditionType,
    status: bool,
    reason: Reason,
    message: &str,
    generation: i64,
) {
    let status = if status { "True" } else { "False" };
    set_raw(conditions, kind, status, reason, message, generation);
}

/// As [`set`], with status `Unknown`.
pub fn set_unknown(
    conditions: &mut Vec<Value>,
    kind: ConditionType,
    reason: Reason,
    message: &str,
    generation: i64,
) {
    set_raw(conditions, kind, "Unknown", reason, message, generation);
}

fn set_raw(
    conditions: &mut Vec<Value>,
    kind: ConditionType,
    status: &str,
    reason: Reason,
    message: &str,
    generation: i64,
) {
    let mut message = message.to_owned();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    let previous = conditions.iter().position(|c| c["type"] == kind.as_str());
    let transition = previous
        .map(|i| &conditions[i])
        .filter(|c| c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_owned))
        .unwrap_or_else(now);
    let condition = json!({
        "type": kind.as_str(),
        "status": status,
        "reason": reason.as_str(),
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": transition,
    });
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

/// Removes condition `kind`.
pub fn remove(conditions: &mut Vec<Value>, kind: ConditionType) {
    conditions.retain(|c| c["type"] != kind.as_str());
}

/// Whether `object` has condition `Ready=True` for its current generation.
pub fn is_ready(object: &Value) -> bool {
    let generation = object["metadata"]["generation"].as_i64();
    let observed = object["status"]["observedGeneration"].as_i64();
    let ready = object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready && (generation.is_none() || generation == observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_is_kept_while_the_status_holds() {
        let mut conditions = vec![json!({
            "type": "Ready", "status": "True", "reason": "Succeeded", "message": "old",
            "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z",
        })];
        set(
            &mut conditions,
            ConditionType::Ready,
            true,
            Reason::Succeeded,
            "new",
            2,
        );
        assert_eq!(conditions[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_eq!(conditions[0]["message"], "new");
        set(
            &mut conditions,
            ConditionType::Ready,
            false,
            Reason::BuildFailed,
            "x",
            2,
        );
        assert_ne!(conditions[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        set(
            &mut conditions,
            ConditionType::Stalled,
            true,
            Reason::AccessDenied,
            "x",
            2,
        );
        assert_eq!(conditions.len(), 2);
        remove(&mut conditions, ConditionType::Stalled);
        assert_eq!(conditions.len(), 1);
    }
}
