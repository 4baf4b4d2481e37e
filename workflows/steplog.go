package workflows

import (
	"encoding/json"
	"sort"

	"github.com/hookflow/hookflow/contract"
)

type stepLog struct {
	records []*contract.StepRecord
	dropped int
}

func (l *stepLog) start(rec contract.StepRecord) *contract.StepRecord {
	r := &rec
	if len(l.records) >= contract.MaxStepLog {
		// Drop the oldest. Records still running stay reachable through
		// the pointer their executor holds.
		copy(l.records, l.records[1:])
		l.records = l.records[:len(l.records)-1]
		l.dropped++
	}
	l.records = append(l.records, r)
	return r
}

func (l *stepLog) snapshot() contract.StepLog {
	out := contract.StepLog{Steps: make([]contract.StepRecord, len(l.records)), Dropped: l.dropped}
	for i, r := range l.records {
		out.Steps[i] = *r
	}
	return out
}

// MaxStepLogAnswerBytes bounds the step log's query answer: Temporal
// refuses a payload over 2 MiB (the SDK fails the query, TMPRL1103), which
// 1,000 records reach with bodies of 2 KB, or a few sends of large ones.
const MaxStepLogAnswerBytes = 1 << 20

// answer is the snapshot as the query returns it: when its JSON is over
// MaxStepLogAnswerBytes, request bodies over loggedBodyBytes are left out
// (their size kept in BodyOmitted), the largest first, until it fits.
func (l *stepLog) answer() contract.StepLog {
	out := l.snapshot()
	size := encodedSize(out)
	if size <= MaxStepLogAnswerBytes {
		return out
	}
	var big []int
	for i, r := range out.Steps {
		if d := r.Delivery; d != nil && len(d.Body) > loggedBodyBytes {
			big = append(big, i)
		}
	}
	sort.SliceStable(big, func(a, b int) bool {
		return len(out.Steps[big[a]].Delivery.Body) > len(out.Steps[big[b]].Delivery.Body)
	})
	for _, i := range big {
		if size <= MaxStepLogAnswerBytes {
			break
		}
		d := *out.Steps[i].Delivery // the record's own stays whole
		size -= len(d.Body)
		d.BodyOmitted, d.Body = len(d.Body), nil
		out.Steps[i].Delivery = &d
	}
	return out
}

// loggedBodyBytes: bodies up to this size stay in the answer whatever its
// size (1,000 of them fit MaxStepLogAnswerBytes).
const loggedBodyBytes = 512

// tail is the newest part of the log whose JSON fits maxBytes, for a
// continuation's input; what it leaves out is counted as dropped.
func (l *stepLog) tail(maxBytes int) contract.StepLog {
	out := contract.StepLog{Dropped: l.dropped}
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
	out.Steps = make([]contract.StepRecord, 0, len(l.records)-first)
	for _, r := range l.records[first:] {
		out.Steps = append(out.Steps, *r)
	}
	return out
}

// restore starts the log from a carried tail.
func (l *stepLog) restore(c contract.StepLog) {
	l.dropped = c.Dropped
	l.records = make([]*contract.StepRecord, len(c.Steps))
	for i := range c.Steps {
		l.records[i] = &c.Steps[i]
	}
}

// running finds the record of a step still running at path (and loop
// iteration), newest first: a resumed container's own record.
func (l *stepLog) running(path string, iteration *int) *contract.StepRecord {
	for i := len(l.records) - 1; i >= 0; i-- {
		r := l.records[i]
		if r.Status == contract.StatusRunning && r.Path == path && sameIteration(r.Iteration, iteration) {
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
