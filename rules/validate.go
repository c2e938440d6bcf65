package rules

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logtally/logtally/match"
)

// Key vocabularies.
var (
	topKeys         = []string{"measurements", "observe", "watch_files", "classes", "commands", "reports", "policy", "settings"}
	measurementKeys = []string{"handle", "stream_type", "path", "pipe_mode", "timeout", "data_type",
		"select_line_matching", "extraction_regex", "key", "key_type", "select_multiline_policy",
		"track_growing_file", "history_type", "start", "timestamp", "timezone", "units",
		"description", "tags", "persist", "policy", "noise_threshold", "select_line_number", "ifelapsed",
		"expireafter", "expect", "ignore_keys", "top_keys", "anomaly_threshold", "alarm_budget", "alarm_budget_periods", "unit", "identifier", "match", "render", "journal_directory", "syslog_repeats", "for"}
	classKeys    = []string{"expression", "persist", "policy", "description", "priority"}
	commandKeys  = []string{"if", "command", "shell", "ifelapsed", "timeout", "expireafter", "env", "handle", "per", "priority", "for"}
	reportKeys   = []string{"if", "message", "to", "ifelapsed", "handle", "per", "priority", "for"}
	settingsKeys = []string{"interval", "timezone", "max_line_length", "regex_timeout", "host", "tags",
		"half_life", "max_concurrent_commands", "outputs", "file_change_log", "notice_log", "priorities", "survey"}
	surveyKeys = []string{"file", "period"}
	outputKeys = []string{"url", "api", "database", "retention_policy", "username", "password", "token",
		"org", "bucket", "precision", "batch_size", "flush_interval", "gzip", "spool_size"}
)

// Vocabulary returns the keys the validator accepts in each section of a
// rule file: "" (the top level of a file), "measurements", "observe",
// "watch_files", "classes" (a class written as a map), "commands",
// "reports", "policy", "settings", "settings.outputs" and
// "settings.survey". The rule reference, docs/rules.md, documents each.
func Vocabulary() map[string][]string {
	return map[string][]string{
		"":                 slices.Clone(topKeys),
		"measurements":     slices.Clone(measurementKeys),
		"observe":          slices.Clone(observeKeys),
		"watch_files":      slices.Clone(watchKeys),
		"classes":          slices.Clone(classKeys),
		"commands":         slices.Clone(commandKeys),
		"reports":          slices.Clone(reportKeys),
		"policy":           slices.Clone(policyKeys),
		"settings":         slices.Clone(settingsKeys),
		"settings.outputs": slices.Clone(outputKeys),
		"settings.survey":  slices.Clone(surveyKeys),
	}
}

// Defaults.
const (
	DefaultInterval              = 5 * time.Minute
	DefaultMaxLineLength         = 64 << 10
	DefaultRegexTimeout          = 100 * time.Millisecond
	DefaultHalfLife              = 4 * 7 * 24 * time.Hour
	DefaultMaxConcurrentCommands = 4
	DefaultPersist               = 10 * time.Minute
	DefaultCommandTimeout        = time.Minute
	DefaultBatchSize             = 1000
	DefaultFlushInterval         = 10 * time.Second
	DefaultSpoolSize             = 100000
	// DefaultTopKeys and MaxTopKeys bound a measurement's key table,
	// and so its points and their series in InfluxDB.
	DefaultTopKeys = 10
	// DefaultBudgetPeriods is how many periods' ideal thresholds an
	// alarm budget averages by default; MaxBudgetPeriods bounds it.
	DefaultBudgetPeriods = 4
	MaxBudgetPeriods     = 52
	MaxTopKeys           = 100
	// MaxHandleLength bounds a measurement handle, which prefixes every
	// class, variable and line-protocol measurement it produces.
	MaxHandleLength = 100
)

const week = 7 * 24 * time.Hour

type mEntry struct {
	m *Measurement
	o *obj
}

type classEntry struct {
	c *Class
	o *obj // the classes map
}

type cmdEntry struct {
	c        *Command
	o        *obj
	explicit bool // handle written in the file
	perKey   bool // per: key
}

type repEntry struct {
	r        *Report
	o        *obj
	perKey   bool
	explicit bool
}

// loader validates files one by one, then checks them together.
type loader struct {
	set      *Set
	s        *sink
	nexp     map[string]int // for: item → number of expansions
	nitems   int            // measurements, commands and reports so far, expanded
	ms       []*mEntry
	watches  []*watchEntry
	classes  []*classEntry
	cmds     []*cmdEntry
	reps     []*repEntry
	policies []*policyEntry
	settings map[string]Pos // setting → where it was set
}

func newLoader() *loader {
	return &loader{
		set: &Set{Settings: Settings{
			Interval:              DefaultInterval,
			MaxLineLength:         DefaultMaxLineLength,
			RegexTimeout:          DefaultRegexTimeout,
			HalfLife:              DefaultHalfLife,
			MaxConcurrentCommands: DefaultMaxConcurrentCommands,
		}},
		s:        &sink{},
		nexp:     map[string]int{},
		settings: map[string]Pos{},
	}
}

// file validates one file.
func (l *loader) file(name string, data []byte) {
	l.set.Files = append(l.set.Files, name)
	raw, ix, perr := parse(name, data)
	if perr != nil {
		l.s.errs = append(l.s.errs, perr)
		return
	}
	if raw == nil {
		raw = map[string]any{}
	}
	root := &obj{file: name, ix: ix, m: raw, s: l.s}
	root.checkKeys(topKeys)
	l.items(root, "measurements", l.measurement)
	l.observables(root)
	l.items(root, "watch_files", l.watch)
	l.userClasses(root)
	l.items(root, "commands", l.command)
	l.items(root, "reports", l.report)
	l.items(root, "policy", l.policy)
	l.settingsOf(root)
}

// items validates each element of the list at key, once per for:
// combination.
func (l *loader) items(root *obj, key string, each func(*obj)) {
	if v, ok := root.m[key]; !ok || v == nil {
		return
	}
	list, ok := root.list(key)
	if !ok {
		return
	}
	for i, v := range list {
		p := elem(key, i)
		o := &obj{file: root.file, ix: root.ix, path: p, parent: root, s: l.s, item: root.file + "\x00" + p}
		m, isMap := v.(map[string]any)
		if !isMap {
			o.errAt(o.selfPos(), p, "", "must be a map, not %s", typeName(v))
			continue
		}
		o.m = m
		exps, ok := o.expand()
		if !ok {
			continue
		}
		if l.nitems += len(exps); l.nitems > MaxItems {
			o.errAt(o.selfPos(), p, "split the rules over several daemons, or use fewer for: values",
				"more than %d measurements, commands and reports in all, once for: is expanded", MaxItems)
			return
		}
		l.nexp[o.item] = len(exps)
		for _, e := range exps {
			each(e)
		}
	}
}

// handle validates an identifier handle.
func (o *obj) handle(key string, required bool) string {
	var s string
	var ok bool
	if required {
		s, ok = o.required(key, "an identifier such as ssh_username_probe")
	} else {
		s, ok = o.str(key)
	}
	if !ok {
		return ""
	}
	if msg, hint, bad := leftoverVar(s); bad {
		o.errf(key, hint, "%s", msg)
		return ""
	}
	if c := CanonifyName(s); c != s && c != "" && !(c[0] >= '0' && c[0] <= '9') {
		// CFEngine canonifies a handle into a class name; so does
		// logtally, saying so, since classes and variables take the new
		// name.
		o.warnf(key, "handle %s is canonified to %s, the name of its classes and variables", strconv.Quote(s), c)
		s = c
	}
	if len(s) > MaxHandleLength {
		o.errf(key, "", "longer than %d characters", MaxHandleLength)
		return ""
	}
	if !ValidClassName(s) {
		o.errf(key, "letters, digits and underscores, not starting with a digit, e.g. "+sanitizeName(s),
			"invalid handle %s", strconv.Quote(s))
		return ""
	}
	return s
}

// sanitizeName turns s into a valid identifier, for hints.
func sanitizeName(s string) string {
	c := CanonifyName(s)
	if c == "" || c[0] >= '0' && c[0] <= '9' {
		c = "m_" + c
	}
	return c
}

func tagKeyCheck(k string) (string, string) {
	switch {
	case k == "host":
		return "the host tag is set by settings.host", "remove it or set host: in settings"
	case k == "" || strings.ContainsFunc(k, isControl):
		return fmt.Sprintf("invalid tag name %q", k), ""
	}
	return "", ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// tags validates a map of tags.
func (o *obj) tags(key string) map[string]string {
	t := o.strMap(key, tagKeyCheck)
	for k, v := range t {
		if v == "" || strings.ContainsFunc(v, isControl) {
			o.sub(key, nil).errf(k, "", "tag value must be non-empty text without control characters")
			delete(t, k)
		}
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// journalKeys are the keys of journal streams only.
var journalKeys = []string{"unit", "identifier", "match", "render", "journal_directory"}

// journal validates the keys of a journal stream.
func (o *obj) journal(m *Measurement) {
	const selectHint = "select entries with unit:, identifier: or match:"
	if o.has("path") {
		o.errf("path", selectHint, "a journal stream reads the journal, not a path")
	}
	for _, k := range []string{"pipe_mode", "timeout", "track_growing_file"} {
		if o.has(k) {
			o.errAt(o.keyPos(k), child(o.path, k), "", "not for journal streams")
		}
	}
	for _, k := range []string{"timestamp", "timezone"} {
		if o.has(k) {
			o.errAt(o.keyPos(k), child(o.path, k), "remove it", "journal entries are dated by their __REALTIME_TIMESTAMP")
		}
	}
	m.JournalUnits = o.oneOrMore("unit", "a systemd unit, e.g. ssh.service")
	m.JournalIdentifiers = o.oneOrMore("identifier", "a syslog identifier, e.g. sshd")
	if mo := o.mapping("match"); mo != nil {
		for _, field := range sortedKeys(mo) {
			if !validJournalField(field) {
				mo.errAt(mo.keyPos(field), child(mo.path, field), "upper-case letters, digits and underscores, e.g. _SYSTEMD_UNIT or SYSLOG_FACILITY",
					"invalid journal field %s", strconv.Quote(field))
				continue
			}
			for _, v := range mo.oneOrMore(field, "a value, or a list of values") {
				m.JournalMatches = append(m.JournalMatches, field+"="+v)
			}
		}
		slices.Sort(m.JournalMatches)
	}
	m.Render = o.enum("render", RenderMessage, RenderMessage, RenderSyslog)
	if dir, ok := o.str("journal_directory"); ok {
		if dir == "" || !filepath.IsAbs(dir) {
			o.errf("journal_directory", "an absolute path, e.g. /var/log/journal/remote", "must be an absolute path")
		} else {
			m.JournalDir = dir
		}
	}
	m.Start = o.enum("start", StartEnd, StartEnd, StartBeginning)
	m.TrackGrowing = true
}

// validJournalField reports whether s can name a journal field.
func validJournalField(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// oneOrMore returns key's string, or list of strings, none empty.
func (o *obj) oneOrMore(key, hint string) []string {
	if !o.has(key) {
		return nil
	}
	if s, isStr := o.m[key].(string); isStr {
		if s == "" {
			o.errf(key, hint, "must not be empty")
			return nil
		}
		return []string{s}
	}
	l, ok := o.strList(key)
	if !ok {
		return nil
	}
	if len(l) == 0 || slices.Contains(l, "") {
		o.errf(key, hint, "must not be empty")
		return nil
	}
	return l
}

// measurement validates one (expanded) measurement.
func (l *loader) measurement(o *obj) {
	o.checkKeys(measurementKeys)
	m := &Measurement{Pos: o.selfPos()}
	m.Handle = o.handle("handle", true)
	m.StreamType = o.enum("stream_type", StreamFile, StreamFile, StreamPipe, StreamJournal)
	if m.StreamType != StreamJournal {
		for _, k := range journalKeys {
			if o.has(k) {
				o.errAt(o.keyPos(k), child(o.path, k), "add stream_type: journal", "only for journal streams")
			}
		}
	}
	switch m.StreamType {
	case StreamFile:
		if _, isList := o.m["path"].([]any); isList {
			o.errf("path", "a list is the argv of a command: add stream_type: pipe", "must be a file path or glob, not a list")
		} else if p, ok := o.required("path", "a file path or glob, e.g. /var/log/auth.log"); ok {
			if _, err := filepath.Match(p, ""); err != nil {
				o.errf("path", "", "invalid glob %s: %v", strconv.Quote(p), err)
			} else {
				// One file, one stream: /var/log/./auth.log is
				// /var/log/auth.log (its position, its lines), however
				// it is written.
				m.Path = filepath.Clean(p)
				if !filepath.IsAbs(p) {
					o.warnf("path", "relative path %s resolves against the daemon's working directory", strconv.Quote(p))
				}
			}
		}
		for _, k := range []string{"pipe_mode", "timeout"} {
			if o.has(k) {
				o.errAt(o.keyPos(k), child(o.path, k), "add stream_type: pipe", "only for pipe streams")
			}
		}
		m.Start = o.enum("start", StartEnd, StartEnd, StartBeginning)
		m.TrackGrowing = o.boolean("track_growing_file", true)
	case StreamPipe:
		m.Command = o.argv("path", "argv list, no shell: path: [journalctl, -f, -o, short-iso]", "")
		if len(m.Command) > 0 {
			l.program(o, "path", m.Command[0], false, false)
		}
		m.PipeMode = o.enum("pipe_mode", PipeStream, PipeStream, PipeInterval)
		m.Timeout = o.duration("timeout", 0)
		if o.has("timeout") && m.PipeMode != PipeInterval {
			o.errAt(o.keyPos("timeout"), child(o.path, "timeout"), "add pipe_mode: interval", "only for pipe_mode: interval")
		}
		for _, k := range []string{"start", "track_growing_file"} {
			if o.has(k) {
				o.errAt(o.keyPos(k), child(o.path, k), "", "only for file streams")
			}
		}
	case StreamJournal:
		o.journal(m)
	}
	m.DataType = o.enum("data_type", Counter, Counter, Int, Real, Slist, String)
	text := m.DataType == Slist || m.DataType == String
	const snapshotHint = "pipe_mode: interval, or track_growing_file: false"
	if o.has("select_line_number") {
		m.SelectLine = int(o.integer("select_line_number", 0, 1, 1<<31-1))
		switch {
		case o.has("select_line_matching"):
			o.errf("select_line_number", "remove one of them", "select_line_matching and select_line_number exclude each other")
		case !m.Snapshot():
			o.errf("select_line_number", snapshotHint, "a line number needs a stream read whole each interval")
		}
	} else {
		m.Select, _ = o.required("select_line_matching", `a regex that matches the whole line, e.g. '.*sshd\[.*Invalid user.*'`)
	}
	switch ex, ok := o.str("extraction_regex"); {
	case ok && ex == "":
		o.errf("extraction_regex", "remove it, or give a regex with a group", "must not be empty")
	case ok:
		m.Extract = ex
	case !o.has("extraction_regex") && (m.DataType == Int || m.DataType == Real):
		o.missing("extraction_regex", `the value is its first group, e.g. 'took (\d+) ms'`,
			"required key extraction_regex is missing for data_type %s", m.DataType)
	}
	switch k, ok := o.str("key"); {
	case ok && text:
		o.errf("key", "remove it: the values are the keys (key_type still applies)", "no key for data_type %s", m.DataType)
	case ok && k == "":
		o.errf("key", "remove it, or give a regex with a group", "must not be empty")
	case ok:
		m.Key = k
	}
	if o.has("key_type") && !o.has("key") && !text {
		o.errAt(o.keyPos("key_type"), child(o.path, "key_type"), "add key: with a capture group", "only with key")
	}
	m.KeyType = o.enum("key_type", KeyAny, KeyAny, KeyIP, KeyWord)
	if o.has("ignore_keys") {
		if !o.has("key") {
			o.errAt(o.keyPos("ignore_keys"), child(o.path, "ignore_keys"), "add key: with a capture group", "only with key")
		}
		m.IgnoreKeys = o.keyFilter("ignore_keys", m.KeyType)
	}
	if o.has("top_keys") && !o.has("key") {
		o.errAt(o.keyPos("top_keys"), child(o.path, "top_keys"), "add key: with a capture group", "only with key")
	}
	if m.Key != "" {
		m.TopKeys = int(o.integer("top_keys", DefaultTopKeys, 0, MaxTopKeys))
	}
	m.Policy = o.enum("select_multiline_policy", PolicyLast, PolicySum, PolicyAverage, PolicyFirst, PolicyLast)
	repeatsDefault := RepeatsExpand
	if m.StreamType == StreamJournal {
		// journald never writes a syslog daemon's repeat wrapper: in an
		// entry it is a program's own text, or a forgery (logger -t sshd).
		repeatsDefault = RepeatsOff
	}
	m.SyslogRepeats = o.enum("syslog_repeats", repeatsDefault, RepeatsExpand, RepeatsOff)
	if m.SelectLine > 0 {
		if o.has("syslog_repeats") {
			o.errAt(o.keyPos("syslog_repeats"), child(o.path, "syslog_repeats"), "remove it", "a line selected by its number is taken as it is")
		}
		m.SyslogRepeats = RepeatsOff
	}
	m.HistoryType = o.historyType(text)
	if o.has("expect") {
		if m.DataType != Slist {
			o.errAt(o.keyPos("expect"), child(o.path, "expect"), "add data_type: slist", "only for data_type slist")
		} else if e, ok := o.strList("expect"); ok {
			m.Expect = e
		}
	}
	m.IfElapsed, m.ExpireAfter = o.sampling(m.Snapshot(), snapshotHint)
	if m.ExpireAfter > 0 && m.StreamType == StreamPipe {
		if o.has("timeout") {
			o.errf("expireafter", "give one of them", "expireafter and timeout are the same limit of an interval command")
		}
		m.Timeout = m.ExpireAfter
	}
	if ts, ok := o.str("timestamp"); ok {
		m.Timestamp = o.layout("timestamp", ts)
	}
	if tz, ok := o.str("timezone"); ok {
		m.Location = o.location("timezone", tz)
		if !o.has("timestamp") {
			o.errAt(o.keyPos("timezone"), child(o.path, "timezone"), "add timestamp:, or remove timezone", "only with timestamp")
		}
	}
	m.Units, _ = o.str("units")
	m.Description, _ = o.str("description")
	m.Tags = o.tags("tags")
	o.classOptions(m)

	// Measurements are not expanded at run time: a $(x) left after for:
	// is a typo or a missing for: variable.
	for _, k := range []string{"path", "select_line_matching", "extraction_regex", "key", "units", "description"} {
		if s, isStr := o.m[k].(string); isStr {
			if msg, _, bad := leftoverVar(s); bad {
				o.warnf(k, "%s and measurements are not expanded at run time", msg)
			}
		}
	}
	for _, a := range m.Command {
		if msg, _, bad := leftoverVar(a); bad {
			o.warnf("path", "%s and measurements are not expanded at run time", msg)
		}
	}
	o.checkWholeLine(m)
	l.ms = append(l.ms, &mEntry{m: m, o: o})
}

// historyType validates history_type; a text value (slist, string) has no
// weekly baseline, and is scalar by default.
func (o *obj) historyType(text bool) string {
	def := HistoryWeekly
	if text {
		def = HistoryScalar
	}
	h := o.enum("history_type", def, HistoryWeekly, HistoryScalar, HistoryStatic, HistoryLog)
	if h == HistoryStatic {
		h = HistoryScalar // CFEngine's synonym
	}
	if text && h == HistoryWeekly {
		o.errf("history_type", "scalar (or static) or log", "a set or a text has no weekly baseline")
		h = HistoryScalar
	}
	return h
}

// sampling validates ifelapsed and expireafter, which only a stream read
// whole when it is sampled can honour.
func (o *obj) sampling(snapshot bool, hint string) (ifelapsed, expireafter time.Duration) {
	for _, k := range []string{"ifelapsed", "expireafter"} {
		if o.has(k) && !snapshot {
			o.errAt(o.keyPos(k), child(o.path, k), hint,
				"only for a stream sampled whole each interval: a followed log's lines belong to the interval they arrive in")
		}
	}
	ifelapsed = o.duration("ifelapsed", 0)
	expireafter = o.duration("expireafter", 0)
	return ifelapsed, expireafter
}

// keyFilter validates a list of addresses, networks and literal keys; each
// bad element is an error at its own position, and a literal that the
// measurement's keyType refuses is a warning.
func (o *obj) keyFilter(key, keyType string) *KeyFilter {
	list, ok := o.strList(key)
	if !ok {
		return nil
	}
	f := &KeyFilter{}
	for i, s := range list {
		e := parseKeyFilterEntry(s)
		p, pos := o.writtenElemAt(key, i)
		switch {
		case e.problem != "":
			o.errAt(pos, p, "an address (192.0.2.7), a network (192.0.2.0/24, 2001:db8::/32) or a literal key", "%s", e.problem)
			continue
		case e.warning != "":
			o.s.warns = append(o.s.warns, Warning{Pos: pos, Key: p, Msg: e.warning})
		}
		if e.literal != "" && keyType == KeyIP {
			// Keys are checked against key_type before ignore_keys: a
			// literal that is no address is never an ip key.
			o.s.warns = append(o.s.warns, Warning{Pos: pos, Key: p, Msg: fmt.Sprintf(
				"%s is not an address: key_type ip refuses every key that is not one (a key reject, its line counted), so it never matches", strconv.Quote(e.literal))})
		}
		if e.literal != "" {
			if f.literals == nil {
				f.literals = map[string]bool{}
			}
			f.literals[e.literal] = true
		} else {
			f.nets = append(f.nets, e.net)
		}
	}
	if f.Empty() {
		return nil
	}
	return f
}

// layout validates a timestamp layout, converting strftime to Go.
func (o *obj) layout(key, s string) string {
	layout := s
	if strings.Contains(s, "%") {
		g, err := strftimeToGo(s)
		if err != nil {
			o.errf(key, "strftime (%Y-%m-%d %H:%M:%S) or a Go layout (2006-01-02 15:04:05)", "invalid layout: %v", err)
			return ""
		}
		layout = g
	}
	if err := checkLayout(layout); err != nil {
		o.errf(key, "strftime (%b %e %H:%M:%S) or a Go layout (Jan _2 15:04:05)", "invalid layout %s: %v", strconv.Quote(s), err)
		return ""
	}
	return layout
}

// location validates an IANA time zone name.
func (o *obj) location(key, s string) *time.Location {
	if s == "" {
		o.errf(key, "an IANA name such as Europe/Paris, or UTC", "must not be empty")
		return nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		o.errf(key, "an IANA name such as Europe/Paris, or UTC", "unknown time zone %s", strconv.Quote(s))
		return nil
	}
	return loc
}

// userClasses validates the classes map.
func (l *loader) userClasses(root *obj) {
	c := root.mapping("classes")
	if c == nil {
		return
	}
	const exprHint = "a class expression, e.g. ssh_probe_high_anomaly.entropy_ssh_probe_low"
	for _, name := range sortedKeys(c) {
		cl := &Class{Pos: c.keyPos(name), Name: name, Persist: DefaultPersist, PersistPolicy: PersistPreserve}
		switch {
		case !ValidClassName(name) || len(name) > MaxHandleLength:
			c.errAt(c.keyPos(name), child(c.path, name), "letters, digits and underscores, not starting with a digit, e.g. "+sanitizeName(name),
				"invalid class name %s", strconv.Quote(name))
			continue
		case name == "any" || name == "nothing":
			c.errAt(c.keyPos(name), child(c.path, name), "choose another name", "%s is a reserved class", name)
			continue
		}
		switch v := c.m[name].(type) {
		case string:
			cl.Expr = c.expr(name, v)
		case map[string]any:
			co := c.sub(name, v)
			co.checkKeys(classKeys)
			if s, ok := co.required("expression", exprHint); ok {
				cl.Expr = co.expr("expression", s)
			}
			cl.Persist = co.duration("persist", DefaultPersist)
			cl.PersistPolicy = co.enum("policy", PersistPreserve, PersistPreserve, PersistReset)
			cl.Description, _ = co.str("description")
			cl.Priority = co.priority("priority")
		default:
			c.errf(name, exprHint, "must be a class expression or a map with expression, persist, policy, description; not %s", typeName(v))
		}
		if cl.Expr != nil {
			l.classes = append(l.classes, &classEntry{c: cl, o: c})
		}
	}
}

// actionHandle returns a command's or report's handle (kind is "command"
// or "report"): its handle:, or one derived from what it is about
// (derivedHandle); explicit says which.
func (o *obj) actionHandle(kind string) (handle string, explicit bool) {
	if !o.has("handle") {
		return derivedHandle(kind, o), false
	}
	return o.handle("handle", false), true
}

// derivedHandle names a command or report that has no handle after what
// it is about, for the status page and the reports' lines: its guard
// ("ssh_probe_storm" for if: ssh_probe_storm, the names of a longer
// expression joined by underscores), or its file's name when it has no
// guard, then kind ("report" or "command"): ssh_probe_storm_report. Names
// that come out the same are told apart by uniqueDerived, in load order.
func derivedHandle(kind string, o *obj) string {
	base := ""
	if g, ok := o.m["if"].(string); ok {
		base = identifierOf(g)
	}
	if base == "" || base == "any" {
		base = identifierOf(strings.TrimSuffix(filepath.Base(o.file), filepath.Ext(o.file)))
	}
	if base == "" || base[0] >= '0' && base[0] <= '9' {
		base = "rules_" + base
	}
	const maxBase = 64
	if len(base) > maxBase {
		base = strings.TrimRight(base[:maxBase], "_")
	}
	return base + "_" + kind
}

// identifierOf turns text into letters, digits and single underscores.
func identifierOf(s string) string {
	var b strings.Builder
	under := false
	for i := 0; i < len(s); i++ {
		if isClassChar(s[i]) && s[i] != '_' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteByte(s[i])
			continue
		}
		under = true
	}
	return b.String()
}

// uniqueDerived gives derived handles that came out the same, or the same
// as a handle written in a file, a number: ssh_probe_storm_report_2.
func (l *loader) uniqueDerived() {
	taken := map[string]bool{}
	for _, e := range l.cmds {
		if e.explicit {
			taken[e.c.Handle] = true
		}
	}
	for _, e := range l.reps {
		if e.explicit {
			taken[e.r.Handle] = true
		}
	}
	unique := func(h string) string {
		name := h
		for n := 2; taken[name]; n++ {
			name = fmt.Sprintf("%s_%d", h, n)
		}
		taken[name] = true
		return name
	}
	for _, e := range l.cmds {
		if !e.explicit {
			e.c.Handle = unique(e.c.Handle)
		}
	}
	for _, e := range l.reps {
		if !e.explicit {
			e.r.Handle = unique(e.r.Handle)
		}
	}
}

func validEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isClassChar(s[i]) {
			return false
		}
	}
	return true
}

// command validates one (expanded) command.
func (l *loader) command(o *obj) {
	o.checkKeys(commandKeys)
	c := &Command{Pos: o.selfPos()}
	if s, ok := o.required("if", "a class expression, e.g. milter_dcc_errors_high_dev2"); ok {
		c.If = o.expr("if", s)
	}
	c.Argv = o.argv("command", "argv list, no shell: command: [/usr/sbin/service, dcc-milter, restart]", "")
	c.Shell = o.boolean("shell", false)
	if c.Shell {
		o.warnf("shell", "runs through /bin/sh -c; an argv list without shell is safer")
		for i, a := range c.Argv {
			if v := textVar(a); v != "" {
				p, pos := o.writtenElemAt("command", i)
				o.errAt(pos, p, "remove shell: true and pass it as its own argv element",
					"$(%s...) is text from a log line or the system and must never reach a shell", v)
			}
		}
	}
	c.IfElapsed = o.duration("ifelapsed", 0)
	c.Timeout = o.commandTimeout()
	// timeout is the hard limit of a run; expireafter is the earlier point
	// where a run still going is killed and reported as expired. One at
	// or past the timeout could never apply, which is a misunderstanding
	// worth an error rather than a silently ignored setting.
	c.ExpireAfter = o.duration("expireafter", 0)
	if c.ExpireAfter > 0 && c.ExpireAfter >= c.Timeout {
		o.errf("expireafter", "make it shorter than timeout, or remove it",
			"expireafter %s has no effect: timeout %s kills the command first", formatDuration(c.ExpireAfter), formatDuration(c.Timeout))
	}
	c.Env = o.strMap("env", func(k string) (string, string) {
		if !validEnvName(k) {
			return fmt.Sprintf("invalid environment variable name %q", k), "letters, digits and underscores, not starting with a digit"
		}
		return "", ""
	})
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if !c.Shell && len(c.Argv) > 0 {
		if p := l.program(o, "command", c.Argv[0], true, false); p != nil {
			_, p.envPATH = c.Env["PATH"]
		}
	}
	c.Priority = o.priority("priority")
	var explicit bool
	c.Handle, explicit = o.actionHandle("command")
	l.cmds = append(l.cmds, &cmdEntry{c: c, o: o, explicit: explicit, perKey: o.per()})
}

// argv validates key as an argv list, which runs without a shell: a list
// of strings (never one string, which a shell would have to split), not
// empty, whose first element, the program, is not empty. An absent key is
// reported with the message missing ("required key … is missing" when
// ""); hint is an example.
func (o *obj) argv(key, hint, missing string) []string {
	switch o.m[key].(type) {
	case string:
		o.errf(key, hint, "must be an argv list, not a string")
	case nil:
		if o.has(key) {
			o.errf(key, hint, "must not be empty")
		} else {
			o.missing(key, hint, missing)
		}
	default:
		if argv, ok := o.strList(key); ok {
			switch {
			case len(argv) == 0:
				o.errf(key, hint, "must not be empty")
			case argv[0] == "":
				o.errf(key, hint, "the program name (first element) is empty")
			default:
				return argv
			}
		}
	}
	return nil
}

// commandTimeout validates timeout:, the hard limit of a command's run
// (DefaultCommandTimeout when absent), which must be longer than 0.
func (o *obj) commandTimeout() time.Duration {
	d := o.duration("timeout", DefaultCommandTimeout)
	if o.has("timeout") && d == 0 {
		o.errf("timeout", "a hung command must be killed; give a duration such as 2m", "must be longer than 0")
		return DefaultCommandTimeout
	}
	return d
}

// destination validates to:, where a report or an alarm is written:
// stderr (when absent), syslog or an absolute file path.
func (o *obj) destination() string {
	to, ok := o.str("to")
	switch {
	case !ok:
		return "stderr"
	case to == "stderr" || to == "syslog":
		return to
	case filepath.IsAbs(to):
		return filepath.Clean(to)
	}
	o.errf("to", "stderr, syslog or an absolute file path", "invalid destination %s", strconv.Quote(to))
	return "stderr"
}

// per validates per:, which says a command or report fires per source.
func (o *obj) per() bool {
	return o.enum("per", "", PerKey) == PerKey
}

// report validates one (expanded) report.
func (l *loader) report(o *obj) {
	o.checkKeys(reportKeys)
	r := &Report{Pos: o.selfPos()}
	if s, ok := o.str("if"); ok {
		r.If = o.expr("if", s)
	} else if !o.has("if") {
		r.If = MustParseExpr("any")
	}
	r.Message, _ = o.required("message", `e.g. "ssh probes $(value_ssh_probe), top source $(top_ssh_probe)"`)
	r.To = o.destination()
	r.IfElapsed = o.duration("ifelapsed", 0)
	r.Priority = o.priority("priority")
	var explicit bool
	r.Handle, explicit = o.actionHandle("report")
	l.reps = append(l.reps, &repEntry{r: r, o: o, explicit: explicit, perKey: o.per()})
}

// settingsOf validates the settings of one file.
func (l *loader) settingsOf(root *obj) {
	st := root.mapping("settings")
	if st == nil {
		return
	}
	st.checkKeys(settingsKeys)
	s := &l.set.Settings
	validators := settingValidators()
	for _, k := range sortedKeys(st) {
		validate, known := validators[k]
		if !known {
			continue
		}
		if prev, dup := l.settings[k]; dup {
			st.errAt(st.keyPos(k), child(st.path, k), "set each setting in one file only", "already set at %s", prev)
			continue
		}
		l.settings[k] = st.keyPos(k)
		validate(st, s)
	}
}

// CheckInterval says why d cannot be a sampling interval, with a hint, or
// returns "" when it can: at least a second, dividing a week into whole
// time slots (the baseline's). settings.interval and every command's
// --interval are held to it.
func CheckInterval(d time.Duration) (why, hint string) {
	switch {
	case d < time.Second:
		return "must be at least 1s", "e.g. 1m, 5m, 15m, 1h"
	case week%d != 0:
		return fmt.Sprintf("%s does not divide a week into whole time slots", formatDuration(d)), "e.g. 1m, 5m, 10m, 15m, 1h"
	}
	return "", ""
}

// settingValidators returns the validator of each setting.
func settingValidators() map[string]func(*obj, *Settings) {
	return map[string]func(*obj, *Settings){
		"interval": func(o *obj, s *Settings) {
			d := o.duration("interval", s.Interval)
			if why, hint := CheckInterval(d); why != "" {
				o.errf("interval", hint, "%s", why)
			} else {
				s.Interval = d
			}
		},
		"timezone": func(o *obj, s *Settings) {
			if tz, ok := o.str("timezone"); ok {
				s.Location = o.location("timezone", tz)
			}
		},
		"max_line_length": func(o *obj, s *Settings) {
			if n := o.size("max_line_length", 256, 64<<20, "bytes, or a size such as 64KiB, 1MiB, 64k"); n > 0 {
				s.MaxLineLength = int(n)
			}
		},
		"regex_timeout": func(o *obj, s *Settings) {
			d := o.duration("regex_timeout", s.RegexTimeout)
			if d < match.MinTimeout || d > time.Minute {
				o.errf("regex_timeout", "e.g. 100ms", "must be at least %v and at most 1m", match.MinTimeout)
				return
			}
			s.RegexTimeout = d
		},
		"host": func(o *obj, s *Settings) {
			if h, ok := o.str("host"); ok {
				if h == "" || strings.ContainsFunc(h, func(r rune) bool { return isControl(r) || r == ' ' }) {
					o.errf("host", "", "invalid host name %s", strconv.Quote(h))
					return
				}
				s.Host = h
			}
		},
		"survey": func(o *obj, s *Settings) {
			m := o.mapping("survey")
			if m == nil {
				return
			}
			m.checkKeys(surveyKeys)
			if p, ok := m.required("file", "an absolute path, e.g. /var/log/logtally/survey.tsv"); ok {
				if !filepath.IsAbs(p) {
					m.errf("file", "e.g. /var/log/logtally/survey.tsv", "must be an absolute path")
				} else {
					s.Survey.File = filepath.Clean(p)
				}
			}
			s.Survey.Period = m.positive("period", DefaultSurveyPeriod, "e.g. 1h")
		},
		"notice_log": func(o *obj, s *Settings) {
			if p, ok := o.str("notice_log"); ok {
				if !filepath.IsAbs(p) {
					o.errf("notice_log", "e.g. /var/log/logtally/notices.jsonl", "must be an absolute path")
					return
				}
				s.NoticeLog = filepath.Clean(p)
			}
		},
		"priorities": func(o *obj, s *Settings) {
			m := o.mapping("priorities")
			if m == nil {
				return
			}
			for _, k := range sortedKeys(m) {
				if _, err := path.Match(k, ""); err != nil || k == "" {
					m.errAt(m.keyPos(k), child(m.path, k), "a class name or a pattern such as *_anomaly", "invalid class pattern %s", strconv.Quote(k))
					continue
				}
				if p := m.priority(k); p > 0 {
					s.Priorities = append(s.Priorities, ClassPriority{Pattern: k, Priority: p})
				}
			}
		},
		"file_change_log": func(o *obj, s *Settings) {
			if p, ok := o.str("file_change_log"); ok {
				if !filepath.IsAbs(p) {
					o.errf("file_change_log", "e.g. /var/lib/logtally/file_changes.jsonl", "must be an absolute path")
					return
				}
				s.FileChangeLog = filepath.Clean(p)
			}
		},
		"tags":      func(o *obj, s *Settings) { s.Tags = o.tags("tags") },
		"half_life": func(o *obj, s *Settings) { s.HalfLife = o.positive("half_life", s.HalfLife, "e.g. 4w") },
		"max_concurrent_commands": func(o *obj, s *Settings) {
			s.MaxConcurrentCommands = int(o.integer("max_concurrent_commands", int64(s.MaxConcurrentCommands), 1, 1024))
		},
		"outputs": func(o *obj, s *Settings) {
			if o.m["outputs"] == nil {
				return
			}
			list, ok := o.list("outputs")
			if !ok {
				return
			}
			for i, v := range list {
				oo := &obj{file: o.file, ix: o.ix, path: elem(child(o.path, "outputs"), i), parent: o, s: o.s}
				m, isMap := v.(map[string]any)
				if !isMap {
					oo.errAt(oo.selfPos(), oo.path, "a map with url: and its options", "must be a map, not %s", typeName(v))
					continue
				}
				oo.m = m
				if out, ok := oo.output(); ok {
					s.Outputs = append(s.Outputs, out)
				}
			}
		},
	}
}

// positive returns key's duration, which must be longer than 0.
func (o *obj) positive(key string, def time.Duration, hint string) time.Duration {
	d := o.duration(key, def)
	if d <= 0 {
		o.errf(key, hint, "must be longer than 0")
		return def
	}
	return d
}

// output validates one line-protocol destination.
func (o *obj) output() (Output, bool) {
	o.checkKeys(outputKeys)
	out := Output{Pos: o.selfPos(), BatchSize: DefaultBatchSize, FlushInterval: DefaultFlushInterval, SpoolSize: DefaultSpoolSize}
	const urlHint = `"-" (stdout), file:///path, udp://host:port, http://host:8086 or https://host/api/v2/write`
	raw, ok := o.required("url", urlHint)
	if !ok {
		return out, false
	}
	out.URL = raw
	isHTTP := false
	good := true
	if raw != "-" {
		u, err := url.Parse(raw)
		if err != nil {
			o.errf("url", urlHint, "invalid URL: %v", err)
			return out, false
		}
		switch u.Scheme {
		case "file":
			if (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
				o.errf("url", "file:///absolute/path (three slashes)", "a file URL needs an absolute path")
				good = false
			}
		case "udp":
			if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
				o.errf("url", "udp://host:port", "a UDP URL needs host:port")
				good = false
			} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				o.errf("url", "udp://host:port", "invalid port %s", strconv.Quote(port))
				good = false
			}
		case "http", "https":
			isHTTP = true
			if u.Host == "" {
				o.errf("url", urlHint, "an HTTP URL needs a host")
				good = false
			}
			inferred := "v1"
			if strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v2/write") {
				inferred = "v2"
			}
			out.API = o.enum("api", inferred, "v1", "v2")
			var need []string
			switch {
			case o.has("api") && inferred == "v2" && out.API == "v1":
				o.errf("api", "remove api:, or use the /write path", "api v1 with a /api/v2/write URL")
				good = false
			case out.API == "v2":
				need = []string{"token", "org", "bucket"}
			default:
				need = []string{"database"}
			}
			for _, k := range need {
				if !o.has(k) {
					o.missing(k, "", "required key %s is missing for api %s", k, out.API)
					good = false
				}
			}
		default:
			o.errf("url", urlHint, "unknown scheme %s", strconv.Quote(u.Scheme))
			return out, false
		}
	}
	if !isHTTP {
		for _, k := range []string{"api", "database", "retention_policy", "username", "password", "token", "org", "bucket"} {
			if o.has(k) {
				o.errAt(o.keyPos(k), child(o.path, k), "", "only for http(s) outputs")
				good = false
			}
		}
	}
	out.Database, _ = o.str("database")
	out.RetentionPolicy, _ = o.str("retention_policy")
	out.Username, _ = o.str("username")
	out.Password, _ = o.str("password")
	out.Token, _ = o.str("token")
	out.Org, _ = o.str("org")
	out.Bucket, _ = o.str("bucket")
	// InfluxDB's UDP listener reads nanoseconds unless configured
	// otherwise; HTTP writes say their precision, and seconds keep the
	// points of files and stdout short.
	defPrecision := "s"
	if strings.HasPrefix(raw, "udp://") {
		defPrecision = "ns"
	}
	out.Precision = o.enum("precision", defPrecision, "ns", "us", "ms", "s")
	out.BatchSize = int(o.integer("batch_size", DefaultBatchSize, 1, 1_000_000))
	out.FlushInterval = o.positive("flush_interval", DefaultFlushInterval, "e.g. 10s")
	out.Gzip = o.boolean("gzip", isHTTP)
	if out.Gzip && !isHTTP {
		o.errf("gzip", "", "only for http(s) outputs")
		good = false
	}
	out.SpoolSize = int(o.integer("spool_size", DefaultSpoolSize, 0, 100_000_000))
	return out, good
}
