package trigger

import (
	"strings"
	"testing"

	"github.com/hookflow/hookflow/flow/field"
)

func TestFlowControlCombinationsAreCheckedWithTheirPath(t *testing.T) {
	cases := []struct {
		name string
		mode Mode
		fc   FlowControl
		want string // "" = valid; else a path and a fragment of the message
	}{
		{"concurrency alone", ModeAsync, FlowControl{Key: "{{ trigger.body.customerId }}", Concurrency: 1}, ""},
		{"concurrency with throttle", ModeSync, FlowControl{Concurrency: 2, Throttle: &Throttle{Limit: 10, Per: field.Duration(60e9)}}, ""},
		{"debounce alone", ModeAsync, FlowControl{Debounce: &Debounce{Period: field.Duration(30e9), MaxWait: field.Duration(300e9)}}, ""},
		{"batch alone", ModeAsync, FlowControl{Batch: &Batch{MaxSize: 10, Timeout: field.Duration(10e9)}}, ""},
		{"singleton in a sync flow", ModeSync, FlowControl{Singleton: "skip"}, ""},
		{"nothing set", ModeAsync, FlowControl{Key: "x"}, "trigger.flowControl: set one of"},
		{"debounce with concurrency", ModeAsync, FlowControl{Concurrency: 1, Debounce: &Debounce{Period: field.Duration(1e9)}}, "trigger.flowControl: combines concurrency+debounce"},
		{"singleton with batch", ModeAsync, FlowControl{Singleton: "cancel", Batch: &Batch{MaxSize: 2, Timeout: field.Duration(1e9)}}, "trigger.flowControl: combines batch+singleton"},
		{"debounce in a sync flow", ModeSync, FlowControl{Debounce: &Debounce{Period: field.Duration(1e9)}}, "trigger.flowControl.debounce: applies to async triggers only"},
		{"batch in a sync flow", ModeSync, FlowControl{Batch: &Batch{MaxSize: 2, Timeout: field.Duration(1e9)}}, "trigger.flowControl.batch: applies to async triggers only"},
		{"maxWait under period", ModeAsync, FlowControl{Debounce: &Debounce{Period: field.Duration(10e9), MaxWait: field.Duration(5e9)}}, "trigger.flowControl.debounce.maxWait: must be at least period"},
		{"maxWaiting where nothing waits", ModeAsync, FlowControl{MaxWaiting: 5, Batch: &Batch{MaxSize: 2, Timeout: field.Duration(1e9)}}, "trigger.flowControl.maxWaiting: applies to"},
		{"a key that does not compile", ModeAsync, FlowControl{Key: "{{ trigger.body. }}", Concurrency: 1}, "trigger.flowControl.key: {{ trigger.body. }}"},
		{"a key reading steps", ModeAsync, FlowControl{Key: "{{ steps.a.body }}", Concurrency: 1}, "trigger.flowControl.key: {{ steps.a.body }}"},
		{"an unclosed key", ModeAsync, FlowControl{Key: "{{ trigger.body.id", Concurrency: 1}, "trigger.flowControl.key: unclosed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := tc.fc
			var errs field.List
			checkFlowControl(&Trigger{Mode: tc.mode, FlowControl: &fc}, &errs)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if strings.Contains(e.Error(), tc.want) {
					return
				}
			}
			t.Fatalf("got %v; want %q", errs, tc.want)
		})
	}
}

func TestAKeyRendersOnTheTriggerAndFallsBackToTheFlowsKey(t *testing.T) {
	fc := &FlowControl{Key: "cus-{{ trigger.body.customerId }}", Concurrency: 1}
	k, err := fc.RenderKey(map[string]any{"body": map[string]any{"customerId": 42}})
	if err != nil || k != "cus-42" {
		t.Fatalf("got %q, %v", k, err)
	}
	whole := &FlowControl{Key: "{{ trigger.body.customerId }}", Concurrency: 1}
	if k, err := whole.RenderKey(map[string]any{"body": map[string]any{}}); k != "" || err == nil {
		t.Fatalf("missing field: %q, %v", k, err)
	}
	// Inside text, a missing value is empty text, as in every template.
	if k, _ := fc.RenderKey(map[string]any{"body": map[string]any{}}); k != "cus-" {
		t.Fatalf("missing field in text: %q", k)
	}
	if k, err := (&FlowControl{Concurrency: 1}).RenderKey(nil); k != "" || err != nil {
		t.Fatalf("no key: %q, %v", k, err)
	}
}
