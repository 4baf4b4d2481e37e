package field

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem in a definition file, at a path such as
// "steps[2].then[0].if".
type Error struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// List collects the problems of one definition: validation reports all of
// them at once rather than stopping at the first.
type List []Error

// Add records a problem at path.
func (l *List) Add(path, format string, args ...any) {
	*l = append(*l, Error{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Sorted returns the problems without duplicates, in document order: what
// a person reads top to bottom. The sort is stable so problems at one path
// keep the order they were found in.
func (l List) Sorted() []Error {
	seen := make(map[Error]bool, len(l))
	out := make([]Error, 0, len(l))
	for _, e := range l {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return PathLess(out[i].Path, out[j].Path) })
	return out
}

// PathLess orders paths so that steps[2] comes before steps[10].
func PathLess(a, b string) bool {
	for a != "" && b != "" {
		ai, bi := leadingNumber(a), leadingNumber(b)
		if ai >= 0 && bi >= 0 {
			an, _ := strconv.Atoi(a[:ai])
			bn, _ := strconv.Atoi(b[:bi])
			if an != bn {
				return an < bn
			}
			a, b = a[ai:], b[bi:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingNumber(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1
	}
	return i
}

// JoinPath appends a field (or an index written [i]) to a path.
func JoinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case field[0] == '[':
		return prefix + field
	}
	return prefix + "." + field
}

// IndexPath is the path of a list's i-th item: steps[2].
func IndexPath(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

// FirstLine is an error message's first line: expr-lang's compile errors
// go on with the source and a caret, which a path already locates.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
