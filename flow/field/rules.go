package field

import (
	"regexp"
	"sort"
)

// patterns are the string rules of the validate tags (flowid, stepid,
// urltoken, header, secretname), one regular expression each: flow's
// validator checks them and the JSON Schema states them (Go's and
// ECMA-262's syntax agree on them).
var patterns = map[string]*regexp.Regexp{
	"flowid":   regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`),
	"stepid":   regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`),
	"urltoken": regexp.MustCompile(`^[A-Za-z0-9_-]+$`),
	"header":   regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"),
	// Secret names stay safe as environment variable suffixes and file
	// names (no path separators, no dots). The rule lives here, where
	// definition files are validated; package secrets applies the same.
	"secretname": regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`),
}

// collectionNamePattern is a collection's name; collections check it by
// hand (records.Collection), flows where they name one.
var collectionNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// RulePattern returns the regular expression a validate rule (flowid,
// stepid, urltoken, header, secretname) checks strings against.
func RulePattern(rule string) (string, bool) {
	p, ok := patterns[rule]
	if !ok {
		return "", false
	}
	return p.String(), true
}

// Rules lists the string rules RulePattern knows, sorted.
func Rules() []string {
	out := make([]string, 0, len(patterns))
	for r := range patterns {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Matches reports whether s passes a string rule; an unknown rule passes
// nothing.
func Matches(rule, s string) bool {
	p, ok := patterns[rule]
	return ok && p.MatchString(s)
}

// IsFlowID reports whether s is a flow's (or a destination's) id.
func IsFlowID(s string) bool { return patterns["flowid"].MatchString(s) }

// IsIdentifier reports whether s is a step id, alias or property name:
// what an expression reads as a name (steps.<id>, trigger.<alias>).
func IsIdentifier(s string) bool { return patterns["stepid"].MatchString(s) }

// IsCollectionName reports whether s is a collection's name.
func IsCollectionName(s string) bool { return collectionNamePattern.MatchString(s) }

// ValidSecretName reports whether a secret name is acceptable.
func ValidSecretName(name string) bool { return patterns["secretname"].MatchString(name) }

// SecretNamePattern is the rule ValidSecretName applies, for the JSON
// Schema of the files that name secrets.
func SecretNamePattern() string { return patterns["secretname"].String() }
