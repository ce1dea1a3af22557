#!/usr/bin/env python3
"""Writes N ConfigMaps and N/10 Deployments, spread over 10 namespaces named PREFIX-0..9,
to one multi-document YAML file, for bench/apply/run."""
import sys

prefix, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
docs = []
for ns in range(10):
    docs.append(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {prefix}-{ns}\n")
for i in range(count):
    ns = i % 10
    docs.append(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: {prefix}-{ns}\n"
        f"  labels:\n    app: bench\ndata:\n  key: value-{i}\n  other: |\n    line one {i}\n    line two\n"
    )
for i in range(count // 10):
    ns = i % 10
    docs.append(
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: {prefix}-{ns}\n"
        f"spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: app-{i}\n"
        f"  template:\n    metadata:\n      labels:\n        app: app-{i}\n"
        f"    spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n"
        f"        ports:\n        - containerPort: 80\n"
    )
with open(out, "w") as f:
    f.write("---\n".join(docs))
