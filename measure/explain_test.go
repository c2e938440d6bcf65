package measure

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/timestamp"
)

// evaluateString evaluates ms over text read from a pipe-like reader (not a
// file), as `test --log -` reads stdin.
func evaluateString(t *testing.T, ms []*rules.Measurement, text string) []Result {
	t.Helper()
	g, err := interval.NewGroup("-", ms, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Evaluate([]*interval.Group{g}, func(*interval.Group) ([]Input, error) {
		return []Input{{Name: "-", R: io.NopCloser(strings.NewReader(text))}}, nil
	}, 0, nil)
}

// TestStreamSummary: the lines selected by at least one rule (counted once
// however many rules select them), and the formats of their timestamps.
func TestStreamSummary(t *testing.T) {
	text := strings.Join([]string{
		"Dec 10 06:55:46 h sshd[1]: Invalid user bob from 10.0.0.1",
		"2024-12-10T06:55:47+01:00 h sshd[2]: Invalid user eve from 10.0.0.2",
		"sshd[3]: Invalid user mallory from 10.0.0.3",
		"Dec 10 06:55:48 h sshd[4]: Accepted password for root from 10.0.0.4 port 22 ssh2",
		"Dec 10 06:55:49 h cron[5]: something else",
	}, "\n") // no final newline
	rs := evaluateString(t, []*rules.Measurement{
		meas("invalid", rules.Counter, "", `.*Invalid user.*`, "", "", ""),
		meas("sshd", rules.Counter, "", `.*sshd\[\d+\]: .*`, "", "", ""),
	}, text)
	s := rs[0].Stream
	if rs[1].Stream != s {
		t.Fatal("the measurements of one stream do not share its summary")
	}
	if s.Lines != 5 || s.Selected != 4 {
		t.Errorf("lines %d, selected %d; want 5 and 4", s.Lines, s.Selected)
	}
	want := map[timestamp.Format]uint64{timestamp.Syslog: 2, timestamp.RFC3339: 1, timestamp.None: 1}
	if len(s.Formats) != len(want) {
		t.Errorf("formats %v, want %v", s.Formats, want)
	}
	for f, n := range want {
		if s.Formats[f] != n {
			t.Errorf("formats %v, want %v", s.Formats, want)
		}
	}
	if !s.Complete || string(s.Head) != text+"\n" {
		t.Errorf("head: complete %v, %q", s.Complete, s.Head)
	}
	// Both rules were candidates of some line: both took time.
	if len(s.Times) != 2 || s.Times[0] <= 0 || s.Times[1] <= 0 {
		t.Errorf("rule times %v, want two positive durations", s.Times)
	}
}

// TestHint: a pattern written for a search selects nothing; the hint says
// how many real sshd lines contain it and gives the whole-line pattern.
func TestHint(t *testing.T) {
	data, err := os.ReadFile("../examples/testdata/ssh/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	var contain uint64
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "Invalid user") {
			contain++
		}
	}
	if contain == 0 {
		t.Fatal("the sample has no Invalid user line")
	}
	ms := []*rules.Measurement{
		meas("search", rules.Counter, "", `Invalid user`, "", "", ""),
		meas("whole", rules.Counter, "", `.*Invalid user.*`, "", "", ""),
		meas("absent", rules.Counter, "", `No such text`, "", "", ""),
	}
	rs := evaluateString(t, ms, string(data))
	if rs[0].Selected != 0 || rs[1].Selected != contain {
		t.Fatalf("selected %d and %d, want 0 and %d", rs[0].Selected, rs[1].Selected, contain)
	}
	s := rs[0].Stream
	h, ok := s.Hint(ms[0], match.Options{})
	if !ok || h.Found != contain || h.Suggest != `.*Invalid user.*` || !h.Whole || h.Of != s.Lines {
		t.Errorf("hint %+v %v; want %d found of %d, .*Invalid user.*", h, ok, contain, s.Lines)
	}
	if _, ok := s.Hint(ms[1], match.Options{}); ok {
		t.Error("a whole-line pattern got a hint")
	}
	if h, ok := s.Hint(ms[2], match.Options{}); ok {
		t.Errorf("a pattern found nowhere got a hint: %+v", h)
	}
	// All at once, in one pass: the same hint, and only it.
	if hs := s.Hints(ms, match.Options{}); len(hs) != 1 || hs[0] != h {
		t.Errorf("hints of all three %+v, want only %+v", hs, h)
	}
}

// TestHeadCapture: the head of a long stream is its first HeadBytes cut to
// whole lines, marked incomplete, and the evaluation still reads it all.
func TestHeadCapture(t *testing.T) {
	line := "Dec 10 06:55:46 h sshd[1]: Invalid user bob from 10.0.0.1\n"
	n := HeadBytes/len(line) + 100
	text := strings.Repeat(line, n)
	for name, open := range map[string]func() Input{
		"pipe": func() Input { return Input{Name: "-", R: io.NopCloser(strings.NewReader(text))} },
		"file": func() Input {
			p := t.TempDir() + "/auth.log"
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			in, err := OpenFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return in
		},
	} {
		g, err := interval.NewGroup(name, []*rules.Measurement{meas("invalid", rules.Counter, "", `.*Invalid user.*`, "", "", "")}, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rs := Evaluate([]*interval.Group{g}, func(*interval.Group) ([]Input, error) { return []Input{open()}, nil }, 0, nil)
		s := rs[0].Stream
		if rs[0].Selected != uint64(n) || s.Complete || len(s.Head) > HeadBytes || len(s.Head)%len(line) != 0 ||
			!bytes.HasPrefix([]byte(text), s.Head) || len(s.Head) < HeadBytes-len(line) {
			t.Errorf("%s: selected %d of %d, head %d bytes (complete %v)", name, rs[0].Selected, n, len(s.Head), s.Complete)
		}
	}
}
