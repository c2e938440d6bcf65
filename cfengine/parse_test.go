package cfengine

import (
	"fmt"
	"strings"
	"testing"
)

// dump prints a policy in a canonical form: every element with its line,
// values with their kinds.
func dump(p *Policy, withPos bool) string {
	var b strings.Builder
	pos := func(q Pos) string {
		if !withPos {
			return ""
		}
		return fmt.Sprintf("@%d:%d", q.Line, q.Col)
	}
	var val func(v *Value) string
	val = func(v *Value) string {
		switch v.Kind {
		case String:
			return fmt.Sprintf("%q%s", v.Text, pos(v.Pos))
		case List, Call:
			items := make([]string, len(v.Items))
			for i, it := range v.Items {
				items[i] = val(it)
			}
			if v.Kind == List {
				return "{" + strings.Join(items, ", ") + "}" + pos(v.Pos)
			}
			return v.Text + "(" + strings.Join(items, ", ") + ")" + pos(v.Pos)
		}
		return fmt.Sprintf("%s:%s%s", v.Kind, v.Text, pos(v.Pos))
	}
	for _, bu := range p.Bundles {
		fmt.Fprintf(&b, "bundle %s %s%v%s\n", bu.Type, bu.Name, bu.Params, pos(bu.Pos))
		for _, s := range bu.Sections {
			fmt.Fprintf(&b, " %s:%s\n", s.Type, pos(s.Pos))
			for _, pr := range s.Promises {
				fmt.Fprintf(&b, "  [%s%s] %q%s", pr.Guard, pos(pr.GuardPos), pr.Promiser, pos(pr.Pos))
				if pr.Promisee != nil {
					fmt.Fprintf(&b, " -> %s", val(pr.Promisee))
				}
				for _, a := range pr.Attrs {
					fmt.Fprintf(&b, " %s%s=%s", a.Name, pos(a.Pos), val(a.Value))
				}
				b.WriteString("\n")
			}
		}
	}
	for _, bo := range p.Bodies {
		fmt.Fprintf(&b, "%s %s %s%v%s\n", bo.Kind, bo.Type, bo.Name, bo.Params, pos(bo.Pos))
		for _, a := range bo.Attrs {
			fmt.Fprintf(&b, "  [%s%s] %s%s=%s\n", a.Guard, pos(a.GuardPos), a.Name, pos(a.Pos), val(a.Value))
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note %s%s\n", n.Msg, pos(n.Pos))
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"measurement", `# a comment
bundle monitor watch(a, b)
{
  vars:
      "dir" slist => { "get", "put", };
  measurements:
    linux::
      "/var/log/messages" -> { "ops" }
        handle => "ftp_bytes_$(dir)",   # trailing comment
        match_value => extract_log(".*ftpd\[.*", "${dir} .* = (\d+) bytes"),
        action => sample_rate("0");
    "any"::
      "/bin/df" handle => "df";
}
`, `bundle monitor watch[a b]@2:1
 vars:@4:3
  [any@0:0] "dir"@5:7 slist@5:13={"get"@5:24, "put"@5:31}@5:22
 measurements:@6:3
  [linux@7:5] "/var/log/messages"@8:7 -> {"ops"@8:32}@8:30 handle@9:9="ftp_bytes_$(dir)"@9:19 match_value@10:9=extract_log(".*ftpd\\[.*"@10:36, "${dir} .* = (\\d+) bytes"@10:50)@10:24 action@11:9=sample_rate("0"@11:31)@11:19
  [any@12:5] "/bin/df"@13:7 handle@13:17="df"@13:27
`},
		{"body", `body match_value scan_log(line)
{
  select_line_matching => "$(line)";
  windows::
    track_growing_file => "true";
}
body common control { bundlesequence => { "main", @(x), f(g("a"), $(v)) }; }
`, `body match_value scan_log[line]@1:1
  [any@0:0] select_line_matching@3:3="$(line)"@3:27
  [windows@4:3] track_growing_file@5:5="true"@5:27
body common control[]@7:1
  [any@0:0] bundlesequence@7:23={"main"@7:43, variable:@(x)@7:51, f(g("a"@7:61)@7:59, variable:$(v)@7:67)@7:57}@7:41
`},
		{"escapes", `bundle agent a { reports: "q\"uote \\back \[kept\] \'s' x\
y" ; 'single \' "d"' ; ` + "`back \\quote`" + `; }`,
			`bundle agent a[]@1:1
 reports:@1:18
  [any@0:0] "q\"uote \\back \\[kept\\] 's' xy"@1:27
  [any@0:0] "single ' \"d\""@2:6
  [any@0:0] "back \\quote"@2:24
`},
		{"class expressions", `bundle agent a {
classes:
  "x" expression => isgreaterthan("$(mon.value_www_in)", "50");
  "y" or => { "a", "b" }, persistence => "10";
reports:
  (linux|bsd).!windows ::
    "r" if => "x";
  x.y::
    "s";
}`, `bundle agent a[]@1:1
 classes:@2:1
  [any@0:0] "x"@3:3 expression@3:7=isgreaterthan("$(mon.value_www_in)"@3:35, "50"@3:58)@3:21
  [any@0:0] "y"@4:3 or@4:7={"a"@4:15, "b"@4:20}@4:13 persistence@4:27="10"@4:42
 reports:@5:1
  [(linux|bsd).!windows@6:3] "r"@7:5 if@7:9="x"@7:15
  [x.y@8:3] "s"@9:5
`},
		{"macros", "@if minimum_version(3.12)\nbundle agent a { }\n@else\nbundle agent b { }\n@endif\n",
			"bundle agent a[]@2:1\nnote @if minimum_version(3.12) taken as true@1:1\nnote the lines from @else to @endif skipped@3:1\n"},
		{"namespaces", "bundle agent default:main { methods: \"m\" usebundle => ns:b(\"x\"), classes => lib.if_ok; }",
			`bundle agent default:main[]@1:1
 methods:@1:29
  [any@0:0] "m"@1:38 usebundle@1:42=ns:b("x"@1:60)@1:55 classes@1:66=identifier:lib.if_ok@1:77
`},
		{"crlf", "bundle agent a\r\n{\r\n reports:\r\n  linux::\r\n   \"x\";\r\n}\r\n",
			"bundle agent a[]@1:1\n reports:@3:2\n  [linux@4:3] \"x\"@5:4\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.cf", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := dump(p, true); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`bundle agent a { reports: "x" }`, `p.cf:1:31: expected an attribute or ";", found "}"`},
		{`bundle agent a { reports: "x" if => ; }`, `p.cf:1:37: expected a value (a string, a name, a variable, a list or a function call), found ";"`},
		{`bundle agent a { "x"; }`, `p.cf:1:18: expected a promise type such as "reports:" before a promise, found string "x"`},
		{"bundle monitor m {\n measurements:\n  \"/x\" handle => canonify(\"a\",\n   stream_type => \"file\";\n}\n",
			`p.cf:4:16: expected "," or ")", found =>`},
		{"bundle agent a {\n reports:\n  \"unterminated;\n}\n", `p.cf:3:3: unterminated string`},
		{"body x y {\n a => \"b\";\n", `p.cf:3:1: end of file in body y (from p.cf:1:1): "}" is missing`},
		{"bundle agent a(,x) { }", `p.cf:1:16: expected a parameter name, found ","`},
		{"bundle agent a { vars: \"x\" string => " + strings.Repeat("f(", 12) + strings.Repeat(")", 12) + "; }",
			`p.cf:1:60: lists and function calls nested more than 10 deep`},
		{"@if minimum_version(3.7)\nbundle agent a {}\n", `p.cf:3:1: end of file inside @if: @endif is missing`},
		{"bundle agent a { reports: \"x\" if => $(x; }", `p.cf:1:37: unterminated variable reference "$(x; }"`},
		{"\nfoo", `p.cf:2:1: expected "bundle", "body" or "promise", found identifier "foo"`},
		{"bundle agent a { reports: \"x\" if => \"y\" ^ }", `p.cf:1:41: unexpected character '^'`},
	}
	for _, tt := range tests {
		_, err := Parse("p.cf", tt.src)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

// print writes a policy back as CFEngine syntax, for the round trip of
// the fuzz test.
func print(p *Policy) string {
	var b strings.Builder
	var val func(v *Value) string
	val = func(v *Value) string {
		switch v.Kind {
		case String:
			return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v.Text) + `"`
		case List, Call:
			items := make([]string, len(v.Items))
			for i, it := range v.Items {
				items[i] = val(it)
			}
			if v.Kind == List {
				return "{" + strings.Join(items, ", ") + "}"
			}
			return v.Text + "(" + strings.Join(items, ", ") + ")"
		}
		return v.Text
	}
	params := func(ps []string) string {
		if len(ps) == 0 {
			return ""
		}
		return "(" + strings.Join(ps, ", ") + ")"
	}
	guard := func(g string) string {
		if strings.ContainsAny(g, "$\"") {
			return `"` + g + `"::`
		}
		return g + "::"
	}
	for _, bu := range p.Bundles {
		fmt.Fprintf(&b, "bundle %s %s%s\n{\n", bu.Type, bu.Name, params(bu.Params))
		for _, s := range bu.Sections {
			fmt.Fprintf(&b, "%s:\n", s.Type)
			for _, pr := range s.Promises {
				fmt.Fprintf(&b, "%s\n%s", guard(pr.Guard), val(&Value{Kind: String, Text: pr.Promiser}))
				if pr.Promisee != nil {
					b.WriteString(" -> " + val(pr.Promisee))
				}
				for i, a := range pr.Attrs {
					if i > 0 {
						b.WriteString(",")
					}
					fmt.Fprintf(&b, " %s => %s", a.Name, val(a.Value))
				}
				b.WriteString(";\n")
			}
		}
		b.WriteString("}\n")
	}
	for _, bo := range p.Bodies {
		fmt.Fprintf(&b, "%s %s %s%s\n{\n", bo.Kind, bo.Type, bo.Name, params(bo.Params))
		for _, a := range bo.Attrs {
			fmt.Fprintf(&b, "%s\n%s => %s;\n", guard(a.Guard), a.Name, val(a.Value))
		}
		b.WriteString("}\n")
	}
	return b.String()
}

// FuzzParse checks that the parser never panics, that an error names a
// position inside the input, and that a policy printed back parses to
// the same policy.
func FuzzParse(f *testing.F) {
	f.Add("bundle monitor m { measurements: linux:: \"/x\" -> {\"a\"} handle => \"h_$(x)\", match_value => mv(\"a\\\\[\", ${y}); }\n")
	f.Add("body match_value mv(a, b) { select_line_matching => \"$(a)\"; \"$(c)\":: extraction_regex => `(\\d+)`; }")
	f.Add("bundle agent a { classes: \"c\" expression => isgreaterthan(\"$(mon.value_h)\", \"50\"); reports: c.!d:: \"x\\\ny\"; }")
	f.Add("@if minimum_version(3.7)\nbundle common c { vars: \"l\" slist => { @(x), 'y', f(g()) }; }\n@else\nx\n@endif\n")
	f.Add("promise agent git { path => \"/x\"; interpreter => \"/usr/bin/python3\"; }")
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("f.cf", src)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %v is a %T", err, err)
			}
			if e.Pos.Line < 1 || e.Pos.Line > strings.Count(src, "\n")+1 || e.Pos.Col < 1 {
				t.Fatalf("error %v outside the input", err)
			}
			return
		}
		again, err := Parse("f.cf", print(p))
		if err != nil {
			t.Fatalf("printed policy does not parse: %v\n%s", err, print(p))
		}
		p.Notes, again.Notes = nil, nil
		if a, b := dump(p, false), dump(again, false); a != b {
			t.Fatalf("round trip differs:\n%s\nvs\n%s", a, b)
		}
	})
}
