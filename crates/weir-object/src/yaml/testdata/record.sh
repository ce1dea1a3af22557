#!/usr/bin/env bash
# Records what `kubectl kustomize` (kustomize v5.5.0) prints for each oracle/*.in.yaml, as
# oracle/*.out.yaml, or oracle/*.err when it fails. The Rust tests compare the YAML reader and
# writer against these files, so they run without kubectl. Run again after adding an input.
set -euo pipefail
cd "$(dirname "$0")/oracle"
kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5.5.0' ||
  { echo "needs kubectl with kustomize v5.5.0" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'resources:\n- r.yaml\n' >"$work/kustomization.yaml"
for input in *.in.yaml; do
  name=${input%.in.yaml}
  cp "$input" "$work/r.yaml"
  rm -f "$name.out.yaml" "$name.err"
  if ! kubectl kustomize "$work" >"$name.out.yaml" 2>"$work/stderr"; then
    rm -f "$name.out.yaml"
    # Keep only kustomize's message, without klog's prefix or the temporary directory.
    sed -e 's/^E[0-9]* [0-9:.]* *[0-9]* run.go:[0-9]*\] //' -e "s#$work#DIR#g" "$work/stderr" >"$name.err"
  fi
done
