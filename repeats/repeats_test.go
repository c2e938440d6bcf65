package repeats_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/logtally/logtally/repeats"
)

func TestParse(t *testing.T) {
	const ssh = "Dec 10 07:13:56 LabSZ sshd[24227]: "
	tests := []struct {
		name   string
		form   repeats.Form
		line   string
		kind   repeats.Kind
		n      uint32
		unwrap string // Wrapped: the line it stands for
	}{
		{"rsyslog", repeats.Header, ssh + "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
			repeats.Wrapped, 5, ssh + "Failed password for root from 5.36.59.76 port 42393 ssh2"},
		{"rsyslog, tag without pid", repeats.Header, "Dec  1 07:13:56 host CRON: message repeated 2 times: [ (root) CMD (true)]",
			repeats.Wrapped, 2, "Dec  1 07:13:56 host CRON: (root) CMD (true)"},
		{"rsyslog, message without its space", repeats.Header, ssh + "message repeated 3 times: [Failed password]",
			repeats.Wrapped, 3, ssh + "Failed password"},
		{"rsyslog, brackets inside", repeats.Header, ssh + "message repeated 2 times: [ Connection closed by 1.2.3.4 [preauth]]",
			repeats.Wrapped, 2, ssh + "Connection closed by 1.2.3.4 [preauth]"},
		{"rsyslog, high precision time", repeats.Header, "2024-01-10T07:13:56.123456+00:00 web postfix/smtpd[77]: message repeated 12 times: [ lost connection]",
			repeats.Wrapped, 12, "2024-01-10T07:13:56.123456+00:00 web postfix/smtpd[77]: lost connection"},
		{"rsyslog, once", repeats.Header, ssh + "message repeated 1 times: [ x]", repeats.Wrapped, 1, ssh + "x"},
		{"rsyslog, at the cap", repeats.Header, ssh + "message repeated 1000000 times: [ x]", repeats.Wrapped, repeats.MaxCount, ssh + "x"},
		{"rsyslog, CR kept in the message", repeats.Header, ssh + "message repeated 2 times: [ a\r]", repeats.Wrapped, 2, ssh + "a\r"},
		{"bare", repeats.Bare, "message repeated 5 times: [ Failed password for root]", repeats.Wrapped, 5, "Failed password for root"},
		{"bsd", repeats.Header, "Dec 10 07:13:56 host last message repeated 3 times", repeats.Previous, 3, ""},
		{"bsd, once", repeats.Header, "Dec 10 07:13:56 host last message repeated 1 time", repeats.Previous, 1, ""},
		{"bsd, once, plural", repeats.Header, "Dec 10 07:13:56 host last message repeated 1 times", repeats.Previous, 1, ""},
		{"bsd, rfc3339", repeats.Header, "2024-01-10T07:13:56Z host last message repeated 40 times", repeats.Previous, 40, ""},

		// Ordinary lines.
		{"plain", repeats.Header, ssh + "Failed password for root from 5.36.59.76 port 42393 ssh2", repeats.None, 0, ""},
		{"zero", repeats.Header, ssh + "message repeated 0 times: [ x]", repeats.None, 0, ""},
		{"leading zero", repeats.Header, ssh + "message repeated 05 times: [ x]", repeats.None, 0, ""},
		{"over the cap", repeats.Header, ssh + "message repeated 1000001 times: [ x]", repeats.None, 0, ""},
		{"eight digits", repeats.Header, ssh + "message repeated 10000000 times: [ x]", repeats.None, 0, ""},
		{"huge", repeats.Header, ssh + "message repeated 99999999999999999999 times: [ x]", repeats.None, 0, ""},
		{"negative", repeats.Header, ssh + "message repeated -5 times: [ x]", repeats.None, 0, ""},
		{"plus", repeats.Header, ssh + "message repeated +5 times: [ x]", repeats.None, 0, ""},
		{"not ascii digits", repeats.Header, ssh + "message repeated ５ times: [ x]", repeats.None, 0, ""},
		{"space in the count", repeats.Header, ssh + "message repeated 5 5 times: [ x]", repeats.None, 0, ""},
		{"missing ]", repeats.Header, ssh + "message repeated 5 times: [ Failed password", repeats.None, 0, ""},
		{"empty message", repeats.Header, ssh + "message repeated 5 times: [ ]", repeats.None, 0, ""},
		{"nothing in brackets", repeats.Header, ssh + "message repeated 5 times: []", repeats.None, 0, ""},
		{"singular", repeats.Header, ssh + "message repeated 5 time: [ x]", repeats.None, 0, ""},
		{"forged in a user name", repeats.Header,
			ssh + "Invalid user message repeated 999999 times: [ x] from 1.2.3.4 port 22 ssh2]", repeats.None, 0, ""},
		{"forged after a user name", repeats.Header,
			ssh + "Failed password for invalid user x: message repeated 999999 times: [ y]", repeats.None, 0, ""},
		{"forged inside a genuine wrapper", repeats.Header,
			ssh + "message repeated 2 times: [ message repeated 999999 times: [ x]]", repeats.Wrapped, 2,
			ssh + "message repeated 999999 times: [ x]"},
		{"forged as a second tag", repeats.Header, ssh + "x: message repeated 9 times: [ y]", repeats.None, 0, ""},
		{"bsd after a tag", repeats.Header, ssh + "last message repeated 3 times", repeats.None, 0, ""},
		{"bsd with more text", repeats.Header, "Dec 10 07:13:56 host last message repeated 3 times and more", repeats.None, 0, ""},
		{"bsd forged in a message", repeats.Header, ssh + "user said last message repeated 3 times", repeats.None, 0, ""},
		{"bsd twice singular", repeats.Header, "Dec 10 07:13:56 host last message repeated 2 time", repeats.None, 0, ""},
		{"bsd bare", repeats.Bare, "last message repeated 3 times", repeats.None, 0, ""},
		{"no header", repeats.Header, "message repeated 5 times: [ Failed password]", repeats.None, 0, ""},
		{"bare with a header", repeats.Bare, ssh + "message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"bare forged in a message", repeats.Bare, "Invalid user message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"bad time", repeats.Header, "Dec 10 07:13 LabSZ sshd[1]: message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"tag with a space", repeats.Header, "Dec 10 07:13:56 host my prog: message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"pid not digits", repeats.Header, "Dec 10 07:13:56 host sshd[x1]: message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"two spaces after the tag", repeats.Header, "Dec 10 07:13:56 host sshd[1]:  message repeated 5 times: [ x]", repeats.None, 0, ""},
		{"empty", repeats.Header, "", repeats.None, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := repeats.Parse([]byte(tt.line), tt.form)
			if r.Kind != tt.kind || r.N != tt.n {
				t.Fatalf("Parse(%q) = kind %d, %d times; want kind %d, %d times", tt.line, r.Kind, r.N, tt.kind, tt.n)
			}
			if r.Kind == repeats.Wrapped {
				if got := string(r.Unwrap(nil, []byte(tt.line))); got != tt.unwrap {
					t.Errorf("Unwrap = %q, want %q", got, tt.unwrap)
				}
			}
		})
	}
}

// TestParseCut: a repeat line cut anywhere before its end (as the length
// limit cuts a line) is an ordinary line.
func TestParseCut(t *testing.T) {
	line := "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"
	for i := 0; i < len(line); i++ {
		if r := repeats.Parse([]byte(line[:i]), repeats.Header); r.Kind != repeats.None {
			t.Errorf("cut at %d: kind %d, %d times", i, r.Kind, r.N)
		}
	}
}

// FuzzParse: whatever the line, Parse never panics, a count is within
// 1..MaxCount and written in the line exactly where syslog writes it, and
// the unwrapped line is the line without the wrapper.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root]",
		"Dec 10 07:13:56 host last message repeated 3 times",
		"2024-01-10T07:13:56.123456+00:00 web postfix/smtpd[77]: message repeated 12 times: [ lost connection]",
		"message repeated 5 times: [ x]",
		"Dec 10 07:13:56 LabSZ sshd[24227]: Invalid user message repeated 999999 times: [ x]",
		"Dec 10 07:13:56 h p: message repeated 1000000 times: []]",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, line []byte, bare bool) {
		form := repeats.Header
		if bare {
			form = repeats.Bare
		}
		r := repeats.Parse(line, form)
		switch r.Kind {
		case repeats.None:
			if r.N != 0 {
				t.Fatalf("ordinary line with a count %d", r.N)
			}
			return
		case repeats.Wrapped, repeats.Previous:
		default:
			t.Fatalf("kind %d", r.Kind)
		}
		if r.N < 1 || r.N > repeats.MaxCount {
			t.Fatalf("count %d out of range", r.N)
		}
		count := strconv.FormatUint(uint64(r.N), 10)
		if r.Kind == repeats.Previous {
			if bare {
				t.Fatal("a bare line cannot repeat the previous one")
			}
			if !bytes.HasSuffix(line, []byte(" last message repeated "+count+" times")) &&
				!bytes.HasSuffix(line, []byte(" last message repeated 1 time")) {
				t.Fatalf("%q: not a BSD repeat of %s", line, count)
			}
			return
		}
		if line[len(line)-1] != ']' {
			t.Fatalf("%q: no closing bracket", line)
		}
		u := r.Unwrap(nil, line)
		wrapper := "message repeated " + count + " times: ["
		i := bytes.Index(line, []byte(wrapper))
		if i < 0 {
			t.Fatalf("%q: wrapper of %s not found", line, count)
		}
		if bare && i != 0 || !bare && (i < 2 || line[i-1] != ' ' || line[i-2] != ':') {
			t.Fatalf("%q: wrapper at %d, not after a tag", line, i)
		}
		inner := strings.TrimPrefix(string(line[i+len(wrapper):len(line)-1]), " ")
		if inner == "" || string(u) != string(line[:i])+inner {
			t.Fatalf("%q: unwrapped to %q", line, u)
		}
		if len(u) >= len(line) {
			t.Fatalf("%q: unwrapped line %q is not shorter", line, u)
		}
	})
}

// BenchmarkParse: what recognising costs a line that is not a repeat (most
// fail on their last byte; "[preauth]" lines on their header) and one
// that is.
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, line string }{
		{"ordinary", "Dec 10 07:13:56 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2"},
		{"bracket", "Dec 10 07:13:56 LabSZ sshd[24227]: Connection closed by 5.36.59.76 [preauth]"},
		{"rsyslog", "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"},
		{"bsd", "Dec 10 07:13:56 LabSZ last message repeated 3 times"},
	} {
		line := []byte(c.line)
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				repeats.Parse(line, repeats.Header)
			}
		})
	}
}
