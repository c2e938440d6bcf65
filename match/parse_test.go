package match

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
	"github.com/dlclark/regexp2/syntax"
)

// FuzzParse checks that the parser never panics, that it refuses only with
// errUnsupported, and that the spans it records nest inside the pattern.
func FuzzParse(f *testing.F) {
	for _, p := range seedPatterns {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pat string) {
		if _, err := regexp2.Compile(pat, regexp2.None); err != nil {
			return // the parser only sees patterns regexp2 accepts
		}
		root, err := parseStrict(pat)
		if err != nil {
			if !errors.Is(err, errUnsupported) {
				t.Fatalf("parse %q: %v", pat, err)
			}
			return
		}
		n := len([]rune(pat))
		var check func(nd *node)
		check = func(nd *node) {
			if nd.start < 0 || nd.end < nd.start || nd.end > n {
				t.Fatalf("parse %q: node %d spans %d..%d of %d", pat, nd.kind, nd.start, nd.end, n)
			}
			for _, s := range nd.subs {
				check(s)
			}
		}
		check(root)
	})
}

func TestParseUnsupported(t *testing.T) {
	for _, p := range []string{`(?<a>x)(?<b-a>y)`, `(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10`, `(a)\12`} {
		if _, err := regexp2.Compile(p, regexp2.None); err != nil {
			t.Fatalf("%q does not compile: %v", p, err)
		}
		if _, err := parsePattern(p); !errors.Is(err, errUnsupported) {
			t.Errorf("parse %q: %v, want errUnsupported", p, err)
		}
	}
}

// TestNonASCIILower checks nonASCIILower against the Unicode tables.
func TestNonASCIILower(t *testing.T) {
	var got []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if unicode.ToLower(r) < utf8.RuneSelf {
			got = append(got, r)
		}
	}
	if string(got) != nonASCIILower {
		t.Errorf("runes outside ASCII that lower into it: %q, want %q", string(got), nonASCIILower)
	}
}

// TestASCIIWordChars checks that regexp2's word characters agree with
// RE2's \b on ASCII.
func TestASCIIWordChars(t *testing.T) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		re2 := r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if syntax.IsWordChar(r) != re2 {
			t.Errorf("%q: regexp2 word char %v, RE2 %v", r, syntax.IsWordChar(r), re2)
		}
	}
}

// TestPrefilter checks the automaton against a direct search, with each
// literal at every position of lines of every length, so that occurrences
// across the boundary of the two halves it scans are found.
func TestPrefilter(t *testing.T) {
	lits := []literal{
		{text: "sshd["}, {text: "invalid user"}, {text: "user"}, {text: "ser i"},
		{text: "aaa"}, {text: "aab"}, {text: "did not receive "}, {text: "é\x00z"},
		{text: "kill", foldIK: true}, {text: "received disconnect from 1.2.3.4"},
	}
	pf := newPrefilter(lits)
	seen := make([]uint64, pf.words())
	filler := "xyz0123456789 "
	for n := 0; n < 120; n++ {
		for _, l := range lits {
			for pos := 0; pos+len(l.text) <= n; pos++ {
				line := []byte(strings.Repeat(filler, n/len(filler)+1)[:n])
				copy(line[pos:], asciiCase(l.text, 'a', 'z', 'A'-'a'))
				clear(seen)
				ascii := pf.scan(line, seen)
				for id, want := range lits {
					wantSeen := strings.Contains(asciiCase(string(line), 'A', 'Z', 'a'-'A'), want.text) || want.foldIK && !ascii
					if gotSeen := seen[id/64]&(1<<(id%64)) != 0; gotSeen != wantSeen {
						t.Fatalf("line %q: literal %q seen %v, want %v", line, want.text, gotSeen, wantSeen)
					}
				}
				if ascii != isASCII(line) {
					t.Fatalf("line %q: ascii %v", line, ascii)
				}
			}
		}
	}
}

// asciiCase adds delta to the bytes from lo to hi.
func asciiCase(s string, lo, hi byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}

func TestIsASCII(t *testing.T) {
	for n := 0; n < 20; n++ {
		line := bytes.Repeat([]byte("a"), n)
		if !isASCII(line) {
			t.Fatalf("%q not ASCII", line)
		}
		for i := range line {
			line[i] = 0x80
			if isASCII(line) {
				t.Fatalf("%q is ASCII", line)
			}
			line[i] = 'a'
		}
	}
}

func nextRune(r rune) rune {
	if r < 0x3000 || r == unicode.MaxRune {
		return r + 1
	}
	return min(r+61, unicode.MaxRune)
}

// TestClassMembers compares the computed members of classes with regexp2
// over a wide range of runes: all of the first 0x3000 and every 61st after.
func TestClassMembers(t *testing.T) {
	classes := []string{
		`\d`, `\D`, `\w`, `\W`, `\s`, `\S`, `\p{L}`, `\P{Lu}`, `\pN`, `\p{Greek}`, `\p{White_Space}`,
		`[\w.-]`, `[^\s\]]`, `[\P{L}\p{Lu}]`, `[\p{Lu}\P{L}]`, `[\d\D]`, `[^\d\D]`, `[\w-[\d]]`,
		`[a-z-[aeiou]]`, `[^\W\d]`, `[α-ω\d]`, `[\x00-\x1f\p{Cc}]`, `[^a-c\s]`, `[\s\S]`,
	}
	for _, text := range classes {
		root, err := parseStrict(text)
		if err != nil {
			t.Fatalf("parse %s: %v", text, err)
		}
		c := seqItems(root)[0].cls
		if !c.modeled {
			t.Fatalf("%s is not modelled", text)
		}
		rs := c.members()
		re := regexp2.MustCompile(`\A`+text+`\z`, regexp2.None)
		for r := rune(0); r <= unicode.MaxRune; r = nextRune(r) {
			if r >= 0xd800 && r <= 0xdfff {
				continue // not encodable: the string would hold U+FFFD
			}
			want, _ := re.MatchString(string(r))
			if inRanges(rs, r) != want {
				t.Errorf("%s: %U in members %v, regexp2 %v", text, r, !want, want)
				break
			}
		}
	}
}
