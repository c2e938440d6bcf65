package interval

import (
	"fmt"
	"reflect"
	"testing"
)

// TestKeyTable: the most frequent keys by count then key, the rest summed,
// shares of the total; bounded however many keys there are.
func TestKeyTable(t *testing.T) {
	tests := []struct {
		counts map[string]uint64
		n      int
		want   KeyTable
	}{
		{map[string]uint64{"a": 5, "b": 7, "c": 5, "d": 1}, 2,
			KeyTable{Top: []KeyCount{{"b", 7}, {"a", 5}}, Other: 6, OtherKeys: 2, Total: 18}},
		{map[string]uint64{"a": 1}, 10, KeyTable{Top: []KeyCount{{"a", 1}}, Total: 1}},
		{map[string]uint64{"x": 3, "y": 3}, 2, KeyTable{Top: []KeyCount{{"x", 3}, {"y", 3}}, Total: 6}},
	}
	for _, tt := range tests {
		got := NewKeyTable(tt.counts, tt.n)
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("NewKeyTable(%v, %d) = %+v, want %+v", tt.counts, tt.n, *got, tt.want)
		}
	}
	many := map[string]uint64{}
	for i := 0; i < MaxKeys; i++ {
		many[fmt.Sprintf("10.0.%d.%d", i/256, i%256)] = uint64(1 + i%7)
	}
	tab := NewKeyTable(many, 10)
	var sum uint64
	for _, kc := range tab.Top {
		sum += kc.Count
	}
	if len(tab.Top) != 10 || tab.OtherKeys != MaxKeys-10 || sum+tab.Other != tab.Total || tab.Top[0].Count != 7 {
		t.Errorf("table of %d keys: %d top, %d others, %d+%d of %d", MaxKeys, len(tab.Top), tab.OtherKeys, sum, tab.Other, tab.Total)
	}
	if s := tab.Share(tab.Total); s != 1 {
		t.Errorf("share of the total = %v", s)
	}
}
