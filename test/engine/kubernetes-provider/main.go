// The provider's own cmd/pulumi-resource-kubernetes, whose embedded files its build generates:
// test/engine/lib/tools.ts writes them next to this file from the module's schema.json (with the
// version set) and terraform-mapping.json, as the module's generate.go does.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	// version.Version is set with -ldflags -X, as the upstream release build does.
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
