package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/schedules"
)

// schedulesCmd operates flows' schedules through the admin API: list,
// pause and unpause with a note, trigger now, backfill a range, reconcile.
// Schedules themselves are written in the flow (schedules:), by `flows
// apply`.
func schedulesCmd() *cobra.Command {
	cmd, a := adminGroup("schedules", "Operate flows' schedules (Temporal Schedules) through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)")

	list := &cobra.Command{
		Use:   "list FLOW",
		Short: "List a flow's schedules: state, next run, last run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct{ Schedules []schedules.Info }
			if _, err := a.do("GET", "/api/v1/flows/"+args[0]+"/schedules", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWHEN\tSTATE\tNEXT RUN\tLAST RUN\tRUNS")
			for _, s := range res.Schedules {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, scheduleWhen(s), scheduleState(s), firstTime(s.NextRuns), lastRun(s.RecentRuns), s.Actions)
			}
			return tw.Flush()
		},
	}
	var note string
	pauseCmd := func(use, short, action string) *cobra.Command {
		c := &cobra.Command{
			Use:   use + " FLOW SCHEDULE",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				body, _ := json.Marshal(map[string]string{"note": note})
				if _, err := a.do("POST", "/api/v1/flows/"+args[0]+"/schedules/"+args[1]+"/"+action, body, nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %sd\n", args[0], args[1], action)
				return nil
			},
		}
		c.Flags().StringVar(&note, "note", "", "why (shown in the Web UI's Schedules page)")
		return c
	}
	var overlap string
	trigger := &cobra.Command{
		Use:   "trigger FLOW SCHEDULE",
		Short: "Start a run of a schedule now",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, _ := json.Marshal(map[string]string{"overlap": overlap})
			if _, err := a.do("POST", "/api/v1/flows/"+args[0]+"/schedules/"+args[1]+"/trigger", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: triggered\n", args[0], args[1])
			return nil
		},
	}
	trigger.Flags().StringVar(&overlap, "overlap", "", "overlap policy for this run (default: the schedule's)")
	var start, end string
	backfill := &cobra.Command{
		Use:   "backfill FLOW SCHEDULE --start TIME --end TIME",
		Short: "Start the runs a schedule would have started from start to end (RFC 3339, both included)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, _ := json.Marshal(map[string]string{"start": start, "end": end, "overlap": overlap})
			if _, err := a.do("POST", "/api/v1/flows/"+args[0]+"/schedules/"+args[1]+"/backfill", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: backfill of %s to %s accepted\n", args[0], args[1], start, end)
			return nil
		},
	}
	backfill.Flags().StringVar(&start, "start", "", "first nominal time (RFC 3339)")
	backfill.Flags().StringVar(&end, "end", "", "last nominal time (RFC 3339)")
	backfill.Flags().StringVar(&overlap, "overlap", "", "overlap policy for the backfilled runs (default: the schedule's; allowAll runs them side by side)")
	_ = backfill.MarkFlagRequired("start")
	_ = backfill.MarkFlagRequired("end")
	reconcile := &cobra.Command{
		Use:   "reconcile",
		Short: "Bring every flow's Temporal Schedules in step with the store, and print what changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res struct{ Changes []schedules.Change }
			if _, err := a.do("POST", "/api/v1/schedules/reconcile", nil, &res); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Changes) == 0 {
				fmt.Fprintln(out, "schedules in step: nothing changed")
			}
			for _, c := range res.Changes {
				fmt.Fprintln(out, c.String())
			}
			return nil
		},
	}
	cmd.AddCommand(list, pauseCmd("pause", "Pause a schedule, with a note (enabling the flow does not undo it)", "pause"),
		pauseCmd("unpause", "Unpause a schedule, with a note", "unpause"), trigger, backfill, reconcile)
	return cmd
}

func scheduleWhen(s schedules.Info) string {
	e := s.Entry
	when := e.Cron
	if when == "" {
		when = "every " + e.Every.String()
		if e.Offset != 0 {
			when += " +" + e.Offset.String()
		}
	}
	if e.Timezone != "" {
		when += " " + e.Timezone
	}
	return when
}

func scheduleState(s schedules.Info) string {
	switch {
	case !s.Exists:
		return "missing (reconcile creates it)"
	case s.Paused && s.Note != "":
		return "paused: " + strings.ReplaceAll(s.Note, "\t", " ")
	case s.Paused:
		return "paused"
	case !s.InStep:
		return "active (drifted: reconcile rewrites it)"
	}
	return "active"
}

func firstTime(ts []time.Time) string {
	if len(ts) == 0 {
		return "-"
	}
	return ts[0].UTC().Format(time.RFC3339)
}

func lastRun(rs []schedules.RecentRun) string {
	if len(rs) == 0 {
		return "-"
	}
	r := rs[len(rs)-1]
	out := r.ScheduledAt.UTC().Format(time.RFC3339) + " " + r.ExecutionID
	if r.Status != "" {
		out += " (" + r.Status + ")"
	}
	return out
}
