package cfimport

import (
	"errors"
	"fmt"
	"strconv"
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

// measurementName names a measurements: promise by its handle as written.
func measurementName(pr *cfengine.Promise) string {
	if h := pr.Attr("handle"); h != nil && h.Value.Kind == cfengine.String {
		return fmt.Sprintf("measurement %q", h.Value.Text)
	}
	return fmt.Sprintf("measurement %q", pr.Promiser)
}

// measurement converts a measurements: promise, in one combination of the
// lists it names.
func (c *converter) measurement(b *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string) {
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
	case "":
		dataType = "string" // cf-monitord's default
		c.note(pr.Pos, what, "it has no data_type; string, cf-monitord's default, is used", true)
		set(node, "data_type", dataType)
	case "int", "real", "string", "slist":
		set(node, "data_type", dataType)
	case "counter":
	default:
		refuse(da.Pos, fmt.Sprintf("unknown data_type %q", dataType))
		return
	}
	text := dataType == "string" || dataType == "slist"

	history, hya, ok := str("history_type")
	if !ok {
		return
	}
	switch history {
	case "":
		history = "weekly"
		if !text {
			c.note(pr.Pos, what, "it has no history_type; weekly, logtally's default, is used", true)
		}
	case "weekly", "scalar", "static", "log":
	default:
		refuse(hya.Pos, fmt.Sprintf("unknown history_type %q", history))
		return
	}
	if text && history == "weekly" {
		history = "scalar" // cf-monitord keeps a text's last value, as logtally does
	}
	growing, ok := c.matchValue(pr, sc, node, what, stream, dataType)
	if !ok {
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
	c.measurementAction(pr, sc, what, node, stream == "pipe" || !growing)
	for _, g := range writtenGuard(pr) {
		c.note(pr.Pos, what, fmt.Sprintf("measured whatever its %s says: logtally measurements have no condition", g), true)
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
	m := &rules.Measurement{Handle: h, HistoryType: history, DataType: dataType}
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

// matchValue converts the match_value body of a measurement into node;
// growing says whether the stream is a followed file.
func (c *converter) matchValue(pr *cfengine.Promise, sc *scope, node *yaml.Node, what, stream, dataType string) (growing, ok bool) {
	refuse := func(pos cfengine.Pos, why string) (bool, bool) { c.note(pos, what, why, false); return false, false }
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
	failed := false
	get := func(name string) (string, *cfengine.Attr) {
		var a *cfengine.Attr
		for _, x := range attrs {
			if x.Name == name {
				a = x
			}
		}
		if a == nil || failed {
			return "", nil
		}
		s, err := bs.value(a.Value)
		if err != nil {
			refuse(mv.Pos, fmt.Sprintf("%s: %v", name, err)+in(a))
			failed = true
			return "", nil
		}
		return s, a
	}
	sel, sa := get("select_line_matching")
	num, na := get("select_line_number")
	ex, ea := get("extraction_regex")
	policy, pa := get("select_multiline_policy")
	grow, ga := get("track_growing_file")
	if failed {
		return false, false
	}
	if ga != nil {
		g, valid := cfBool(grow)
		if !valid {
			return refuse(mv.Pos, fmt.Sprintf("track_growing_file %q is not a boolean", grow)+in(ga))
		}
		growing = g && stream == "file" // CFEngine's default is false
	}
	switch {
	case na != nil && sa != nil:
		return refuse(mv.Pos, "select_line_number and select_line_matching together (cf-monitord takes the n-th line and the matching ones): "+
			"logtally takes one or the other"+in(na))
	case na != nil:
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 1 {
			return refuse(mv.Pos, fmt.Sprintf("select_line_number %q is not a line number from 1", num)+in(na))
		}
		if growing {
			return refuse(mv.Pos, fmt.Sprintf("select_line_number %d of a followed file (track_growing_file true): "+
				"a line number needs a stream read whole each time", n)+in(na))
		}
		set(node, "select_line_number", n)
	case sa == nil || sel == "":
		return refuse(mv.Pos, fmt.Sprintf("body match_value %s has neither select_line_matching nor select_line_number", body.Name))
	default:
		if err := checkRegex(match.Spec{Select: sel}); err != nil {
			return refuse(mv.Pos, err.Error()+in(sa))
		}
		set(node, "select_line_matching", sel)
	}
	if ea != nil {
		if err := checkRegex(match.Spec{Select: ".*", Extract: ex}); err != nil {
			return refuse(mv.Pos, err.Error()+in(ea))
		}
		set(node, "extraction_regex", ex)
	} else if dataType == "int" || dataType == "real" {
		return refuse(mv.Pos, fmt.Sprintf("a %s measurement needs an extraction_regex, and body match_value %s has none", dataType, body.Name))
	}
	switch policy {
	case "":
	case "sum", "average", "first", "last":
		if dataType == "int" || dataType == "real" {
			set(node, "select_multiline_policy", policy)
		}
	default:
		// CFEngine reads an unknown policy as average.
		c.note(mv.Pos, what, fmt.Sprintf("select_multiline_policy %q is not a policy; average, as CFEngine reads it", policy)+in(pa), true)
		set(node, "select_multiline_policy", "average")
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
	return growing, true
}

// measurementAction converts the ifelapsed and expireafter of a
// measurement's action body: logtally has them for a stream read whole
// (snapshot); a followed log's lines belong to the intervals they arrive
// in.
func (c *converter) measurementAction(pr *cfengine.Promise, sc *scope, what string, node *yaml.Node, snapshot bool) {
	a := pr.Attr("action")
	if a == nil {
		return
	}
	c.bodyValues(sc, a, "action", what, func(at *cfengine.Attr, v, in string) {
		d, isMin := minutes(v)
		switch {
		case at.Name != "ifelapsed" && at.Name != "expireafter":
			c.note(a.Pos, what+": action "+at.Name, "no logtally equivalent for a measurement"+in, true)
		case !isMin:
			c.note(a.Pos, what+": "+at.Name+" "+v, "not a number of minutes"+in, true)
		case d == "0":
			// Every time: logtally's default.
		case !snapshot:
			c.note(a.Pos, what+": "+at.Name+" "+v, "a followed log's lines belong to the intervals they arrive in; "+
				at.Name+" applies to a stream read whole (a pipe, or track_growing_file false)"+in, true)
		default:
			set(node, at.Name, d)
		}
	})
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
