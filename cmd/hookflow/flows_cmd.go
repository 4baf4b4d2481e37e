package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// adminGroup is a command group that talks to the admin API: the API's URL
// and key as flags (HOOKFLOW_API_URL, HOOKFLOW_API_KEY), and a clear error
// before anything is sent when there is no key.
func adminGroup(use, short string) (*cobra.Command, *adminClient) {
	a := &adminClient{http: &http.Client{Timeout: 30 * time.Second}}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.key == "" {
				return fmt.Errorf("no API key: set HOOKFLOW_API_KEY (hookflow dev prints one) or --api-key")
			}
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&a.url, "api-url", envOr("HOOKFLOW_API_URL", "http://127.0.0.1:8080"), "the hookflow API")
	cmd.PersistentFlags().StringVar(&a.key, "api-key", os.Getenv("HOOKFLOW_API_KEY"), "an admin API key")
	return cmd, a
}

// applied is what the admin API answers a create or update with.
type applied struct {
	Version    int64  `json:"version"`
	Changed    *bool  `json:"changed"`
	TriggerURL string `json:"triggerUrl"`
}

// apply creates or updates one definition (GitOps): PUT to
// /api/v1/<kind>/<name>, POST to /api/v1/<kind> when it does not exist yet;
// it prints what happened (created, unchanged, updated). created adds to
// the created line.
func (a *adminClient) apply(out io.Writer, kind, name string, v any, created func(applied) string) error {
	body, _ := json.Marshal(v)
	var got applied
	code, err := a.do("PUT", "/api/v1/"+kind+"/"+url.PathEscape(name), body, &got)
	switch {
	case code == http.StatusNotFound:
		if _, err = a.do("POST", "/api/v1/"+kind, body, &got); err == nil {
			note := ""
			if created != nil {
				note = created(got)
			}
			fmt.Fprintf(out, "%s: created (v%d)%s\n", name, got.Version, note)
		}
	case err == nil && got.Changed != nil && !*got.Changed:
		fmt.Fprintf(out, "%s: unchanged (v%d)\n", name, got.Version)
	case err == nil:
		fmt.Fprintf(out, "%s: updated to v%d\n", name, got.Version)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// adminClient talks to the management API.
type adminClient struct {
	url, key string
	http     *http.Client
}

func (a *adminClient) do(method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequest(method, strings.TrimRight(a.url, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		var e struct {
			Error, Detail string
			Errors        []field.Error
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			msg := fmt.Sprintf("%s (%d): %s", e.Error, resp.StatusCode, e.Detail)
			for _, fe := range e.Errors[min(1, len(e.Errors)):] {
				msg += "\n  " + fe.Error()
			}
			return resp.StatusCode, fmt.Errorf("%s", msg)
		}
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

type flowSummary struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Version    int64     `json:"version"`
	Enabled    bool      `json:"enabled"`
	Mode       string    `json:"mode"`
	TriggerURL string    `json:"triggerUrl"`
	UpdatedAt  time.Time `json:"updatedAt"`
	Changed    *bool     `json:"changed"`
}

func flowsCmd() *cobra.Command {
	cmd, a := adminGroup("flows", "Manage flows through the admin API (HOOKFLOW_API_URL, HOOKFLOW_API_KEY)")

	var files string
	apply := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update flows from files (GitOps: an unchanged file makes no new version)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flows, err := readFlowFiles(files)
			if err != nil {
				return err
			}
			// Callees first: the API refuses a call to a flow it does
			// not hold yet.
			flows = flow.CalleesFirst(flows)
			out := cmd.OutOrStdout()
			for _, f := range flows {
				// A new flow's line shows its trigger URL.
				if err := a.apply(out, "flows", f.ID, f, func(got applied) string { return " " + got.TriggerURL }); err != nil {
					return err
				}
			}
			return nil
		},
	}
	apply.Flags().StringVarP(&files, "file", "f", "", "a flow file, or a directory of them")
	_ = apply.MarkFlagRequired("file")

	list := &cobra.Command{
		Use:   "list",
		Short: "List flows",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res struct{ Flows []flowSummary }
			if _, err := a.do("GET", "/api/v1/flows", nil, &res); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tVERSION\tMODE\tENABLED\tUPDATED")
			for _, f := range res.Flows {
				fmt.Fprintf(tw, "%s\tv%d\t%s\t%v\t%s\n", f.ID, f.Version, f.Mode, f.Enabled, f.UpdatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Show a flow (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res json.RawMessage
			if _, err := a.do("GET", "/api/v1/flows/"+args[0], nil, &res); err != nil {
				return err
			}
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, res, "", "  ")
			fmt.Fprintln(cmd.OutOrStdout(), pretty.String())
			return nil
		},
	}
	toggle := func(name string) *cobra.Command {
		return &cobra.Command{
			Use:   name + " ID",
			Short: strings.ToUpper(name[:1]) + name[1:] + " a flow's trigger",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var got flowSummary
				if _, err := a.do("POST", "/api/v1/flows/"+args[0]+"/"+name, nil, &got); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: enabled=%v\n", got.ID, got.Enabled)
				return nil
			},
		}
	}
	cmd.AddCommand(apply, validateCmd("flow"), list, get, toggle("disable"), toggle("enable"))
	return cmd
}

// readFlowFiles decodes and validates a file or every flow file of a
// directory, reporting every problem before anything is sent.
func readFlowFiles(path string) ([]*flow.Flow, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		cat, err := flow.LoadDir(path)
		if err != nil {
			return nil, err
		}
		var out []*flow.Flow
		for _, e := range cat.Entries() {
			out = append(out, e.Flow)
		}
		return out, nil
	}
	f, err := flow.DecodeFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Clean(path), err)
	}
	return []*flow.Flow{f}, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
