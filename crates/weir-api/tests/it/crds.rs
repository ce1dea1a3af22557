use kube::api::{Api, DynamicObject, GroupVersionKind, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Map, Value, json};
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
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo
spec:
  interval: 15m
  url: https://stefanprodan.github.io/podinfo
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: podinfo-oci
spec:
  type: oci
  provider: aws
  interval: 5m0s
  url: oci://ghcr.io/stefanprodan/charts
  secretRef:
    name: registry-auth
  certSecretRef:
    name: registry-tls
  accessFrom:
    namespaceSelectors:
      - matchLabels:
          kubernetes.io/metadata.name: flux-system
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: podinfo
spec:
  interval: 10m
  chart: podinfo
  sourceRef:
    kind: HelmRepository
    name: podinfo
  version: "6.x"
  valuesFiles:
    - values-prod.yaml
  verify:
    provider: cosign
    matchOIDCIdentity:
      - issuer: "^https://token.actions.githubusercontent.com$"
        subject: "^https://github.com/stefanprodan/podinfo.*$"
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata:
  name: from-git
spec:
  interval: 5m
  chart: ./charts/podinfo
  sourceRef:
    kind: GitRepository
    name: podinfo
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo
spec:
  interval: 5m0s
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref:
    tag: latest
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo-rc
spec:
  interval: 5m0s
  url: oci://ghcr.io/stefanprodan/manifests/podinfo
  ref:
    # SemVer comparisons using constraints without a prerelease comparator will skip prerelease versions.
    # Adding a `-0` suffix to the semver range will include prerelease versions.
    semver: ">= 6.1.x-0"
    semverFilter: ".*-rc.*"
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata:
  name: podinfo-sigstore
spec:
  interval: 5m
  url: oci://registry.example.com/manifests/podinfo
  verify:
    provider: cosign
    trustedRootSecretRef:
      name: sigstore-trusted-root
    matchOIDCIdentity:
      - issuer: "^https://oidc-issuer.example.com$"
        subject: "^https://ci.example.com/.*$"
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
spec:
  interval: 15m
  timeout: 5m
  chart:
    spec:
      chart: podinfo
      version: '6.5.*'
      sourceRef:
        kind: HelmRepository
        name: podinfo
      interval: 5m
  releaseName: podinfo
  install:
    remediation:
      retries: 3
  upgrade:
    remediation:
      retries: 3
  test:
    enable: true
  driftDetection:
    mode: enabled
    ignore:
    - paths: ["/spec/replicas"]
      target:
        kind: Deployment
  values:
    replicaCount: 2
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo-ref
spec:
  interval: 10m
  chartRef:
    kind: HelmChart
    name: podinfo
  values:
    replicaCount: 2
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: frontend
spec:
  interval: 10m
  chart:
    metadata:
      labels:
        team: web
    spec:
      chart: ./charts/frontend
      reconcileStrategy: Revision
      sourceRef:
        kind: GitRepository
        name: podinfo
  dependsOn:
    - name: podinfo
      readyExpr: dep.spec.values.replicaCount == self.spec.values.replicaCount
    - name: apps
      kind: Kustomization
  targetNamespace: web
  storageNamespace: web
  serviceAccountName: web-deployer
  maxHistory: 10
  persistentClient: true
  postRenderStrategy: combined
  commonMetadata:
    labels:
      team: web
  install:
    crds: CreateReplace
    createNamespace: true
    disableWaitForJobs: true
    strategy:
      name: RetryOnFailure
      retryInterval: 2m
  upgrade:
    crds: CreateReplace
    cleanupOnFail: true
    remediation:
      retries: -1
      strategy: uninstall
    serverSideApply: auto
  rollback:
    recreate: true
    cleanupOnFail: true
  uninstall:
    keepHistory: true
  test:
    enable: true
    ignoreFailures: true
    filters:
      - name: smoke
        exclude: true
  valuesFrom:
    - kind: ConfigMap
      name: prod-env-values
      valuesKey: values-prod.yaml
    - kind: Secret
      name: prod-tls-values
      valuesKey: crt
      targetPath: tls.crt
      optional: true
    - kind: ConfigMap
      name: app-config-source
      valuesKey: application.yml
      targetPath: 'externalConfig.application\.yml.content'
      literal: true
  postRenderers:
    - kustomize:
        patches:
          - target:
              kind: Deployment
              name: frontend
            patch: |
              - op: add
                path: /metadata/labels/env
                value: prod
        images:
          - name: nginx
            newName: nginx-custom
            newTag: 1.29.0
  healthCheckExprs:
    - apiVersion: example.com/v1
      kind: Widget
      current: status.ready == true
  waitStrategy:
    name: poller
  values:
    ingress:
      enabled: true
      hosts: [{host: example.com, paths: ["/"]}]
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

/// The API of `kind`, at the group, version and plural its CRD declares.
fn api(env: &TestEnv, kind: &str) -> Api<DynamicObject> {
    let crd = weir_api::crds::all()
        .into_iter()
        .find(|crd| crd["spec"]["names"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"));
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let gvk = GroupVersionKind::gvk(text("/spec/group"), text("/spec/versions/0/name"), kind);
    Api::namespaced_with(
        env.client.clone(),
        env.namespace(),
        &ApiResource::from_gvk_with_plural(&gvk, text("/spec/names/plural")),
    )
}

#[tokio::test]
async fn flux_examples_are_accepted_unchanged_with_flux_defaults() -> TestResult {
    let env = TestEnv::new("api-examples").await?;
    let manager = install(&env).await?;
    let mut examples = objects(FLUX_EXAMPLES);
    let count = examples.len();
    for object in &mut examples {
        if let Some(Value::Object(meta)) = object.get_mut("metadata") {
            meta.insert("namespace".into(), Value::String(env.namespace().into()));
        }
    }
    let set = manager.apply_all_staged(examples).await?;
    assert_eq!(set.entries.len(), count, "{set}");
    assert!(
        set.entries.iter().all(|e| e.action == Action::Created),
        "{set}"
    );

    let podinfo = api(&env, "GitRepository").get("podinfo").await?;
    assert_eq!(podinfo.data["spec"]["timeout"], "60s");
    let receiver = api(&env, "Receiver").get("github-receiver").await?;
    assert_eq!(receiver.data["spec"]["interval"], "10m");
    let ks = api(&env, "Kustomization");
    assert_eq!(ks.get("podinfo").await?.data["spec"]["force"], false);

    let repo = api(&env, "HelmRepository").get("podinfo").await?;
    assert_eq!(repo.data["spec"]["provider"], "generic");
    // As in Flux, an absent type is not filled in (it means `default`).
    assert!(repo.data["spec"].get("type").is_none(), "{}", repo.data);
    let chart = api(&env, "HelmChart").get("from-git").await?;
    assert_eq!(chart.data["spec"]["version"], "*");
    assert_eq!(chart.data["spec"]["reconcileStrategy"], "ChartVersion");
    let oci = api(&env, "OCIRepository");
    let podinfo = oci.get("podinfo").await?;
    assert_eq!(podinfo.data["spec"]["provider"], "generic");
    assert_eq!(podinfo.data["spec"]["timeout"], "60s");
    assert_eq!(podinfo.data["spec"]["ref"]["tag"], "latest");
    let rc = oci.get("podinfo-rc").await?;
    assert_eq!(rc.data["spec"]["ref"]["semverFilter"], ".*-rc.*");
    let signed = oci.get("podinfo-sigstore").await?;
    assert_eq!(
        signed.data["spec"]["verify"]["trustedRootSecretRef"]["name"],
        "sigstore-trusted-root"
    );
    let releases = api(&env, "HelmRelease");
    let podinfo = releases.get("podinfo").await?;
    assert_eq!(podinfo.data["status"]["observedGeneration"], -1);
    assert_eq!(
        podinfo.data["spec"]["chart"]["spec"]["reconcileStrategy"],
        "ChartVersion"
    );
    assert_eq!(podinfo.data["spec"]["values"], json!({ "replicaCount": 2 }));
    let frontend = releases.get("frontend").await?;
    assert_eq!(frontend.data["spec"]["chart"]["spec"]["version"], "*");
    assert_eq!(
        frontend.data["spec"]["uninstall"]["deletionPropagation"],
        "background"
    );
    assert_eq!(
        frontend.data["spec"]["dependsOn"][1]["kind"],
        "Kustomization"
    );
    assert_eq!(
        frontend.data["spec"]["values"]["ingress"]["hosts"][0]["paths"][0],
        "/"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_helm_release_fields_are_pruned_and_values_kept() -> TestResult {
    let env = TestEnv::new("api-pruning").await?;
    install(&env).await?;
    let yaml = format!(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: typo, namespace: {}}}\n\
         spec:\n  interval: 1m\n  valuesFile: [x.yaml]\n  chartRef: {{kind: HelmChart, name: c, extra: 1}}\n  \
         install: {{disableWait: true, wait: false}}\n  values: {{anything: {{goes: [1, two]}}}}\n",
        env.namespace()
    );
    let object: DynamicObject = serde_json::from_value(Value::Object(objects(&yaml).remove(0)))?;
    let created = api(&env, "HelmRelease")
        .create(&PostParams::default(), &object)
        .await?;
    let spec = &created.data["spec"];
    assert!(spec.get("valuesFile").is_none(), "{spec}");
    assert!(spec["chartRef"].get("extra").is_none(), "{spec}");
    assert!(spec["install"].get("wait").is_none(), "{spec}");
    assert_eq!(spec["install"]["disableWait"], true);
    assert_eq!(
        spec["values"],
        json!({ "anything": { "goes": [1, "two"] } })
    );
    Ok(())
}

#[tokio::test]
async fn what_flux_refuses_is_refused_with_its_message() -> TestResult {
    let env = TestEnv::new("api-refusals").await?;
    install(&env).await?;
    let ns = env.namespace();
    let hr = |spec: &str| {
        format!(
            "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: hr, namespace: {ns}}}\nspec: {spec}\n"
        )
    };
    let chart = "chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}";
    let cases = [
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: scp, namespace: {ns}}}\nspec: {{interval: 1m, url: 'git@github.com:org/repo'}}\n"
            ),
            "spec.url".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {{name: hours, namespace: {ns}}}\nspec: {{interval: 1m, timeout: 1h, url: 'https://x'}}\n"
            ),
            "spec.timeout".to_owned(),
        ),
        (
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: noprune, namespace: {ns}}}\nspec: {{interval: 1m, sourceRef: {{kind: GitRepository, name: x}}}}\n"
            ),
            "spec.prune".to_owned(),
        ),
        (
            format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: policy, namespace: {ns}}}\nspec: {{interval: 1m, prune: true, deletionPolicy: Sometimes, sourceRef: {{kind: GitRepository, name: x}}}}\n"
            ),
            "spec.deletionPolicy".to_owned(),
        ),
        (
            format!(
                "apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {{name: nosecret, namespace: {ns}}}\nspec: {{type: github, resources: [{{kind: GitRepository, name: x}}]}}\n"
            ),
            "secretRef is required when type is not generic-oidc".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: scheme, namespace: {ns}}}\nspec: {{url: 'ftp://charts.example'}}\n"
            ),
            "spec.url".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {{name: kind, namespace: {ns}}}\nspec: {{url: 'https://x', type: git}}\n"
            ),
            "spec.type".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {{name: scheme, namespace: {ns}}}\nspec: {{interval: 1m, url: 'ghcr.io/stefanprodan/manifests/podinfo'}}\n"
            ),
            "spec.url".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata: {{name: layer, namespace: {ns}}}\nspec: {{interval: 1m, url: 'oci://x/y', layerSelector: {{operation: unpack}}}}\n"
            ),
            "spec.layerSelector.operation".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {{name: nointerval, namespace: {ns}}}\nspec: {{chart: podinfo, sourceRef: {{kind: HelmRepository, name: x}}}}\n"
            ),
            "spec.interval".to_owned(),
        ),
        (
            format!(
                "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmChart\nmetadata: {{name: verify, namespace: {ns}}}\nspec: {{interval: 1m, chart: ./c, sourceRef: {{kind: GitRepository, name: x}}, verify: {{provider: cosign}}}}\n"
            ),
            "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'".to_owned(),
        ),
        (
            hr("{interval: 1m}"),
            "either chart or chartRef must be set".to_owned(),
        ),
        (
            hr(&format!(
                "{{interval: 1m, {chart}, chartRef: {{kind: HelmChart, name: c}}}}"
            )),
            "either chart or chartRef must be set".to_owned(),
        ),
        (hr(&format!("{{{chart}}}")), "spec.interval".to_owned()),
        (
            hr(&format!(
                "{{interval: 1m, {chart}, releaseName: {}}}",
                "r".repeat(54)
            )),
            "spec.releaseName".to_owned(),
        ),
        (
            hr(&format!(
                "{{interval: 1m, {chart}, upgrade: {{strategy: {{name: RemediateOnFailure, retryInterval: 1m}}}}}}"
            )),
            ".retryInterval can only be set when .name is 'RetryOnFailure'".to_owned(),
        ),
        (
            hr(&format!(
                "{{interval: 1m, {chart}, driftDetection: {{mode: sometimes}}}}"
            )),
            "spec.driftDetection.mode".to_owned(),
        ),
        (
            hr(&format!(
                "{{interval: 1m, {chart}, dependsOn: [{{name: x, kind: GitRepository}}]}}"
            )),
            "spec.dependsOn[0].kind".to_owned(),
        ),
    ];
    for (yaml, expected) in cases {
        let object = objects(&yaml).remove(0);
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let object: DynamicObject = serde_json::from_value(Value::Object(object))?;
        let err = api(&env, &kind)
            .create(&PostParams::default(), &object)
            .await
            .err()
            .ok_or_else(|| format!("accepted: {yaml}"))?;
        assert!(err.to_string().contains(&expected), "{expected}: {err}");
    }
    Ok(())
}
