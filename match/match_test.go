package match

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// want describes one expected hit; the zero value means "no hit".
type want struct {
	hit      bool
	selected bool
	timeout  bool
	miss     bool
	value    *string
	key      *string
}

func str(s string) *string { return &s }

func TestMatchSemantics(t *testing.T) {
	sel := want{hit: true, selected: true}
	val := func(v string) want { return want{hit: true, selected: true, value: str(v)} }
	key := func(k string) want { return want{hit: true, selected: true, key: str(k)} }
	miss := want{hit: true, selected: true, miss: true}
	none := want{}
	tests := []struct {
		name string
		spec Spec
		line string
		want want
	}{
		// Select matches the whole line.
		{"whole line", Spec{Select: "sshd"}, "sshd[1]", none},
		{"whole line exact", Spec{Select: `sshd\[1\]`}, "sshd[1]", sel},
		{"trimmed search", Spec{Select: `.*sshd\[.*`}, "x sshd[1]", sel},
		{"trimmed search miss", Spec{Select: `.*sshd\[.*`}, "x sshd 1", none},
		{"leading .* only", Spec{Select: `.*a`}, "xxa", sel},
		{"leading .* only, miss", Spec{Select: `.*a`}, "xax", none},
		{"trailing .* only", Spec{Select: `a.*`}, "axx", sel},
		{"trailing .* only, miss", Spec{Select: `a.*`}, "xax", none},
		{"lazy .*", Spec{Select: `.*?a.*?`}, "xay", sel},
		{"top-level alternation a|b.*", Spec{Select: `a|b.*`}, "bxx", sel},
		{"top-level alternation: a alone", Spec{Select: `a|b.*`}, "ax", none},
		{"top-level alternation .*a|b", Spec{Select: `.*a|b`}, "xb", none},
		{"anchors inside", Spec{Select: `.*\Aab\z.*`}, "ab", sel},
		{"anchors inside, miss", Spec{Select: `.*\Aab\z.*`}, "xab", none},
		{"dollar", Spec{Select: `.*a$`}, "ba", sel},
		// Extraction and keys: the first group, .NET numbering.
		{"first group", Spec{Select: ".*", Extract: `(\d+)-(\d+)`}, "x 10-20", val("10")},
		{"unnamed before named", Spec{Select: ".*", Extract: `(?<x>a)(b)`}, "ab", val("b")},
		{"named only", Spec{Select: ".*", Extract: `user=(?<user>\w+)`}, "user=root x", val("root")},
		{"explicit capture", Spec{Select: ".*", Extract: `(?n)(a)(?<x>b)`}, "ab", val("b")},
		{"optional group absent", Spec{Select: ".*", Extract: `(a)?b`}, "b", miss},
		{"empty group", Spec{Select: ".*", Extract: `(a?)b`}, "b", val("")},
		{"empty key", Spec{Select: ".*", Key: `from (\S*)$`}, "from ", key("")},
		{"no match is a miss", Spec{Select: ".*", Extract: `port (\d+)`}, "no port here", miss},
		{"key absent", Spec{Select: ".*", Key: `from (\S+)`}, "x", sel},
		{"last iteration", Spec{Select: ".*", Extract: `(\d)+`}, "123", val("3")},
		{"leftmost-first", Spec{Select: ".*", Extract: `(a|ab)(c|bcd)`}, "abcd", val("a")},
		{"empty final iteration", Spec{Select: ".*", Extract: `(a*)*`}, "aa", val("")},
		{"regexp2 search misses nothing", Spec{Select: ".*", Extract: `(?i:k)|(\p{Lu})`}, "I", val("I")},
		// Lines as they come.
		{"CR remains", Spec{Select: "abc"}, "abc\r", none},
		{"CR matched", Spec{Select: `abc\r`}, "abc\r", sel},
		{"CR is space", Spec{Select: `.*c\s`}, "abc\r", sel},
		{"NUL", Spec{Select: "a.b", Extract: "a(.)b"}, "a\x00b", val("\x00")},
		{"invalid UTF-8 is U+FFFD", Spec{Select: "a.b", Extract: "a(.)b"}, "a\xffb", val("\uFFFD")},
		{"invalid UTF-8 literal", Spec{Select: `a\uFFFDb`}, "a\xffb", sel},
		{"invalid UTF-8 in a value", Spec{Select: ".*", Extract: `(a.*)`}, "xa\xfe\xffb", val("a\uFFFD\uFFFDb")},
		{"newline in a line", Spec{Select: "a.b"}, "a\nb", none},
		{"newline with (?s)", Spec{Select: "(?s)a.b"}, "a\nb", sel},
		// regexp2's meaning, not RE2's.
		{`\s has \v`, Spec{Select: `a\sb`}, "a\vb", sel},
		{`\s is Unicode`, Spec{Select: `a\sb`}, "a\u00a0b", sel},
		{`\d is Unicode`, Spec{Select: `\d+`}, "١٢٣", sel},
		{`\w is Unicode`, Spec{Select: `\w+`}, "Straße", sel},
		{`\b is Unicode`, Spec{Select: `.*é\b.*`}, "éa", none},
		{"Kelvin folds to k", Spec{Select: `(?i)k`}, "\u212a", sel},
		{"long s does not fold to s", Spec{Select: `(?i)s`}, "ſ", none},
		{"dotted I folds to i", Spec{Select: `(?i).*in.*`}, "İn", sel},
		{"subtraction", Spec{Select: `[a-z-[aeiou]]+`}, "bcd", sel},
		{"subtraction excludes", Spec{Select: `[a-z-[aeiou]]+`}, "bad", none},
		{"[[:alpha:]] is [[]", Spec{Select: `[[:alpha:]]`}, "[", sel},
		{"[[:alpha:]] is not a letter", Spec{Select: `[[:alpha:]]`}, "a", none},
		{"backreference", Spec{Select: `(\w)\1`}, "aa", sel},
		{"backreference miss", Spec{Select: `(\w)\1`}, "ab", none},
		{`\Z`, Spec{Select: `a\Z`}, "a", sel},
		{"x-mode comment at the end", Spec{Select: "(?x) a b # a comment"}, "ab", sel},
		{"x-mode comment, trimmed", Spec{Select: "(?x) .* a .* # a comment"}, "xay", sel},
		{"octal and hex", Spec{Select: `\101\x42\u0043`}, "ABC", sel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Compile([]Spec{tt.spec}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := compileReference([]Spec{tt.spec}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := set.NewMatcher().Match([]byte(tt.line))
			checkWant(t, got, tt.want)
			// The table is the reference's semantics too.
			checkWant(t, ref.match([]byte(tt.line)), tt.want)
		})
	}
}

func checkWant(t *testing.T, got []Hit, w want) {
	t.Helper()
	if !w.hit {
		if len(got) != 0 {
			t.Fatalf("got %s, want no hit", fmtHits(got))
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("got %s, want one hit", fmtHits(got))
	}
	h := got[0]
	if h.Selected != w.selected || h.Timeout != w.timeout || h.ExtractMiss != w.miss {
		t.Fatalf("got %s, want selected %v timeout %v miss %v", fmtHits(got), w.selected, w.timeout, w.miss)
	}
	if w.value != nil && (h.Value == nil || string(h.Value) != *w.value) {
		t.Errorf("value = %s, want %q", fmtVal(h.Value), *w.value)
	}
	if w.value == nil && h.Value != nil {
		t.Errorf("value = %s, want none", fmtVal(h.Value))
	}
	if w.key != nil && (h.Key == nil || string(h.Key) != *w.key) {
		t.Errorf("key = %s, want %q", fmtVal(h.Key), *w.key)
	}
	if w.key == nil && h.Key != nil {
		t.Errorf("key = %s, want none", fmtVal(h.Key))
	}
}

// TestTimeout runs catastrophic patterns that need regexp2 with a tiny time
// limit on a long line: the answer is a timeout, promptly.
func TestTimeout(t *testing.T) {
	line := []byte(strings.Repeat("a", 5000) + "!")
	tests := []struct {
		name string
		spec Spec
		want Hit
	}{
		{"select", Spec{Select: `(?=a)(a|aa)+b`}, Hit{Timeout: true}},
		{"extract", Spec{Select: `.*`, Extract: `(?=a)((a|aa)+)b`}, Hit{Selected: true, Timeout: true, ExtractMiss: true}},
		{"key", Spec{Select: `.*`, Key: `(?=a)((a|aa)+)b`}, Hit{Selected: true, Timeout: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Compile([]Spec{tt.spec}, Options{Timeout: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if e := set.Engine(0); tt.name == "select" && e != "regexp2" {
				t.Fatalf("engine %s, want regexp2", e)
			}
			got := set.NewMatcher().Match(line)
			if len(got) != 1 || fmtHits(got) != fmtHits([]Hit{tt.want}) {
				t.Fatalf("got %s, want %s", fmtHits(got), fmtHits([]Hit{tt.want}))
			}
		})
	}
}

// TestLongLine checks a line beyond the backtracker's limit, which takes
// regexp's own path, and that the engines agree with the reference on it.
func TestLongLine(t *testing.T) {
	line := []byte(strings.Repeat("x ", 512*1024) + "port 4242 end")
	specs := []Spec{
		{Select: `.*port.*`, Extract: `port (\d+)`},
		{Select: `.*\d+ end`, Key: `(\w+)$`},
	}
	set, err := Compile(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := set.NewMatcher().Match(line)
	want := []Hit{{Rule: 0, Selected: true, Value: []byte("4242")}, {Rule: 1, Selected: true, Key: []byte("end")}}
	if d := diffHits(got, want); d != "" {
		t.Fatal(d)
	}
}

func TestCompileErrors(t *testing.T) {
	specs := []Spec{
		{Select: `ok.*`},
		{Select: `(unclosed`, Extract: `no group`},
		{Select: ``, Key: `(ok)`},
		{Select: `.*`, Key: `[z-a]`},
	}
	_, err := Compile(specs, Options{})
	if err == nil {
		t.Fatal("no error")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var me *Error
		if !errors.As(e, &me) {
			t.Fatalf("%v is not an *Error", e)
		}
		got = append(got, fmt.Sprintf("%d %s", me.Index, me.Field))
		if me.Field == FieldExtract && !errors.Is(e, ErrNoGroup) {
			t.Errorf("extract error %v is not ErrNoGroup", e)
		}
	}
	want := []string{"1 " + FieldSelect, "1 " + FieldExtract, "2 " + FieldSelect, "3 " + FieldKey}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("errors for %v, want %v", got, want)
	}
}

// TestEngines checks the engine chosen for each kind of pattern.
func TestEngines(t *testing.T) {
	tests := []struct {
		spec Spec
		want EngineInfo
	}{
		{Spec{Select: `.*sshd\[.*Invalid user.*`, Key: `from (\d+\.\d+\.\d+\.\d+)`},
			EngineInfo{Select: "literal", Trim: "search", Key: "bytes", Prefilter: [][]string{{"invalid user"}, {"sshd["}}}},
		{Spec{Select: `.*sshd\[.*Did not receive identification string.*`},
			EngineInfo{Select: "literal", Trim: "search", Prefilter: [][]string{{"did not receive identification s"}, {"sshd["}}}},
		{Spec{Select: `.*sshd\[.*PAM \d+ more authentication failures.*`, Extract: `PAM (\d+) more`},
			EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "search", Extract: "bytes",
				Prefilter: [][]string{{" more authentication failures"}, {"sshd["}, {"pam "}}}},
		{Spec{Select: `Accepted .*`}, EngineInfo{Select: "literal", Trim: "prefix", Prefilter: [][]string{{"accepted "}}}},
		{Spec{Select: `.*\[preauth\]`}, EngineInfo{Select: "literal", Trim: "suffix", Prefilter: [][]string{{"[preauth]"}}}},
		{Spec{Select: `exact line`}, EngineInfo{Select: "literal", Trim: "whole", Prefilter: [][]string{{"exact line"}}}},
		{Spec{Select: `(?i).*error.*`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "search", Prefilter: [][]string{{"error"}}}},
		{Spec{Select: `(?i).*kill.*`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "search", Prefilter: [][]string{{"kill"}}}},
		{Spec{Select: `.*(GET|POST) /.*`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "search", Prefilter: [][]string{{"get", "post"}}}},
		{Spec{Select: `.*\bfailed\b.*`}, EngineInfo{Select: "bytes", NonASCII: "re2+ascii", Trim: "search", Prefilter: [][]string{{"failed"}}}},
		{Spec{Select: `[a-z-[aeiou]]+`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "whole"}},
		{Spec{Select: `[\w.-]+@[^\s\]]+`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "whole"}},
		{Spec{Select: `\p{Greek}+ \P{L}`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "whole"}},
		{Spec{Select: `[[:alpha:]]`}, EngineInfo{Select: "bytes", NonASCII: "re2+ascii", Trim: "whole"}},
		{Spec{Select: `(?i)\w+`}, EngineInfo{Select: "bytes", NonASCII: "re2+ascii", Trim: "whole"}},
		{Spec{Select: `(?i)é`}, EngineInfo{Select: "bytes", NonASCII: "re2+ascii", Trim: "whole"}},
		{Spec{Select: `a|b.*`}, EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "whole"}},
		{Spec{Select: `.*(?<!not )found.*`}, EngineInfo{Select: "regexp2", Trim: "search", Prefilter: [][]string{{"found"}}}},
		{Spec{Select: `.*(\w+) \1.*`}, EngineInfo{Select: "regexp2", Trim: "search"}},
		{Spec{Select: `x{1001}`}, EngineInfo{Select: "bytes", NonASCII: "regexp2", Trim: "whole"}},
		{Spec{Select: `.*(?(x)ab|cd)xyz.*`}, EngineInfo{Select: "regexp2", Trim: "search", Prefilter: [][]string{{"xyz"}}}},
		{Spec{Select: `.*(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10.*`}, EngineInfo{Select: "regexp2", Trim: "whole"}},
		{Spec{Select: `.*`, Extract: `(a*)*`}, EngineInfo{Select: "literal", Trim: "suffix", Extract: "regexp2"}},
		{Spec{Select: `.*`, Extract: `(?<x>a)|(?<x>b)`}, EngineInfo{Select: "literal", Trim: "suffix", Extract: "regexp2"}},
		{Spec{Select: `.*`, Extract: `(?<3>a)`}, EngineInfo{Select: "literal", Trim: "suffix", Extract: "regexp2"}},
		{Spec{Select: `.*`, Extract: `=(.*)`}, EngineInfo{Select: "literal", Trim: "suffix", Extract: "bytes"}},
		{Spec{Select: `.*(?<!not )found (\d+).*`, Extract: `(?<=found )(\d+)`}, EngineInfo{Select: "regexp2", Trim: "search", Extract: "regexp2", Prefilter: [][]string{{"found "}}}},
		{Spec{Select: `.*sshd\[\d+\]: (?:error: )?Received disconnect from .* \[preauth\]`, Key: `from (\S+) port \d+`},
			EngineInfo{Select: "bytes", NonASCII: "re2", Trim: "suffix", Key: "bytes",
				Prefilter: [][]string{{"received disconnect from "}, {" [preauth]"}, {"sshd["}, {"]: "}}}},
	}
	for _, tt := range tests {
		t.Run(tt.spec.Select+" "+tt.spec.Extract, func(t *testing.T) {
			set, err := Compile([]Spec{tt.spec}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := set.Describe(0)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if set.Engine(0) != tt.want.Select {
				t.Errorf("Engine = %s, want %s", set.Engine(0), tt.want.Select)
			}
		})
	}
}

// TestZeroAllocs checks the common path: ASCII lines that select nothing,
// or select with literal and RE2 engines and extract with RE2.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	lines := []string{
		"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed",
		"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
		"Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2",
		"Dec 10 09:32:20 LabSZ sshd[24680]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh",
		"Dec 10 09:32:20 LabSZ cron[2]: nothing to see",
		"",
	}
	for _, l := range lines {
		line := []byte(l)
		n := testing.AllocsPerRun(200, func() { m.Match(line) })
		if n != 0 {
			t.Errorf("%q: %v allocations per line", l, n)
		}
	}
}

// TestConcurrent matches from several goroutines, each with its own
// Matcher (run with -race).
func TestConcurrent(t *testing.T) {
	set, err := Compile(sshSpecs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := [][]byte{
		[]byte("Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for root from 52.80.34.196 port 36060 ssh2"),
		[]byte("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user \u00e9t\u00e9 from 173.234.31.186"),
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := set.NewMatcher()
			for i := range 200 {
				hs := m.Match(lines[(i+g)%2])
				if len(hs) != 1 {
					t.Errorf("got %s", fmtHits(hs))
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestValueLifetime checks that values stay valid until the next Match and
// alias the line when they can.
func TestValueLifetime(t *testing.T) {
	set, err := Compile([]Spec{{Select: ".*", Extract: `=(\S+)`, Key: `k(\S)`}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	line := []byte("a=1 b=2 kx")
	hs := m.Match(line)
	if len(hs) != 1 || string(hs[0].Value) != "1" || string(hs[0].Key) != "x" {
		t.Fatalf("got %s", fmtHits(hs))
	}
	if &hs[0].Value[0] != &line[2] {
		t.Error("value of an ASCII line does not alias it")
	}
	bad := []byte("a=\xff kx")
	hs = m.Match(bad)
	if string(hs[0].Value) != "\uFFFD" || !bytes.Equal(bad, []byte("a=\xff kx")) {
		t.Fatalf("got %s; line %q", fmtHits(hs), bad)
	}
}

// TestMatchRecovers breaks a fast engine on purpose: the line is matched by
// the reference instead of panicking.
func TestMatchRecovers(t *testing.T) {
	set, err := Compile([]Spec{{Select: `.*\d+ é.*`, Extract: `(\d+)`}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if info := set.Describe(0); info.Select != "bytes" || info.NonASCII != "re2" {
		t.Fatalf("engines %+v, want bytes and re2", info)
	}
	set.rules[0].sel.re = nil // a bug in the engine of non-ASCII lines
	got := set.NewMatcher().Match([]byte("x 42 é"))
	want := []Hit{{Rule: 0, Selected: true, Value: []byte("42")}}
	if d := diffHits(got, want); d != "" {
		t.Fatal(d)
	}
	ascii, err := Compile([]Spec{{Select: `.*\d+ e.*`, Extract: `(\d+)`}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ascii.rules[0].sel.bp.insts = nil // a bug in the bytes engine
	got = ascii.NewMatcher().Match([]byte("x 42 e"))
	if d := diffHits(got, want); d != "" {
		t.Fatal(d)
	}
}

// manySpecs returns n rules on distinct words, with every plain-th
// without a literal (none when plain is 0), so that sets span several
// words of rule and literal bits.
func manySpecs(n, plain int) []Spec {
	var specs []Spec
	for i := range n {
		sp := Spec{Select: fmt.Sprintf(`.*user%03d .*from (\S+).*`, i), Key: `from (\S+)`}
		if plain > 0 && i%plain == 3 {
			sp = Spec{Select: fmt.Sprintf(`.*\d{%d}.*`, i%5+1)}
		}
		specs = append(specs, sp)
	}
	return specs
}

// TestManyRules compares a set of 150 rules with the reference, on lines
// that select none, one or several of them.
func TestManyRules(t *testing.T) {
	specs := manySpecs(150, 7)
	set, err := Compile(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := compileReference(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := set.NewMatcher()
	lines := []string{"nothing here", "x user007 from 10.0.0.1 12", "user149 from a user070 from b", "12345 user100 from é", ""}
	for _, l := range lines {
		if d := diffHits(m.Match([]byte(l)), ref.match([]byte(l))); d != "" {
			t.Errorf("line %q: %s", l, d)
		}
	}
}
