package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// destinationsCmd manages destinations through the admin API, as flowsCmd
// does flows: apply is GitOps (create, update, or leave unchanged; every
// file is validated before anything is sent).
func destinationsCmd() *cobra.Command {
	cmd, a := adminGroup("destinations", "Manage destinations (admin-defined webhook endpoints) through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)")

	var files string
	apply := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update destinations from files (GitOps: an unchanged file makes no new version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dests, err := readDestinationFiles(files)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, d := range dests {
				if err := a.apply(out, "destinations", d.Name, d, nil); err != nil {
					return err
				}
			}
			return nil
		},
	}
	apply.Flags().StringVarP(&files, "file", "f", "", "a destination file (.yaml, .yml, .json), or a directory of them")
	_ = apply.MarkFlagRequired("file")

	list := &cobra.Command{
		Use:   "list",
		Short: "List destinations with their state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res struct{ Destinations []destinations.Destination }
			if _, err := a.do("GET", "/api/v1/destinations", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tBASE URL\tRATE\tSTATE\tFAILURES")
			for _, d := range res.Destinations {
				rate := "-"
				if d.Def.RateLimit != nil {
					rate = fmt.Sprintf("%g/s", d.Def.RateLimit.PerSecond)
				}
				// Why deliveries park (paused, open, limited), or closed.
				state := d.State.Status
				if state == destinations.StatusLimited && d.State.LimitedUntil != nil {
					state += " until " + d.State.LimitedUntil.Format("15:04:05Z")
				}
				fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\t%d\n", d.Name, d.Version, d.Def.BaseURL, rate, state, d.State.ConsecutiveFailures)
			}
			return tw.Flush()
		},
	}
	var reason string
	pause := &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a destination: its deliveries wait (not failed, not attempted) until resumed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, _ := json.Marshal(map[string]string{"reason": reason})
			if _, err := a.do("POST", "/api/v1/destinations/"+args[0]+"/pause", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: paused\n", args[0])
			return nil
		},
	}
	pause.Flags().StringVar(&reason, "reason", "", "why (shown with the destination)")
	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "Resume a paused destination: its waiting deliveries go out, within its rate limit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := a.do("POST", "/api/v1/destinations/"+args[0]+"/resume", []byte("{}"), nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: resumed\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(apply, validateCmd("destination"), list, pause, resume)
	return cmd
}

// readDestinationFiles reads destination definitions from a file or a directory.
func readDestinationFiles(path string) ([]*flow.Destination, error) {
	return readDefinitionFiles(path, "destination", flow.DecodeDestination, func(v *flow.Destination) string { return v.Name })
}

// applyDestinationsDir applies a directory of destinations to the store
// (hookflow dev --destinations): create, update, or leave unchanged.
func applyDestinationsDir(ctx context.Context, log *slog.Logger, st *store.Store, dir string) error {
	dests, err := readDestinationFiles(dir)
	if err != nil {
		return fmt.Errorf("refusing to start, invalid destinations:\n%w", err)
	}
	ds := destinations.NewStore(st)
	for _, d := range dests {
		outcome := "created"
		if _, err := ds.Create(ctx, d); errors.Is(err, store.ErrExists) {
			got, changed, err := ds.Update(ctx, d, 0)
			if err != nil {
				return fmt.Errorf("apply destination %s: %w", d.Name, err)
			}
			outcome = "unchanged"
			if changed {
				outcome = fmt.Sprintf("updated to v%d", got.Version)
			}
		} else if err != nil {
			return fmt.Errorf("apply destination %s: %w", d.Name, err)
		}
		log.Info("destination applied", "destination", d.Name, "outcome", outcome)
	}
	return nil
}

// checkDirDestinations refuses flows of a directory that name destinations
// the store does not hold.
func checkDirDestinations(ctx context.Context, st *store.Store, cat *flow.Catalog) error {
	var errs []error
	ds := destinations.NewStore(st)
	for _, e := range cat.Entries() {
		for _, fe := range flow.CheckDestinations(e.Flow, func(name string) bool {
			_, err := ds.Get(ctx, name)
			return err == nil
		}) {
			errs = append(errs, fmt.Errorf("%s: %s", e.Source, fe.Error()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("refusing to start, flows name unknown destinations:\n%w", errors.Join(errs...))
	}
	return nil
}
