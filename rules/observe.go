package rules

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/observe"
)

// Key vocabularies of the observe: and watch_files: sections.
var (
	observeKeys = []string{"name", "handle", "diskfree", "diskused", "tcp_in", "tcp_out", "history_type",
		"expect", "persist", "policy", "noise_threshold", "anomaly_threshold", "alarm_budget", "alarm_budget_periods", "tags", "units", "description", "ifelapsed", "expireafter"}
	watchKeys = []string{"handle", "paths", "exclude", "hash", "report_changes", "update_hashes", "max_bytes",
		"max_files", "persist", "policy", "description", "for"}
)

// The kinds of observable a map of observe: names with its own key.
var observeKinds = []struct {
	key  string
	kind observe.Kind
}{
	{"diskfree", observe.DiskFree},
	{"diskused", observe.DiskUsed},
	{"tcp_in", observe.TCPIn},
	{"tcp_out", observe.TCPOut},
}

type watchEntry struct {
	w *Watch
	o *obj
}

// Snapshot reports whether the measurement's stream is read whole each
// time it is sampled — an interval command, a file read whole, an
// observable — rather than followed line by line.
func (m *Measurement) Snapshot() bool {
	switch m.StreamType {
	case StreamObserve:
		return true
	case StreamPipe:
		return m.PipeMode == PipeInterval
	case StreamJournal:
		return false
	}
	return !m.TrackGrowing
}

// IsSet reports whether the measurement's value is a set of keys (data
// type slist, or a listening_ports observable).
func (m *Measurement) IsSet() bool {
	return m.DataType == Slist || m.Observe != nil && m.Observe.IsSet()
}

// Keyed reports whether the measurement counts keys (sources, users,
// addresses, values of a set), for entropy and top_.
func (m *Measurement) Keyed() bool {
	if m.Key != "" || m.DataType == Slist {
		return true
	}
	if m.Observe != nil {
		switch m.Observe.Kind {
		case observe.LoadAvg, observe.DiskFree, observe.DiskUsed:
			return false
		}
		return true
	}
	return false
}

// observables validates the observe: list: each element is the name of a
// built-in observable (users, www_in, listening_ports…) or a map naming
// one (name:) or defining one (diskfree: PATH, tcp_in: [PORTS]…) with its
// options.
func (l *loader) observables(root *obj) {
	if v, ok := root.m["observe"]; !ok || v == nil {
		return
	}
	list, ok := root.list("observe")
	if !ok {
		return
	}
	names := observe.Builtins()
	for i, v := range list {
		p := elem("observe", i)
		o := &obj{file: root.file, ix: root.ix, path: p, parent: root, s: l.s, item: root.file + "\x00" + p}
		m := &Measurement{StreamType: StreamObserve, Policy: PolicyLast, KeyType: KeyAny, Persist: DefaultPersist,
			PersistPolicy: PersistPreserve, HistoryType: HistoryWeekly}
		switch v := v.(type) {
		case string:
			m.Pos = o.selfPos()
			sp, known := observe.Builtin(v)
			if !known {
				o.errAt(m.Pos, p, didYouMean(v, names), "unknown observable %s", strconv.Quote(v))
				continue
			}
			m.Handle, m.Observe = v, &sp
		case map[string]any:
			o.m = v
			m.Pos = o.selfPos()
			if !l.observableMap(o, m, names) {
				continue
			}
		default:
			o.errAt(o.selfPos(), p, "a name such as users, or a map with name: or diskfree:, tcp_in:…", "must be a string or a map, not %s", typeName(v))
			continue
		}
		switch {
		case m.Observe.IsSet():
			m.DataType = Slist
			if m.HistoryType == HistoryWeekly && (o.m == nil || !o.has("history_type")) {
				m.HistoryType = HistoryScalar
			}
		case m.Observe.Kind == observe.LoadAvg || m.Observe.Kind == observe.DiskFree || m.Observe.Kind == observe.DiskUsed:
			m.DataType = Real
		default:
			m.DataType = Int // a count, sampled: the value is the reading
		}
		if m.Observe.KeyIsAddress() {
			m.KeyType = KeyIP
		}
		l.ms = append(l.ms, &mEntry{m: m, o: o})
	}
}

// observableMap validates one map of the observe: list into m.
func (l *loader) observableMap(o *obj, m *Measurement, names []string) bool {
	o.checkKeys(observeKeys)
	var defining []string
	for _, k := range observeKinds {
		if o.has(k.key) {
			defining = append(defining, k.key)
		}
	}
	switch {
	case o.has("name") && len(defining) > 0:
		o.errAt(o.keyPos(defining[0]), child(o.path, defining[0]), "give name: or "+defining[0]+":, not both", "%s defines an observable; name: names a built-in one", defining[0])
		return false
	case len(defining) > 1:
		o.errAt(o.keyPos(defining[1]), child(o.path, defining[1]), "one observable per element", "%s and %s in one element", defining[0], defining[1])
		return false
	case o.has("name"):
		n, ok := o.required("name", "a built-in observable such as users or www_in")
		if !ok {
			return false
		}
		sp, known := observe.Builtin(n)
		if !known {
			o.errf("name", didYouMean(n, names), "unknown observable %s", strconv.Quote(n))
			return false
		}
		m.Observe = &sp
		m.Handle = n
		if o.has("handle") {
			m.Handle = o.handle("handle", false)
		}
	case len(defining) == 1:
		k := defining[0]
		sp := observe.Spec{}
		for _, d := range observeKinds {
			if d.key == k {
				sp.Kind = d.kind
			}
		}
		switch sp.Kind {
		case observe.DiskFree, observe.DiskUsed:
			path, ok := o.required(k, "an absolute path on the filesystem, e.g. /var")
			if !ok {
				return false
			}
			if !filepath.IsAbs(path) {
				o.errf(k, "e.g. /var", "must be an absolute path")
				return false
			}
			sp.Path = filepath.Clean(path)
		default:
			ports, ok := o.ports(k)
			if !ok {
				return false
			}
			sp.Ports = ports
		}
		m.Observe = &sp
		m.Handle = o.handle("handle", true)
	default:
		o.missing("name", "name: users (a built-in), or diskfree: PATH, diskused: PATH, tcp_in: [PORTS], tcp_out: [PORTS] with a handle:", "")
		return false
	}
	if m.Handle == "" {
		return false
	}
	m.HistoryType = o.historyType(m.Observe.IsSet())
	if o.has("expect") {
		if !m.Observe.IsSet() {
			o.errAt(o.keyPos("expect"), child(o.path, "expect"), "expect is for listening_ports and listening_udp", "only for a set")
		} else if e, ok := o.strList("expect"); ok {
			m.Expect = e
		}
	}
	m.IfElapsed, m.ExpireAfter = o.sampling(true, "")
	o.classOptions(m)
	m.Tags = o.tags("tags")
	m.Units, _ = o.str("units")
	m.Description, _ = o.str("description")
	return true
}

// classOptions validates how a measurement's classes persist and its
// noise threshold.
func (o *obj) classOptions(m *Measurement) {
	m.Persist = o.duration("persist", DefaultPersist)
	m.PersistPolicy = o.enum("policy", PersistPreserve, PersistPreserve, PersistReset)
	if o.has("noise_threshold") {
		m.Noise = o.number("noise_threshold", 0, "in the measurement's units, e.g. 5; 0 for none")
		if m.Noise == 0 {
			m.Noise = -1
		}
	}
	o.alarmThreshold(m)
}

// budgetRE is an alarm budget: a number of alarms per hour, day or week.
var budgetRE = regexp.MustCompile(`^\s*(\d{1,6})\s*/\s*(hour|day|week)\s*$`)

// alarmThreshold validates anomaly_threshold, alarm_budget and
// alarm_budget_periods, which only a weekly baseline has a use for.
func (o *obj) alarmThreshold(m *Measurement) {
	weekly := m.HistoryType == HistoryWeekly
	for _, k := range []string{"anomaly_threshold", "alarm_budget", "alarm_budget_periods"} {
		if o.has(k) && !weekly {
			o.errAt(o.keyPos(k), child(o.path, k), "remove it, or use history_type: weekly", "only for history_type: weekly (a baseline scores the samples)")
			return
		}
	}
	if o.has("anomaly_threshold") {
		const hint = "an alarm score of at least 1, e.g. 4.5 (the default is 3)"
		// number reports a value that is no number, or a negative one, and
		// returns -1 for it: one error per bad value.
		switch v := o.number("anomaly_threshold", -1, hint); {
		case v < 0:
		case v < 1:
			o.errf("anomaly_threshold", hint, "must be at least 1, not %v", v)
		default:
			m.AnomalyThreshold = v
		}
	}
	if o.has("alarm_budget_periods") && !o.has("alarm_budget") {
		o.errAt(o.keyPos("alarm_budget_periods"), child(o.path, "alarm_budget_periods"), "add alarm_budget:, e.g. 2/week", "only with alarm_budget")
	}
	if !o.has("alarm_budget") {
		return
	}
	const hint = "alarms per hour, day or week, e.g. 2/week"
	s, ok := o.str("alarm_budget")
	if !ok {
		return // o.str said why
	}
	sub := budgetRE.FindStringSubmatch(s)
	if sub == nil {
		o.errf("alarm_budget", hint, "invalid alarm budget %s", strconv.Quote(s))
		return
	}
	n, _ := strconv.Atoi(sub[1])
	if n < 1 {
		o.errf("alarm_budget", hint, "must allow at least one alarm, not %s", strconv.Quote(s))
		return
	}
	b := &AlarmBudget{Alarms: n, Unit: sub[2], Periods: int(o.integer("alarm_budget_periods", DefaultBudgetPeriods, 1, MaxBudgetPeriods))}
	b.Period = map[string]time.Duration{"hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour}[b.Unit]
	m.Budget = b
}

// ports validates a list of TCP ports.
func (o *obj) ports(key string) ([]uint16, bool) {
	l, ok := o.list(key)
	if !ok {
		return nil, false
	}
	if len(l) == 0 {
		o.errf(key, "e.g. [5432]", "must not be empty")
		return nil, false
	}
	var out []uint16
	for i, v := range l {
		n, isInt := asInt(v)
		if !isInt || n < 1 || n > 65535 {
			p, pos := o.elemAt(key, i)
			o.errAt(pos, p, "a port number from 1 to 65535", "invalid port %v", v)
			return nil, false
		}
		if !slices.Contains(out, uint16(n)) {
			out = append(out, uint16(n))
		}
	}
	return out, true
}

// Classes returns the classes a watch sets: <h>_changed, <h>_added and
// <h>_removed.
func (w *Watch) Classes() []string {
	if w.Handle == "" {
		return nil
	}
	return []string{w.Handle + "_changed", w.Handle + "_added", w.Handle + "_removed"}
}

// watch validates one (expanded) element of watch_files.
func (l *loader) watch(o *obj) {
	o.checkKeys(watchKeys)
	w := &Watch{Pos: o.selfPos()}
	w.Handle = o.handle("handle", true)
	const pathsHint = "absolute paths, directories or globs, e.g. [/etc/ssh, /etc/passwd, '/etc/cron.d/*']"
	if !o.has("paths") {
		o.missing("paths", pathsHint, "")
	} else if ps, ok := o.strList("paths"); ok {
		if len(ps) == 0 {
			o.errf("paths", pathsHint, "must not be empty")
		}
		for i, p := range ps {
			if msg, _, bad := leftoverVar(p); bad {
				key, pos := o.elemAt("paths", i)
				o.s.warns = append(o.s.warns, Warning{Pos: pos, Key: key, Msg: msg + " and watches are not expanded at run time"})
			}
			switch _, err := filepath.Match(p, ""); {
			case !filepath.IsAbs(p):
				o.errf("paths", pathsHint, "%s is not an absolute path", strconv.Quote(p))
			case err != nil:
				o.errf("paths", "", "invalid glob %s: %v", strconv.Quote(p), err)
			default:
				w.Paths = append(w.Paths, filepath.Clean(p))
			}
		}
	}
	if ex, ok := o.strList("exclude"); ok {
		for _, p := range ex {
			if _, err := filepath.Match(p, ""); err != nil || p == "" {
				o.errf("exclude", "globs such as '*.swp' or '/etc/ssh/moduli'", "invalid glob %s", strconv.Quote(p))
				continue
			}
			w.Exclude = append(w.Exclude, p)
		}
	}
	w.Hash = o.enum("hash", "sha256", "sha256", "sha512", "best")
	w.Report = o.enum("report_changes", "all", "all", "content", "stats", "none")
	w.Update = o.yesNo("update_hashes", false)
	if o.has("max_bytes") {
		w.MaxBytes = o.size("max_bytes", 1<<20, 1<<40, "bytes hashed per interval, e.g. 256MiB")
	}
	w.MaxFiles = int(o.integer("max_files", 0, 1, 100_000_000))
	w.Persist = o.duration("persist", DefaultPersist)
	w.PersistPolicy = o.enum("policy", PersistPreserve, PersistPreserve, PersistReset)
	w.Description, _ = o.str("description")
	l.watches = append(l.watches, &watchEntry{w: w, o: o})
}

// yesNo returns key's boolean, written as a boolean or as CFEngine writes
// them: "yes", "no", "true", "false", "on", "off".
func (o *obj) yesNo(key string, def bool) bool {
	if s, isStr := o.m[key].(string); isStr {
		switch strings.ToLower(s) {
		case "yes", "true", "on":
			return true
		case "no", "false", "off":
			return false
		}
		o.errf(key, "yes or no", "must be a boolean, not %s", strconv.Quote(s))
		return def
	}
	return o.boolean(key, def)
}

// size returns key's byte size within [lo, hi]: a number, or a number with
// a unit (64KiB, 256MiB).
func (o *obj) size(key string, lo, hi int64, hint string) int64 {
	var n int64
	switch v := o.m[key].(type) {
	case string:
		var err error
		if n, err = parseSize(v); err != nil {
			o.errf(key, hint, "%v", err)
			return 0
		}
	default:
		var ok bool
		if n, ok = asInt(v); !ok {
			o.errf(key, hint, "must be a size, not %s", typeName(v))
			return 0
		}
	}
	if n < lo || n > hi {
		o.errf(key, hint, "%d bytes is out of range [%s, %s]", n, formatSize(lo), formatSize(hi))
		return 0
	}
	return n
}

// formatSize writes a byte size with the largest binary unit that divides
// it.
func formatSize(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.s)
		}
	}
	return strconv.FormatInt(n, 10)
}
