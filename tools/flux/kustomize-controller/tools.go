//go:build tools

// Package tools pins Flux's kustomize-controller built by bench/controller/build-flux.
package tools

import _ "github.com/fluxcd/kustomize-controller"
