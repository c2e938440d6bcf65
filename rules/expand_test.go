package rules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestForExpansion(t *testing.T) {
	src := `measurements:
  - handle: ftp_$(dir)_$(m)
    for: { m: [dcc, 2], dir: [get, put] }
    path: /var/log/$(m).log
    data_type: int
    select_line_matching: '.*$(dir).*'
    extraction_regex: '$(m) (\d+) $(value_x)'
    tags: { milter: $(m) }
    description: $(dir) by $(m)
commands:
  - if: milter_$(m)_errors_high
    for: { m: [dcc, bogom] }
    command: [/usr/local/etc/rc.d/milter-$(m), restart]
    env: { MILTER: $(m), KEEP: $(value_x) }
reports:
  - for: { m: [dcc] }
    if: milter_$(m)_errors_high
    message: milter $(m) restarted at $(value_milter_$(m)_errors)
`
	set, err := LoadBytes("f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	// The first variable written (m) varies slowest.
	type m struct{ handle, path, sel, ex, desc, tag string }
	want := []m{
		{"ftp_get_dcc", "/var/log/dcc.log", ".*get.*", `dcc (\d+) $(value_x)`, "get by dcc", "dcc"},
		{"ftp_put_dcc", "/var/log/dcc.log", ".*put.*", `dcc (\d+) $(value_x)`, "put by dcc", "dcc"},
		{"ftp_get_2", "/var/log/2.log", ".*get.*", `2 (\d+) $(value_x)`, "get by 2", "2"},
		{"ftp_put_2", "/var/log/2.log", ".*put.*", `2 (\d+) $(value_x)`, "put by 2", "2"},
	}
	var got []m
	for _, x := range set.Measurements {
		got = append(got, m{x.Handle, x.Path, x.Select, x.Extract, x.Description, x.Tags["milter"]})
		if x.Pos.String() != "f.yaml:2:5" {
			t.Errorf("%s at %s, want the item's position f.yaml:2:5", x.Handle, x.Pos)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("measurements\n got %v\nwant %v", got, want)
	}
	if len(set.Commands) != 2 {
		t.Fatalf("got %d commands, want 2", len(set.Commands))
	}
	for i, name := range []string{"dcc", "bogom"} {
		c := set.Commands[i]
		if c.If.String() != "milter_"+name+"_errors_high" ||
			!reflect.DeepEqual(c.Argv, []string{"/usr/local/etc/rc.d/milter-" + name, "restart"}) ||
			!reflect.DeepEqual(c.Env, map[string]string{"MILTER": name, "KEEP": "$(value_x)"}) {
			t.Errorf("command %d = %+v", i, c)
		}
	}
	if r := set.Reports[0]; r.Message != "milter dcc restarted at $(value_milter_dcc_errors)" {
		t.Errorf("report message %q", r.Message)
	}
	// $(value_x) is left for run time; no measurement x exists, so check
	// warns once per place.
	var warned []string
	for _, w := range set.Warnings {
		warned = append(warned, w.Key+": "+w.Msg)
	}
	wantWarn := []string{
		"measurements[0].extraction_regex: $(value_x) is not defined in for: and measurements are not expanded at run time",
		"commands[0].env.KEEP: $(value_x) refers to no measurement x",
		"commands[0].if: class milter_dcc_errors_high is not set by any measurement or class",
		"commands[0].if: class milter_bogom_errors_high is not set by any measurement or class",
		"reports[0].if: class milter_dcc_errors_high is not set by any measurement or class",
		"reports[0].message: $(value_milter_dcc_errors) refers to no measurement milter_dcc_errors",
	}
	if !sameSet(warned, wantWarn) {
		t.Errorf("warnings\n got %q\nwant %q", warned, wantWarn)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

func TestForErrorsNameTheExpansion(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // Error() of each error
	}{
		{
			name: "error in some combinations",
			src: `measurements:
  - handle: h_$(n)_$(m)
    for: { n: [a, b], m: [1, 2] }
    path: /x
    select_line_matching: 'x{$(m),1}'
`,
			want: []string{
				"f.yaml:5:27: measurements[0].select_line_matching: invalid regex: error parsing regexp: invalid repeat count in `x{2,1}`, with n=a, m=2",
				"f.yaml:5:27: measurements[0].select_line_matching: invalid regex: error parsing regexp: invalid repeat count in `x{2,1}`, with n=b, m=2",
			},
		},
		{
			name: "error in every combination is reported once",
			src: `measurements:
  - handle: h_$(m)
    for: { m: [a, b, c] }
    path: /x
    selct_line_matching: x
    persist: soon
`,
			want: []string{
				`f.yaml:5:5: measurements[0].selct_line_matching: unknown key "selct_line_matching" (did you mean select_line_matching?)`,
				`f.yaml:6:14: measurements[0].persist: invalid duration "soon" (a duration such as 30s, 5m, 1h30m, 1d or 2w)`,
			},
		},
		{
			name: "undefined variable",
			src: `commands:
  - for: { m: [a] }
    if: $(mm)_high
    command: [x]
`,
			want: []string{
				"f.yaml:3:9: commands[0].if: $(mm) is not defined in for:, with m=a (add it to for: or remove it)",
			},
		},
		{
			name: "duplicate across expansions and items",
			src: `measurements:
  - handle: h_$(m)
    for: { m: [a, b] }
    path: /x
    select_line_matching: x
  - handle: h_b
    path: /y
    select_line_matching: y
`,
			want: []string{
				"f.yaml:6:13: measurements[1].handle: handle h_b already defined at f.yaml:2:13",
			},
		},
		{
			name: "too many combinations",
			src: `measurements:
  - handle: h_$(a)_$(b)_$(c)
    for: { a: [0,1,2,3,4,5,6,7,8,9], b: [0,1,2,3,4,5,6,7,8,9], c: [0,1,2,3,4,5,6,7,8,9,10] }
    path: /x
    select_line_matching: x
`,
			want: []string{
				"f.yaml:3:10: measurements[0].for: expands to more than 1000 items (split the item)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadBytes("f.yaml", []byte(tt.src))
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("LoadBytes = %v, want errors", err)
			}
			var got []string
			for _, e := range list {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}

func TestCombos(t *testing.T) {
	got := combos([]forVar{{"a", []string{"1", "2"}}, {"b", []string{"x"}}, {"c", []string{"p", "q"}}})
	var labels []string
	for _, c := range got {
		labels = append(labels, c.label())
	}
	want := []string{"a=1, b=x, c=p", "a=1, b=x, c=q", "a=2, b=x, c=p", "a=2, b=x, c=q"}
	if !reflect.DeepEqual(labels, want) {
		t.Errorf("combos = %q, want %q", labels, want)
	}
}
