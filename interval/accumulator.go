package interval

import (
	"math"
	"net/netip"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// MaxKeys bounds the distinct keys counted per measurement per interval;
// further keys are counted in KeyOverflow, so that an attacker who varies
// the key cannot grow memory without bound.
const MaxKeys = 10000

// MaxKeyLen bounds the length of a key of key_type any.
const MaxKeyLen = 256

// Counts are the per-interval counters of one measurement.
type Counts struct {
	Selected      uint64 `json:"selected"`       // lines selected (select matched)
	ExtractMisses uint64 `json:"extract_misses"` // selected lines whose extraction or number failed
	Timeouts      uint64 `json:"timeouts"`       // lines where a regex hit its time limit
	KeyRejects    uint64 `json:"key_rejects"`    // keys refused by key_type
	KeyOverflow   uint64 `json:"key_overflow"`   // keys not counted because MaxKeys was reached
	// Ignored are selected lines not counted because their key is one
	// of the rule's ignore_keys.
	Ignored uint64 `json:"ignored,omitempty"`
	// Backdated and Undated say how selected lines that were read after a
	// restart (appended while logtally was down) were attributed: by their
	// own timestamp to this interval, or, without a usable timestamp, to
	// the interval in which they were read.
	Backdated uint64 `json:"backdated,omitempty"`
	Undated   uint64 `json:"undated,omitempty"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Selected += o.Selected
	c.ExtractMisses += o.ExtractMisses
	c.Timeouts += o.Timeouts
	c.KeyRejects += o.KeyRejects
	c.KeyOverflow += o.KeyOverflow
	c.Ignored += o.Ignored
	c.Backdated += o.Backdated
	c.Undated += o.Undated
}

// Accumulator folds one measurement's hits over one interval. It is not safe
// for concurrent use.
type Accumulator struct {
	dataType string
	policy   string
	keyType  string
	hasEx    bool
	ignore   *rules.KeyFilter

	Counts
	n     uint64 // values folded
	sum   float64
	first float64
	last  float64
	abs   float64 // sum of the absolute values folded
	text  string  // data_type string: the last value
	keys  map[string]uint64
	// checked caches what ValidKey said of each raw key seen, so that a
	// source that repeats is parsed once per interval (bounded by MaxKeys).
	checked map[string]checkedKey
}

type checkedKey struct {
	key     string
	ok      bool
	ignored bool // one of the rule's ignore_keys
}

// NewAccumulator returns an empty accumulator for m.
func NewAccumulator(m *rules.Measurement) *Accumulator {
	return &Accumulator{dataType: m.DataType, policy: m.Policy, keyType: m.KeyType, hasEx: m.Extract != "",
		ignore: m.IgnoreKeys}
}

// Sampled returns the accumulator of one sampled value of m (an
// observable): the value, and its keys validated by m's key_type. A set's
// value is the number of its keys.
func Sampled(m *rules.Measurement, v float64, keys map[string]uint64) *Accumulator {
	a := NewAccumulator(m)
	ks := make([]string, 0, len(keys))
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks) // which keys overflow MaxKeys does not depend on map order
	for _, k := range ks {
		a.addKeyN([]byte(k), keys[k])
	}
	a.Selected = 1
	if a.dataType != rules.Slist {
		a.fold(v, 1)
	}
	return a
}

// Add folds one hit. A selected line whose key is one of the rule's
// ignore_keys is counted as ignored and nowhere else.
func (a *Accumulator) Add(h *match.Hit) { a.AddN(h, 1) }

// AddN folds one hit that stands for n lines (a syslog line saying that
// its message was repeated n times): every count of the line is n, its
// value is taken n times and its key counted n times. A regex timeout is
// counted once: the line was matched once.
func (a *Accumulator) AddN(h *match.Hit, n uint64) {
	if h.Timeout {
		a.Timeouts++
	}
	if !h.Selected || n == 0 {
		return
	}
	if h.Key != nil {
		c := a.checkKey(h.Key)
		if c.ignored {
			a.Ignored += n
			return
		}
		a.Selected += n
		a.countKey(c, n)
	} else {
		a.Selected += n
	}
	switch {
	case a.dataType == rules.Counter:
		if a.hasEx && h.ExtractMiss {
			a.ExtractMisses += n
			return
		}
		a.fold(1, n)
	case a.dataType == rules.Slist || a.dataType == rules.String:
		if h.ExtractMiss || h.Value == nil {
			a.ExtractMisses += n
			return
		}
		if a.dataType == rules.Slist {
			a.addKeyN(h.Value, n) // the values are the keys
		} else if t, ok := ValidKey(a.keyType, h.Value); ok {
			a.text = t
		} else {
			a.KeyRejects += n
			return
		}
		a.n += n
	default:
		if h.ExtractMiss || h.Value == nil {
			a.ExtractMisses += n
			return
		}
		v, ok := match.ParseNumber(h.Value)
		if !ok {
			a.ExtractMisses += n
			return
		}
		if a.dataType == rules.Int {
			v = math.Trunc(v)
		}
		a.fold(v, n)
	}
}

// fold folds the value v, n times.
func (a *Accumulator) fold(v float64, n uint64) {
	if a.n == 0 {
		a.first = v
	}
	a.n += n
	a.sum += v * float64(n) // exact for n == 1
	a.abs += math.Abs(v) * float64(n)
	a.last = v
}

func (a *Accumulator) addKey(raw []byte) { a.addKeyN(raw, 1) }

// addKeyN counts n occurrences of a key.
func (a *Accumulator) addKeyN(raw []byte, n uint64) { a.countKey(a.checkKey(raw), n) }

// checkKey validates a raw key by key type and tells whether it is
// ignored, once per distinct key and interval.
func (a *Accumulator) checkKey(raw []byte) checkedKey {
	c, hit := a.checked[string(raw)]
	if !hit {
		c.key, c.ok = ValidKey(a.keyType, raw)
		c.ignored = c.ok && a.ignore.Ignores(c.key)
		if a.checked == nil {
			a.checked = make(map[string]checkedKey)
		}
		if len(a.checked) < MaxKeys {
			a.checked[string(raw)] = c
		}
	}
	return c
}

// countKey counts n occurrences of a checked key.
func (a *Accumulator) countKey(c checkedKey, n uint64) {
	k, ok := c.key, c.ok
	if !ok {
		a.KeyRejects += n
		return
	}
	if a.keys == nil {
		a.keys = make(map[string]uint64)
	}
	if _, seen := a.keys[k]; !seen && len(a.keys) >= MaxKeys {
		a.KeyOverflow += n
		return
	}
	a.keys[k] += n
}

// ValidKey validates a key by key type and returns it as a string: an ip key
// must be an IPv4 or IPv6 address (returned in canonical form); a word key
// is [A-Za-z0-9._@-]{1,256}; any other key is made valid UTF-8 and cut to
// MaxKeyLen bytes. Keys come from log lines and are attacker-controlled.
func ValidKey(keyType string, raw []byte) (string, bool) {
	switch keyType {
	case rules.KeyIP:
		if len(raw) > 64 {
			return "", false
		}
		s := strings.TrimSuffix(strings.TrimPrefix(string(raw), "["), "]")
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return "", false
		}
		return addr.Unmap().String(), true
	case rules.KeyWord:
		if len(raw) == 0 || len(raw) > MaxKeyLen {
			return "", false
		}
		for _, c := range raw {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-') {
				return "", false
			}
		}
		return string(raw), true
	default:
		if len(raw) > MaxKeyLen {
			raw = raw[:MaxKeyLen]
			for len(raw) > 0 && !utf8.Valid(raw) && len(raw) > MaxKeyLen-utf8.UTFMax {
				raw = raw[:len(raw)-1]
			}
		}
		return strings.ToValidUTF8(string(raw), "\uFFFD"), true
	}
}

// Value returns the folded value; ok is false when the interval has no
// value (an int or real measurement without any value, except with the sum
// policy).
func (a *Accumulator) Value() (float64, bool) {
	switch a.dataType {
	case rules.Counter:
		return float64(a.n), true
	case rules.Slist:
		return float64(len(a.keys)), true // the empty set is a value
	case rules.String:
		return 0, false // text only: see Text
	}
	if a.n == 0 {
		return 0, a.policy == rules.PolicySum
	}
	switch a.policy {
	case rules.PolicySum:
		return a.sum, true
	case rules.PolicyAverage:
		return a.sum / float64(a.n), true
	case rules.PolicyFirst:
		return a.first, true
	default:
		return a.last, true
	}
}

// Text returns the last value of a string measurement; ok is false when
// the interval had none.
func (a *Accumulator) Text() (string, bool) { return a.text, a.dataType == rules.String && a.n > 0 }

// Keys returns the key counts (nil when the rule has no key or none matched).
// The map is the accumulator's own; do not modify it.
func (a *Accumulator) Keys() map[string]uint64 { return a.keys }

// TopKey returns the most frequent key and its count; ties go to the
// smallest key, so the result is deterministic.
func (a *Accumulator) TopKey() (string, uint64) {
	var top string
	var n uint64
	for k, c := range a.keys {
		if c > n || c == n && k < top {
			top, n = k, c
		}
	}
	return top, n
}

// AbsSum returns the sum of the absolute values folded. While it stays
// within 2^53, every partial sum of integer values is exact, in any order,
// so that folding a stream in parts and merging them gives the sum of one
// sequential pass.
func (a *Accumulator) AbsSum() float64 { return a.abs }

// Merge folds b, which covers a later part of the same interval, into a.
func (a *Accumulator) Merge(b *Accumulator) {
	a.Counts.Add(b.Counts)
	if b.n > 0 {
		if a.n == 0 {
			a.first = b.first
		}
		a.last = b.last
		a.text = b.text
		a.sum += b.sum
		a.abs += b.abs
		a.n += b.n
	}
	for k, c := range b.keys {
		if a.keys == nil {
			a.keys = make(map[string]uint64)
		}
		if _, seen := a.keys[k]; !seen && len(a.keys) >= MaxKeys {
			a.KeyOverflow += c
			continue
		}
		a.keys[k] += c
	}
}

// reset empties the accumulator for reuse, keeping what it learned of raw
// keys (the ValidKey cache).
func (a *Accumulator) reset() {
	a.Counts = Counts{}
	a.n, a.sum, a.first, a.last, a.abs, a.text = 0, 0, 0, 0, 0, ""
	clear(a.keys)
}

// Snapshot is an Accumulator's content in a form that can be stored, so that
// a partial interval survives a restart.
type Snapshot struct {
	Counts
	N     uint64            `json:"n"`
	Sum   float64           `json:"sum"`
	First float64           `json:"first"`
	Last  float64           `json:"last"`
	Text  string            `json:"text,omitempty"`
	Keys  map[string]uint64 `json:"keys,omitempty"`
}

// Snapshot returns the accumulator's content.
func (a *Accumulator) Snapshot() Snapshot {
	s := Snapshot{Counts: a.Counts, N: a.n, Sum: a.sum, First: a.first, Last: a.last, Text: a.text}
	if len(a.keys) > 0 {
		s.Keys = make(map[string]uint64, len(a.keys))
		for k, v := range a.keys {
			s.Keys[k] = v
		}
	}
	return s
}

// Restore replaces the accumulator's content with s.
func (a *Accumulator) Restore(s Snapshot) {
	a.Counts, a.n, a.sum, a.first, a.last, a.text = s.Counts, s.N, s.Sum, s.First, s.Last, s.Text
	a.abs = math.Abs(s.Sum)
	a.keys = nil
	for k, v := range s.Keys {
		if a.keys == nil {
			a.keys = make(map[string]uint64, len(s.Keys))
		}
		a.keys[k] = v
	}
}
