package match

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

func TestLexRuns(t *testing.T) {
	for _, c := range []struct {
		pat   string
		shape string
		runs  []string
		ok    bool
	}{
		{`.*sshd\[\d+\]: Failed password for .* from 198\.18\.0\.7 port \d+ ssh2`,
			".*\x00\\d+\x00.*\x00\\d+\x00", []string{"sshd[", "]: Failed password for ", " from 198.18.0.7 port ", " ssh2"}, true},
		{`abc+d`, "\x00c+\x00", []string{"ab", "d"}, true},
		{`a{2}b{1,}c{1,3}?d`, "a{2}b{1,}c{1,3}?\x00", []string{"d"}, true},
		{`(?i)user (\w+) from`, "(?i)\x00(\\w+)\x00", []string{"user ", " from"}, true},
		{`(?<name>x)|[a\]b](?:y)`, "(?<name>\x00)|[a\\]b](?:\x00)", []string{"x", "y"}, true},
		{`x\ y\#z`, "\x00", []string{"x y#z"}, true},
		{`é-x`, "é\x00", []string{"-x"}, true},
		{"", "", nil, true},
		{`(?x)a b`, "", nil, false},
		{`a(?#c)b`, "", nil, false},
		{`\1a`, "", nil, false},
		{`\x41`, "", nil, false},
		{`\<a>`, "", nil, false},
		{`a{,2}`, "", nil, false},
		{`[a-[b]]`, "", nil, false},
		{`(?(a)b)`, "", nil, false},
		{`ab\`, "", nil, false},
	} {
		shape, runs, ok := lexRuns(c.pat)
		var texts []string
		for _, r := range runs {
			texts = append(texts, r.text)
			if c.ok && r.start >= r.end {
				t.Errorf("%q: empty run %+v", c.pat, r)
			}
		}
		if ok != c.ok || ok && (shape != c.shape || fmt.Sprint(texts) != fmt.Sprint(c.runs)) {
			t.Errorf("%q: shape %q runs %q ok %v, want %q %q %v", c.pat, shape, texts, ok, c.shape, c.runs, c.ok)
		}
	}
}

// lexCheck checks that the runs lexRuns finds in a pattern that regexp2
// accepts are, for the parser, sequences of characters that match one
// character each, with no quantifier, and that replacing each by other
// literal text gives a pattern of the same shape that regexp2 accepts.
func lexCheck(t *testing.T, pat, text string) {
	t.Helper()
	if _, err := regexp2.Compile(pat, regexp2.None); err != nil {
		return
	}
	shape, runs, ok := lexRuns(pat)
	if !ok {
		return
	}
	root, err := parseStrict(pat)
	if err != nil {
		return // a construct the parser does not model
	}
	chars := map[int]*node{}
	var walk func(n *node)
	walk = func(n *node) {
		if n.kind == kChar {
			chars[n.start] = n
		}
		for _, s := range n.subs {
			walk(s)
		}
	}
	walk(root)
	for _, r := range runs {
		pos := utf8.RuneCountInString(pat[:r.start])
		for k := 0; k < len(r.text); k++ {
			n := chars[pos]
			want := rune(r.text[k])
			if n != nil && n.fold {
				want = toLower(want)
			}
			if n == nil || n.r != want {
				t.Fatalf("%q: run %q: no character %q at %d (%+v)", pat, r.text, r.text[k], pos, n)
			}
			pos = n.end
		}
		if pos != utf8.RuneCountInString(pat[:r.end]) {
			t.Fatalf("%q: run %q ends at %d, its characters at %d", pat, r.text, r.end, pos)
		}
	}
	text = strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f {
			return -1
		}
		return r
	}, text)
	if text == "" {
		return
	}
	for k := range runs {
		other := pat[:runs[k].start] + escapeLiteral(text) + pat[runs[k].end:]
		if _, err := regexp2.Compile(other, regexp2.None); err != nil {
			t.Fatalf("%q accepted, %q with run %d replaced by %q is not: %v", pat, other, k, text, err)
		}
		s, rs, ok := lexRuns(other)
		if !ok || s != shape || rs[k].text != text {
			t.Fatalf("%q: %q with run %d replaced has shape %q (ok %v), want %q", pat, other, k, s, ok, shape)
		}
	}
}

// escapeLiteral writes printable ASCII text as literal characters the
// lexer takes: the special ones escaped.
func escapeLiteral(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < 0x20 || c >= 0x7f {
			continue
		}
		if strings.IndexByte(`\[()|.^$*+?{`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// TestLexRunsGenerated runs lexCheck on generated patterns.
func TestLexRunsGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	texts := []string{"x", "198.18.0.7", "a b", "{2}", "(?x)", `\`, "k#1", "*?", "<'>"}
	n := 5000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		pat := genPattern(r)
		if !utf8.ValidString(pat) {
			continue
		}
		lexCheck(t, pat, texts[i%len(texts)])
	}
	for _, p := range seedPatterns {
		for _, x := range texts {
			lexCheck(t, p, x)
		}
	}
}

func FuzzLexRuns(f *testing.F) {
	for i, p := range seedPatterns {
		f.Add(p, []string{"x", "1.2", "a{1}"}[i%3])
	}
	f.Fuzz(func(t *testing.T, pat, text string) {
		if len(pat) > 120 || !utf8.ValidString(pat) || strings.Count(pat, "{") > 4 {
			t.Skip("too large")
		}
		lexCheck(t, pat, text)
	})
}

// templateParts are the A and B of generated templates: what comes before
// and after the hole.
var templateParts = []string{
	"", ".*", `\d+ `, `sshd\[\d+\]: `, `(?:a|b)c`, `[a-c]+`, `\S+`, `(x)?`, `.*? `, `^`, `$`, `\b`,
	` port \d+ ssh2`, `.*from `, `(?i)a`, `(?i:k)`, `\w*`, `(?=1)`, `(ab)+`, `[^ ]*`, `.`, `\s?`,
}

// templateTexts fill the holes: texts that are prefixes and suffixes of
// one another.
var templateTexts = []string{"1", "12", "123", "1.2", "21", "abc", "ab", "b", "x y", "a-1", "K", "k", "9 1"}

// TestDifferentialTemplates compares rules bound to templates with the
// reference: random A and B around texts that overlap, with and without
// the outer .*, on lines that hold the texts in and out of place.
func TestDifferentialTemplates(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	rounds := 400
	if testing.Short() {
		rounds = 100
	}
	for range rounds {
		a := templateParts[r.IntN(len(templateParts))] + templateParts[r.IntN(len(templateParts))]
		b := templateParts[r.IntN(len(templateParts))] + templateParts[r.IntN(len(templateParts))]
		outer := [][2]string{{"", ""}, {".*", ".*"}, {".*", ""}, {"", ".*"}}[r.IntN(4)]
		var specs []Spec
		var lines []string
		for _, x := range templateTexts {
			specs = append(specs, Spec{Select: outer[0] + a + escapeLiteral(x) + b + outer[1]})
		}
		for range 12 {
			x := templateTexts[r.IntN(len(templateTexts))]
			y := templateTexts[r.IntN(len(templateTexts))]
			base := genLine(r)
			lines = append(lines, x, base+x, x+" "+y, "sshd[12]: "+x+" port 22 ssh2", "1 "+x+y+" 2", base+x+base+y)
		}
		if !compareSets(t, specs, lines) {
			continue
		}
		if t.Failed() {
			return
		}
	}
}

// FuzzTemplates fuzzes templates: rules a·text·b for several texts, on a
// line with @ replaced by each text.
func FuzzTemplates(f *testing.F) {
	f.Add(`sshd\[\d+\]: `, ` port \d+`, "sshd[1]: @ port 2")
	f.Add(`.*`, `.*`, "x@y")
	f.Add(`\d+`, `(?i)k`, "12@K")
	f.Fuzz(func(t *testing.T, a, b, line string) {
		if len(a)+len(b) > 80 || len(line) > 200 || strings.Count(a+b, "{") > 4 {
			t.Skip("too large")
		}
		var specs []Spec
		var lines []string
		for _, x := range templateTexts {
			specs = append(specs, Spec{Select: a + escapeLiteral(x) + b}, Spec{Select: ".*" + a + escapeLiteral(x) + b + ".*"})
			lines = append(lines, strings.ReplaceAll(line, "@", x))
		}
		compareSets(t, specs, lines)
	})
}

// TestTemplatesBound: rules that differ by an address are bound to one
// template, also under (?i); a hole next to \b is no template's.
func TestTemplatesBound(t *testing.T) {
	bound := func(specs []Spec) int {
		set, err := Compile(specs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range set.rules {
			if r.sel.split != nil {
				n++
			}
		}
		return n
	}
	if n := bound(addressSpecs(300)); n != 300 {
		t.Errorf("%d of 300 address rules bound", n)
	}
	if n := bound(manySet(`(?i).*user @ from.*`, 0, 40)); n != 40 {
		t.Errorf("(?i) with addresses: %d of 40 bound", n)
	}
	if n := bound(manySet(`(?i).*user @ from.*`, 1, 40)); n != 40 {
		t.Errorf("(?i) with user names: %d of 40 bound", n)
	}
	if n := bound(manySet(`.*\b@\b.*`, 0, 40)); n != 0 {
		t.Errorf("\\b around the hole: %d of 40 bound", n)
	}
	// Two lists: templates over one of them.
	var specs []Spec
	for _, u := range []string{"root", "admin", "guest"} {
		for k := range 20 {
			specs = append(specs, Spec{Select: fmt.Sprintf(`.*Failed password for %s from \S+ port %d ssh2`, u, k)})
		}
	}
	if n := bound(specs); n != 60 {
		t.Errorf("two lists: %d of 60 bound", n)
	}
}

// TestTemplateErrors: when the representative of a template does not
// compile, each rule reports its own error, and a spec given twice
// reports it at both indices.
func TestTemplateErrors(t *testing.T) {
	specs := []Spec{{Select: `.*(a1`}, {Select: `.*(a2`}, {Select: `.*ok3`}, {Select: `.*(a1`}}
	for name, err := range map[string]error{
		"compile": func() error { _, err := Compile(specs, Options{}); return err }(),
		"check":   Check(specs, Options{}),
	} {
		var got []int
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var me *Error
			if !errors.As(e, &me) || me.Field != FieldSelect {
				t.Fatalf("%s: %v", name, e)
			}
			got = append(got, me.Index)
		}
		if fmt.Sprint(got) != "[0 1 3]" {
			t.Errorf("%s: errors at %v, want [0 1 3]", name, got)
		}
	}
}

// TestTemplateBudget: a line with the rule's text at every position costs
// a template what one run of the bytes engine may cost, and the line goes
// to the exact engines, not a run of A and B per occurrence (which is
// quadratic in the line's length); the answer stays the reference's.
func TestTemplateBudget(t *testing.T) {
	specs := []Spec{{Select: `.*q.*a.*z`}, {Select: `.*q.*b.*z`}, {Select: `.*q.*ab.*z`}}
	set, err := Compile(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range set.rules {
		if r.sel.split == nil {
			t.Fatalf("rule %d is not bound to a template", i)
		}
	}
	for _, c := range []struct {
		line string
		done bool
	}{
		{"z q" + strings.Repeat("a", 3000), false},
		{"z q" + strings.Repeat("ab", 3000), false},
		{"q a z", true},
		{"q" + strings.Repeat("-", 3000) + "a z", true},
	} {
		var st bytesState
		if _, done := set.rules[0].sel.split.match(&st, []byte(c.line), 0); done != c.done {
			t.Errorf("%.20q… (%d bytes): decided by the template %v, want %v", c.line, len(c.line), done, c.done)
		}
	}
	compareSets(t, specs, []string{
		"z q" + strings.Repeat("a", 3000),
		"z q" + strings.Repeat("a", 3000) + "z",
		"z q" + strings.Repeat("ab", 2000) + "z",
		"q a z",
	})
}

// TestDispatch: the block scan picks the candidates of rules bound to a
// template by the text after their common start, also when texts are
// prefixes of one another, a rule is given twice, or one anchor has rules
// of several templates; the hits are the reference's.
func TestDispatch(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, c := range []struct {
		name  string
		specs []Spec
		kind  int
	}{
		{"addresses", addressSpecs(300), 0},
		{"ports, prefixes of one another", manySet(`.*sshd\[\d+\]: .* port @.*`, 2, 120), 2},
		{"addresses, twice", append(addressSpecs(100), addressSpecs(100)...), 0},
		{"two templates", append(manySet(`.*sshd\[\d+\]: Failed password for .* from @ port \d+ ssh2`, 0, 40),
			manySet(`.*sshd\[\d+\]: Failed password for .* from @ port \d+ ssh2$`, 0, 40)...), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, err := Compile(c.specs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			blk := []byte(strings.Join(manyLines(r, c.kind, len(c.specs)), "\n"))
			p := set.newBlockPlan(costOf(blk))
			if p == nil {
				t.Fatalf("no block plan (%s)", describe(set))
			}
			dispatched := false
			for a := range p.anchors {
				dispatched = dispatched || p.anchors[a].disp != nil
			}
			if !dispatched {
				t.Fatalf("no anchor dispatches (%s)", describe(set))
			}
			lines := manyLines(r, c.kind, len(c.specs))
			lines = append(lines, manyLines(r, c.kind, len(c.specs))...)
			// A rule's text twice in a line: the verification starts at
			// the first occurrence the dispatch found, and goes on to the
			// second when the first fails.
			for _, l := range lines[:40] {
				lines = append(lines, l+" "+l, l+" from 198.18.0.7 port 22 ssh2")
			}
			compareSets(t, c.specs, lines)
		})
	}
}
