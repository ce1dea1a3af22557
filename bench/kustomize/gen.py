#!/usr/bin/env python3
"""Generates kustomization trees for benchmarks.

  gen.py small DIR   # 10 resources in one kustomization
  gen.py large DIR   # 100 bases x 40 resources (+ generators, patches, a prefix), ~4,100 objects

The large tree has the shape of kustomize issue #5084: many bases under one overlay, each with
its own patches and ConfigMap generator, and a name prefix on top, so name references and
patches dominate.
"""
import os
import sys


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def deployment(name, app):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels:
    app: {app}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {app}
  template:
    metadata:
      labels:
        app: {app}
    spec:
      serviceAccountName: {app}-sa
      containers:
      - name: main
        image: registry.example/{app}:1.0.0
        ports:
        - containerPort: 8080
        envFrom:
        - configMapRef:
            name: {app}-settings
        env:
        - name: MODE
          value: production
        volumeMounts:
        - name: config
          mountPath: /etc/{app}
      volumes:
      - name: config
        configMap:
          name: {app}-settings
"""


def service(name, app):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {app}
  ports:
  - port: 80
    targetPort: 8080
"""


def configmap(name, i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  index: "{i}"
  settings.yaml: |
    level: info
    replicas: {i % 5}
"""


def base(root, b, per_base):
    files = []
    app = f"app{b}"
    docs = []
    n = 0
    while n < per_base - 2:
        k = n // 3
        docs.append(deployment(f"{app}-web{k}", app))
        docs.append(service(f"{app}-svc{k}", app))
        docs.append(configmap(f"{app}-cm{k}", k))
        n += 3
    for i, d in enumerate(docs):
        fname = f"r{i}.yaml"
        write(os.path.join(root, fname), d)
        files.append(fname)
    write(os.path.join(root, "sa.yaml"), f"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}-sa\n")
    files.append("sa.yaml")
    write(os.path.join(root, "patch.yaml"), f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {app}-web0
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: main
        env:
        - name: EXTRA
          value: "yes"
""")
    res = "\n".join(f"- {f}" for f in files)
    write(os.path.join(root, "kustomization.yaml"), f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ns{b}
commonLabels:
  team: t{b % 7}
resources:
{res}
configMapGenerator:
- name: {app}-settings
  literals:
  - LOG_LEVEL=info
  - INDEX={b}
patches:
- path: patch.yaml
images:
- name: registry.example/{app}
  newTag: 2.0.{b}
""")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("small", "large"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "small":
        base(out, 0, 10)
        return
    bases = 100
    for b in range(bases):
        base(os.path.join(out, "bases", f"b{b}"), b, 40)
    res = "\n".join(f"- bases/b{b}" for b in range(bases))
    write(os.path.join(out, "overlay-patch.yaml"), """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app0-web1
  namespace: ns0
spec:
  replicas: 5
""")
    write(os.path.join(out, "kustomization.yaml"), f"""apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namePrefix: prod-
commonAnnotations:
  owner: platform
resources:
{res}
patches:
- path: overlay-patch.yaml
- target:
    kind: Service
  patch: |-
    - op: add
      path: /metadata/labels
      value:
        exposed: "true"
""")


if __name__ == "__main__":
    main()
