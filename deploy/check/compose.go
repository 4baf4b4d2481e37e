package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

// checkCompose loads the file as docker compose would, schema validation
// and consistency checks on, with no variables set (so every ${VAR:-default}
// must have a working default), then applies hookflow's rules.
func checkCompose(ctx context.Context, file string) []string {
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(nil),
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	var problems []string
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				problems = append(problems, fmt.Sprintf("%s: services.%s.ports: publish on 127.0.0.1 only (got %q)", file, name, port.HostIP))
			}
		}
		// Nothing can be pulled where the cluster is built (no registry):
		// the default `up` runs only the images `make images` builds, and
		// a service whose image comes from elsewhere waits behind a profile.
		if len(s.Profiles) == 0 && !strings.HasPrefix(s.Image, "hookflow") {
			problems = append(problems, fmt.Sprintf("%s: services.%s: image %q is not built by make images: put the service behind a profile", file, name, s.Image))
		}
		if strings.HasPrefix(name, "hookflow-") {
			if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
				problems = append(problems, fmt.Sprintf("%s: services.%s: needs a healthcheck (hookflow probe)", file, name))
			}
			if s.StopGracePeriod == nil {
				problems = append(problems, fmt.Sprintf("%s: services.%s: needs stop_grace_period longer than its drain or shutdown timeout", file, name))
			}
		}
	}
	return problems
}
