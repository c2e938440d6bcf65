package interval_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// TestOnSelected: Line and Block show OnSelected every line that at least
// one measurement selected, once, and no other.
func TestOnSelected(t *testing.T) {
	ms := []*rules.Measurement{
		{Handle: "a", Select: `.*Invalid user.*`, DataType: rules.Counter, KeyType: rules.KeyAny, Policy: rules.PolicyLast},
		{Handle: "b", Select: `.*sshd.*`, DataType: rules.Counter, KeyType: rules.KeyAny, Policy: rules.PolicyLast},
	}
	g, err := interval.NewGroup("x", ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{"sshd[1]: Invalid user a", "cron[2]: Invalid user b", "cron[3]: job", "sshd[4]: Accepted"}
	want := []string{lines[0], lines[1], lines[3]}
	for _, block := range []bool{false, true} {
		f := g.NewFold(0)
		var seen []string
		f.OnSelected = func(line []byte) { seen = append(seen, string(line)) }
		if block {
			f.Block([]byte(strings.Join(lines, "\n")+"\n"), len(lines), time.Time{})
		} else {
			for _, l := range lines {
				f.Line([]byte(l), false, interval.Dating{})
			}
		}
		if !slices.Equal(seen, want) {
			t.Errorf("block %v: OnSelected saw %q, want %q", block, seen, want)
		}
	}
}
