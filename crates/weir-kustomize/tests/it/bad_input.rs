//! Every kind of bad input the issue lists gets an error naming the file (and line or field).

use std::path::Path;

use weir_kustomize::{DiskFs, LoadRestrictor, Options, build};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// The error and its causes, as the CLI prints them.
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

fn build_err(dir: &Path) -> String {
    match build(&DiskFs, dir, &Options::default()) {
        Ok(out) => panic!("expected an error, got:\n{}", out.to_yaml()),
        Err(e) => describe(&e),
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n";

#[test]
fn unknown_kustomization_field_is_named() {
    let d = tempfile::tempdir().expect("tempdir");
    write(
        d.path(),
        "kustomization.yaml",
        "resources: [cm.yaml]\nnamePrefx: x-\n",
    );
    write(d.path(), "cm.yaml", CM);
    let e = build_err(d.path());
    assert!(e.contains("kustomization.yaml"), "{e}");
    assert!(e.contains("unknown field `namePrefx`"), "{e}");
}

#[test]
fn missing_resource_file_is_named() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "kustomization.yaml", "resources: [nope.yaml]\n");
    let e = build_err(d.path());
    assert!(e.contains("nope.yaml"), "{e}");
    assert!(
        e.contains("does not exist") || e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn missing_kustomization_is_explained() {
    let d = tempfile::tempdir().expect("tempdir");
    let e = build_err(d.path());
    assert!(
        e.contains("unable to find one of 'kustomization.yaml'"),
        "{e}"
    );
}

#[test]
fn base_cycles_are_detected() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "a/kustomization.yaml", "resources: [../b]\n");
    write(d.path(), "b/kustomization.yaml", "resources: [../a]\n");
    let e = build_err(&d.path().join("a"));
    assert!(e.contains("cycle detected"), "{e}");
}

#[test]
fn duplicate_resource_ids_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    write(
        d.path(),
        "kustomization.yaml",
        "resources: [a.yaml, b.yaml]\n",
    );
    write(d.path(), "a.yaml", CM);
    write(d.path(), "b.yaml", CM);
    let e = build_err(d.path());
    assert!(
        e.contains("already registered id: ConfigMap.v1.[noGrp]/cm.[noNs]"),
        "{e}"
    );
    assert!(e.contains("b.yaml"), "{e}");
}

#[test]
fn patch_without_target_is_an_error() {
    let d = tempfile::tempdir().expect("tempdir");
    write(
        d.path(),
        "kustomization.yaml",
        "resources: [cm.yaml]\npatches:\n- path: p.yaml\n",
    );
    write(d.path(), "cm.yaml", CM);
    write(
        d.path(),
        "p.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  x: y\n",
    );
    let e = build_err(d.path());
    assert!(
        e.contains("no resource matches strategic merge patch"),
        "{e}"
    );
    assert!(e.contains("other"), "{e}");
}

#[test]
fn yaml_syntax_errors_give_file_and_line() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "kustomization.yaml", "resources: [cm.yaml]\n");
    write(
        d.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
    );
    let e = build_err(d.path());
    assert!(e.contains("cm.yaml:"), "{e}");
    assert!(e.contains(":4:") || e.contains(":5:"), "{e}");
}

#[test]
fn files_outside_the_root_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "secret.yaml", CM);
    write(
        d.path(),
        "app/kustomization.yaml",
        "resources: [../secret.yaml]\n",
    );
    let e = build_err(&d.path().join("app"));
    assert!(e.contains("security; file"), "{e}");
    assert!(e.contains("secret.yaml"), "{e}");
    // Allowed when the restrictor is off.
    let opts = Options {
        load_restrictor: LoadRestrictor::None,
        ..Options::default()
    };
    assert!(build(&DiskFs, &d.path().join("app"), &opts).is_ok());
}

#[cfg(unix)]
#[test]
fn symlinks_escaping_the_root_are_refused() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "outside/secret.yaml", CM);
    write(
        d.path(),
        "app/kustomization.yaml",
        "resources: [link.yaml]\n",
    );
    std::os::unix::fs::symlink(
        d.path().join("outside/secret.yaml"),
        d.path().join("app/link.yaml"),
    )
    .expect("symlink");
    let e = build_err(&d.path().join("app"));
    assert!(e.contains("security; file"), "{e}");
}

#[test]
fn alias_bombs_are_refused_quickly() {
    let d = tempfile::tempdir().expect("tempdir");
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\nx:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in "bcdefghij".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!("  {c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    write(d.path(), "kustomization.yaml", "resources: [bomb.yaml]\n");
    write(d.path(), "bomb.yaml", &bomb);
    let start = std::time::Instant::now();
    let e = build_err(d.path());
    assert!(e.contains("bomb.yaml"), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn huge_files_are_refused_without_loading_them() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "kustomization.yaml", "resources: [big.yaml]\n");
    let f = std::fs::File::create(d.path().join("big.yaml")).expect("create");
    f.set_len(100 * 1024 * 1024).expect("sparse 100 MiB file");
    let e = build_err(d.path());
    assert!(e.contains("big.yaml"), "{e}");
    assert!(e.contains("limit"), "{e}");
}

#[test]
fn unsupported_features_say_so() {
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "kustomization.yaml", "helmCharts:\n- name: x\n");
    let e = build_err(d.path());
    assert!(e.contains("helmCharts is not supported"), "{e}");
    write(
        d.path(),
        "kustomization.yaml",
        "resources:\n- https://github.com/example/repo//base?ref=v1\n",
    );
    let e = build_err(d.path());
    assert!(e.contains("remote"), "{e}");
}

#[cfg(unix)]
#[test]
fn a_rooted_filesystem_keeps_flux_builds_inside_the_artifact() {
    // Flux turns kustomize's load restrictor off but confines the build to the artifact.
    let d = tempfile::tempdir().expect("tempdir");
    write(d.path(), "outside/secret.yaml", CM);
    write(d.path(), "artifact/shared/cm.yaml", CM);
    write(
        d.path(),
        "artifact/app/kustomization.yaml",
        "resources: [../shared/cm.yaml]\n",
    );
    let fs = weir_kustomize::RootedFs::new(&d.path().join("artifact")).expect("root");
    let app = d.path().join("artifact/app");
    let ok = build(&fs, &app, &Options::flux()).expect("files elsewhere in the artifact load");
    assert_eq!(ok.resources.len(), 1);
    write(
        d.path(),
        "artifact/app/kustomization.yaml",
        "resources: [../../outside/secret.yaml]\n",
    );
    let e = describe(&build(&fs, &app, &Options::flux()).expect_err("outside the artifact"));
    assert!(e.contains("outside the source root"), "{e}");
}
