package actions

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/rules"
	"github.com/logtally/logtally/state"
)

// Notice kinds and actions, in Notice.Type and Notice.Action.
const (
	NoticeType = "notice" // a class rise
	TallyType  = "tally"  // a count of suppressed notices
	// ActionSuppressed is the action of a notice matched by a policy entry
	// within that entry's suppression window: it is only counted.
	ActionSuppressed = "suppressed"
)

// State keys of the notice policy.
const (
	// prefixSuppress + <policy>/<class>[/<key>]: until when the notice (of
	// that source) is suppressed, RFC 3339.
	prefixSuppress = "notice/suppress/"
	// prefixTally + <policy>/<class>: the suppressed notices being
	// counted (tally).
	prefixTally = "notice/tally/"
	// prefixStretch + <class>: the sources of a notice class's current
	// true stretch, a JSON list (newSources).
	prefixStretch = "notice/stretch/"
)

// maxTallyKeys bounds the distinct sources a tally remembers.
const maxTallyKeys = 100

// Notice is one notice, or one tally line, as the notice log records it.
type Notice struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`   // NoticeType or TallyType
	Notice   string    `json:"notice"` // the class that rose
	Priority string    `json:"priority"`
	// Action is what was done: ignore, log, alarm, page or suppressed
	// (for a tally line, the action of its policy entry).
	Action string `json:"action"`
	// Policy is the handle of the policy entry that matched; "" when none
	// did (the notice is logged).
	Policy  string   `json:"policy,omitempty"`
	Key     string   `json:"key,omitempty"` // the source, text from a log line
	Message string   `json:"message"`
	Command []string `json:"command,omitempty"` // page: argv as expanded
	To      string   `json:"to,omitempty"`      // alarm: where it went
	// Until is the end of the suppression window the notice opened.
	Until time.Time `json:"suppressed_until,omitzero"`
	// Tally lines: how many notices were suppressed, from how many
	// sources, over which period.
	Count  int    `json:"suppressed,omitempty"`
	Keys   int    `json:"keys,omitempty"`
	Period string `json:"period,omitempty"`

	firing *Firing // alarm or page to deliver
}

// tallyRecord is a tally being counted.
type tallyRecord struct {
	Since  time.Time `json:"since"`
	Count  int       `json:"count"`
	Keys   []string  `json:"keys,omitempty"`
	More   bool      `json:"more,omitempty"` // more distinct keys than kept
	Action string    `json:"action"`
	To     string    `json:"to,omitempty"`
}

// notices turns the classes that rose this interval into notices and
// applies the policy to them (see the package comment), then writes the
// tally lines that are due. A class that stays set is a notice again for
// each new source, where the policy entry it matches has per: key (see
// newSources).
func (e *Engine) notices(tx *state.Tx, d *Decision, in *Interval, x *expander, isSet, isFresh func(string) bool, value func(string) (float64, bool)) error {
	now := in.End
	if err := e.expireSuppressions(tx, now); err != nil {
		return err
	}
	rose := map[string]bool{}
	for _, c := range d.Changes {
		if !c.Set || !e.set.IsNoticeClass(c.Name, e.named) {
			continue
		}
		rose[c.Name] = true
		n, keyOf := e.notice(c.Name, in)
		if err := e.setStretch(tx, c.Name, nil, n.Key); err != nil {
			return err
		}
		p := e.policyOf(&n, isSet, value)
		if err := e.apply(tx, d, p, n, keyOf, in, x); err != nil {
			return err
		}
	}
	if err := e.newSources(tx, d, in, x, rose, isSet, isFresh, value); err != nil {
		return err
	}
	return e.tallies(tx, d, now)
}

// notice is the notice of a class this interval, with its source (the top
// key of the first of its measurements that has one) and that
// measurement's handle.
func (e *Engine) notice(class string, in *Interval) (n Notice, keyOf string) {
	n = Notice{Time: in.End, Type: NoticeType, Notice: class, Priority: e.set.PriorityOf(class).String(),
		Action: rules.ActionLog}
	for _, h := range e.set.MeasurementsOfClass(class) {
		if k := in.Keys[rules.VarTop+h]; k != "" {
			n.Key, keyOf = k, h
			break
		}
	}
	n.Message = e.noticeText(class, n.Priority, n.Key, in)
	return n, keyOf
}

// policyOf returns the first policy entry that matches a notice, or nil.
func (e *Engine) policyOf(n *Notice, isSet func(string) bool, value func(string) (float64, bool)) *rules.PolicyEntry {
	prio, _ := rules.ParsePriority(n.Priority)
	for _, entry := range e.set.Policy {
		if entry.Matches(n.Notice, prio) && (entry.If == nil || entry.If.EvalVars(isSet, value)) {
			return entry
		}
	}
	return nil
}

// apply records a notice with what its policy entry p (nil: none, it is
// logged) does with it: suppressed within a window, or acted on.
func (e *Engine) apply(tx *state.Tx, d *Decision, p *rules.PolicyEntry, n Notice, keyOf string, in *Interval, x *expander) error {
	if p != nil {
		n.Policy, n.Action = p.Handle, p.Action
		suppressed, err := e.suppress(tx, p, &n, in.End)
		if err != nil {
			return err
		}
		if !suppressed {
			e.act(p, &n, keyOf, in, x)
		}
	}
	d.Notices = append(d.Notices, n)
	return nil
}

// newSources makes a notice of each new source of a notice class that
// stays set, as a per: key command fires for each (perKeyRise): while the
// class is set by the interval's own classes (not only held by
// persistence, which holds a storm's class for 10 minutes by default), a
// top source that its current true stretch has not seen yet is a notice
// when the policy entry that matches it has per: key, so that a second
// storm from another address pages at once however close behind the
// first. Without per: key the policy is about the class, which did not
// rise: nothing. The sources of a stretch are stored under
// notice/stretch/<class>, and forgotten when the class falls.
func (e *Engine) newSources(tx *state.Tx, d *Decision, in *Interval, x *expander, rose map[string]bool,
	isSet, isFresh func(string) bool, value func(string) (float64, bool)) error {
	var fallen []string
	if err := tx.Ascend(prefixStretch, func(k, _ string) bool {
		if !isSet(strings.TrimPrefix(k, prefixStretch)) {
			fallen = append(fallen, k)
		}
		return true
	}); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	for _, k := range fallen {
		if err := tx.Delete(k); err != nil {
			return fmt.Errorf("decide: %w", err)
		}
	}
	for _, ac := range d.Active {
		class := ac.Name
		if rose[class] || !isFresh(class) || !e.set.IsNoticeClass(class, e.named) {
			continue
		}
		n, keyOf := e.notice(class, in)
		if n.Key == "" {
			continue
		}
		var seen []string
		if _, err := tx.GetJSON(prefixStretch+class, &seen); err != nil {
			e.log.Warn("actions: ignoring an unreadable notice stretch in the state file", "key", prefixStretch+class, "err", err)
			seen = nil
		}
		if containsString(seen, n.Key) {
			continue
		}
		if err := e.setStretch(tx, class, seen, n.Key); err != nil {
			return err
		}
		if p := e.policyOf(&n, isSet, value); p != nil && p.PerKey {
			if err := e.apply(tx, d, p, n, keyOf, in, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// setStretch stores the sources of a class's true stretch: seen and key,
// at most maxStretchKeys of them (the oldest forgotten).
func (e *Engine) setStretch(tx *state.Tx, class string, seen []string, key string) error {
	if key != "" {
		seen = append(seen, key)
	}
	if len(seen) > maxStretchKeys {
		seen = seen[len(seen)-maxStretchKeys:]
	}
	if err := tx.SetJSON(prefixStretch+class, seen); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	return nil
}

// noticeText is a notice's default message: the class, its priority, and
// the numbers of its measurements this interval, written for people as a
// report writes them.
func (e *Engine) noticeText(class, prio, key string, in *Interval) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", class, prio)
	for _, h := range e.set.MeasurementsOfClass(class) {
		v, ok := in.Vars[rules.VarValue+h]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, ": %s %s", h, num.Human(v))
		if av, ok := in.Vars[rules.VarAv+h]; ok {
			fmt.Fprintf(&b, " (normal %s", num.Human(av))
			if dev, ok := in.Vars[rules.VarDev+h]; ok {
				fmt.Fprintf(&b, " ± %s", num.Human(dev))
			}
			b.WriteString(")")
		}
		break
	}
	if key != "" {
		b.WriteString(", from " + cut(key, MaxReportKey))
	}
	return oneLine(b.String())
}

func suppressKey(p *rules.PolicyEntry, n *Notice) string {
	k := prefixSuppress + p.Handle + "/" + n.Notice
	if p.PerKey {
		k += "/" + n.Key
	}
	return k
}

// suppress applies a policy entry's suppression window to a notice: within
// the window of an earlier one it is counted for the tally and suppressed;
// otherwise it opens a window.
func (e *Engine) suppress(tx *state.Tx, p *rules.PolicyEntry, n *Notice, now time.Time) (bool, error) {
	if p.Suppress <= 0 || p.Action == rules.ActionIgnore || p.Action == rules.ActionLog {
		return false, nil
	}
	sk := suppressKey(p, n)
	v, ok, err := tx.Get(sk)
	if err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	if ok {
		until, perr := time.Parse(time.RFC3339Nano, v)
		if perr == nil && now.Before(until) && until.Sub(now) <= p.Suppress {
			n.Action = ActionSuppressed
			n.Until = until
			return true, e.count(tx, p, n, now)
		}
	}
	n.Until = now.Add(p.Suppress)
	if err := tx.Set(sk, n.Until.UTC().Format(time.RFC3339Nano)); err != nil {
		return false, fmt.Errorf("decide: %w", err)
	}
	return false, nil
}

// count adds a suppressed notice to its tally.
func (e *Engine) count(tx *state.Tx, p *rules.PolicyEntry, n *Notice, now time.Time) error {
	tk := prefixTally + p.Handle + "/" + n.Notice
	var t tallyRecord
	if _, err := tx.GetJSON(tk, &t); err != nil {
		e.log.Warn("actions: resetting an unreadable tally in the state file", "key", tk, "err", err)
		t = tallyRecord{}
	}
	if t.Count == 0 {
		t.Since = now
	}
	t.Count++
	t.Action, t.To = p.Action, p.To
	if n.Key != "" && !containsString(t.Keys, n.Key) {
		if len(t.Keys) < maxTallyKeys {
			t.Keys = append(t.Keys, n.Key)
		} else {
			t.More = true
		}
	}
	if err := tx.SetJSON(tk, t); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tallies adds to d the tally lines that are due: for each policy entry
// and notice with suppressed notices, once its tally period has passed
// since the first of them.
func (e *Engine) tallies(tx *state.Tx, d *Decision, now time.Time) error {
	period := map[string]time.Duration{}
	for _, p := range e.set.Policy {
		period[p.Handle] = p.Tally
	}
	type due struct {
		key string
		t   tallyRecord
	}
	var dues []due
	var dead []string
	err := tx.Ascend(prefixTally, func(k, v string) bool {
		policy, _, _ := strings.Cut(strings.TrimPrefix(k, prefixTally), "/")
		var t tallyRecord
		per, known := period[policy]
		if err := json.Unmarshal([]byte(v), &t); err != nil || !known {
			dead = append(dead, k)
			return true
		}
		if !now.Before(t.Since.Add(per)) {
			dues = append(dues, due{k, t})
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	for _, du := range dues {
		policy, class, _ := strings.Cut(strings.TrimPrefix(du.key, prefixTally), "/")
		t := du.t
		keys := len(t.Keys)
		from := ""
		switch {
		case t.More:
			from = " from more than " + num.Plural(keys, "source")
		case keys > 0:
			from = " from " + num.Plural(keys, "source")
		}
		n := Notice{Time: now, Type: TallyType, Notice: class, Priority: e.set.PriorityOf(class).String(),
			Action: t.Action, Policy: policy, Count: t.Count, Keys: keys, Period: formatPeriod(period[policy]),
			Message: fmt.Sprintf("%s %s%s suppressed in the last %s", num.Plural(t.Count, "more notice", "more notices"), class, from, formatPeriod(period[policy]))}
		if t.Action == rules.ActionAlarm {
			n.To = t.To
			n.firing = &Firing{Kind: KindReport, Handle: policy, Guard: class, Time: now, To: t.To, Message: n.Message}
		}
		d.Notices = append(d.Notices, n)
		dead = append(dead, du.key)
	}
	for _, k := range dead {
		if err := tx.Delete(k); err != nil {
			return fmt.Errorf("decide: %w", err)
		}
	}
	return nil
}

// expireSuppressions deletes the suppression windows that are over, and
// those of policy entries no longer in the rules.
func (e *Engine) expireSuppressions(tx *state.Tx, now time.Time) error {
	window := map[string]time.Duration{}
	for _, p := range e.set.Policy {
		window[p.Handle] = p.Suppress
	}
	return deleteWhere(tx, prefixSuppress, func(k, v string) bool {
		policy, _, _ := strings.Cut(strings.TrimPrefix(k, prefixSuppress), "/")
		w, known := window[policy]
		until, perr := time.Parse(time.RFC3339Nano, v)
		return !known || perr != nil || !now.Before(until) || until.Sub(now) > w
	})
}

// act prepares what an alarm or a page does: the report to deliver, or
// the command to run, with $(notice), $(priority), $(key) and $(message).
func (e *Engine) act(p *rules.PolicyEntry, n *Notice, keyOf string, in *Interval, x *expander) {
	x.key, x.keyOf = n.Key, keyOf
	x.notice, x.priority, x.message = n.Notice, n.Priority, n.Message
	defer func() { x.notice, x.priority, x.message = "", "", "" }()
	switch p.Action {
	case rules.ActionAlarm:
		if p.Message != "" {
			n.Message = x.report(p.Message)
		}
		n.To = p.To
		n.firing = &Firing{Kind: KindReport, Handle: p.Handle, Guard: n.Notice, Time: n.Time, To: p.To, Message: n.Message,
			Key: n.Key, KeyOf: keyOf, Notice: n.Notice}
	case rules.ActionPage:
		if p.Message != "" {
			n.Message = x.report(p.Message)
			x.message = n.Message
		}
		c := &rules.Command{Handle: p.Handle, If: rules.MustParseExpr("any"), Argv: p.Command, Timeout: p.Timeout}
		if p.If != nil {
			c.If = p.If
		}
		f := Firing{Kind: KindCommand, Handle: p.Handle, Guard: n.Notice, Time: n.Time, Timeout: p.Timeout,
			Key: n.Key, KeyOf: keyOf, Notice: n.Notice}
		x.command(c, &f)
		f.Env = append(f.Env, "LOGTALLY_NOTICE="+n.Notice, "LOGTALLY_PRIORITY="+n.Priority)
		n.Command = f.Argv
		n.firing = &f
	}
}

// formatPeriod writes a period as a tally line says it: "hour", "30
// minutes", "2 hours", "day".
func formatPeriod(d time.Duration) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		return strconv.FormatInt(n, 10) + " " + many
	}
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day", "days")
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour", "hours")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute", "minutes")
	}
	return d.String()
}

// writeNotices appends the notices to the notice log, one JSON object a
// line, in one write; the file is opened for each interval (so rotation
// needs no signal), created with mode 0640, and must be a regular file.
func writeNotices(path string, ns []Notice) error {
	if path == "" || len(ns) == 0 {
		return nil
	}
	var b []byte
	for _, n := range ns {
		j, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("write notice log: %w", err)
		}
		b = append(append(b, j...), '\n')
	}
	return appendFile(path, b, "notice log")
}

// ReadNotices reads a notice log: every complete line that is a notice;
// the others are counted in bad.
func ReadNotices(data []byte) (ns []Notice, bad int) {
	for _, l := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var n Notice
		if err := json.Unmarshal([]byte(l), &n); err != nil || n.Type == "" {
			bad++
			continue
		}
		ns = append(ns, n)
	}
	return ns, bad
}
