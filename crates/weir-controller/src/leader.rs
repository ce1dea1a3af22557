//! Leader election with a `coordination.k8s.io/v1` Lease, so that only one replica of the
//! controller reconciles at a time.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use tracing::{info, warn};

/// How long a lease holds without renewal.
const LEASE: Duration = Duration::from_secs(15);
/// How often the holder renews.
const RENEW: Duration = Duration::from_secs(5);

/// A Lease this process competes for.
#[derive(Clone)]
pub struct Election {
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election")
            .field("name", &self.name)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn micro_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

impl Election {
    /// Competes for Lease `namespace/name` as `identity`.
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str) -> Self {
        Election {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
        }
    }

    /// Tries once to take or renew the lease; true when this process holds it afterwards.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = micro_now();
        let existing = self.api.get_opt(&self.name).await?;
        let Some(lease) = existing else {
            let lease: Lease = serde_json::from_value(json!({
                "metadata": { "name": self.name },
                "spec": { "holderIdentity": self.identity, "leaseDurationSeconds": LEASE.as_secs(),
                          "acquireTime": now, "renewTime": now, "leaseTransitions": 0 },
            }))
            .map_err(kube::Error::SerdeError)?;
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let value = serde_json::to_value(&lease).map_err(kube::Error::SerdeError)?;
        let holder = value["spec"]["holderIdentity"].as_str().unwrap_or_default();
        let mine = holder == self.identity;
        let expired = value["spec"]["renewTime"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .is_none_or(|renewed| {
                let seconds = value["spec"]["leaseDurationSeconds"].as_i64().unwrap_or(15);
                jiff::Timestamp::now().as_second() > renewed.as_second() + seconds
            });
        if !mine && !holder.is_empty() && !expired {
            return Ok(false);
        }
        let mut updated = value.clone();
        updated["spec"]["holderIdentity"] = json!(self.identity);
        updated["spec"]["leaseDurationSeconds"] = json!(LEASE.as_secs());
        updated["spec"]["renewTime"] = json!(now);
        if !mine {
            updated["spec"]["acquireTime"] = json!(now);
            let transitions = value["spec"]["leaseTransitions"].as_i64().unwrap_or(0);
            updated["spec"]["leaseTransitions"] = json!(transitions + 1);
        }
        let updated: Lease = serde_json::from_value(updated).map_err(kube::Error::SerdeError)?;
        // The resource version in `updated` makes a concurrent taker win cleanly.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(&self) {
        let mut said = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    info!(lease = %self.name, identity = %self.identity, "became the leader");
                    return;
                }
                Ok(false) if !said => {
                    info!(lease = %self.name, "another replica leads; waiting");
                    said = true;
                }
                Ok(false) => {}
                Err(e) => warn!(lease = %self.name, error = %e, "leader election failed"),
            }
            tokio::time::sleep(RENEW / 2).await;
        }
    }

    /// Renews the lease until it is lost (not renewed for a whole lease duration); returns then.
    pub async fn hold(&self) {
        let mut last = std::time::Instant::now();
        loop {
            tokio::time::sleep(RENEW).await;
            match self.try_acquire().await {
                Ok(true) => last = std::time::Instant::now(),
                Ok(false) => {
                    warn!(lease = %self.name, "leadership lost to another replica");
                    return;
                }
                Err(e) => {
                    warn!(lease = %self.name, error = %e, "cannot renew the lease");
                    if last.elapsed() > LEASE {
                        return;
                    }
                }
            }
        }
    }

    /// Gives the lease up on shutdown, so another replica takes over at once.
    pub async fn release(&self) {
        if let Ok(Some(lease)) = self.api.get_opt(&self.name).await {
            let mut value = serde_json::to_value(&lease).unwrap_or(Value::Null);
            if value["spec"]["holderIdentity"] == self.identity.as_str() {
                value["spec"]["holderIdentity"] = Value::Null;
                if let Ok(lease) = serde_json::from_value::<Lease>(value) {
                    let _ = self
                        .api
                        .replace(&self.name, &PostParams::default(), &lease)
                        .await;
                }
            }
        }
    }
}
