package workflows

import (
	"encoding/json"
)

type stepLog struct {
	records []*StepRecord
	dropped int
}

func (l *stepLog) start(rec StepRecord) *StepRecord {
	r := &rec
	if len(l.records) >= MaxStepLog {
		// Drop the oldest. Records still running stay reachable through
		// the pointer their executor holds.
		copy(l.records, l.records[1:])
		l.records = l.records[:len(l.records)-1]
		l.dropped++
	}
	l.records = append(l.records, r)
	return r
}

func (l *stepLog) snapshot() StepLog {
	out := StepLog{Steps: make([]StepRecord, len(l.records)), Dropped: l.dropped}
	for i, r := range l.records {
		out.Steps[i] = *r
	}
	return out
}

// tail is the newest part of the log whose JSON fits maxBytes, for a
// continuation's input; what it leaves out is counted as dropped.
func (l *stepLog) tail(maxBytes int) StepLog {
	out := StepLog{Dropped: l.dropped}
	size, first := 0, len(l.records)
	for first > 0 {
		b, err := json.Marshal(l.records[first-1])
		if err != nil || size+len(b) > maxBytes {
			break
		}
		size += len(b)
		first--
	}
	out.Dropped += first
	out.Steps = make([]StepRecord, 0, len(l.records)-first)
	for _, r := range l.records[first:] {
		out.Steps = append(out.Steps, *r)
	}
	return out
}

// restore starts the log from a carried tail.
func (l *stepLog) restore(c StepLog) {
	l.dropped = c.Dropped
	l.records = make([]*StepRecord, len(c.Steps))
	for i := range c.Steps {
		l.records[i] = &c.Steps[i]
	}
}

// running finds the record of a step still running at path (and loop
// iteration), newest first: a resumed container's own record.
func (l *stepLog) running(path string, iteration *int) *StepRecord {
	for i := len(l.records) - 1; i >= 0; i-- {
		r := l.records[i]
		if r.Status == StatusRunning && r.Path == path && sameIteration(r.Iteration, iteration) {
			return r
		}
	}
	return nil
}

func sameIteration(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
