package interval

import (
	"sort"

	"github.com/logtally/logtally/output"
)

// KeyTable is one interval's counts per key of a measurement, bounded as
// cfenvd's ShowState table is: the Top most frequent keys, by count, then
// by key, and the rest summed in Other, so that however many sources an
// attacker invents, the table, the state and the line-protocol points stay
// within top_keys + 1 rows.
type KeyTable struct {
	Top []KeyCount `json:"top"`
	// Other is the count of the keys not in Top, and OtherKeys how many
	// distinct keys that is.
	Other     uint64 `json:"other,omitempty"`
	OtherKeys int    `json:"other_keys,omitempty"`
	// Total is the count of every key: Top and Other.
	Total uint64 `json:"total"`
}

// KeyCount is one key of a table: how many selected lines had it.
type KeyCount struct {
	Key   string `json:"key"`
	Count uint64 `json:"count"`
}

// Share is the key's part of the table's total, from 0 to 1.
func (t *KeyTable) Share(n uint64) float64 {
	if t == nil || t.Total == 0 {
		return 0
	}
	return float64(n) / float64(t.Total)
}

// NewKeyTable returns the table of key counts with the top n keys.
func NewKeyTable(counts map[string]uint64, n int) *KeyTable {
	t := &KeyTable{}
	all := make([]KeyCount, 0, len(counts))
	for k, c := range counts {
		if c > 0 {
			all = append(all, KeyCount{k, c})
			t.Total += c
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Count != all[j].Count {
			return all[i].Count > all[j].Count
		}
		return all[i].Key < all[j].Key
	})
	if len(all) > n {
		for _, kc := range all[n:] {
			t.Other += kc.Count
		}
		t.OtherKeys = len(all) - n
		all = all[:n]
	}
	t.Top = all
	return t
}

// KeysMeasurement returns the line-protocol measurement of handle h's key
// table.
func KeysMeasurement(h string) string { return h + "_keys" }

// KeyPoints returns the line-protocol points of a sample's key table, one
// per key of its top and one for the rest:
//
//	<h>_keys,host=<host>[,tags],key=<key> count=<n>i,share=<0..1> <end>
//	<h>_keys,host=<host>[,tags],other=true count=<n>i,share=<0..1>,keys=<distinct>i <end>
//
// The key is a tag, so a measurement writes at most top_keys + 1 points
// per interval, and each key that ever reaches its top is one series.
func (e *Engine) KeyPoints(s *Sample) []output.Point {
	t := s.KeyTable
	if t == nil || s.Partial {
		return nil
	}
	host := ""
	var tags map[string]string
	if e.set != nil {
		host = e.set.Settings.Host
		if st := e.meas[s.Handle]; st != nil {
			tags = e.set.Settings.TagsFor(st.Rule)
		}
	}
	with := func(k, v string) map[string]string {
		out := make(map[string]string, len(tags)+2)
		for tk, tv := range tags {
			out[tk] = tv
		}
		if host != "" {
			out["host"] = host
		}
		delete(out, "key")
		delete(out, "other")
		out[k] = v
		return out
	}
	name := KeysMeasurement(s.Handle)
	out := make([]output.Point, 0, len(t.Top)+1)
	for _, kc := range t.Top {
		out = append(out, output.Point{Measurement: name, Tags: with("key", kc.Key), Time: s.End,
			Fields: []output.Field{{Key: "count", Value: int64(kc.Count)}, {Key: "share", Value: t.Share(kc.Count)}}})
	}
	if t.OtherKeys > 0 {
		out = append(out, output.Point{Measurement: name, Tags: with("other", "true"), Time: s.End,
			Fields: []output.Field{{Key: "count", Value: int64(t.Other)}, {Key: "share", Value: t.Share(t.Other)},
				{Key: "keys", Value: int64(t.OtherKeys)}}})
	}
	return out
}
