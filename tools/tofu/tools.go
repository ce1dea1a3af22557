//go:build tools

// Package tools pins the OpenTofu CLI built by tools/build.
package tools

import _ "github.com/opentofu/opentofu/cmd/tofu"
