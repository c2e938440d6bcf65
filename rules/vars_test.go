package rules

import (
	"strings"
	"testing"
)

func TestNextRef(t *testing.T) {
	for _, tc := range []struct {
		in, before, name, after string
		ok                      bool
	}{
		{"no reference", "no reference", "", "", false},
		{"v=$(value_h)!", "v=", "value_h", "!", true},
		{"$(mon.av_h) and $(key)", "", "mon.av_h", " and $(key)", true},
		{"$( x) $(top_h", "$( x) $(top_h", "", "", false},
		{"cost $(5) $(a b) $(z_h)", "cost ", "5", " $(a b) $(z_h)", true},
		{"$(a b) $(z_h)", "$(a b) ", "z_h", "", true},
		{"$$(x)", "$", "x", "", true},
		{"$()", "$()", "", "", false},
	} {
		before, name, after, ok := NextRef(tc.in)
		if before != tc.before || name != tc.name || after != tc.after || ok != tc.ok {
			t.Errorf("NextRef(%q) = %q, %q, %q, %v; want %q, %q, %q, %v", tc.in, before, name, after, ok, tc.before, tc.name, tc.after, tc.ok)
		}
	}
}

func TestVarNames(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, handle, env string
	}{
		{"value_ssh_probe", VarValue, "ssh_probe", "LOGTALLY_VALUE_ssh_probe"},
		{"unexpected_ports", VarUnexpected, "ports", "LOGTALLY_UNEXPECTED_ports"},
		{"removed_etc", VarRemoved, "etc", "LOGTALLY_REMOVED_etc"},
		{"top_a.b", VarTop, "a.b", ""},
		{"host", "", "", ""},
	} {
		p, h, _ := SplitVar(tc.name)
		env, _ := VarEnv(tc.name)
		if p != tc.prefix || h != tc.handle || env != tc.env {
			t.Errorf("%s: %q %q %q, want %q %q %q", tc.name, p, h, env, tc.prefix, tc.handle, tc.env)
		}
	}
	if textVar("echo $(value_h) $(mon.top_h)") != VarTop || textVar("echo $(value_h) $(top_h") != "" || textVar("$(key)") != VarKey {
		t.Error("textVar: want the first text variable referred to")
	}
}

// FuzzNextRef: a reference found is exactly what stands between before
// and after, and its name is made of name characters.
func FuzzNextRef(f *testing.F) {
	for _, s := range []string{"$(value_h)", "a $( $(b.c) d", "$$(x))", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		before, name, after, ok := NextRef(s)
		if !ok {
			if before != s {
				t.Fatalf("no reference in %q, but before is %q", s, before)
			}
			return
		}
		if before+"$("+name+")"+after != s || name == "" || strings.ContainsAny(name, "()$ ") {
			t.Fatalf("NextRef(%q) = %q, %q, %q", s, before, name, after)
		}
	})
}

// FuzzBadRefs: badRefs finds nothing exactly when every "$(" of s opens a
// reference the expander replaces (NextRef), ${name} of a variable aside.
func FuzzBadRefs(f *testing.F) {
	for _, s := range []string{"value $(value_h and more", "$() $(a b) ${value_h} ${HOME}", "a$(b$(host))", "$(x)$(", "$$(x))", "é$(", ""} {
		f.Add(s)
	}
	isVar := func(name string) bool { return name == VarHost }
	f.Fuzz(func(t *testing.T, s string) {
		bad := badRefs(s, isVar)
		opens := strings.Count(s, "$(")
		refs := 0
		for rest := s; ; refs++ {
			_, _, after, ok := NextRef(rest)
			if !ok {
				break
			}
			rest = after
		}
		curly := strings.Count(s, "${host}")
		if got, want := len(bad), opens-refs+curly; got != want {
			t.Fatalf("badRefs(%q) = %q: %d problems, want %d (%d \"$(\", %d references, %d ${host})", s, bad, got, want, opens, refs, curly)
		}
	})
}
