package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger bridges the server's tag-based logger to slog. The server is
// chatty at Info; hookflow shows its Warn and above unless the handler asks
// for more.
type serverLogger struct {
	l *slog.Logger
	// stopping is set once Stop begins: the server then warns about every
	// connection it closes, which is noise in a clean shutdown.
	stopping *atomic.Bool
}

var _ log.Logger = serverLogger{}

func newServerLogger(l *slog.Logger, stopping *atomic.Bool) log.Logger {
	return serverLogger{l: l.With("component", "temporal"), stopping: stopping}
}

func (s serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if !s.l.Enabled(context.Background(), level) || (level < slog.LevelError && s.stopping.Load()) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

func (s serverLogger) Debug(msg string, tags ...tag.Tag)  { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Info(msg string, tags ...tag.Tag)   { s.emit(slog.LevelDebug, msg, tags) }
func (s serverLogger) Warn(msg string, tags ...tag.Tag)   { s.emit(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag)  { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.emit(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.emit(slog.LevelError, msg, tags)
	panic(msg)
}
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.emit(slog.LevelError, msg, tags)
	panic(newFatal(msg, tags))
}

// fatal is what Fatal panics with: the message and its tags (the server
// reports a port it cannot bind this way), so startServer can turn it into
// an error instead of letting it crash the process.
type fatal struct{ text string }

func newFatal(msg string, tags []tag.Tag) fatal {
	var b strings.Builder
	b.WriteString(msg)
	for _, t := range tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), t.Value())
	}
	return fatal{text: b.String()}
}

// With keeps tags prepended without re-wrapping on every call.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		args = append(args, t.Key(), t.Value())
	}
	return serverLogger{l: s.l.With(args...), stopping: s.stopping}
}
