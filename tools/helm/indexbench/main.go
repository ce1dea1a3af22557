// Command indexbench loads a Helm repository index the way Flux's source-controller does
// (Helm's repo package: the whole file read, converted from YAML to JSON, decoded and sorted)
// and prints how many versions chart NAME has. Used by bench/helm/index only.
package main

import (
	"fmt"
	"os"

	"helm.sh/helm/v4/pkg/repo/v1"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: indexbench INDEX_FILE CHART")
		os.Exit(2)
	}
	index, err := repo.LoadIndexFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	version, err := index.Get(os.Args[2], "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%d versions, newest %s\n", len(index.Entries[os.Args[2]]), version.Version)
}
