package trigger

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	// Time zones are checked against the IANA database built into the
	// binary, so validation does not depend on the host's zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"

	"github.com/hookflow/hookflow/flow/field"
)

// Schedule is one entry of a flow's schedules: the flow also runs on a cron
// expression or an interval, as a Temporal Schedule (package schedules keeps
// them in step with the store).
type Schedule struct {
	ID            string         `json:"id" validate:"required,flowid" doc:"Identifies the entry within the flow; with the flow id it names the Temporal Schedule (hookflow:<flow>:<id>), so keep it stable: a new id is a new schedule."`
	Cron          string         `json:"cron,omitempty" validate:"max=200" doc:"A five-field cron expression (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly; read in timezone. Exactly one of cron or every."`
	Every         field.Duration `json:"every,omitempty" validate:"omitempty,dmin=1s" doc:"Runs at this interval (at least 1s), counted from the Unix epoch plus offset. Exactly one of cron or every."`
	Offset        field.Duration `json:"offset,omitempty" validate:"omitempty,dmin=0s" doc:"Shifts an every interval: every 1h with offset 15m runs at :15 past each hour. Less than every."`
	Timezone      string         `json:"timezone,omitempty" validate:"max=100" doc:"IANA time zone the cron expression is read in, such as Europe/Berlin (default UTC)."`
	Jitter        field.Duration `json:"jitter,omitempty" validate:"omitempty,dmin=0s,dmax=24h" doc:"Each run starts at a random delay up to this after its nominal time, to spread load."`
	Overlap       string         `json:"overlap,omitempty" validate:"omitempty,oneof=skip bufferOne bufferAll cancelOther terminateOther allowAll" doc:"What happens when a run is due while the previous one still runs: skip (default), bufferOne, bufferAll, cancelOther, terminateOther or allowAll."`
	CatchupWindow field.Duration `json:"catchupWindow,omitempty" validate:"omitempty,dmin=10s" doc:"How far back runs missed while Temporal was unavailable are still started (at least 10s; Temporal's default, 1 year, when unset)."`
	Input         any            `json:"input,omitempty" doc:"The scheduled run's trigger.body (static JSON, fixed when the schedule is written)."`
}

// Overlap policies of a schedule entry.
const (
	OverlapSkip           = "skip"
	OverlapBufferOne      = "bufferOne"
	OverlapBufferAll      = "bufferAll"
	OverlapCancelOther    = "cancelOther"
	OverlapTerminateOther = "terminateOther"
	OverlapAllowAll       = "allowAll"
)

// Limits of a flow's schedules.
const (
	MaxSchedules          = 20 // also in Flow.Schedules' validate tag
	MaxScheduleInputBytes = 64 << 10
	// MinScheduleInterval is the shortest every: Temporal Schedules count
	// in seconds.
	MinScheduleInterval = field.Duration(time.Second)
)

// EffectiveOverlap is the entry's overlap policy, skip when unset.
func (s Schedule) EffectiveOverlap() string {
	if s.Overlap == "" {
		return OverlapSkip
	}
	return s.Overlap
}

// cronParser reads what Temporal's cron strings and hookflow's docs agree
// on: five fields and the @hourly … @yearly descriptors. @every and TZ=
// prefixes are refused: they have fields of their own (every, timezone).
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// CheckCron reports what is wrong with a cron expression, or nil.
func CheckCron(expr string) error {
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return fmt.Errorf("is empty")
	case strings.HasPrefix(e, "@every"):
		return fmt.Errorf("use every: instead of @every in cron")
	case strings.HasPrefix(e, "TZ=") || strings.HasPrefix(e, "CRON_TZ="):
		return fmt.Errorf("use timezone: instead of a TZ= prefix")
	case strings.Contains(e, "#"):
		return fmt.Errorf("comments (#) are not allowed")
	}
	if _, err := cronParser.Parse(e); err != nil {
		return fmt.Errorf("%q is not a cron expression: %v (use five fields: minute hour day-of-month month day-of-week, or @daily and the like)", expr, err)
	}
	return nil
}

// CronFields is a cron expression as the set of values each of its fields
// matches (bit i set: value i matches), which is how Temporal keeps one
// (as a calendar of ranges): comparing the two tells whether a schedule
// still has the entry's timing.
type CronFields struct{ Minute, Hour, DayOfMonth, Month, DayOfWeek uint64 }

// ParseCronFields reads an expression CheckCron accepts.
func ParseCronFields(expr string) (CronFields, error) {
	if err := CheckCron(expr); err != nil {
		return CronFields{}, err
	}
	s, err := cronParser.Parse(strings.TrimSpace(expr))
	if err != nil {
		return CronFields{}, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return CronFields{}, fmt.Errorf("%q is not a calendar expression", expr)
	}
	const star = 1 << 63 // robfig/cron marks a field written as *
	return CronFields{spec.Minute &^ star, spec.Hour &^ star, spec.Dom &^ star, spec.Month &^ star, spec.Dow &^ star}, nil
}

// CheckSchedules holds a flow's schedules to the rules tags cannot say,
// with paths from the flow's root (schedules[0].cron).
func CheckSchedules(schedules []Schedule) []field.Error {
	var errs field.List
	seen := map[string]string{}
	for i, s := range schedules {
		p := field.IndexPath("schedules", i)
		if s.ID != "" {
			if first, dup := seen[s.ID]; dup {
				errs.Add(p+".id", "duplicate schedule id %q (first used at %s)", s.ID, first)
			} else {
				seen[s.ID] = p
			}
		}
		switch {
		case s.Cron == "" && s.Every == 0:
			errs.Add(p, "needs exactly one of cron or every")
		case s.Cron != "" && s.Every != 0:
			errs.Add(p, "has both cron and every: keep one")
		case s.Cron != "":
			if err := CheckCron(s.Cron); err != nil {
				errs.Add(p+".cron", "%v", err)
			}
			if s.Offset != 0 {
				errs.Add(p+".offset", "applies only to every")
			}
		case s.Offset >= s.Every && s.Every > 0:
			errs.Add(p+".offset", "must be less than every (%s)", s.Every)
		}
		if s.Timezone != "" {
			if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "Local" {
				errs.Add(p+".timezone", "unknown time zone %q: use an IANA name such as Europe/Berlin or UTC", s.Timezone)
			}
		}
		if s.Input != nil {
			if b, err := json.Marshal(s.Input); err != nil {
				errs.Add(p+".input", "is not JSON: %v", err)
			} else if len(b) > MaxScheduleInputBytes {
				errs.Add(p+".input", "must be at most %d bytes of JSON (is %d)", MaxScheduleInputBytes, len(b))
			}
		}
	}
	return errs
}
