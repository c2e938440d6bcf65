package cfimport

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/rules"
)

// classAttrs are the attributes of a classes: promise import-cf reads.
var classAttrs = []string{"expression", "and", "or", "not", "persistence", "comment", "if", "ifvarclass", "unless"}

// class converts a classes: promise, in one combination of the lists it
// names. A class is converted when it is built on monitoring classes, or
// compares a measurement's variables.
func (c *converter) class(_ *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string) {
	name, err := sc.expand(pr.Promiser)
	if err != nil {
		c.note(pr.Pos, what, err.Error(), false)
		return
	}
	what = fmt.Sprintf("class %q", name)
	if cn := rules.CanonifyName(name); cn != name {
		c.note(pr.Pos, what, fmt.Sprintf("named %s, as CFEngine canonifies it", cn), true)
		name = cn
	}
	refuse := func(pos cfengine.Pos, why string) {
		c.note(pos, what, why, false)
		if _, ok := c.refusedCls[name]; !ok {
			c.refusedCls[name] = pos
		}
	}
	if h, ok := c.measClasses[name]; ok {
		refuse(pr.Pos, fmt.Sprintf("measurement %s sets a class of that name", h))
		return
	}
	var parts []string
	found := false
	for _, a := range pr.Attrs {
		var part string
		var err error
		switch a.Name {
		case "expression":
			part, err = c.classValue(sc, a.Value)
		case "and", "or":
			op := "."
			if a.Name == "or" {
				op = "|"
			}
			part, err = c.classList(sc, a.Value, op)
		case "not":
			part, err = c.classValue(sc, a.Value)
			part = "!" + group(part, "!")
		default:
			continue
		}
		if err != nil {
			refuse(a.Pos, fmt.Sprintf("%s: %v", a.Name, err))
			return
		}
		found = true
		parts = append(parts, part)
	}
	if !found {
		refuse(pr.Pos, "it has no expression, and, or nor not that import-cf reads (an unconditional class, or one a function sets on the host)")
		return
	}
	guard, ga, err := c.guardOf(sc, pr)
	if err != nil {
		refuse(ga.Pos, err.Error())
		return
	}
	parts = append(guard, parts...)
	e, err := c.expr(sc, parts)
	if err != nil {
		refuse(pr.Pos, err.Error())
		return
	}
	if len(c.monitoring(e)) == 0 {
		refuse(pr.Pos, c.whyNotMonitoring(e))
		return
	}
	persist := "0"
	if a := pr.Attr("persistence"); a != nil {
		v, err := sc.value(a.Value)
		d, ok := minutes(v)
		if err != nil || !ok {
			c.note(a.Pos, what+": persistence", fmt.Sprintf("%q is not a number of minutes; not persistent", v), true)
		} else {
			persist = d
		}
	}
	for _, a := range pr.Attrs {
		if !contains(classAttrs, a.Name) {
			c.note(a.Pos, what+": "+a.Name, "no logtally equivalent", true)
		}
	}
	if c.classes == nil {
		c.classes = &yaml.Node{Kind: yaml.MappingNode}
	}
	// A class promised twice is set when either promise holds.
	for i := 0; i+1 < len(c.classes.Content); i += 2 {
		if c.classes.Content[i].Value != name {
			continue
		}
		exprNode := c.classes.Content[i+1].Content[1]
		exprNode.Value = join([]string{exprNode.Value, e.String()}, "|")
		c.note(pr.Pos, what, fmt.Sprintf("promised again (first at %s): set when either holds", c.classNames[name]), true)
		return
	}
	node := &yaml.Node{Kind: yaml.MappingNode}
	set(node, "expression", e.String())
	set(node, "persist", persist)
	if a := pr.Attr("comment"); a != nil {
		if s, err := sc.value(a.Value); err == nil && s != "" {
			set(node, "description", s)
		}
	}
	c.classes.Content = append(c.classes.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: name, HeadComment: fmt.Sprintf("from %s", pr.Pos)}, node)
	c.classNames[name] = pr.Pos
	c.res.Classes++
}

// classList converts and/or lists of class expressions.
func (c *converter) classList(sc *scope, v *cfengine.Value, op string) (string, error) {
	if v.Kind != cfengine.List {
		return c.classValue(sc, v)
	}
	var parts []string
	for _, it := range v.Items {
		p, err := c.classValue(sc, it)
		if err != nil {
			return "", err
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("an empty list")
	}
	return join(parts, op), nil
}

// classValue converts a class expression string, or a comparison of
// $(mon.value_h) with $(mon.av_h).
func (c *converter) classValue(sc *scope, v *cfengine.Value) (string, error) {
	switch v.Kind {
	case cfengine.String:
		s, err := sc.expand(v.Text)
		if err != nil {
			return "", err
		}
		if _, err := rules.ParseExpr(s); err != nil {
			return "", fmt.Errorf("%q is not a class expression logtally reads: %w", s, err)
		}
		return s, nil
	case cfengine.Call:
		switch v.Text {
		case "isgreaterthan", "islessthan":
			return c.comparison(sc, v)
		}
		return "", fmt.Errorf("%s() is evaluated by a running agent on its host", v.Text)
	}
	return "", fmt.Errorf("a %s where a class expression is expected", v.Kind)
}

// comparison converts isgreaterthan and islessthan into a comparison of
// logtally's class expressions: each side a number, or one reference to a
// measurement's variable ($(mon.value_h), $(mon.av_h), ...).
func (c *converter) comparison(sc *scope, v *cfengine.Value) (string, error) {
	if len(v.Items) != 2 || v.Items[0].Kind != cfengine.String || v.Items[1].Kind != cfengine.String {
		return "", fmt.Errorf("%s() takes two strings", v.Text)
	}
	call := fmt.Sprintf("%s(%q, %q)", v.Text, v.Items[0].Text, v.Items[1].Text)
	ksc := *sc
	ksc.keep = true
	var sides []string
	numbers := 0
	for _, it := range v.Items {
		s, err := ksc.expand(it.Text)
		if err != nil {
			return "", err
		}
		s = strings.TrimSpace(s)
		if i, j, inner := nextRef(s); i == 0 && j == len(s) {
			name := rules.CanonicalVar(inner)
			if !c.isMeasured(name) {
				return "", fmt.Errorf("%s: $(%s) is no variable of a measurement converted here nor of an observable", call, inner)
			}
			sides = append(sides, name)
			continue
		}
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return "", fmt.Errorf("%s: %q is neither a number nor a measurement's variable", call, s)
		}
		numbers++
		sides = append(sides, s)
	}
	if numbers == 2 {
		return "", fmt.Errorf("%s compares two numbers", call)
	}
	op := " > "
	if v.Text == "islessthan" {
		op = " < "
	}
	return sides[0] + op + sides[1], nil
}

// whyNotMonitoring explains why a guard names no monitoring class.
func (c *converter) whyNotMonitoring(e *rules.Expr) string {
	for _, name := range e.Classes() {
		for h := range c.handles {
			if strings.HasPrefix(name, h+"_") && c.logHistory[h] {
				return fmt.Sprintf("its guard %s uses %s, a class of measurement %s, whose history_type log keeps no baseline "+
					"and sets no such class, in CFEngine as in logtally: make %s weekly, or compare its value (value_%s > N)", e, name, h, h, h)
			}
		}
	}
	for _, name := range e.Classes() {
		if pos, ok := c.refusedCls[name]; ok {
			return fmt.Sprintf("its guard %s uses class %s, which is not converted (%s)", e, name, pos)
		}
	}
	return fmt.Sprintf("not about monitoring: its guard %s names no class that a measurement or class converted here sets", e)
}

// reportName names a reports: promise by the start of its message.
func reportName(pr *cfengine.Promise) string {
	msg := pr.Promiser
	if len(msg) > 40 {
		msg = msg[:40] + "..."
	}
	return fmt.Sprintf("report %q", msg)
}

// report converts a reports: promise guarded by monitoring classes, in one
// combination of the lists it names.
func (c *converter) report(b *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string) {
	e, ok := c.actionGuard(pr, sc, what)
	if !ok {
		return
	}
	ksc := *sc
	ksc.keep = true
	message, err := ksc.expand(pr.Promiser)
	if err != nil {
		c.note(pr.Pos, what, err.Error(), false)
		return
	}
	for _, ref := range refNames(message) {
		if strings.Contains(rules.CanonicalVar(ref), ".") {
			c.note(pr.Pos, what, fmt.Sprintf("$(%s) left as written: logtally has no such variable", ref), true)
		}
	}
	node := c.item(pr.Pos, what, "bundle "+b.Type+" "+b.Name)
	set(node, "if", e.String())
	set(node, "message", strings.TrimSpace(message))
	for _, a := range pr.Attrs {
		switch a.Name {
		case "if", "ifvarclass", "unless", "comment":
		case "action":
			c.actionBody(sc, a, what, node, false)
		case "report_to_file":
			if s, err := sc.value(a.Value); err == nil && strings.HasPrefix(s, "/") {
				set(node, "to", s)
			} else {
				c.note(a.Pos, what+": report_to_file", "not an absolute path; reported on stderr", true)
			}
		default:
			c.note(a.Pos, what+": "+a.Name, "no logtally equivalent for a report", true)
		}
	}
	c.reps = append(c.reps, node)
	c.res.Reports++
}

// actionGuard returns the guard of a report or command, when it is about
// monitoring; otherwise it lists why not.
func (c *converter) actionGuard(pr *cfengine.Promise, sc *scope, what string) (*rules.Expr, bool) {
	guard, ga, err := c.guardOf(sc, pr)
	if err != nil {
		c.note(ga.Pos, what, err.Error(), false)
		return nil, false
	}
	e, err := c.expr(sc, guard)
	if err != nil {
		c.note(pr.Pos, what, err.Error(), false)
		return nil, false
	}
	if len(c.monitoring(e)) == 0 {
		c.note(pr.Pos, what, c.whyNotMonitoring(e), false)
		return nil, false
	}
	return e, true
}

// command converts a commands: promise guarded by monitoring classes, in
// one combination of the lists it names.
func (c *converter) command(b *cfengine.Bundle, pr *cfengine.Promise, sc *scope, what string) {
	line, err := sc.expand(pr.Promiser)
	if err != nil {
		c.note(pr.Pos, what, err.Error(), false)
		return
	}
	what = fmt.Sprintf("command %q", line)
	e, ok := c.actionGuard(pr, sc, what)
	if !ok {
		return
	}
	if a := pr.Attr("args"); a != nil {
		args, err := sc.value(a.Value)
		if err != nil {
			c.note(a.Pos, what, "args: "+err.Error(), false)
			return
		}
		line += " " + args
	}
	node := c.item(pr.Pos, what, "bundle "+b.Type+" "+b.Name)
	set(node, "if", e.String())
	shell := false
	if a := pr.Attr("contain"); a != nil {
		shell = c.containBody(sc, a, what, node)
	}
	if shell {
		set(node, "command", []string{line})
		set(node, "shell", true)
	} else {
		argv, err := splitCommand(line)
		if err != nil {
			c.note(pr.Pos, what, err.Error(), false)
			return
		}
		set(node, "command", argv)
	}
	for _, a := range pr.Attrs {
		switch a.Name {
		case "if", "ifvarclass", "unless", "comment", "args", "contain":
		case "action":
			c.actionBody(sc, a, what, node, true)
		default:
			c.note(a.Pos, what+": "+a.Name, "no logtally equivalent for a command", true)
		}
	}
	c.cmds = append(c.cmds, node)
	c.res.Commands++
}

// containBody converts a contain body; it returns whether the command
// runs through a shell.
func (c *converter) containBody(sc *scope, a *cfengine.Attr, what string, node *yaml.Node) bool {
	shell := false
	c.bodyValues(sc, a, "contain", what, func(at *cfengine.Attr, v, in string) {
		switch at.Name {
		case "useshell":
			b, ok := cfBool(v)
			shell = v == "useshell" || (ok && b)
			if shell {
				c.note(a.Pos, what, "runs through /bin/sh -c (useshell); logtally warns about it"+in, true)
			}
		case "exec_timeout":
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				set(node, "timeout", seconds(n))
			}
		default:
			c.note(a.Pos, what+": contain "+at.Name, "no logtally equivalent"+in, true)
		}
	})
	return shell
}

// actionBody converts the ifelapsed and expireafter of a report's or a
// command's action body.
func (c *converter) actionBody(sc *scope, a *cfengine.Attr, what string, node *yaml.Node, isCommand bool) {
	c.bodyValues(sc, a, "action", what, func(at *cfengine.Attr, v, in string) {
		d, isMin := minutes(v)
		switch {
		case at.Name == "ifelapsed" && isMin:
			if d != "0" {
				set(node, "ifelapsed", d)
			}
		case at.Name == "expireafter" && isMin && isCommand:
			if d == "0" {
				return
			}
			set(node, "expireafter", d)
			if !hasKey(node, "timeout") {
				// logtally kills every command at its timeout, which
				// must come after expireafter; CFEngine has none.
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				set(node, "timeout", fmt.Sprintf("%dm", n+1))
				c.note(a.Pos, what, fmt.Sprintf("timeout %dm added: logtally kills a command at its timeout, which must come after expireafter", n+1)+in, true)
			}
		default:
			c.note(a.Pos, what+": action "+at.Name, "no logtally equivalent"+in, true)
		}
	})
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
