package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/records"
)

// collectionsCmd manages collection definitions through the admin API, as
// flowsCmd does flows: apply is GitOps (create, update, or leave
// unchanged; every file is validated before anything is sent).
func collectionsCmd() *cobra.Command {
	cmd, a := adminGroup("collections", "Manage collections of records through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)")

	var files string
	apply := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update collections from files (GitOps: an unchanged file makes no new version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cols, err := readCollectionFiles(files)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, c := range cols {
				if err := a.apply(out, "collections", c.Name, c, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}
	apply.Flags().StringVarP(&files, "file", "f", "", "a collection file (.yaml, .yml, .json), or a directory of them")
	_ = apply.MarkFlagRequired("file")

	list := &cobra.Command{
		Use:   "list",
		Short: "List collections",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res struct{ Collections []records.Collection }
			if _, err := a.do("GET", "/api/v1/collections", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tPROPERTIES\tUNIQUE\tUPDATED")
			for _, c := range res.Collections {
				fmt.Fprintf(tw, "%s\tv%d\t%d\t%s\t%s\n", c.Name, c.Version, len(c.Properties), strings.Join(c.UniqueProperties(), ","), c.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(apply, validateCmd("collection"), list)
	return cmd
}

// readCollectionFiles reads collection definitions from a file or a directory.
func readCollectionFiles(path string) ([]*records.Collection, error) {
	return readDefinitionFiles(path, "collection", records.DecodeCollection, func(v *records.Collection) string { return v.Name })
}
