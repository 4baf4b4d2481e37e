package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// executionSubcommands build the `executions` subcommands on the group's
// API client. A file adds its own in init (rerun, resume, replay, ...):
// the group needs no edit.
var executionSubcommands = []func(a *adminClient) *cobra.Command{redeliverCmd, resultCmd}

// executionsCmd works on executions through the admin API
// (HOOKFLOW_API_URL, HOOKFLOW_API_KEY).
func executionsCmd() *cobra.Command {
	cmd, a := adminGroup("executions", "Recover executions through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)")
	for _, sub := range executionSubcommands {
		cmd.AddCommand(sub(a))
	}
	return cmd
}

// redeliverCmd sends one delivery of an execution again.
func redeliverCmd(a *adminClient) *cobra.Command {
	var newKey bool
	cmd := &cobra.Command{
		Use:   "redeliver EXECUTION_ID DELIVERY_ID",
		Short: "Send one delivery of an execution again (its deliveryId is in the execution's step log)",
		Long: "Send one delivery of an execution again, as the run scheduled it (same request, secrets resolved by the worker, the step's retry policy).\n" +
			"The receiver sees the original Idempotency-Key again, or with --new-key a new one (<deliveryId>-r<n>).\n" +
			"`curl $HOOKFLOW_API_URL/api/v1/executions/<id>` lists each redelivery and its outcome under redeliveries.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := "same"
			if newKey {
				key = "new"
			}
			body, _ := json.Marshal(map[string]string{"idempotencyKey": key})
			var got struct {
				ExecutionID    string `json:"executionId"`
				IdempotencyKey string `json:"idempotencyKey"`
			}
			path := "/api/v1/executions/" + url.PathEscape(args[0]) + "/deliveries/" + url.PathEscape(args[1]) + "/redeliver"
			if _, err := a.do("POST", path, body, &got); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "redelivery %s started: delivery %s with Idempotency-Key %s\n", got.ExecutionID, args[1], got.IdempotencyKey)
			return nil
		},
	}
	cmd.Flags().BoolVar(&newKey, "new-key", false, "send it with a new idempotency key (<deliveryId>-r<n>) instead of the original one")
	return cmd
}

// resultCmd fetches a sync trigger's answer from its result URL (a caller
// whose budget ran out got it with a 202), waiting for it.
func resultCmd(a *adminClient) *cobra.Command {
	var (
		wait    time.Duration
		user    string
		include bool
	)
	cmd := &cobra.Command{
		Use:   "result RESULT_URL | result FLOW_ID EXECUTION_ID",
		Short: "Fetch a sync trigger's answer (onTimeout: accepted) from its result URL, waiting for it",
		Long: "Fetch the answer a sync caller would have received, from the result URL of a 202 (Location).\n" +
			"With FLOW_ID and EXECUTION_ID the URL is built from the flow's trigger URL (this needs an API key).\n" +
			"The result URL needs no API key: its token (and --user for a trigger with basic auth) is the credential.",
		Args: cobra.RangeArgs(1, 2),
		// The result URL is protected by its trigger token, not an API key.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[0]
			if len(args) == 2 {
				if a.key == "" {
					return fmt.Errorf("FLOW_ID EXECUTION_ID needs an API key (HOOKFLOW_API_KEY or --api-key) to find the trigger URL; or pass the result URL")
				}
				var f flowSummary
				if _, err := a.do("GET", "/api/v1/flows/"+url.PathEscape(args[0]), nil, &f); err != nil {
					return err
				}
				trigger := f.TriggerURL
				if strings.HasPrefix(trigger, "/") {
					trigger = strings.TrimRight(a.url, "/") + trigger
				}
				target = trigger + "/results/" + url.PathEscape(args[1])
			}
			return fetchResult(cmd.OutOrStdout(), target, user, wait, include)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for the answer (0: ask once)")
	cmd.Flags().StringVarP(&user, "user", "u", "", "USER:PASSWORD for a trigger with basic auth")
	cmd.Flags().BoolVarP(&include, "include", "i", false, "print the status line and headers before the body")
	return cmd
}

// fetchResult long-polls the result URL (each request waits at most 60s,
// the server's bound) until an answer comes or wait has passed, and prints
// the answer's body (with -i its status and headers first).
func fetchResult(out io.Writer, target, user string, wait time.Duration, include bool) error {
	client := &http.Client{Timeout: 90 * time.Second}
	deadline := time.Now().Add(wait)
	for {
		step := min(max(time.Until(deadline), 0), 60*time.Second).Round(time.Second)
		u := target
		if step > 0 {
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + "wait=" + step.String()
		}
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			return err
		}
		if user != "" {
			name, pass, _ := strings.Cut(user, ":")
			req.SetBasicAuth(name, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusAccepted && time.Now().Before(deadline):
			continue
		case resp.StatusCode == http.StatusAccepted:
			return fmt.Errorf("no answer yet from execution %s (ask again later, or with a longer --wait)", resp.Header.Get("Hookflow-Execution-Id"))
		case resp.StatusCode >= 400 && resp.Header.Get("Hookflow-Execution-Id") == "":
			// Refused before any execution was found: the URL, its token
			// or the credentials are wrong.
			var e struct{ Error, Detail string }
			if json.Unmarshal(body, &e) == nil && e.Error != "" {
				return fmt.Errorf("%s (%d): %s", e.Error, resp.StatusCode, e.Detail)
			}
			return fmt.Errorf("GET %s: %s", target, resp.Status)
		}
		if include {
			fmt.Fprintf(out, "%s %s\n", resp.Proto, resp.Status)
			names := make([]string, 0, len(resp.Header))
			for k := range resp.Header {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				for _, v := range resp.Header[k] {
					fmt.Fprintf(out, "%s: %s\n", k, v)
				}
			}
			fmt.Fprintln(out)
		}
		_, err = out.Write(body)
		if err == nil && len(body) > 0 && body[len(body)-1] != '\n' {
			_, err = fmt.Fprintln(out)
		}
		return err
	}
}
