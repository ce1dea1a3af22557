//go:build tools

// Package tools pins the kustomize CLI built by tools/build.
package tools

import _ "sigs.k8s.io/kustomize/kustomize/v5"
