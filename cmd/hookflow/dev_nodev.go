//go:build nodev

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// devCmd in a production build (-tags nodev, as the container image is
// built): the embedded Temporal server and Web UI are left out, which takes
// the binary from about 160 MB to a fraction of it.
func devCmd(*globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "dev",
		Short: "Not in this build: it was built without the embedded Temporal server (-tags nodev)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("this hookflow was built without the embedded Temporal server (-tags nodev); use `hookflow api` and `hookflow worker` against a cluster, or a build without the tag for `hookflow dev`")
		},
	}
}
