// Package namespace is what hookflow needs of its Temporal namespace: that
// it exists and maps hookflow's search attributes (contract.
// SearchAttributeTypes). The api's and the worker's /readyz ask its check;
// `hookflow setup` uses its diagnosis to say what to create.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hookflow/hookflow/contract"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
)

// NamespaceCheck tells whether the namespace a Temporal client works in
// exists and holds hookflow's search attributes (workflows.
// SearchAttributeTypes), so that runs can start there. Without them every
// trigger fails ("Namespace default has no mapping defined for search
// attribute HookflowFlowId"), so the api and the worker report not ready
// until they exist (`hookflow setup` adds them).
//
// The positive answer is kept: a namespace and its attributes do not go
// away on their own, and readiness probes stay one call (Temporal's health)
// once they have been found.
type NamespaceCheck struct {
	client sdkclient.Client
	ok     atomic.Bool
	mu     sync.Mutex // one check at a time
}

var namespaceChecks sync.Map

// NamespaceReadiness is the check of c's namespace, one per client, so that
// the api and the worker sharing a client (hookflow dev) share its answer.
func NamespaceReadiness(c sdkclient.Client) *NamespaceCheck {
	if v, ok := namespaceChecks.Load(c); ok {
		return v.(*NamespaceCheck)
	}
	v, _ := namespaceChecks.LoadOrStore(c, &NamespaceCheck{client: c})
	return v.(*NamespaceCheck)
}

// Check returns nil when runs can start in the namespace, else what is
// missing, by check name: "namespace" ("missing: default") and
// "searchAttributes" ("missing: HookflowFlowId, HookflowTriggerMode",
// "wrong type: ...", "not usable yet: ...").
//
// One visibility count whose query names every attribute answers the
// common case: it succeeds only when the namespace exists and the server
// maps each attribute (the mapping starts use as well). It needs only the
// read access the executions API needs anyway. When it fails, the namespace
// and the registered attributes are looked up to say why.
func (n *NamespaceCheck) Check(ctx context.Context) map[string]string {
	if n.ok.Load() {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ok.Load() {
		return nil
	}
	// The SDK fills the client's namespace into a request naming none,
	// which is how the check learns it.
	req := &workflowservice.CountWorkflowExecutionsRequest{Query: SearchAttributesProbeQuery()}
	_, err := n.client.CountWorkflow(ctx, req)
	if err == nil {
		n.ok.Store(true)
		return nil
	}
	ns := req.GetNamespace()
	if ns == "" {
		return map[string]string{"namespace": "unknown: " + errorSummary(err)}
	}
	return DiagnoseNamespace(ctx, n.client, ns, err)
}

// SearchAttributesProbeQuery is a visibility query naming each of
// hookflow's search attributes with a value of its type, matching no run.
func SearchAttributesProbeQuery() string {
	var terms []string
	for _, name := range SearchAttributeNames() {
		v := `"hookflow-probe"`
		switch contract.SearchAttributeTypes()[name] {
		case enumspb.INDEXED_VALUE_TYPE_INT, enumspb.INDEXED_VALUE_TYPE_DOUBLE:
			v = "-1"
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			v = "false"
		case enumspb.INDEXED_VALUE_TYPE_DATETIME:
			v = `"2000-01-01T00:00:00Z"`
		}
		terms = append(terms, name+" = "+v)
	}
	return strings.Join(terms, " AND ")
}

// SearchAttributeNames are hookflow's search attributes, sorted.
func SearchAttributeNames() []string {
	var names []string
	for name := range contract.SearchAttributeTypes() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// DiagnoseNamespace says what keeps runs from starting in namespace ns:
// the namespace is missing, search attributes are missing or of another
// type, or (all registered) the server does not use them yet. cause is the
// error that showed something is wrong; it is reported when nothing more
// precise is found.
func DiagnoseNamespace(ctx context.Context, c sdkclient.Client, ns string, cause error) map[string]string {
	all := strings.Join(SearchAttributeNames(), ", ")
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound) || serviceerror.ToStatus(err).Code() == codes.NotFound:
		return map[string]string{"namespace": "missing: " + ns, "searchAttributes": "missing: " + all}
	case err != nil:
		return map[string]string{"namespace": "unknown: " + errorSummary(err)}
	}
	missing, wrong, err := MissingSearchAttributes(ctx, c, ns)
	if err != nil {
		// Listing needs the operator service; say what the count said.
		return map[string]string{"searchAttributes": "not usable: " + errorSummary(cause)}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing: "+strings.Join(missing, ", "))
	}
	if len(wrong) > 0 {
		parts = append(parts, "wrong type: "+strings.Join(wrong, ", "))
	}
	if len(parts) == 0 {
		// Registered, but the server's namespace cache has not caught
		// up yet (it refreshes every few seconds), or something else.
		return map[string]string{"searchAttributes": "not usable yet: " + errorSummary(cause)}
	}
	return map[string]string{"searchAttributes": strings.Join(parts, "; ")}
}

// MissingSearchAttributes lists hookflow's search attributes namespace ns
// lacks, and those registered with another type ("HookflowFlowVersion is
// Keyword, want Int"), through the operator service.
func MissingSearchAttributes(ctx context.Context, c sdkclient.Client, ns string) (missing, wrong []string, err error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return nil, nil, err
	}
	want := contract.SearchAttributeTypes()
	for _, name := range SearchAttributeNames() {
		got, ok := resp.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case got != want[name]:
			wrong = append(wrong, fmt.Sprintf("%s is %s, want %s", name, TypeName(got), TypeName(want[name])))
		}
	}
	return missing, wrong, nil
}

// TypeName is a search attribute type as Temporal's CLI spells it (Int,
// Keyword, KeywordList, ...).
func TypeName(t enumspb.IndexedValueType) string {
	s := strings.TrimPrefix(t.String(), "INDEXED_VALUE_TYPE_")
	parts := strings.Split(strings.ToLower(s), "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// errorSummary is an error's gRPC code and message on one short line.
func errorSummary(err error) string {
	s := serviceerror.ToStatus(err)
	switch s.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return "temporal unreachable (" + s.Code().String() + ")"
	}
	msg := s.Message()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if s.Code() == codes.Unknown {
		return msg
	}
	return s.Code().String() + ": " + msg
}
