package match

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// The many-rule differential tests: sets of tens to hundreds of rules that
// share most of their literals and differ in a part (an address, a user, a
// number), as `for:` lists and per-address rules make them, compared with
// the reference by line and by block. They exercise what one rule alone
// does not: rules sharing an anchor, the prefilter sorting a line's
// candidates among them, literals that are prefixes or suffixes of
// others' (198.18.0.1 and 198.18.0.10).

// manyTemplates are select patterns in which @ is replaced by each rule's
// part.
var manyTemplates = []string{
	`.*sshd\[\d+\]: Failed password for .* from @ port \d+ ssh2`,
	`.*sshd\[\d+\]: Invalid user @ from .*`,
	`.*Failed password for (invalid user )?@ from .*`,
	`.*(?i)user @ from.*`,
	`.*(?:Accepted|Failed) password for @.*`,
	`.*sshd\[\d+\]: @.*`,
	`@`,
	`.*@`,
	`.*\b@\b.*`,
	`(?i).*@.*`,
	`.*port @ ssh2`,
	`.*from @(?= port).*`,
}

// manyPart returns rule k's part for the template: addresses, users and
// numbers that are prefixes of one another.
func manyPart(kind, k int) string {
	switch kind % 3 {
	case 0:
		return fmt.Sprintf(`198\.18\.%d\.%d`, k/16, k%16)
	case 1:
		return fmt.Sprintf("user%d", k)
	}
	return fmt.Sprint(k)
}

// manySet returns n rules of template t (kind chooses the parts), some
// with an extraction and a key.
func manySet(t string, kind, n int) []Spec {
	specs := make([]Spec, n)
	for k := range specs {
		specs[k].Select = strings.ReplaceAll(t, "@", manyPart(kind, k))
		switch k % 5 {
		case 1:
			specs[k].Key = `from (\S+)`
		case 2:
			specs[k].Extract = `port (\d+)`
		}
	}
	return specs
}

// manyLines returns lines for a many-rule set: the parts of some rules
// (and of no rule) in sshd lines, in other cases, with non-ASCII around.
func manyLines(r *rand.Rand, kind, n int) []string {
	var out []string
	for range 60 {
		part := strings.ReplaceAll(manyPart(kind, r.IntN(n+n/4+1)), `\`, "")
		user, addr := "root", "203.0.113.7"
		switch kind % 3 {
		case 0:
			addr = part
		case 1:
			user = part
		default:
			addr = "10.0.0." + part
		}
		l := fmt.Sprintf("Dec 10 07:07:%02d LabSZ sshd[%d]: Failed password for invalid user %s from %s port %d ssh2", r.IntN(60), 24000+r.IntN(999), user, addr, r.IntN(65536))
		switch r.IntN(8) {
		case 0:
			l = strings.ToUpper(l)
		case 1:
			l = strings.Replace(l, "Failed password", "Accepted password", 1)
		case 2:
			l = strings.Replace(l, "Failed password for invalid user", "Invalid user", 1)
		case 3:
			l = strings.Replace(l, " port", "\u212a port", 1)
		case 4:
			l = strings.Replace(l, "user ", "user \xff", 1)
		case 5:
			l = l[:r.IntN(len(l)+1)]
		}
		out = append(out, l)
	}
	return out
}

// TestDifferentialManyRules compares sets of 8 to 200 rules from every
// template with the reference, by line and by block.
func TestDifferentialManyRules(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := []int{8, 40, 200}
	if testing.Short() {
		sizes = []int{8, 40}
	}
	for ti, tmpl := range manyTemplates {
		for _, n := range sizes {
			kind := ti + n
			t.Run(fmt.Sprintf("%d/%s", n, tmpl), func(t *testing.T) {
				specs := append(manySet(tmpl, kind, n), sshSpecs...)
				if !compareSets(t, specs, manyLines(r, kind, n)) {
					t.Fatalf("the set did not compile")
				}
			})
		}
	}
}

// TestDifferentialManyGenerated compares sets of 50 patterns built from
// random tokens, each with its variants, on lines built from them.
func TestDifferentialManyGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for range rounds {
		var specs []Spec
		var lines []string
		for len(specs) < 50 {
			pat := genPattern(r)
			if !utf8.ValidString(pat) {
				continue
			}
			if _, err := Compile([]Spec{{Select: ".*" + pat + ".*"}}, Options{Timeout: diffTimeout}); err != nil {
				continue
			}
			specs = append(specs, Spec{Select: ".*" + pat + ".*"}, Spec{Select: pat})
			lines = append(lines, lineVariants(pat, genLine(r))[:3]...)
		}
		compareSets(t, specs, lines)
		if t.Failed() {
			return
		}
	}
}

// FuzzManyRules fuzzes many-rule sets: n rules from one template whose @
// is replaced by each rule's part, with the ssh rules, on a line with @
// replaced by a part (of a rule or not) and on the usual lines.
func FuzzManyRules(f *testing.F) {
	for i, t := range manyTemplates {
		f.Add(t, "Dec 10 07:07:38 LabSZ sshd[24206]: Failed password for invalid user @ from @ port 36060 ssh2", uint8(i*13), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, tmpl, line string, n uint8, k uint16) {
		if len(tmpl) > 80 || len(line) > 200 || strings.Count(tmpl, "{") > 4 || !strings.Contains(tmpl, "@") {
			t.Skip("too large, or no part")
		}
		count := 5 + int(n)%40
		kind := int(n)
		specs := manySet(tmpl, kind, count)
		part := strings.ReplaceAll(manyPart(kind, int(k)%(count+count/4+1)), `\`, "")
		lines := []string{strings.ReplaceAll(line, "@", part), strings.ReplaceAll(line, "@", strings.ToUpper(part))}
		lines = append(lines, lineVariants(strings.ReplaceAll(tmpl, "@", part), lines[0])...)
		compareSets(t, append(specs, sshSpecs...), lines)
	})
}

// TestOnly: a rule taken out of a large set matches every line as the
// rule compiled alone does.
func TestOnly(t *testing.T) {
	specs := append(manySet(manyTemplates[0], 0, 100), sshSpecs...)
	set, err := Compile(specs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := append(manyLines(rand.New(rand.NewPCG(7, 8)), 0, 100), blockLines...)
	for _, i := range []int{0, 7, 99, 100, len(specs) - 1} {
		alone, err := Compile(specs[i:i+1], Options{})
		if err != nil {
			t.Fatal(err)
		}
		only := set.Only(i)
		if only.Len() != 1 {
			t.Fatalf("Only(%d) has %d rules", i, only.Len())
		}
		om, am := only.NewMatcher(), alone.NewMatcher()
		for _, l := range lines {
			if d := diffHits(copyHits(om.Match([]byte(l))), am.Match([]byte(l))); d != "" {
				t.Fatalf("rule %d on %q: %s", i, l, d)
			}
		}
		block := []byte(strings.Join(lines, "\n") + "\n")
		if got, want := blockOf(om, block), blockOf(am, block); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("rule %d by block: got %v, want %v", i, got, want)
		}
	}
}
