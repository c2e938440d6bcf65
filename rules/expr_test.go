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

// TestExprComparisons: comparisons of variables with numbers (and with
// each other) as CFEngine's isgreaterthan and islessthan, mixed with
// classes; a variable without a value makes its comparison false.
func TestExprComparisons(t *testing.T) {
	set := map[string]bool{"a": true, "Hr14": true}
	vars := map[string]float64{"value_h": 60, "z_h": 4, "entropy_h": 0.25, "av_h": 10, "dev_h": 3.2, "value_g": 60}
	isSet := func(n string) bool { return set[n] }
	value := func(n string) (float64, bool) { v, ok := vars[n]; return v, ok }
	tests := []struct {
		expr string
		want bool
	}{
		{"value_h > 50", true},
		{"value_h>50", true},
		{"value_h > 60", false},
		{"value_h >= 60", true},
		{"value_h < 60", false},
		{"value_h <= 60", true},
		{"value_h == 60", true},
		{"value_h != 60", false},
		{"value_h == value_g", true},
		{"50 < value_h", true},
		{"z_h >= 4", true},
		{"z_h >= 4.5", false},
		{"z_h > -1e1", true},
		{"entropy_h < 0.3", true},
		{"entropy_h < .3", true},
		{"av_h > 9.5.dev_h < 4", true}, // the . after a number is AND
		{"value_h >= 10.a", true},
		{"value_h >= 10.Hr13", false},
		{"a.value_h > 50", true},
		{"!value_h > 50", false}, // ! (value_h > 50)
		{"Hr13|value_h > 100|z_h >= 4", true},
		{"(value_h > 100|a).Hr14", true},
		{"average_h > 9", true}, // cfenvd's name of av_h
		{"value_missing > 0", false},
		{"value_missing <= 0", false},
		{"value_missing != 0", false},
		{"!(value_missing > 0)", true},
		{"1_2 ", false}, // a class name that starts with digits
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := ParseExpr(tt.expr)
			if err != nil {
				t.Fatalf("ParseExpr(%q): %v", tt.expr, err)
			}
			if got := e.EvalVars(isSet, value); got != tt.want {
				t.Errorf("EvalVars(%q) = %v, want %v", tt.expr, got, tt.want)
			}
			if e.Eval(isSet) && len(e.Vars()) > 0 && strings.Contains(tt.expr, "a.value") {
				t.Errorf("Eval(%q) without variables is true", tt.expr)
			}
		})
	}
	if got := strings.Join(MustParseExpr("a.value_h > 5|mon.x|av_h<z_h").Vars(), ","); got != "value_h,av_h,z_h" {
		t.Errorf("Vars() = %q", got)
	}
	for expr, msg := range map[string]string{
		"value_h > ":      "ends where a number or a variable",
		"value_h = 5":     "write == for equality",
		"value_h > 5 > 3": "cannot be chained",
		"1 < 2":           "two numbers",
		"value_h > )":     "unexpected ')' where a number or a variable",
		"value_h >> 5":    "unexpected '>'",
		"a.(value_h > 5":  "unclosed parenthesis",
	} {
		if _, err := ParseExpr(expr); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseExpr(%q) = %v, want an error containing %q", expr, err, msg)
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
	for _, s := range []string{"a", "a.b|!c", "(a|b).c", "!(!a)", "a&&b||c", "((", "a..b",
		"value_h > 50", "a.z_h>=-1.5e1|!(2 != dev_h)", "entropy_h<.3", "a<b<c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			return
		}
		names := e.Classes()
		if len(names) == 0 && len(e.Vars()) == 0 {
			t.Fatalf("ParseExpr(%q) accepted an expression without classes or variables", s)
		}
		all := func(string) bool { return true }
		none := func(string) bool { return false }
		_ = e.Eval(all)
		_ = e.Eval(none)
		_ = e.EvalVars(all, func(string) (float64, bool) { return 1, true })
		for _, v := range e.Vars() {
			if !ValidClassName(v) && !(v[0] >= '0' && v[0] <= '9') {
				t.Fatalf("variable %q from %q is not a name", v, s)
			}
		}
		for _, n := range names {
			if !ValidClassName(n) && !(n[0] >= '0' && n[0] <= '9') {
				t.Fatalf("class %q from %q is not a class name", n, s)
			}
		}
	})
}
