//! Differential test: generated kustomization trees built by Weir and by the reference
//! kustomize (v5.5.0, built by `tools/build kustomize` into `.cache/bin/kustomize`, or
//! `$WEIR_KUSTOMIZE_REF`) must print the same bytes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use weir_kustomize::{DiskFs, Options, build};

/// A small deterministic generator (64-bit LCG), so failures reproduce from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn reference() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WEIR_KUSTOMIZE_REF") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/bin/kustomize");
    p.is_file().then_some(p)
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn workload(kind: &str, name: &str, app: &str, rng: &mut Rng) -> String {
    let (api, template_prefix) = match kind {
        "CronJob" => ("batch/v1", "jobTemplate:\n    spec:\n      template:"),
        "Job" => ("batch/v1", "template:"),
        _ => ("apps/v1", "template:"),
    };
    let indent = if kind == "CronJob" {
        "        "
    } else {
        "    "
    };
    let mut s = format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n  labels:\n    app: {app}\nspec:\n"
    );
    if kind == "CronJob" {
        s.push_str("  schedule: \"*/5 * * * *\"\n");
    } else if kind != "Job" {
        s.push_str(&format!(
            "  replicas: {}\n  selector:\n    matchLabels:\n      app: {app}\n",
            rng.below(4)
        ));
    }
    if kind == "StatefulSet" {
        s.push_str(&format!("  serviceName: {app}-svc\n"));
    }
    s.push_str(&format!("  {template_prefix}\n"));
    let i = indent;
    s.push_str(&format!(
        "{i}  metadata:\n{i}    labels:\n{i}      app: {app}\n{i}  spec:\n"
    ));
    s.push_str(&format!("{i}    serviceAccountName: {app}-sa\n"));
    s.push_str(&format!(
        "{i}    containers:\n{i}    - name: main\n{i}      image: registry.example/{app}:1.{}\n",
        rng.below(9)
    ));
    s.push_str(&format!(
        "{i}      envFrom:\n{i}      - configMapRef:\n{i}          name: settings\n"
    ));
    s.push_str(&format!("{i}      env:\n{i}      - name: TOKEN\n{i}        valueFrom:\n{i}          secretKeyRef:\n{i}            name: creds\n{i}            key: token\n"));
    s.push_str(&format!(
        "{i}      volumeMounts:\n{i}      - name: data\n{i}        mountPath: /data\n"
    ));
    s.push_str(&format!("{i}    volumes:\n{i}    - name: data\n{i}      persistentVolumeClaim:\n{i}        claimName: {app}-data\n"));
    if kind == "Job" || kind == "CronJob" {
        s.push_str(&format!("{i}    restartPolicy: Never\n"));
    }
    s
}

fn tree(seed: u64, dir: &Path) {
    let mut rng = Rng(seed);
    let app = format!("app{}", rng.below(100));
    let kinds = ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];
    let kind = kinds[rng.below(kinds.len() as u64) as usize];
    let mut base_resources = vec!["workload.yaml", "support.yaml"];
    write(
        dir,
        "base/workload.yaml",
        &workload(kind, &format!("{app}-main"), &app, &mut rng),
    );
    let support = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}-sa\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {app}-svc\nspec:\n  selector:\n    app: {app}\n  ports:\n  - port: 80\n    targetPort: 8080\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {app}-data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: {app}-role\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  resourceNames: [settings]\n  verbs: [get]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: {app}-rb\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n  name: {app}-role\nsubjects:\n- kind: ServiceAccount\n  name: {app}-sa\n"
    );
    write(dir, "base/support.yaml", &support);
    if rng.chance(50) {
        write(
            dir,
            "base/ingress.yaml",
            &format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {app}-ing\n  annotations:\n    note: \"yes\"\nspec:\n  tls:\n  - secretName: creds\n    hosts: [a.example]\n  rules:\n  - host: a.example\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: {app}-svc\n            port:\n              number: 80\n"
            ),
        );
        base_resources.push("ingress.yaml");
    }
    let mut k = String::new();
    writeln!(k, "resources:").ok();
    for r in &base_resources {
        writeln!(k, "- {r}").ok();
    }
    writeln!(
        k,
        "configMapGenerator:\n- name: settings\n  literals:\n  - LEVEL=info\n  - COUNT={}",
        rng.below(50)
    )
    .ok();
    writeln!(
        k,
        "secretGenerator:\n- name: creds\n  literals:\n  - token=s3cr3t{}",
        rng.below(1000)
    )
    .ok();
    if rng.chance(40) {
        writeln!(k, "commonLabels:\n  tier: backend").ok();
    }
    write(dir, "base/kustomization.yaml", &k);

    let mut o = String::from("resources:\n- ../base\n");
    if rng.chance(60) {
        writeln!(o, "namePrefix: p{}-", rng.below(10)).ok();
    }
    if rng.chance(40) {
        writeln!(o, "nameSuffix: -s{}", rng.below(10)).ok();
    }
    if rng.chance(60) {
        writeln!(o, "namespace: ns{}", rng.below(5)).ok();
    }
    if rng.chance(50) {
        writeln!(
            o,
            "labels:\n- pairs:\n    env: e{}\n  includeSelectors: {}\n  includeTemplates: {}",
            rng.below(3),
            rng.chance(50),
            rng.chance(50)
        )
        .ok();
    }
    if rng.chance(50) {
        writeln!(
            o,
            "commonAnnotations:\n  owner: team-{}\n  count: \"{}\"",
            rng.below(3),
            rng.below(99)
        )
        .ok();
    }
    if rng.chance(60) {
        writeln!(o, "images:\n- name: registry.example/{app}\n  newName: mirror.example/{app}\n  newTag: \"2.{}\"", rng.below(9)).ok();
    }
    if rng.chance(40) && kind != "Job" && kind != "CronJob" && kind != "DaemonSet" {
        writeln!(
            o,
            "replicas:\n- name: {app}-main\n  count: {}",
            rng.below(7)
        )
        .ok();
    }
    if rng.chance(50) {
        writeln!(o, "configMapGenerator:\n- name: settings\n  behavior: merge\n  literals:\n  - EXTRA=\"{}\"", rng.below(9)).ok();
    }
    let mut patches = Vec::new();
    if rng.chance(50) {
        write(
            dir,
            "overlay/smp.yaml",
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}-svc\nspec:\n  type: NodePort\n"
            ),
        );
        patches.push("- path: smp.yaml".to_owned());
    }
    if rng.chance(50) {
        patches.push(format!(
            "- target:\n    kind: {kind}\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value:\n        patched: \"{}\"",
            rng.below(9)
        ));
    }
    if !patches.is_empty() {
        writeln!(o, "patches:\n{}", patches.join("\n")).ok();
    }
    if rng.chance(30) {
        write(
            dir,
            "comp/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonAnnotations:\n  from-component: \"true\"\n",
        );
        writeln!(o, "components:\n- ../comp").ok();
    }
    write(dir, "overlay/kustomization.yaml", &o);
}

#[test]
fn generated_trees_match_the_reference_kustomize() {
    let Some(reference) = reference() else {
        if std::env::var_os("CI").is_some() {
            panic!("no reference kustomize: run tools/build kustomize (or set WEIR_KUSTOMIZE_REF)");
        }
        eprintln!("skipped: no reference kustomize (tools/build kustomize)");
        return;
    };
    let mut mismatches = Vec::new();
    let mut built = 0;
    let trees = 60;
    for seed in 1..=trees {
        let d = tempfile::tempdir().expect("tempdir");
        tree(seed, d.path());
        let overlay = d.path().join("overlay");
        let want = Command::new(&reference)
            .arg("build")
            .arg(&overlay)
            .output()
            .expect("run the reference kustomize");
        let got = build(&DiskFs, &overlay, &Options::default());
        match (want.status.success(), got) {
            (true, Ok(out)) => {
                built += 1;
                let want = String::from_utf8_lossy(&want.stdout);
                if out.to_yaml() != want {
                    let first = out
                        .to_yaml()
                        .lines()
                        .zip(want.lines())
                        .position(|(a, b)| a != b)
                        .unwrap_or(0);
                    mismatches.push(format!(
                        "seed {seed}: output differs from line {}",
                        first + 1
                    ));
                }
            }
            (false, Err(_)) => {}
            (true, Err(e)) => mismatches.push(format!("seed {seed}: weir failed: {e}")),
            (false, Ok(_)) => mismatches.push(format!(
                "seed {seed}: reference failed ({}) but weir succeeded",
                String::from_utf8_lossy(&want.stderr).trim()
            )),
        }
    }
    println!(
        "differential: {trees} trees, {} identical, {built} built by both",
        trees as usize - mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The generator must exercise builds, not only shared failures.
    assert!(
        built * 10 >= trees * 9,
        "only {built} of {trees} trees built"
    );
}
