//go:build tools

// Package tools pins the HashiCorp Terraform CLI built by tools/build. Terraform is BUSL-1.1:
// it is built locally only to test terraform-provider-weir against, never shipped.
package tools

import _ "github.com/hashicorp/terraform"
