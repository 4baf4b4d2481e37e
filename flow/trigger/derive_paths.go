package trigger

import "strings"

// DerivePaths lists the paths of an example JSON value, for building parse
// rules: {"a":1,"b":{"c":2}} gives a, b, b.c; arrays give their first
// element's paths (items, items.0, items.0.sku).
func DerivePaths(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(t) {
				p := escapePathKey(k)
				if prefix != "" {
					p = prefix + "." + p
				}
				out = append(out, p)
				walk(p, t[k])
			}
		case []any:
			if len(t) > 0 {
				p := prefix + ".0"
				out = append(out, p)
				walk(p, t[0])
			}
		}
	}
	walk("", v)
	return out
}

// escapePathKey escapes gjson's special characters in an object key.
func escapePathKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(".*?|#@\\!=<>%", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
