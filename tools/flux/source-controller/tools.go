//go:build tools

// Package tools pins Flux's source-controller built by bench/controller/build-flux.
package tools

import _ "github.com/fluxcd/source-controller"
