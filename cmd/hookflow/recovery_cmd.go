package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func init() {
	executionSubcommands = append(executionSubcommands, rerunCmd, resumeCmd, replayCmd, replayStatusCmd)
}

// versionArg is the API's version choice: "original", "current" or N.
func versionArg(v string) (any, error) {
	switch v {
	case "original", "current":
		return v, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return nil, fmt.Errorf(`--version must be original, current or a version number, not %q`, v)
	}
	return n, nil
}

// rerunCmd runs an execution's trigger data again as a new execution.
func rerunCmd(a *adminClient) *cobra.Command {
	var version string
	cmd := &cobra.Command{
		Use:   "rerun EXECUTION_ID",
		Short: "Run an execution's trigger data again as a new execution (original, current or a given version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := versionArg(version)
			if err != nil {
				return err
			}
			body, _ := json.Marshal(map[string]any{"version": v})
			var got struct {
				ExecutionID string `json:"executionId"`
				Version     int64  `json:"version"`
			}
			if _, err := a.do("POST", "/api/v1/executions/"+url.PathEscape(args[0])+"/rerun", body, &got); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rerun of %s started as %s (v%d)\n", args[0], got.ExecutionID, got.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "original", "the definition to run: original, current or a version number")
	return cmd
}

// resumeCmd continues a failed, terminated, timed-out or canceled execution
// from its failed step.
func resumeCmd(a *adminClient) *cobra.Command {
	var reason string
	var current, allowResend bool
	cmd := &cobra.Command{
		Use:   "resume EXECUTION_ID",
		Short: "Continue a failed, terminated, timed-out or canceled execution from its failed step (no succeeded send repeats)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := map[string]any{"reason": reason, "allowResend": allowResend}
			if current {
				req["version"] = "current"
			}
			body, _ := json.Marshal(req)
			var got struct {
				RunID string `json:"runId"`
				Note  string `json:"note"`
			}
			if _, err := a.do("POST", "/api/v1/executions/"+url.PathEscape(args[0])+"/resume", body, &got); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s resumed (run %s): %s\n", args[0], got.RunID, got.Note)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the reset")
	cmd.Flags().BoolVar(&current, "current", false, "check that the flow's current definition is the run's (refused otherwise)")
	cmd.Flags().BoolVar(&allowResend, "allow-resend", false, "accept sending again deliveries that succeeded beside the failed one (same Idempotency-Key)")
	return cmd
}

// replayCmd reruns or resumes a flow's executions in a time range, as a
// server-side replay (or counts them with --dry-run).
func replayCmd(a *adminClient) *cobra.Command {
	var (
		action, version, from, to string
		statuses                  []string
		perSecond                 float64
		dryRun                    bool
	)
	cmd := &cobra.Command{
		Use:   "replay FLOW_ID --from TIME --to TIME",
		Short: "Rerun or resume a flow's executions in a time range, server-side and rate-limited (--dry-run counts them)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			filter := map[string]any{"status": statuses}
			for name, v := range map[string]string{"from": from, "to": to} {
				if v == "" {
					return fmt.Errorf("--%s is required: a replay needs a time range", name)
				}
				t, err := parseTimeArg(v)
				if err != nil {
					return fmt.Errorf("--%s: %w", name, err)
				}
				filter[name] = t
			}
			req := map[string]any{"action": action, "filter": filter, "perSecond": perSecond, "dryRun": dryRun}
			if version != "" {
				v, err := versionArg(version)
				if err != nil {
					return err
				}
				req["version"] = v
			}
			body, _ := json.Marshal(req)
			var got struct {
				Count    int64    `json:"count"`
				Sample   []string `json:"sample"`
				ReplayID string   `json:"replayId"`
			}
			if _, err := a.do("POST", "/api/v1/flows/"+url.PathEscape(args[0])+"/replay", body, &got); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if dryRun {
				fmt.Fprintf(out, "%d execution(s) would be replayed (%s)\n", got.Count, action)
				for _, id := range got.Sample {
					fmt.Fprintf(out, "  %s\n", id)
				}
				return nil
			}
			fmt.Fprintf(out, "replay %s started; follow it with: hookflow executions replay-status %s\n", got.ReplayID, got.ReplayID)
			return nil
		},
	}
	cmd.Flags().StringVar(&action, "action", "rerun", "rerun or resume")
	cmd.Flags().StringSliceVar(&statuses, "status", []string{"failed"}, "statuses to select: completed, failed, canceled, terminated, timedout")
	cmd.Flags().StringVar(&from, "from", "", "start of the time range (RFC 3339, or a duration ago such as 2h)")
	cmd.Flags().StringVar(&to, "to", "now", "end of the time range (RFC 3339, a duration ago, or now)")
	cmd.Flags().StringVar(&version, "version", "", "for reruns: original (default), current or a version number")
	cmd.Flags().Float64Var(&perSecond, "per-second", 5, "executions recovered per second")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "count the executions and show a sample; start nothing")
	return cmd
}

// replayStatusCmd shows a replay's progress.
func replayStatusCmd(a *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "replay-status REPLAY_ID",
		Short: "Show a bulk replay's status and progress",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var got struct {
				Status   string `json:"status"`
				Progress struct {
					Done, Failed int
					Finished     bool
				} `json:"progress"`
			}
			if _, err := a.do("GET", "/api/v1/replays/"+url.PathEscape(args[0]), nil, &got); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %d done, %d failed\n", args[0], got.Status, got.Progress.Done, got.Progress.Failed)
			return nil
		},
	}
}

// parseTimeArg reads RFC 3339, "now", or a duration ago ("2h").
func parseTimeArg(v string) (time.Time, error) {
	if strings.EqualFold(v, "now") {
		return time.Now().UTC(), nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().UTC().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("use RFC 3339 (2026-11-25T14:00:00Z), now, or a duration ago such as 2h")
	}
	return t, nil
}
