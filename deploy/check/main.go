// Command check validates hookflow's deployment files (make lint runs it):
//
//   - docker-compose.yaml against the Compose Specification's JSON schema,
//     with compose-go, the loader docker compose itself uses: unknown keys,
//     wrong types and references to undefined services or configs fail;
//   - the Kubernetes manifests by strict decoding into the API's own Go
//     types (k8s.io/api), as `kubectl apply --validate=strict` would: unknown
//     or misspelled fields and wrong types fail;
//   - and rules of hookflow's own that a schema cannot express: selectors
//     that select, probes on declared ports, references to defined
//     ConfigMaps and Secrets, grace periods longer than the drain and
//     shutdown timeouts, loopback-only compose ports, and a default compose
//     profile that runs only images `make images` builds (no registry).
//
// It needs no cluster, no Docker engine and no network.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

func main() {
	compose := flag.String("compose", "", "docker-compose file to check")
	kube := flag.String("kubernetes", "", "directory holding kustomization.yaml and the manifests it lists")
	flag.Parse()
	if *compose == "" && *kube == "" {
		fmt.Fprintln(os.Stderr, "usage: check [-compose FILE] [-kubernetes DIR]")
		os.Exit(2)
	}
	var problems []string
	if *compose != "" {
		problems = append(problems, checkCompose(context.Background(), *compose)...)
	}
	if *kube != "" {
		problems = append(problems, checkKubernetes(*kube)...)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("deploy: compose and Kubernetes files are valid")
}
