package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// destinationsCmd manages destinations through the admin API, as flowsCmd
// does flows: apply is GitOps (create, update, or leave unchanged; every
// file is validated before anything is sent).
func destinationsCmd() *cobra.Command {
	a := &adminClient{http: &http.Client{Timeout: 30 * time.Second}}
	cmd := &cobra.Command{
		Use:   "destinations",
		Short: "Manage destinations (admin-defined webhook endpoints) through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.key == "" {
				return fmt.Errorf("no API key: set HOOKFLOW_API_KEY (hookflow dev prints one) or --api-key")
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&a.url, "api-url", envOr("HOOKFLOW_API_URL", "http://127.0.0.1:8080"), "the hookflow API")
	cmd.PersistentFlags().StringVar(&a.key, "api-key", os.Getenv("HOOKFLOW_API_KEY"), "an admin API key")

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
				body, _ := json.Marshal(d)
				var got struct {
					Version int64 `json:"version"`
					Changed *bool `json:"changed"`
				}
				code, err := a.do("PUT", "/api/v1/destinations/"+d.Name, body, &got)
				switch {
				case code == http.StatusNotFound:
					if _, err = a.do("POST", "/api/v1/destinations", body, &got); err == nil {
						fmt.Fprintf(out, "%s: created (v%d)\n", d.Name, got.Version)
					}
				case err == nil && got.Changed != nil && !*got.Changed:
					fmt.Fprintf(out, "%s: unchanged (v%d)\n", d.Name, got.Version)
				case err == nil:
					fmt.Fprintf(out, "%s: updated to v%d\n", d.Name, got.Version)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", d.Name, err)
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
			var res struct{ Destinations []store.Destination }
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
				state := d.State.Circuit
				if d.State.Paused {
					state = "paused"
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
	cmd.AddCommand(apply, list, pause, resume)
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
	for _, d := range dests {
		outcome := "created"
		if _, err := st.CreateDestination(ctx, d); errors.Is(err, store.ErrExists) {
			got, changed, err := st.UpdateDestination(ctx, d, 0)
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
	for _, e := range cat.Entries() {
		for _, fe := range flow.CheckDestinations(e.Flow, func(name string) bool {
			_, err := st.GetDestination(ctx, name)
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
