package reference

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Explain writes the reference entry of a step type, a file kind or a
// field path (http.retry, trigger.parse, record.find.limit,
// destination.circuitBreaker.window, switch.cases.if): what it is, its
// type, default and limits, and its fields. An unknown name is an error
// listing what is known.
func Explain(w io.Writer, query string) error {
	query = strings.TrimSpace(query)
	d, rest := lookupDoc(query)
	if d == nil {
		return fmt.Errorf("nothing is named %q: start with a step type or a file kind (%s)", query, strings.Join(docNames(), ", "))
	}
	if rest == "" {
		fmt.Fprintf(w, "%s: %s\n", d.Name, d.Summary)
		if d.Outputs != "" {
			fmt.Fprintf(w, "Outputs (steps.<id>.outputs): %s\n", strings.ReplaceAll(d.Outputs, "`", ""))
		}
		fmt.Fprintln(w)
		writeFields(w, d.Fields)
		return nil
	}
	fields := Flatten(d.Fields)
	for _, f := range fields {
		if plainPath(f.Path) != rest {
			continue
		}
		writeEntry(w, d.Name+"."+rest, f)
		return nil
	}
	var near []string
	for _, f := range fields {
		near = append(near, d.Name+"."+plainPath(f.Path))
	}
	return fmt.Errorf("%s has no field %q; its fields: %s", d.Name, rest, strings.Join(near, ", "))
}

// lookupDoc finds the doc a query starts with, the longest name first
// (record.find before record), and what is left of the query.
func lookupDoc(query string) (*Doc, string) {
	docs := Docs()
	sort.SliceStable(docs, func(i, j int) bool { return len(docs[i].Name) > len(docs[j].Name) })
	for _, d := range docs {
		if query == d.Name {
			return d, ""
		}
		if strings.HasPrefix(query, d.Name+".") {
			return d, strings.TrimPrefix(query, d.Name+".")
		}
	}
	return nil, ""
}

func docNames() []string {
	var out []string
	for _, d := range Docs() {
		out = append(out, d.Name)
	}
	return out
}

// plainPath drops the list and map markers: cases[].if is cases.if.
func plainPath(p string) string {
	p = strings.ReplaceAll(p, "[]", "")
	return strings.ReplaceAll(p, ".<name>", "")
}

func writeEntry(w io.Writer, name string, f *Field) {
	req := "optional"
	if f.Required {
		req = "required"
	}
	fmt.Fprintf(w, "%s (%s, %s)\n", name, TypeName(f.Shape), req)
	if f.Description != "" {
		fmt.Fprintf(w, "  %s\n", f.Description)
	}
	if f.Default != "" {
		fmt.Fprintf(w, "  Default: %s\n", f.Default)
	}
	if lim := Limits(f.Shape); len(lim) > 0 {
		fmt.Fprintf(w, "  Limits: %s\n", strings.Join(lim, "; "))
	}
	if f.Evaluated != "" {
		fmt.Fprintf(w, "  Takes %s.\n", evaluatedText(f.Evaluated))
	}
	var sub []*Field
	switch {
	case f.Shape.Kind == "object":
		sub = f.Shape.Fields
	case (f.Shape.Kind == "list" || f.Shape.Kind == "map") && f.Shape.Elem.Kind == "object":
		sub = f.Shape.Elem.Fields
	case f.Shape.Kind == "steps":
		fmt.Fprintf(w, "  Holds steps of any type (hookflow explain <type>).\n")
	}
	if len(sub) > 0 {
		fmt.Fprintln(w)
		writeFields(w, sub)
	}
}

// writeFields is a table of fields, one line each.
func writeFields(w io.Writer, fields []*Field) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tTYPE\tREQUIRED\tDEFAULT\tDESCRIPTION")
	for _, f := range fields {
		req := ""
		if f.Required {
			req = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, TypeName(f.Shape), req, f.Default, firstSentence(f.Description))
	}
	tw.Flush()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
