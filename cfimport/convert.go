// Package cfimport converts the monitoring part of CFEngine 3 policy into
// a logtally rule file: measurements: promises (with their match_value
// and action bodies; numbers, texts and sets), classes: promises built on
// monitoring classes or comparing a measurement's $(mon.value_h) with a
// number or another variable, and the reports: and commands: that
// monitoring classes or comparisons guard; the classes
// of cfenvd's own observables (www_in_high...) bring the observable into
// observe:. CFEngine's variables, lists (one promise per value), arrays,
// body parameters and canonify() are resolved as cf-agent would. Whatever
// cannot be converted, or is converted without some part of its meaning,
// is listed with its file:line:col and the reason, never dropped
// silently; docs/import-cf.md is the user's account of both.
package cfimport

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/observe"
	"github.com/logtally/logtally/rules"
)

// Item is a promise, or a part of one, that was not converted, or an
// assumption the conversion made.
type Item struct {
	Pos  cfengine.Pos
	What string // e.g. `measurement "ssh_probe": select_line_number 2`
	// Verdict is NotConverted, Partly or Assumed.
	Verdict string
	Why     string
}

// Verdicts of an Item.
const (
	NotConverted = "not converted"        // the promise is not in the rule file
	Partly       = "converted without it" // the promise is, without this part
	Assumed      = "assumed"              // something only a running agent knows
)

func (it Item) String() string {
	return fmt.Sprintf("%s: %s: %s: %s", it.Pos, it.What, it.Verdict, it.Why)
}

// Result is a conversion.
type Result struct {
	// YAML is the rule file; each item says where it comes from.
	YAML []byte
	// Counts of what was converted; Observables are cfenvd's built-in
	// ones that the converted classes, reports and commands use.
	Measurements, Observables, Classes, Commands, Reports int
	// Items lists what was not converted, in source order.
	Items []Item
}

// Convert converts a policy. The rule file it returns is accepted by
// logtally check (a converted guard may name classes no rule sets, which
// check warns about).
func Convert(p *cfengine.Policy) *Result {
	c := &converter{pol: p, vars: map[string]map[string]*variable{}, res: &Result{},
		handles: map[string]cfengine.Pos{}, measClasses: map[string]string{}, classNames: map[string]cfengine.Pos{}, refusedCls: map[string]cfengine.Pos{}}
	c.collectVars()
	// Measurements first: the classes they set decide which classes,
	// reports and commands are about monitoring.
	c.each("measurements", measurementName, c.measurement)
	c.each("classes", func(pr *cfengine.Promise) string { return fmt.Sprintf("class %q", pr.Promiser) }, c.class)
	c.each("reports", reportName, c.report)
	c.each("commands", func(pr *cfengine.Promise) string { return fmt.Sprintf("command %q", pr.Promiser) }, c.command)
	c.others()
	for _, n := range p.Notes {
		c.res.Items = append(c.res.Items, Item{Pos: n.Pos, What: "macro", Verdict: Assumed, Why: n.Msg})
	}
	c.res.Observables = len(c.observed)
	c.res.YAML = c.validated()
	slices.SortStableFunc(c.res.Items, func(a, b Item) int {
		if a.Pos.File != b.Pos.File {
			return strings.Compare(a.Pos.File, b.Pos.File)
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line - b.Pos.Line
		}
		return a.Pos.Col - b.Pos.Col
	})
	c.res.Items = merge(c.res.Items)
	return c.res
}

type converter struct {
	pol  *cfengine.Policy
	vars map[string]map[string]*variable // bundle → name → variable
	res  *Result

	handles     map[string]cfengine.Pos // measurement handles converted
	measClasses map[string]string       // class a converted measurement sets → its handle
	logHistory  map[string]bool         // handles of history_type log measurements
	classNames  map[string]cfengine.Pos // user classes converted
	refusedCls  map[string]cfengine.Pos // user classes not converted

	// observed are the built-in observables (cfenvd's) whose classes a
	// converted class, report or command uses, in order of first use.
	observed []string

	meas, cmds, reps []*yaml.Node
	// srcOf is where each item of the rule file comes from.
	srcOf   map[*yaml.Node]source
	classes *yaml.Node // the classes: map
}

// note records an item.
func (c *converter) note(pos cfengine.Pos, what, why string, partly bool) {
	v := NotConverted
	if partly {
		v = Partly
	}
	c.res.Items = append(c.res.Items, Item{Pos: pos, What: what, Verdict: v, Why: why})
}

// whatRe splits an Item's What: kind, quoted name, part.
var whatRe = regexp.MustCompile(`^(\w+) ("(?:[^"\\]|\\.)*")(?:: (.*))?$`)

// merge folds the items that say the same thing at the same place about
// the promises one promise made (one per value of a list it iterates
// over) into one that names them all.
func merge(items []Item) []Item {
	var out []Item
	type parts struct{ kind, names, part string }
	var ps []parts
	at := map[string]int{}
	for _, it := range items {
		m := whatRe.FindStringSubmatch(it.What)
		if m == nil {
			out, ps = append(out, it), append(ps, parts{})
			continue
		}
		k := strings.Join([]string{it.Pos.String(), m[1], m[3], it.Verdict, it.Why}, "\x00")
		i, ok := at[k]
		if !ok {
			at[k] = len(out)
			out, ps = append(out, it), append(ps, parts{m[1], m[2], m[3]})
			continue
		}
		p := &ps[i]
		if strings.Contains(p.names+", ", m[2]+", ") {
			continue
		}
		p.names += ", " + m[2]
		out[i].What = p.kind + " " + p.names
		if p.part != "" {
			out[i].What += ": " + p.part
		}
	}
	return out
}

// each runs fn on every promise of the sections of that type, once per
// combination of the values of the lists it names (CFEngine's iteration),
// with the scope of that combination; name says what the promise is, for
// the items listed about it.
func (c *converter) each(typ string, name func(*cfengine.Promise) string, fn func(b *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string)) {
	for _, b := range c.pol.Bundles {
		for _, s := range b.Sections {
			if s.Type != typ {
				continue
			}
			for _, pr := range s.Promises {
				what := name(pr)
				iters, err := c.iterations(b.Name, promiseStrings(pr))
				if err != nil {
					c.note(pr.Pos, what, err.Error(), false)
					continue
				}
				for _, it := range iters {
					fn(b, pr, &scope{c: c, bundle: b.Name, iter: it}, what)
				}
			}
		}
	}
}

// bodyValues resolves the body that attribute a names and calls fn with
// each of its attributes and its value, expanded; in says where the body
// attribute is, for the items fn lists, which are placed at a.
func (c *converter) bodyValues(sc *scope, a *cfengine.Attr, typ, what string, fn func(at *cfengine.Attr, v, in string)) {
	body, bs, err := c.body(sc, typ, a)
	if err != nil {
		c.note(a.Pos, what+": "+typ, err.Error(), true)
		return
	}
	for _, at := range c.bodyAttrs(a, body, what) {
		in := fmt.Sprintf(" (body %s %s, %s)", typ, body.Name, at.Pos)
		v, err := bs.value(at.Value)
		if err != nil {
			c.note(a.Pos, what+": "+typ+" "+at.Name, err.Error()+in, true)
			continue
		}
		fn(at, v, in)
	}
}

// others lists the sections import-cf does not read, once each.
func (c *converter) others() {
	for _, b := range c.pol.Bundles {
		for _, s := range b.Sections {
			switch s.Type {
			case "measurements", "classes", "reports", "commands", "vars", "meta", "defaults":
				continue
			}
			n := len(s.Promises)
			c.note(s.Pos, fmt.Sprintf("%s: (%d promises in bundle %s)", s.Type, n, b.Name),
				"not monitoring: import-cf converts measurements, classes, reports and commands", false)
		}
	}
}

// collectVars indexes the vars: promises of every bundle.
func (c *converter) collectVars() {
	for _, b := range c.pol.Bundles {
		m := c.vars[b.Name]
		if m == nil {
			m = map[string]*variable{}
			c.vars[b.Name] = m
		}
		for _, s := range b.Sections {
			if s.Type != "vars" {
				continue
			}
			for _, pr := range s.Promises {
				for _, a := range pr.Attrs {
					switch a.Name {
					case "string", "slist", "int", "real", "ilist", "rlist":
					default:
						continue
					}
					if _, dup := m[pr.Promiser]; dup {
						continue // the first definition wins, as for an agent's first pass
					}
					m[pr.Promiser] = &variable{pos: pr.Pos, guard: pr.Guard, value: a.Value, kind: a.Name}
				}
			}
		}
	}
}

// promiseStrings returns the strings of a promise, for its iteration.
func promiseStrings(pr *cfengine.Promise) []string {
	out := []string{pr.Promiser}
	for _, a := range pr.Attrs {
		out = append(out, valueStrings(a.Value)...)
	}
	return out
}

// guardOf returns the parts of the class expression under which a
// promise runs, to be joined by AND: its class guard, and its if:,
// ifvarclass: and the negation of unless: (a class expression, or a
// comparison such as isgreaterthan), converted in sc.
func (c *converter) guardOf(sc *scope, pr *cfengine.Promise) ([]string, *cfengine.Attr, error) {
	var parts []string
	if pr.Guard != "any" {
		parts = append(parts, pr.Guard)
	}
	for _, name := range []string{"if", "ifvarclass", "unless"} {
		a := pr.Attr(name)
		if a == nil {
			continue
		}
		e, err := c.classValue(sc, a.Value)
		if err != nil {
			return nil, a, fmt.Errorf("%s: %w", name, err)
		}
		if name == "unless" {
			e = "!" + group(e, "!")
		}
		parts = append(parts, e)
	}
	return parts, nil, nil
}

// writtenGuard returns the guards of a promise as written, for a note.
func writtenGuard(pr *cfengine.Promise) []string {
	var out []string
	if pr.Guard != "any" {
		out = append(out, fmt.Sprintf("class guard %s", pr.Guard))
	}
	for _, name := range []string{"if", "ifvarclass", "unless"} {
		if a := pr.Attr(name); a != nil {
			text := a.Value.Text
			if a.Value.Kind == cfengine.Call {
				text += "()"
			}
			out = append(out, fmt.Sprintf("%s => %s", name, text))
		}
	}
	return out
}

// group puts an expression in parentheses when it is to be an operand of
// op ("." for AND, "|" for OR, "!" for NOT) and binds less tightly.
func group(e, op string) string {
	e = strings.TrimSpace(e)
	var weaker string
	switch op {
	case "!":
		weaker = ".&|<>=" // a comparison binds tighter, but reads better grouped
	case ".":
		weaker = "|"
	default:
		return e
	}
	depth := 0
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.IndexByte(weaker, c) >= 0:
			return "(" + e + ")"
		}
	}
	return e
}

// join joins expressions with op, grouping each as needed.
func join(parts []string, op string) string {
	if len(parts) == 1 {
		return strings.TrimSpace(parts[0])
	}
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = group(p, op)
	}
	return strings.Join(out, op)
}

// body resolves an attribute that names a body, with its arguments
// expanded in sc, and returns the body and the scope of its attributes.
func (c *converter) body(sc *scope, typ string, a *cfengine.Attr) (*cfengine.Body, *scope, error) {
	name := a.Value.Text
	var args []*cfengine.Value
	switch a.Value.Kind {
	case cfengine.Ident:
	case cfengine.Call:
		args = a.Value.Items
	default:
		return nil, nil, fmt.Errorf("%s must name a body, not be a %s", a.Name, a.Value.Kind)
	}
	b := c.pol.Body(typ, name)
	if b == nil {
		return nil, nil, fmt.Errorf("body %s %s is not in the files given (give the file that defines it too, such as the masterfiles' lib/monitor.cf)", typ, name)
	}
	if len(args) != len(b.Params) {
		return nil, nil, fmt.Errorf("body %s %s (%s) takes %d arguments, given %d", typ, name, b.Pos, len(b.Params), len(args))
	}
	if b.Attr("inherit_from") != nil {
		return nil, nil, fmt.Errorf("body %s %s inherits from another (inherit_from), which import-cf does not follow", typ, name)
	}
	bs := &scope{c: c, bundle: sc.bundle, params: map[string]string{}}
	for i, arg := range args {
		v, err := sc.value(arg)
		if err != nil {
			return nil, nil, fmt.Errorf("argument %d of %s: %w", i+1, name, err)
		}
		bs.params[b.Params[i]] = v
	}
	return b, bs, nil
}

// bodyAttrs returns the attributes of a body that apply everywhere, in
// the order written; one under a class guard is used, and listed at use,
// the attribute that names the body.
func (c *converter) bodyAttrs(use *cfengine.Attr, b *cfengine.Body, what string) []*cfengine.Attr {
	var out []*cfengine.Attr
	seen := map[string]bool{}
	for _, a := range b.Attrs {
		in := fmt.Sprintf(" (body %s %s, %s)", b.Type, b.Name, a.Pos)
		if seen[a.Name] {
			c.note(use.Pos, what+": "+a.Name, fmt.Sprintf("set again under class guard %s; the first one is used", a.Guard)+in, true)
			continue
		}
		seen[a.Name] = true
		if a.Guard != "any" {
			c.note(use.Pos, what+": "+a.Name, fmt.Sprintf("used whatever class guard %s says: logtally bodies have no classes", a.Guard)+in, true)
		}
		out = append(out, a)
	}
	return out
}

// seconds writes n seconds as a logtally duration.
func seconds(n int) string {
	switch {
	case n%3600 == 0:
		return fmt.Sprintf("%dh", n/3600)
	case n%60 == 0:
		return fmt.Sprintf("%dm", n/60)
	}
	return fmt.Sprintf("%ds", n)
}

// minutes converts CFEngine's whole minutes to a logtally duration.
func minutes(s string) (string, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return "", false
	}
	if n == 0 {
		return "0", true
	}
	return seconds(60 * n), true
}

// cfBool reads one of CFEngine's booleans.
func cfBool(s string) (val, ok bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// splitCommand splits a command line into argv as cf-agent does for a
// command run without a shell: at blanks, a quoted part ("..." or '...')
// staying one argument without its quotes.
func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
				continue
			}
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			q, in = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if q != 0 {
		return nil, fmt.Errorf("unbalanced %c quote", q)
	}
	if in {
		out = append(out, cur.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	return out, nil
}

// monitoring returns the classes of a guard that converted measurements
// or classes set, or a built-in observable (added to observe:), and the
// variables of its comparisons that are a converted measurement's.
func (c *converter) monitoring(e *rules.Expr) []string {
	var out []string
	for _, name := range e.Classes() {
		if c.isMonitoring(name) {
			out = append(out, name)
		}
	}
	for _, v := range e.Vars() {
		if c.isMeasured(v) {
			out = append(out, v)
		}
	}
	return out
}

// varRe splits a numeric variable of a measurement: kind and handle.
var varRe = regexp.MustCompile(`^(value|av|dev|z|entropy)_([A-Za-z0-9_]+)$`)

// isMeasured reports whether v (value_h, av_h, dev_h, z_h, entropy_h) is
// a variable of a converted measurement, or of a built-in observable,
// which is then observed.
func (c *converter) isMeasured(v string) bool {
	m := varRe.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	if _, ok := c.handles[m[2]]; ok {
		return true
	}
	return c.observeFor(m[2] + "_unavailable")
}

// isMonitoring reports whether a converted measurement or class sets the
// class, or a built-in observable does, which is then observed.
func (c *converter) isMonitoring(class string) bool {
	if _, ok := c.measClasses[class]; ok {
		return true
	}
	if _, ok := c.classNames[class]; ok {
		return true
	}
	return c.observeFor(class)
}

// observeFor adds to observe: the built-in observable that sets the
// class (www_in for www_in_high_anomaly or entropy_www_in_low), as
// cf-monitord observes it without a rule; false when none does.
func (c *converter) observeFor(class string) bool {
	for _, name := range observe.Builtins() {
		if !strings.HasPrefix(class, name+"_") && !strings.HasPrefix(class, "entropy_"+name+"_") {
			continue
		}
		if _, taken := c.handles[name]; taken {
			continue
		}
		set, err := rules.LoadBytes("observe.yaml", []byte("observe: ["+name+"]\n"))
		if err != nil || len(set.Measurements) != 1 {
			continue
		}
		classes := set.Measurements[0].Classes()
		if !slices.Contains(classes, class) {
			continue
		}
		for _, cl := range classes {
			c.measClasses[cl] = name
		}
		c.handles[name] = cfengine.Pos{}
		c.observed = append(c.observed, name)
		return true
	}
	return false
}

// expr builds a logtally class expression from the parts of a guard,
// expanded in sc.
func (c *converter) expr(sc *scope, parts []string) (*rules.Expr, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("it is not guarded by a class: CFEngine runs it on every run, a logtally report or command when its guard becomes true")
	}
	expanded := make([]string, len(parts))
	for i, p := range parts {
		s, err := sc.expand(p)
		if err != nil {
			return nil, err
		}
		expanded[i] = s
	}
	s := join(expanded, ".")
	e, err := rules.ParseExpr(s)
	if err != nil {
		return nil, fmt.Errorf("its guard %q is not a class expression logtally reads: %w", s, err)
	}
	return e, nil
}

// handleOf returns a handle canonified as CFEngine canonifies class names.
func (c *converter) handleOf(pos cfengine.Pos, what, h string) string {
	ch := rules.CanonifyName(h)
	if ch != h {
		c.note(pos, what, fmt.Sprintf("handle %q written as %s, the name CFEngine gives its classes", h, ch), true)
	}
	return ch
}

// source is where an item of the rule file comes from.
type source struct {
	pos  cfengine.Pos
	what string
}

// item returns a mapping node for a converted promise, with a comment
// naming its source.
func (c *converter) item(pos cfengine.Pos, what, from string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, HeadComment: fmt.Sprintf("from %s (%s)", pos, from)}
	if c.srcOf == nil {
		c.srcOf = map[*yaml.Node]source{}
	}
	c.srcOf[n] = source{pos, what}
	return n
}

// validated renders the rule file and loads it as logtally check does.
// An item it refuses (a conversion this package does not foresee) is
// taken out and listed with the reason, so that the rule file always
// loads.
func (c *converter) validated() []byte {
	for range 10 {
		out := c.render()
		_, err := rules.LoadBytes("import-cf.yaml", out)
		var list rules.ErrorList
		if err == nil || !errors.As(err, &list) {
			return out
		}
		removed := false
		for _, e := range list {
			if c.drop(e) {
				removed = true
			}
		}
		if !removed {
			break
		}
	}
	// Unreachable unless an error names no item: keep nothing rather
	// than write a rule file check refuses.
	c.meas, c.cmds, c.reps, c.classes, c.observed = nil, nil, nil, nil, nil
	c.res.Measurements, c.res.Observables, c.res.Classes, c.res.Commands, c.res.Reports = 0, 0, 0, 0, 0
	return c.render()
}

// itemKey matches the key path of an error: section, index or name.
var itemKey = regexp.MustCompile(`^(measurements|commands|reports)\[(\d+)\]|^classes\.([A-Za-z0-9_]+)`)

// drop takes out the item a rules error is about, and lists it.
func (c *converter) drop(e *rules.Error) bool {
	m := itemKey.FindStringSubmatch(e.Key)
	if m == nil {
		return false
	}
	why := "logtally check refuses it: " + e.Msg
	if e.Hint != "" {
		why += " (" + e.Hint + ")"
	}
	if m[3] != "" {
		for i := 0; c.classes != nil && i+1 < len(c.classes.Content); i += 2 {
			if c.classes.Content[i].Value == m[3] {
				c.note(c.classNames[m[3]], fmt.Sprintf("class %q", m[3]), why, false)
				c.classes.Content = slices.Delete(c.classes.Content, i, i+2)
				c.res.Classes--
				return true
			}
		}
		return false
	}
	i, _ := strconv.Atoi(m[2])
	list, count := &c.meas, &c.res.Measurements
	switch m[1] {
	case "commands":
		list, count = &c.cmds, &c.res.Commands
	case "reports":
		list, count = &c.reps, &c.res.Reports
	}
	if i >= len(*list) {
		return false
	}
	src := c.srcOf[(*list)[i]]
	c.note(src.pos, src.what, why, false)
	*list = slices.Delete(*list, i, i+1)
	*count--
	return true
}

// set appends key: value to a mapping node.
func set(n *yaml.Node, key string, value any) {
	var v yaml.Node
	if err := v.Encode(value); err != nil {
		panic(err) // strings, bools and lists of strings always encode
	}
	if s, ok := value.(string); ok && strings.ContainsAny(s, `\`) && !strings.Contains(s, "\n") {
		v.Style = yaml.SingleQuotedStyle // regexes read as written
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &v)
}

// render writes the rule file.
func (c *converter) render() []byte {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, items []*yaml.Node) {
		if len(items) == 0 {
			return
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key},
			&yaml.Node{Kind: yaml.SequenceNode, Content: items})
	}
	add("measurements", c.meas)
	if len(c.observed) > 0 {
		var names []*yaml.Node
		for _, n := range c.observed {
			names = append(names, &yaml.Node{Kind: yaml.ScalarNode, Value: n})
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "observe",
			HeadComment: "cfenvd's observables, whose classes the converted rules use"},
			&yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: names})
	}
	if c.classes != nil {
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "classes"}, c.classes)
	}
	add("commands", c.cmds)
	add("reports", c.reps)
	if len(doc.Content) == 0 {
		return []byte("# import-cf found nothing to convert\n")
	}
	doc.HeadComment = "Converted from CFEngine policy by logtally import-cf."
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		panic(err)
	}
	return []byte(b.String())
}
