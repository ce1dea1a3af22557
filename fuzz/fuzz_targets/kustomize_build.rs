//! Fuzzes kustomization and resource parsing and the whole build: the input is split into a
//! kustomization file, a resource file and a patch file; any result is fine except a panic
//! or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_kustomize::{MemFs, Options, build};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, "\n%%\n");
    let kustomization = parts.next().unwrap_or_default();
    let resource = parts.next().unwrap_or("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n");
    let patch = parts.next().unwrap_or_default();
    let mut fs = MemFs::new();
    fs.add_file("/k/kustomization.yaml", kustomization.as_bytes().to_vec());
    fs.add_file("/k/r.yaml", resource.as_bytes().to_vec());
    fs.add_file("/k/p.yaml", patch.as_bytes().to_vec());
    fs.add_file("/k/base/kustomization.yaml", b"resources: [../r.yaml]\n".to_vec());
    if let Ok(out) = build(&fs, std::path::Path::new("/k"), &Options::default()) {
        let _ = out.to_yaml();
    }
});
