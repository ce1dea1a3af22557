//go:build tools

// Package tools pins the OCI registry (CNCF Distribution) the tests push Helm charts to.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
