package measure

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logtally/logtally/internal/ruletest"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

// meas is ruletest.Measurement.
var meas = ruletest.Measurement

// TestDirtyInputs checks that CRLF line ends, a missing final newline,
// invalid UTF-8 and a 1 MB line give the same counts as the clean input
// (the long line is cut and counted).
func TestDirtyInputs(t *testing.T) {
	clean := "Dec 10 sshd[1]: Invalid user a from 1.2.3.4\nDec 10 sshd[2]: Accepted x\nDec 10 sshd[3]: Invalid user b from 1.2.3.5\n"
	ms := []*rules.Measurement{
		meas("probe", rules.Counter, "", `.*sshd\[.*Invalid user.*`, "", `from (\S+)`, rules.KeyIP),
		meas("pid", rules.Int, rules.PolicySum, `.*sshd\[.*`, `sshd\[(\d+)\]`, "", ""),
	}
	run := func(in string) []Result {
		g, err := interval.NewGroup("x", ms, match.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return Evaluate([]*interval.Group{g}, func(*interval.Group) ([]Input, error) {
			return []Input{{Name: "x", R: io.NopCloser(strings.NewReader(in))}}, nil
		}, 0, nil)
	}
	want := run(clean)
	if want[0].Value != 2 || want[1].Value != 6 || want[0].Keys != 2 {
		t.Fatalf("clean: %v %v keys %d, want 2, 6, 2 keys", want[0].Value, want[1].Value, want[0].Keys)
	}
	long := "Dec 10 sshd[0]: " + strings.Repeat("A", 1<<20) + "\n"
	for name, in := range map[string]string{
		"crlf":         strings.ReplaceAll(clean, "\n", "\r\n"),
		"no newline":   strings.TrimSuffix(clean, "\n"),
		"invalid utf8": strings.Replace(clean, "Accepted x", "Accepted \xff\xfe\xc3", 1),
		"long line":    long + clean,
	} {
		got := run(in)
		for i := range want {
			if got[i].Value != want[i].Value || got[i].Selected != want[i].Selected+boolInt(name == "long line" && i == 1) {
				t.Errorf("%s: %s = %v (selected %d), want %v (selected %d)", name, ms[i].Handle, got[i].Value, got[i].Selected, want[i].Value, want[i].Selected)
			}
		}
		if name == "long line" && (got[0].Cut != 1 || got[0].Lines != 4) {
			t.Errorf("long line: cut %d lines %d, want 1 and 4", got[0].Cut, got[0].Lines)
		}
	}
}

func boolInt(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestOpenPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, gz bool) {
		p := filepath.Join(dir, name)
		if !gz {
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write([]byte(content))
		z.Close()
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("auth.log", "c\n", false)
	write("auth.log.1", "b\n", false)
	write("auth.log.2.gz", "a\n", true)
	ins, err := OpenPath(filepath.Join(dir, "auth.log*"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		b, err := io.ReadAll(in.R)
		if err != nil {
			t.Fatal(err)
		}
		in.R.Close()
		got = append(got, filepath.Base(in.Name)+"="+strings.TrimSpace(string(b)))
	}
	if strings.Join(got, " ") != "auth.log=c auth.log.1=b auth.log.2.gz=a" {
		t.Fatalf("read %v", got)
	}
	if _, err := OpenPath(filepath.Join(dir, "nope*"), nil); err == nil {
		t.Fatal("empty glob: no error")
	}
	if _, err := OpenPath(filepath.Join(dir, "missing"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: err = %v, want it to name the file", err)
	}
}
