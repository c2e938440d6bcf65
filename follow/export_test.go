package follow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// exportField is one field as a test writes it.
type exportField = testutil.JournalField

// encodeExport writes entries in the journal export format.
func encodeExport(entries ...[]exportField) []byte { return testutil.EncodeExport(entries...) }

func readEntries(r *exportReader) ([]*exportEntry, error) {
	var out []*exportEntry
	for {
		e, err := r.next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		out = append(out, e)
	}
}

func TestExportParse(t *testing.T) {
	entry := func(cursor string, us int64, msg string, bin bool) []exportField {
		return []exportField{
			{Name: "__CURSOR", Value: cursor},
			{Name: "__REALTIME_TIMESTAMP", Value: fmt.Sprint(us)},
			{Name: "__MONOTONIC_TIMESTAMP", Value: "1000"},
			{Name: "_BOOT_ID", Value: "0123456789abcdef0123456789abcdef"},
			{Name: "_HOSTNAME", Value: "labsz"},
			{Name: "SYSLOG_IDENTIFIER", Value: "sshd-session"},
			{Name: "_PID", Value: "24200"},
			{Name: "_COMM", Value: "sshd-session"},
			{Name: "MESSAGE", Value: msg, Binary: bin},
			{Name: "COREDUMP", Value: strings.Repeat("\x00\x01", 100), Binary: true},
		}
	}
	data := encodeExport(
		entry("s=1;i=1", 1733813746000000, "Invalid user webmaster from 173.234.31.186 port 38926", false),
		entry("s=1;i=2", 1733813747250000, "multi\nline\x00message", true),
		entry("s=1;i=3", 1733813748000000, strings.Repeat("x", 100), false),
		entry("s=1;i=4", 1733813749000000, strings.Repeat("y\n", 60), true),
	)
	// One byte at a time, and all at once: the same entries.
	for name, r := range map[string]io.Reader{"whole": bytes.NewReader(data), "bytewise": iotest.OneByteReader(bytes.NewReader(data))} {
		got, err := readEntries(newExportReader(r, 64))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 4 {
			t.Fatalf("%s: %d entries, want 4", name, len(got))
		}
		var size int64
		for _, e := range got {
			size += e.size
		}
		if size != int64(len(data)) {
			t.Errorf("%s: entries took %d bytes of %d", name, size, len(data))
		}
		want := []struct {
			cursor string
			t      time.Time
			msg    string
			cut    bool
		}{
			{"s=1;i=1", time.UnixMicro(1733813746000000), "Invalid user webmaster from 173.234.31.186 port 38926", false},
			{"s=1;i=2", time.UnixMicro(1733813747250000), "multi\nline\x00message", false},
			{"s=1;i=3", time.UnixMicro(1733813748000000), strings.Repeat("x", 64), true},
			{"s=1;i=4", time.UnixMicro(1733813749000000), strings.Repeat("y\n", 32), true},
		}
		for i, w := range want {
			e := got[i]
			if e.cursor != w.cursor || !e.realtime.Equal(w.t) || string(e.message) != w.msg || e.cut != w.cut ||
				string(e.ident) != "sshd-session" || string(e.pid) != "24200" || string(e.hostname) != "labsz" {
				t.Errorf("%s: entry %d = %+v, want %+v", name, i, e, w)
			}
		}
	}
}

func TestExportErrors(t *testing.T) {
	good := encodeExport([]exportField{{Name: "__CURSOR", Value: "c"}, {Name: "MESSAGE", Value: "m"}})
	for _, tc := range []struct {
		name string
		data string
		want error // errCorrupt, io.ErrUnexpectedEOF, or nil for entries then EOF
	}{
		{"empty", "", nil},
		{"blank lines only", "\n\n\n", nil},
		{"cut inside an entry", string(good[:len(good)-1]), io.ErrUnexpectedEOF},
		{"cut inside a value", "MESSAGE=abc", io.ErrUnexpectedEOF},
		{"cut inside a binary length", "MESSAGE\n\x05\x00", io.ErrUnexpectedEOF},
		{"cut inside binary data", "MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab", io.ErrUnexpectedEOF},
		{"no newline after binary data", "MESSAGE\n\x02\x00\x00\x00\x00\x00\x00\x00abX\n\n", errCorrupt},
		{"binary length absurd", "MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\xff", errCorrupt},
		{"bad field name", "MESS AGE=x\n\n", errCorrupt},
		{"no field name", "=x\n\n", errCorrupt},
		{"long field name", strings.Repeat("A", maxFieldName+1) + "=x\n\n", errCorrupt},
		{"bad realtime", "__REALTIME_TIMESTAMP=soon\n\n", errCorrupt},
	} {
		_, err := readEntries(newExportReader(strings.NewReader(tc.data), 0))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzExport: any input parses without panicking, keeps at most the
// limits, and accounts for every byte of the entries it returns; entries
// written by encodeExport come back as written.
func FuzzExport(f *testing.F) {
	f.Add(encodeExport([]exportField{{Name: "__CURSOR", Value: "s=1;i=1"}, {Name: "MESSAGE", Value: "hi"}}), uint8(3))
	f.Add(encodeExport([]exportField{{Name: "MESSAGE", Value: "a\nb", Binary: true}}), uint8(1))
	f.Add([]byte("MESSAGE\n\xff\xff\xff\xff\xff\xff\xff\x00"), uint8(9))
	f.Add([]byte("__REALTIME_TIMESTAMP=1\n\n\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, seed uint8) {
		const limit = 32
		got, _ := readEntries(newExportReader(bytes.NewReader(data), limit))
		var size int64
		for _, e := range got {
			if len(e.message) > limit || len(e.ident) > maxKeptField {
				t.Fatalf("kept %d bytes of MESSAGE, limit %d", len(e.message), limit)
			}
			size += e.size
		}
		if size > int64(len(data)) {
			t.Fatalf("entries took %d bytes of %d", size, len(data))
		}
		// A round trip of entries made from the input.
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(len(data))))
		var entries [][]exportField
		for i := 0; i < int(seed%4)+1; i++ {
			msg := string(data[:rng.IntN(len(data)+1)])
			entries = append(entries, []exportField{
				{Name: "__CURSOR", Value: fmt.Sprintf("s=x;i=%d", i)},
				{Name: "MESSAGE", Value: msg, Binary: strings.ContainsRune(msg, '\n') || rng.IntN(2) == 0},
			})
		}
		back, err := readEntries(newExportReader(bytes.NewReader(encodeExport(entries...)), 1<<20))
		if err != nil || len(back) != len(entries) {
			t.Fatalf("round trip: %d entries, %v; want %d", len(back), err, len(entries))
		}
		for i, e := range back {
			if e.cursor != entries[i][0].Value || string(e.message) != entries[i][1].Value {
				t.Fatalf("round trip: entry %d = %q %q, want %q %q", i, e.cursor, e.message, entries[i][0].Value, entries[i][1].Value)
			}
		}
	})
}
