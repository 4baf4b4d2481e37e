package trigger

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// MaxQueryIndex bounds array indexes in query keys (a[999999]=1 must not
// allocate a million elements).
const MaxQueryIndex = 1000

// NestQuery turns query parameters into a JSON structure: a.b=1 and a[b]=1
// make {"a":{"b":"1"}}, a[0].b=1 makes {"a":[{"b":"1"}]}, and a repeated plain
// key makes an array. Keys are applied in sorted order, so the result does
// not depend on the order of parameters in the URL except for repeated keys,
// which keep theirs.
func NestQuery(q url.Values) (map[string]any, error) {
	root := map[string]any{}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		segs, err := querySegments(k)
		if err != nil {
			return nil, err
		}
		vals := q[k]
		var v any = vals[0]
		if len(vals) > 1 {
			arr := make([]any, len(vals))
			for i, s := range vals {
				arr[i] = s
			}
			v = arr
		}
		if _, err := assign(root, segs, v, k); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// querySegment is a name or an array index.
type querySegment struct {
	name  string
	index int // -1 for a name
}

func querySegments(key string) ([]querySegment, error) {
	var segs []querySegment
	bad := func() ([]querySegment, error) {
		return nil, fmt.Errorf("query parameter %q: malformed key (use a.b, a[b] or a[0].b)", key)
	}
	s := key
	for s != "" {
		switch s[0] {
		case '.':
			if len(segs) == 0 {
				return bad()
			}
			s = s[1:]
			if s == "" || s[0] == '.' || s[0] == '[' {
				return bad()
			}
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 || len(segs) == 0 {
				return bad()
			}
			inner := s[1:end]
			s = s[end+1:]
			if n, err := strconv.Atoi(inner); err == nil {
				if n < 0 || n > MaxQueryIndex {
					return nil, fmt.Errorf("query parameter %q: index %d out of range (0 to %d)", key, n, MaxQueryIndex)
				}
				segs = append(segs, querySegment{index: n})
			} else if inner == "" {
				return bad()
			} else {
				segs = append(segs, querySegment{name: inner, index: -1})
			}
			continue
		}
		end := strings.IndexAny(s, ".[")
		if end < 0 {
			end = len(s)
		}
		if end == 0 {
			return bad()
		}
		segs = append(segs, querySegment{name: s[:end], index: -1})
		s = s[end:]
	}
	if len(segs) == 0 {
		return bad()
	}
	return segs, nil
}

// assign stores v at segs below cur and returns the new cur: arrays may
// grow (and move), objects and arrays are created on the way.
func assign(cur any, segs []querySegment, v any, key string) (any, error) {
	conflict := fmt.Errorf("query parameter %q conflicts with another parameter's structure", key)
	if len(segs) == 0 {
		if cur != nil {
			return nil, conflict
		}
		return v, nil
	}
	seg := segs[0]
	if seg.index < 0 {
		m, ok := cur.(map[string]any)
		if cur == nil {
			m, ok = map[string]any{}, true
		}
		if !ok {
			return nil, conflict
		}
		child, err := assign(m[seg.name], segs[1:], v, key)
		if err != nil {
			return nil, err
		}
		m[seg.name] = child
		return m, nil
	}
	arr, ok := cur.([]any)
	if cur != nil && !ok {
		return nil, conflict
	}
	for len(arr) <= seg.index {
		arr = append(arr, nil)
	}
	child, err := assign(arr[seg.index], segs[1:], v, key)
	if err != nil {
		return nil, err
	}
	arr[seg.index] = child
	return arr, nil
}
