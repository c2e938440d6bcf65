package daemon

import (
	"testing"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
)

// TestReasonStarting: a command or journal stream whose follower has not
// started yet is starting, not down: an interval that ends before a
// loaded machine has started journalctl is no outage.
func TestReasonStarting(t *testing.T) {
	p, err := follow.NewPipe(follow.PipeConfig{Argv: []string{"sleep", "1000"}})
	if err != nil {
		t.Fatal(err)
	}
	j, err := follow.NewJournal(follow.JournalConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*stream{
		{source: "pipe", kind: interval.KindPipe, pipe: p},
		{source: "journal", kind: interval.KindJournal, journal: j},
	} {
		if why := reason(s); why != "" {
			t.Errorf("%s not started yet: unavailable (%q), want starting, not down", s.source, why)
		}
	}
}
