package cfimport

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// measurementAttrs are the attributes a measurements: promise may have;
// the first ones are converted, the others listed.
var measurementAttrs = []string{"handle", "stream_type", "data_type", "history_type", "units",
	"match_value", "action", "comment"}

// measurement converts one measurements: promise, once per combination
// of the lists it names.
func (c *converter) measurement(b *cfengine.Bundle, pr *cfengine.Promise) {
	what := fmt.Sprintf("measurement %q", pr.Promiser)
	if h := pr.Attr("handle"); h != nil && h.Value.Kind == cfengine.String {
		what = fmt.Sprintf("measurement %q", h.Value.Text)
	}
	iters, err := c.iterations(b.Name, promiseStrings(pr))
	if err != nil {
		c.note(pr.Pos, what, err.Error(), false)
		return
	}
	for _, it := range iters {
		c.measurementOnce(b, pr, &scope{c: c, bundle: b.Name, iter: it}, what)
	}
}

func (c *converter) measurementOnce(b *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string) {
	refuse := func(pos cfengine.Pos, why string) { c.note(pos, what, why, false) }
	str := func(name string) (string, *cfengine.Attr, bool) {
		a := pr.Attr(name)
		if a == nil {
			return "", nil, true
		}
		s, err := sc.value(a.Value)
		if err != nil {
			refuse(a.Pos, fmt.Sprintf("%s: %v", name, err))
			return "", a, false
		}
		return s, a, true
	}
	h, ha, ok := str("handle")
	if !ok {
		return
	}
	if ha == nil || h == "" {
		refuse(pr.Pos, "it has no handle; cf-monitord does not measure it either")
		return
	}
	what = fmt.Sprintf("measurement %q", h)
	h = c.handleOf(ha.Pos, what, h)
	if !rules.ValidClassName(h) {
		refuse(ha.Pos, fmt.Sprintf("handle %q does not make a class name", h))
		return
	}
	if prev, dup := c.handles[h]; dup {
		refuse(ha.Pos, fmt.Sprintf("handle %s was already used at %s", h, prev))
		return
	}
	path, err := sc.expand(pr.Promiser)
	if err != nil {
		refuse(pr.Pos, fmt.Sprintf("promiser: %v", err))
		return
	}
	if strings.TrimSpace(path) == "" {
		refuse(pr.Pos, "its promiser, the file or command to read, is empty")
		return
	}
	node := c.item(pr.Pos, what, "bundle "+b.Type+" "+b.Name)
	set(node, "handle", h)

	stream, sa, ok := str("stream_type")
	if !ok {
		return
	}
	switch stream {
	case "file":
		if strings.ContainsAny(path, "*?[") {
			c.note(pr.Pos, what, fmt.Sprintf("path %q holds * ? or [, which logtally reads as a glob", path), true)
		}
		set(node, "path", path)
	case "pipe":
		argv, err := splitCommand(path)
		if err != nil {
			refuse(pr.Pos, fmt.Sprintf("command %q: %v", path, err))
			return
		}
		set(node, "stream_type", "pipe")
		set(node, "path", argv)
		set(node, "pipe_mode", "interval") // cf-monitord runs it at each sample
	case "":
		refuse(pr.Pos, "it has no stream_type (file or pipe): cf-monitord reads nothing for it")
		return
	default:
		refuse(sa.Pos, fmt.Sprintf("stream_type %q: only file and pipe exist", stream))
		return
	}

	dataType, da, ok := str("data_type")
	if !ok {
		return
	}
	switch dataType {
	case "counter", "int", "real":
		if dataType != "counter" {
			set(node, "data_type", dataType)
		}
	case "string", "slist", "":
		pos := pr.Pos
		if da != nil {
			pos = da.Pos
		}
		refuse(pos, fmt.Sprintf("data_type %q (CFEngine's default is string): logtally measures numbers; "+
			"string and slist measurements (the last value, the set of values) are not built yet", dataType))
		return
	default:
		refuse(da.Pos, fmt.Sprintf("unknown data_type %q", dataType))
		return
	}

	history, hya, ok := str("history_type")
	if !ok {
		return
	}
	switch history {
	case "":
		history = "weekly"
		c.note(pr.Pos, what, "it has no history_type; weekly, logtally's default, is used", true)
	case "weekly", "scalar", "static", "log":
	default:
		refuse(hya.Pos, fmt.Sprintf("unknown history_type %q", history))
		return
	}
	if !c.matchValue(pr, sc, node, what, stream, dataType) {
		return
	}
	if history != "weekly" {
		set(node, "history_type", history)
	}
	if units, _, ok := str("units"); ok && units != "" {
		set(node, "units", units)
	}
	if comment, _, ok := str("comment"); ok && comment != "" {
		set(node, "description", comment)
	}
	c.measurementAction(pr, sc, what)
	for _, g := range guardOf(pr) {
		c.note(pr.Pos, what, fmt.Sprintf("measured whatever %q says: logtally measurements have no class guard", g), true)
	}
	if a := evaluatedGuard(pr); a != nil {
		c.note(a.Pos, what, fmt.Sprintf("measured whatever its %s => %s() says: logtally measurements have no condition", a.Name, a.Value.Text), true)
	}
	if pr.Promisee != nil {
		c.note(pr.Promisee.Pos, what+": promisee", "a promisee documents, logtally has no place for it", true)
	}
	for _, a := range pr.Attrs {
		switch {
		case contains(measurementAttrs, a.Name), a.Name == "if", a.Name == "ifvarclass", a.Name == "unless":
		default:
			c.note(a.Pos, what+": "+a.Name, "no logtally equivalent", true)
		}
	}
	c.handles[h] = pr.Pos
	m := &rules.Measurement{Handle: h, HistoryType: history}
	if history == "static" {
		m.HistoryType = rules.HistoryScalar
	}
	for _, cl := range m.Classes() {
		c.measClasses[cl] = h
	}
	if history == "log" {
		if c.logHistory == nil {
			c.logHistory = map[string]bool{}
		}
		c.logHistory[h] = true
	}
	c.meas = append(c.meas, node)
	c.res.Measurements++
}

// matchValue converts the match_value body of a measurement into node.
func (c *converter) matchValue(pr *cfengine.Promise, sc *scope, node *yaml.Node, what, stream, dataType string) bool {
	refuse := func(pos cfengine.Pos, why string) bool { c.note(pos, what, why, false); return false }
	mv := pr.Attr("match_value")
	if mv == nil {
		return refuse(pr.Pos, "it has no match_value: cf-monitord selects no line")
	}
	body, bs, err := c.body(sc, "match_value", mv)
	if err != nil {
		return refuse(mv.Pos, err.Error())
	}
	attrs := c.bodyAttrs(mv, body, what)
	// Items about the body's attributes are placed at the promise's
	// match_value, and say where in the body.
	in := func(a *cfengine.Attr) string { return fmt.Sprintf(" (body match_value %s, %s)", body.Name, a.Pos) }
	get := func(name string) (string, *cfengine.Attr, bool) {
		var a *cfengine.Attr
		for _, x := range attrs {
			if x.Name == name {
				a = x
			}
		}
		if a == nil {
			return "", nil, true
		}
		s, err := bs.value(a.Value)
		if err != nil {
			refuse(mv.Pos, fmt.Sprintf("%s: %v", name, err)+in(a))
			return "", a, false
		}
		return s, a, true
	}
	sel, sa, ok := get("select_line_matching")
	if !ok {
		return false
	}
	if num, na, ok := get("select_line_number"); !ok {
		return false
	} else if na != nil {
		return refuse(mv.Pos, fmt.Sprintf("select_line_number %s: reading the n-th line is not built yet; "+
			"give a select_line_matching that only that line matches", num)+in(na))
	}
	if sa == nil || sel == "" {
		return refuse(mv.Pos, fmt.Sprintf("body match_value %s has no select_line_matching", body.Name))
	}
	if err := checkRegex(match.Spec{Select: sel}); err != nil {
		return refuse(mv.Pos, err.Error()+in(sa))
	}
	set(node, "select_line_matching", sel)
	ex, ea, ok := get("extraction_regex")
	if !ok {
		return false
	}
	if ea != nil {
		if err := checkRegex(match.Spec{Select: ".*", Extract: ex}); err != nil {
			return refuse(mv.Pos, err.Error()+in(ea))
		}
		set(node, "extraction_regex", ex)
	} else if dataType != "counter" {
		return refuse(mv.Pos, fmt.Sprintf("a %s measurement needs an extraction_regex, and body match_value %s has none", dataType, body.Name))
	}
	policy, pa, ok := get("select_multiline_policy")
	if !ok {
		return false
	}
	switch policy {
	case "":
	case "sum", "average", "first", "last":
		if dataType != "counter" {
			set(node, "select_multiline_policy", policy)
		}
	default:
		// CFEngine reads an unknown policy as average.
		c.note(mv.Pos, what, fmt.Sprintf("select_multiline_policy %q is not a policy; average, as CFEngine reads it", policy)+in(pa), true)
		set(node, "select_multiline_policy", "average")
	}
	grow, ga, ok := get("track_growing_file")
	if !ok {
		return false
	}
	growing := false // CFEngine's default
	if ga != nil {
		g, valid := cfBool(grow)
		if !valid {
			return refuse(mv.Pos, fmt.Sprintf("track_growing_file %q is not a boolean", grow)+in(ga))
		}
		growing = g
	}
	if stream == "file" && !growing {
		set(node, "track_growing_file", false) // the whole file each time, as CFEngine's default
	}
	for _, a := range attrs {
		switch a.Name {
		case "select_line_matching", "select_line_number", "extraction_regex", "select_multiline_policy", "track_growing_file":
		default:
			c.note(mv.Pos, what+": "+a.Name, "not a match_value attribute logtally has"+in(a), true)
		}
	}
	return true
}

// measurementAction lists what an action body asks of a measurement:
// logtally samples every measurement every interval.
func (c *converter) measurementAction(pr *cfengine.Promise, sc *scope, what string) {
	a := pr.Attr("action")
	if a == nil {
		return
	}
	body, bs, err := c.body(sc, "action", a)
	if err != nil {
		c.note(a.Pos, what+": action", err.Error(), true)
		return
	}
	for _, at := range c.bodyAttrs(a, body, what) {
		in := fmt.Sprintf(" (body action %s, %s)", body.Name, at.Pos)
		v, err := bs.value(at.Value)
		if err != nil {
			c.note(a.Pos, what+": action "+at.Name, err.Error()+in, true)
			continue
		}
		switch {
		case at.Name == "ifelapsed" && (v == "0" || v == ""):
			// Sampled every time: logtally's way.
		case at.Name == "ifelapsed":
			c.note(a.Pos, what+": ifelapsed "+v, "sampled every interval: a measurement's own ifelapsed is not built yet"+in, true)
		case at.Name == "expireafter":
			c.note(a.Pos, what+": expireafter "+v, "a measurement's expireafter is not built yet (a logtally measurement holds no lock that could expire)"+in, true)
		default:
			c.note(a.Pos, what+": action "+at.Name, "no logtally equivalent for a measurement"+in, true)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkRegex compiles a pattern as logtally will: CFEngine's are PCRE,
// logtally's regexp2 (.NET), which refuses a few PCRE forms such as
// possessive quantifiers.
func checkRegex(sp match.Spec) error {
	_, err := match.Compile([]match.Spec{sp}, match.Options{})
	var me *match.Error
	if errors.As(err, &me) {
		pat := sp.Select
		if me.Field == match.FieldExtract {
			pat = sp.Extract
		}
		return fmt.Errorf("%s %q: %v (logtally's regexes are regexp2's, PCRE-like)", me.Field, pat, me.Err)
	}
	return err
}
