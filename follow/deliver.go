package follow

import (
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Batch limits: a batch is handed over once it holds this many lines or
// bytes, so that memory stays bounded whatever the backlog.
const (
	maxBatchLines = 1024
	maxBatchBytes = 1 << 20
)

// span locates one line in a batcher's arena.
type span struct {
	start, end int
	cut        bool
	time       time.Time
}

// batcher collects copies of lines until they are delivered. The lines
// returned by a lines.Reader are only valid until its next call, so they
// are copied into one arena, which is reused from batch to batch.
type batcher struct {
	arena   []byte
	spans   []span
	lines   []Line
	bytes   int64 // stream bytes consumed by the lines, line endings included
	backlog bool
}

func (b *batcher) empty() bool { return len(b.spans) == 0 }

func (b *batcher) full() bool {
	return len(b.spans) >= maxBatchLines || len(b.arena) >= maxBatchBytes
}

// add copies a line that consumed n bytes of the stream.
func (b *batcher) add(data []byte, cut bool, n int64) {
	b.bytes += n
	start := len(b.arena)
	b.arena = append(b.arena, data...)
	b.spans = append(b.spans, span{start: start, end: len(b.arena), cut: cut})
}

// addTimed copies a line that the source dates itself.
func (b *batcher) addTimed(data []byte, cut bool, n int64, t time.Time) {
	b.add(data, cut, n)
	b.spans[len(b.spans)-1].time = t
}

// build returns the batch's lines, pointing into the arena.
func (b *batcher) build() []Line {
	b.lines = b.lines[:0]
	for _, s := range b.spans {
		b.lines = append(b.lines, Line{Data: b.arena[s.start:s.end:s.end], Cut: s.cut, Time: s.time})
	}
	return b.lines
}

func (b *batcher) reset() {
	b.arena = b.arena[:0]
	b.spans = b.spans[:0]
	b.bytes = 0
	clear(b.lines)
	b.lines = b.lines[:0]
	if cap(b.arena) > 4*maxBatchBytes {
		b.arena = nil
	}
}

// statsTable holds the counters of every source of a follower.
type statsTable struct {
	mu sync.Mutex
	m  map[string]*SourceStats
}

func (t *statsTable) update(source string, f func(s *SourceStats)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*SourceStats)
	}
	s := t.m[source]
	if s == nil {
		s = new(SourceStats)
		t.m[source] = s
	}
	f(s)
}

func (t *statsTable) snapshot() map[string]SourceStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]SourceStats, len(t.m))
	for k, v := range t.m {
		out[k] = *v
	}
	return out
}

// sink hands batches and events to the Handler, one call at a time, and
// keeps the counters.
type sink struct {
	h     Handler
	mu    *sync.Mutex // serialises Handler calls
	stats *statsTable
	log   *slog.Logger
}

// deliver hands over b's lines as one batch and resets b.
func (s *sink) deliver(b *batcher, source string, end Position) {
	if b.empty() {
		return
	}
	lines := b.build()
	var cut uint64
	for _, l := range lines {
		if l.Cut {
			cut++
		}
	}
	s.stats.update(source, func(st *SourceStats) {
		st.Lines += uint64(len(lines))
		st.Bytes += uint64(b.bytes)
		st.Cut += cut
	})
	batch := Batch{Source: source, Lines: lines, End: end, Backlog: b.backlog}
	s.mu.Lock()
	s.h.Batch(&batch)
	s.mu.Unlock()
	b.reset()
}

// event reports e to the Handler and the debug log.
func (s *sink) event(e Event) {
	s.log.Debug("follow event", "kind", e.Kind.String(), "source", e.Source,
		"path", e.Path, "detail", e.Detail, "err", e.Err)
	s.mu.Lock()
	s.h.Event(e)
	s.mu.Unlock()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
