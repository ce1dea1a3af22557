//! `weir install`: Weir's CustomResourceDefinitions, printed or applied.

use std::io::Write as _;
use std::time::Duration;

use serde_json::Value;
use weir_apply::{Manager, Options};

use crate::Hinted;
use crate::args::{GlobalArgs, InstallArgs};
use crate::kubeconfig;

/// The install manifests: for now the CustomResourceDefinitions.
fn manifests() -> Vec<Value> {
    weir_api::crds::all()
}

pub(crate) async fn run(global: &GlobalArgs, args: &InstallArgs) -> Result<(), Hinted> {
    if args.export {
        let mut out = std::io::stdout().lock();
        for (i, object) in manifests().iter().enumerate() {
            if i > 0 {
                writeln!(out, "---")?;
            }
            write!(out, "{}", weir_object::yaml::to_yaml(object))?;
        }
        return Ok(());
    }
    let conn = kubeconfig::connect(global, Duration::from_secs(30)).await?;
    let objects = manifests()
        .into_iter()
        .filter_map(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .collect();
    let set = Manager::new(conn.client.clone(), Options::default())
        .apply_all_staged(objects)
        .await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{set}")?;
    Ok(())
}
