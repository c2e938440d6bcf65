package rules

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Priority is the importance of a notice, syslog's severities from info to
// crit; the zero Priority is unset.
type Priority int

// Priorities, in increasing order.
const (
	PriorityInfo Priority = iota + 1
	PriorityNotice
	PriorityWarning
	PriorityErr
	PriorityCrit
)

// DefaultPriority is the priority of a notice that no rule gives one.
const DefaultPriority = PriorityNotice

var priorityNames = []string{"info", "notice", "warning", "err", "crit"}

// String returns the priority's name: info, notice, warning, err or crit.
func (p Priority) String() string {
	if p < PriorityInfo || p > PriorityCrit {
		return ""
	}
	return priorityNames[p-1]
}

// ParsePriority reads a priority name (error is err's synonym, as
// syslog's).
func ParsePriority(s string) (Priority, bool) {
	if s == "error" {
		s = "err"
	}
	i := slices.Index(priorityNames, s)
	return Priority(i + 1), i >= 0
}

// Notice actions: what the policy does with a notice.
const (
	ActionIgnore = "ignore" // recorded in the notice log as ignored, nothing else
	ActionLog    = "log"    // recorded in the notice log only
	ActionAlarm  = "alarm"  // and delivered as a report (to:)
	ActionPage   = "page"   // and a notification command run (command:)
)

// PolicyEntry is one entry of the notice policy: the notices it matches
// (class pattern, predicate, priority) and what is done with them.
type PolicyEntry struct {
	Pos    Pos
	Handle string // names its suppression state; derived when not given
	// Class is a shell pattern (path.Match: *, ?, [...]) on the notice's
	// class name; "*" matches every notice.
	Class string
	If    *Expr    // predicate, evaluated on the interval; nil for any
	Min   Priority // the lowest priority it matches; 0 for every one
	// Action is ActionIgnore, ActionLog, ActionAlarm or ActionPage.
	Action  string
	To      string        // alarm: stderr, syslog or a file path
	Command []string      // page: argv, never a shell
	Timeout time.Duration // page
	Message string        // alarm, page: $(var) template; "" for the default
	// Suppress is the window after a notice is acted on in which the same
	// notice (and, with PerKey, from the same source) is only counted.
	Suppress time.Duration
	PerKey   bool
	// Tally is how often a tally line of the suppressed notices is
	// written; 0 is Suppress.
	Tally time.Duration
}

// Matches reports whether the entry's class pattern and priority match a
// notice; its predicate is the caller's to evaluate.
func (p *PolicyEntry) Matches(class string, prio Priority) bool {
	ok, _ := path.Match(p.Class, class)
	return ok && prio >= p.Min
}

// policyKeys are the keys of a policy entry.
var policyKeys = []string{"class", "if", "priority", "action", "to", "command", "timeout", "message",
	"suppress", "per", "tally", "handle", "for"}

// policy validates the policy: section of a file.
func (l *loader) policy(o *obj) {
	o.checkKeys(policyKeys)
	p := &PolicyEntry{Pos: o.selfPos(), Class: "*"}
	if c, ok := o.str("class"); ok {
		if _, err := path.Match(c, ""); err != nil || c == "" {
			o.errf("class", "a class name or a pattern such as ssh_*_anomaly", "invalid class pattern %s", strconv.Quote(c))
		} else {
			p.Class = c
			if msg, _, bad := leftoverVar(c); bad {
				o.warnf("class", "%s, and no class name has one, so the entry matches no notice", msg)
			}
		}
	}
	if s, ok := o.str("if"); ok {
		p.If = o.expr("if", s)
	}
	p.Min = o.priority("priority")
	p.Action = o.enum("action", "", ActionIgnore, ActionLog, ActionAlarm, ActionPage)
	if !o.has("action") {
		o.missing("action", "ignore, log, alarm or page", "")
	}
	const argvHint = "argv list, no shell: command: [/usr/local/bin/page-oncall, $(notice), $(key)]"
	only := func(key, action, hint string) {
		if o.has(key) && p.Action != action && p.Action != "" {
			o.errAt(o.keyPos(key), child(o.path, key), hint, "only with action: %s", action)
		}
	}
	only("to", ActionAlarm, "")
	only("command", ActionPage, "")
	only("timeout", ActionPage, "")
	if o.has("message") && p.Action != ActionAlarm && p.Action != ActionPage && p.Action != "" {
		o.errAt(o.keyPos("message"), child(o.path, "message"), "", "only with action: alarm or page")
	}
	p.To = o.destination()
	if p.Action == ActionPage {
		p.Command = o.argv("command", argvHint, "required key command is missing for action page")
		if len(p.Command) > 0 {
			l.program(o, "command", p.Command[0], true, true)
		}
	}
	p.Timeout = o.commandTimeout()
	p.Message, _ = o.str("message")
	p.Suppress = o.duration("suppress", 0)
	p.PerKey = o.per()
	if p.PerKey && p.Suppress == 0 {
		o.errAt(o.keyPos("per"), child(o.path, "per"), "add suppress: with a window, e.g. 1h", "per: key is the scope of suppress:, which is missing")
	}
	p.Tally = o.duration("tally", 0)
	if o.has("tally") && p.Suppress == 0 {
		o.errAt(o.keyPos("tally"), child(o.path, "tally"), "add suppress: with a window, e.g. 1h", "a tally counts suppressed notices: add suppress:")
	}
	if p.Tally == 0 {
		p.Tally = p.Suppress
	}
	e := &policyEntry{p: p, o: o, explicit: o.has("handle")}
	p.Handle = o.handle("handle", false)
	if !e.explicit {
		base := identifierOf(strings.ReplaceAll(p.Class, "*", " any "))
		if p.Class == "*" && p.Min > 0 {
			base = p.Min.String()
		}
		if base == "" || base[0] >= '0' && base[0] <= '9' {
			base = "policy_" + base
		}
		p.Handle = base + "_" + p.Action
	}
	l.policies = append(l.policies, e)
}

// priority validates a priority name; 0 (unset) when key is absent.
func (o *obj) priority(key string) Priority {
	s, ok := o.str(key)
	if !ok {
		return 0
	}
	p, ok := ParsePriority(s)
	if !ok {
		o.errf(key, "info, notice, warning, err or crit", "unknown priority %s%s", strconv.Quote(s), didYouMeanSuffix(s, priorityNames))
		return 0
	}
	return p
}

func didYouMeanSuffix(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return " (did you mean " + m + "?)"
	}
	return ""
}

// policyEntry is a policy entry under validation.
type policyEntry struct {
	p        *PolicyEntry
	o        *obj
	explicit bool
}

// checkPolicies gives derived policy handles a number when they come out
// the same, and reports handles written twice.
func (l *loader) checkPolicies() {
	taken := map[string]*policyEntry{}
	for _, e := range l.policies {
		if !e.explicit {
			continue
		}
		if prev, dup := taken[e.p.Handle]; dup {
			e.o.errf("handle", "", "policy handle %s already defined at %s", e.p.Handle, prev.o.valPos("handle"))
			continue
		}
		taken[e.p.Handle] = e
	}
	for _, e := range l.policies {
		if e.explicit {
			continue
		}
		name := e.p.Handle
		for n := 2; taken[name] != nil; n++ {
			name = e.p.Handle + "_" + strconv.Itoa(n)
		}
		e.p.Handle = name
		taken[name] = e
	}
}

// ClassPriority is a priority given to the notices of the classes that
// match a pattern (settings.priorities).
type ClassPriority struct {
	Pattern  string
	Priority Priority
}

// PriorityOf returns the priority of the notice of class: the class's own
// priority:, else the highest of the commands and reports whose guard names
// it, else the most specific pattern of settings.priorities that matches
// it (the longest), else DefaultPriority.
func (s *Set) PriorityOf(class string) Priority {
	for _, c := range s.Classes {
		if c.Name == class && c.Priority > 0 {
			return c.Priority
		}
	}
	var best Priority
	for _, c := range s.Commands {
		if c.Priority > best && slices.Contains(c.If.Classes(), class) {
			best = c.Priority
		}
	}
	for _, r := range s.Reports {
		if r.Priority > best && slices.Contains(r.If.Classes(), class) {
			best = r.Priority
		}
	}
	if best > 0 {
		return best
	}
	bestLen := -1
	for _, cp := range s.Settings.Priorities {
		if ok, _ := path.Match(cp.Pattern, class); ok && len(cp.Pattern) > bestLen {
			best, bestLen = cp.Priority, len(cp.Pattern)
		}
	}
	if best > 0 {
		return best
	}
	return DefaultPriority
}

// NoticeClasses returns the classes whose rises are notices: the user
// classes, the classes named by an expression (of a user class, a command,
// a report or a policy predicate) and those matching a pattern of
// settings.priorities; not the hard classes, which change with the clock.
// A pattern is tested on a class when it rises, with IsNoticeClass.
func (s *Set) NoticeClasses() map[string]bool {
	out := map[string]bool{}
	add := func(e *Expr) {
		if e == nil {
			return
		}
		for _, c := range e.Classes() {
			if c != "any" && c != "nothing" && !IsTimeClass(c) {
				out[c] = true
			}
		}
	}
	for _, c := range s.Classes {
		out[c.Name] = true
		add(c.Expr)
	}
	for _, c := range s.Commands {
		add(c.If)
	}
	for _, r := range s.Reports {
		add(r.If)
	}
	for _, p := range s.Policy {
		add(p.If)
	}
	for _, c := range HostClasses(s.Settings.Host) {
		delete(out, c)
	}
	return out
}

// IsNoticeClass reports whether a rise of class is a notice: it is in
// named (NoticeClasses), or matches a pattern of settings.priorities.
func (s *Set) IsNoticeClass(class string, named map[string]bool) bool {
	if named[class] {
		return true
	}
	for _, cp := range s.Settings.Priorities {
		if ok, _ := path.Match(cp.Pattern, class); ok {
			return true
		}
	}
	return false
}

// MeasurementsOfClass returns the measurements a class belongs to or, for
// a user class, those its expression refers to.
func (s *Set) MeasurementsOfClass(class string) []string {
	for _, m := range s.Measurements {
		if slices.Contains(m.Classes(), class) {
			return []string{m.Handle}
		}
	}
	for _, c := range s.Classes {
		if c.Name == class {
			return s.measurementsOf(c.Expr)
		}
	}
	return nil
}
