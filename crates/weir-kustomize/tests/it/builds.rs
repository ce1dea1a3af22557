//! Builds through the in-memory filesystem (the controller's path) and on disk agree.

use std::path::Path;

use weir_kustomize::{DiskFs, MemFs, Options, Reorder, build};

#[test]
fn memory_and_disk_builds_agree() {
    let files = [
        (
            "app/kustomization.yaml",
            "namePrefix: p-\nresources: [cm.yaml]\nconfigMapGenerator:\n- name: gen\n  literals: [a=b]\n",
        ),
        (
            "app/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n",
        ),
    ];
    let mut mem = MemFs::new();
    let disk = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        mem.add_file(path, text);
        let p = disk.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    let opts = Options {
        reorder: Reorder::None,
        ..Options::default()
    };
    assert!(!opts.layer_openapi);
    let from_mem = build(&mem, Path::new("/app"), &opts).expect("memory build");
    let from_disk = build(&DiskFs, &disk.path().join("app"), &opts).expect("disk build");
    assert_eq!(from_mem.to_yaml(), from_disk.to_yaml());
    // The expected text is `kubectl kustomize --reorder none` output (kustomize v5.5.0).
    assert_eq!(
        from_mem.to_yaml(),
        "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  name: p-cm\n---\napiVersion: v1\ndata:\n  a: b\nkind: ConfigMap\nmetadata:\n  name: p-gen-4h2mbtbbt6\n"
    );
}
