//! `terraform-provider-weir`: the OpenTofu/Terraform provider `weir/weir`, speaking plugin
//! protocol v6 (handshake on stdout, AutoMTLS, gRPC health; `tf-provider` does the
//! protocol). Its resource `weir_bootstrap_git` does what Flux's `flux_bootstrap_git` does,
//! with Weir: commits the install and sync manifests to the repository, installs Weir on the
//! cluster with the Git credentials, and waits until the cluster syncs.
//!
//! Planning never contacts the cluster or the Git server, so one `tofu apply` can create a
//! cluster and bootstrap it while the connection values are still unknown at plan time.

mod config;
mod resource;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use tf_provider::schema::{Block, Description, Schema};
use tf_provider::{Diagnostics, DynamicResource, Provider, serve};

use crate::config::{ProviderConfig, Settings};

/// The provider: its settings, shared with the resource once configured.
#[derive(Debug, Default, Clone)]
struct WeirProvider {
    settings: Arc<RwLock<Option<Settings>>>,
}

#[async_trait]
impl Provider for WeirProvider {
    type Config<'a> = ProviderConfig<'a>;
    type MetaState<'a> = tf_provider::value::ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::plain(
                    "Weir: a Flux-compatible GitOps engine. Connects to the cluster and the Git \
                     repository that weir_bootstrap_git bootstraps.",
                ),
                attributes: config::provider_attributes(),
                ..Default::default()
            },
        })
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let settings = Settings::from_config(diags, config)?;
        if let Ok(mut slot) = self.settings.write() {
            *slot = Some(settings);
        }
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        let mut resources: HashMap<String, Box<dyn DynamicResource>> = HashMap::new();
        resources.insert(
            "bootstrap_git".to_owned(),
            Box::new(resource::BootstrapGit {
                settings: Arc::clone(&self.settings),
            }),
        );
        Some(resources)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    serve("weir", WeirProvider::default()).await
}
