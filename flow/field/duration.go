package field

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a string: "30s", "5m", "1h30m", and
// whole days as "3d" (Go's syntax has no day unit, and flows wait for days).
type Duration time.Duration

// ParseDuration accepts Go duration syntax plus a leading "<n>d" for days.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return Duration(days), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use forms like 30s, 5m, 2h or 3d", s)
	}
	return Duration(days + d), nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON leaves d at zero for a value that is not a duration, rather
// than failing: an error here would abort encoding/json's whole decode
// without a path. flow.Decode checks every duration first (CheckDuration)
// and reports a bad one with its path; nothing else decodes user input.
func (d *Duration) UnmarshalJSON(b []byte) error {
	*d = 0
	var s string
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	if v, err := ParseDuration(s); err == nil {
		*d = v
	}
	return nil
}

// CheckDuration reports a JSON value that is not a duration string, with
// the message to show at its path.
func CheckDuration(raw []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "must be a duration string such as 30s, 5m, 2h or 3d", false
	}
	if _, err := ParseDuration(s); err != nil {
		return err.Error(), false
	}
	return "", true
}
