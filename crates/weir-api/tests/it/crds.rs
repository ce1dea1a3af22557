use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Map, Value};
use weir_apply::{Action, Manager, Options};
use weir_testenv::TestEnv;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn objects(yaml: &str) -> Vec<Map<String, Value>> {
    weir_object::yaml::parse_documents("test.yaml", yaml)
        .expect("valid YAML")
        .into_iter()
        .map(|d| match d.value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        })
        .collect()
}

/// Examples from Flux's documentation of these kinds, with the namespace left to the test.
const FLUX_EXAMPLES: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
spec:
  interval: 5m0s
  url: https://github.com/stefanprodan/podinfo
  ref:
    branch: master
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo-ssh
spec:
  interval: 1m
  timeout: 30s
  url: ssh://git@github.com/stefanprodan/podinfo
  secretRef:
    name: ssh-credentials
  ref:
    semver: ">=6.0.0 <7.0.0"
  ignore: |
    /*
    !/deploy
  include:
    - repository:
        name: other
      fromPath: deploy/manifests
      toPath: base/app
  verify:
    mode: HEAD
    secretRef:
      name: pgp-public-keys
  sparseCheckout:
    - deploy
  recurseSubmodules: true
  proxySecretRef:
    name: proxy
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: podinfo
spec:
  interval: 10m
  targetNamespace: default
  sourceRef:
    kind: GitRepository
    name: podinfo
  path: "./kustomize"
  prune: true
  timeout: 1m
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
spec:
  interval: 10m0s
  retryInterval: 2m
  dependsOn:
    - name: infra
      readyExpr: dep.status.lastAppliedRevision == self.status.lastAttemptedRevision
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  path: ./apps/production
  prune: true
  wait: true
  force: false
  deletionPolicy: WaitForTermination
  healthChecks:
    - apiVersion: apps/v1
      kind: Deployment
      name: podinfo
      namespace: podinfo
  healthCheckExprs:
    - apiVersion: example.com/v1
      kind: Widget
      current: status.ready == true
      failed: status.failed == true
  patches:
    - patch: |
        - op: replace
          path: /spec/replicas
          value: 2
      target:
        kind: Deployment
        labelSelector: app=podinfo
  images:
    - name: podinfo
      newName: ghcr.io/stefanprodan/podinfo
      newTag: 6.5.0
  namePrefix: prod-
  commonMetadata:
    labels:
      team: apps
  components:
    - ../components/monitoring
  postBuild:
    substitute:
      cluster_env: prod
      cluster_region: "eu-central-1"
    substituteFrom:
      - kind: ConfigMap
        name: cluster-vars
      - kind: Secret
        name: cluster-secret-vars
        optional: true
  serviceAccountName: apps-reconciler
  kubeConfig:
    secretRef:
      name: prod-kubeconfig
      key: value.yaml
  decryption:
    provider: sops
    secretRef:
      name: sops-age
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github-receiver
spec:
  type: github
  events:
    - "ping"
    - "push"
  secretRef:
    name: receiver-token
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: webapp
    - kind: Kustomization
      apiVersion: kustomize.toolkit.fluxcd.io/v1
      name: "*"
      matchLabels:
        app: webapp
"#;

async fn install(env: &TestEnv) -> Result<Manager, Box<dyn std::error::Error>> {
    let manager = Manager::new(env.client.clone(), Options::default());
    let crds = weir_api::crds::all()
        .into_iter()
        .map(|v| match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        })
        .collect();
    manager.apply_all_staged(crds).await?;
    Ok(manager)
}

fn api(env: &TestEnv, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, "v1", kind);
    Api::namespaced_with(
        env.client.clone(),
        env.namespace(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

#[tokio::test]
async fn flux_examples_are_accepted_unchanged_with_flux_defaults() -> TestResult {
    let env = TestEnv::new("api-examples").await?;
    let manager = install(&env).await?;
    let mut examples = objects(FLUX_EXAMPLES);
    for object in &mut examples {
        if let Some(Value::Object(meta)) = object.get_mut("metadata") {
            meta.insert("namespace".into(), Value::String(env.namespace().into()));
        }
    }
    let set = manager.apply_all_staged(examples).await?;
    assert_eq!(set.entries.len(), 5, "{set}");
    assert!(
        set.entries.iter().all(|e| e.action == Action::Created),
        "{set}"
    );

    let git = api(
        &env,
        "source.toolkit.fluxcd.io",
        "GitRepository",
        "gitrepositories",
    );
    let podinfo = git.get("podinfo").await?;
    assert_eq!(podinfo.data["spec"]["timeout"], "60s");
    let receivers = api(
        &env,
        "notification.toolkit.fluxcd.io",
        "Receiver",
        "receivers",
    );
    let receiver = receivers.get("github-receiver").await?;
    assert_eq!(receiver.data["spec"]["interval"], "10m");
    let ks = api(
        &env,
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        "kustomizations",
    );
    assert_eq!(ks.get("podinfo").await?.data["spec"]["force"], false);
    Ok(())
}

#[tokio::test]
async fn what_flux_refuses_is_refused_with_its_message() -> TestResult {
    let env = TestEnv::new("api-refusals").await?;
    install(&env).await?;
    let ns = env.namespace();
    let cases = [
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: scp, namespace: {ns}}}\nspec: {{interval: 1m, url: 'git@github.com:org/repo'}}\n"
            ),
            "spec.url",
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: hours, namespace: {ns}}}\nspec: {{interval: 1m, timeout: 1h, url: 'https://x'}}\n"
            ),
            "spec.timeout",
        ),
        (
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: noprune, namespace: {ns}}}\nspec: {{interval: 1m, sourceRef: {{kind: GitRepository, name: x}}}}\n"
            ),
            "spec.prune",
        ),
        (
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: policy, namespace: {ns}}}\nspec: {{interval: 1m, prune: true, deletionPolicy: Sometimes, sourceRef: {{kind: GitRepository, name: x}}}}\n"
            ),
            "spec.deletionPolicy",
        ),
        (
            format!(
                "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {{name: nosecret, namespace: {ns}}}\nspec: {{type: github, resources: [{{kind: GitRepository, name: x}}]}}\n"
            ),
            "secretRef is required when type is not generic-oidc",
        ),
    ];
    for (yaml, expected) in cases {
        let object = objects(&yaml).remove(0);
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let (group, plural) = match kind.as_str() {
            "GitRepository" => ("source.toolkit.fluxcd.io", "gitrepositories"),
            "Kustomization" => ("kustomize.toolkit.fluxcd.io", "kustomizations"),
            _ => ("notification.toolkit.fluxcd.io", "receivers"),
        };
        let object: DynamicObject = serde_json::from_value(Value::Object(object))?;
        let err = api(&env, group, &kind, plural)
            .create(&PostParams::default(), &object)
            .await
            .err()
            .ok_or_else(|| format!("accepted: {yaml}"))?;
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    Ok(())
}
