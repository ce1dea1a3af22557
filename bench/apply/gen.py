#!/usr/bin/env python3
"""Writes the apply benchmark's objects for one tool, spread over 10 namespaces PREFIX-0..9:
N ConfigMaps, N/10 Deployments, N/10 Services, and a CustomResourceDefinition with N/20
custom resources. The CRD goes to OUT-crd.yaml, the rest to OUT.yaml (kubectl cannot apply a
CRD and its resources in one call; weir is given both files).

    gen.py PREFIX N OUT [CHANGED]   # CHANGED: how many ConfigMaps get a new value
"""
import sys

prefix, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
changed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
group = f"{prefix}.bench.weir.dev"

crd = f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  names: {{kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: integer}}
              color: {{type: string}}
"""

docs = []
for ns in range(10):
    docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {prefix}-{ns}\n")
for i in range(count):
    value = f"value-{i}-changed" if i < changed else f"value-{i}"
    docs.append(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: {prefix}-{i % 10}\n"
        f"  labels:\n    app: bench\ndata:\n  key: {value}\n  other: |\n    line one {i}\n    line two\n"
    )
for i in range(count // 10):
    ns = f"{prefix}-{i % 10}"
    docs.append(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: {ns}\n"
        f"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n"
        f"  template:\n    metadata:\n      labels:\n        app: app-{i}\n"
        f"    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n"
        f"        ports:\n        - containerPort: 80\n"
    )
    docs.append(
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\n  namespace: {ns}\n"
        f"spec:\n  selector:\n    app: app-{i}\n  ports:\n  - port: 80\n    targetPort: 80\n"
    )
for i in range(count // 20):
    docs.append(
        f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w-{i}\n  namespace: {prefix}-{i % 10}\n"
        f"spec:\n  size: {i}\n  color: blue\n"
    )
with open(out, "w") as f:
    f.write("---\n".join(docs))
with open(out.removesuffix(".yaml") + "-crd.yaml", "w") as f:
    f.write(crd)
