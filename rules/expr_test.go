package rules

import (
	"strings"
	"testing"
)

func TestExprEval(t *testing.T) {
	set := map[string]bool{"a": true, "b": true, "linux": true}
	isSet := func(n string) bool { return set[n] }
	tests := []struct {
		expr string
		want bool
	}{
		{"a", true},
		{"c", false},
		{"a.b", true},
		{"a&b", true},
		{"a&&b", true},
		{"a.c", false},
		{"a|c", true},
		{"c||a", true},
		{"c|d", false},
		{"!c", true},
		{"!a", false},
		{"!!a", true},
		{"a.!c", true},
		{"c|a.b", true}, // AND binds tighter: c | (a.b)
		{"c.a|b", true}, // (c.a) | b
		{"c.(a|b)", false},
		{"(c|a).b", true},
		{" a . ( c | ! d ) ", true},
		{"linux.!(c|d)", true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseExpr(tt.expr)
			if err != nil {
				t.Fatalf("ParseExpr(%q): %v", tt.expr, err)
			}
			if got := e.Eval(isSet); got != tt.want {
				t.Errorf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
			}
		})
	}
}

func TestExprErrors(t *testing.T) {
	tests := []struct {
		expr    string
		wantMsg string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"a.", "ends where a class name"},
		{"a|", "ends where a class name"},
		{"(a", "unclosed parenthesis"},
		{"a)", "unexpected ')'"},
		{"a b", "unexpected 'b'"},
		{"a-b", "unexpected '-'"},
		{"$(x)", "unexpected '$'"},
		{strings.Repeat("(", 500) + "a" + strings.Repeat(")", 500), "nested too deeply"},
		{strings.Repeat("!", 500) + "a", "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := ParseExpr(tt.expr)
		if err == nil {
			t.Errorf("ParseExpr(%q) succeeded, want error containing %q", tt.expr, tt.wantMsg)
			continue
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("ParseExpr(%q) error = %q, want it to contain %q", tt.expr, err, tt.wantMsg)
		}
	}
}

func TestExprClasses(t *testing.T) {
	e := MustParseExpr("a.!(b|a)|c")
	got := strings.Join(e.Classes(), ",")
	if got != "a,b,c" {
		t.Errorf("Classes() = %q, want a,b,c", got)
	}
}

func TestValidClassName(t *testing.T) {
	for s, want := range map[string]bool{
		"ssh_probe": true, "_x": true, "A1": true,
		"": false, "1a": false, "a-b": false, "a.b": false, "é": false, "a b": false,
	} {
		if got := ValidClassName(s); got != want {
			t.Errorf("ValidClassName(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseExpr checks that the parser never panics and that whatever it
// accepts evaluates and reports its classes consistently.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"a", "a.b|!c", "(a|b).c", "!(!a)", "a&&b||c", "((", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			return
		}
		names := e.Classes()
		if len(names) == 0 {
			t.Fatalf("ParseExpr(%q) accepted an expression without classes", s)
		}
		all := func(string) bool { return true }
		none := func(string) bool { return false }
		_ = e.Eval(all)
		_ = e.Eval(none)
		for _, n := range names {
			if !ValidClassName(n) && !(n[0] >= '0' && n[0] <= '9') {
				t.Fatalf("class %q from %q is not a class name", n, s)
			}
		}
	})
}
