// Package ruletest builds rule-set values for tests that need a measurement
// without loading a rule file. It is apart from testutil, which packages
// below rules use.
package ruletest

import "github.com/logtally/logtally/rules"

// Measurement returns a weekly file measurement of path x with the given
// data type, multiline policy (last when empty), patterns and key type
// (any when empty), as a rule file would give it, for tests that fold
// lines without loading rules.
func Measurement(handle, dataType, policy, sel, ex, key, keyType string) *rules.Measurement {
	if keyType == "" {
		keyType = rules.KeyAny
	}
	if policy == "" {
		policy = rules.PolicyLast
	}
	return &rules.Measurement{Handle: handle, StreamType: rules.StreamFile, Path: "x", DataType: dataType,
		Policy: policy, Select: sel, Extract: ex, Key: key, KeyType: keyType, TrackGrowing: true,
		HistoryType: rules.HistoryWeekly, Start: rules.StartEnd}
}
