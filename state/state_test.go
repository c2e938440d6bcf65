package state

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/buntdb"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestReadYourWritesAndAscend(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	if err := s.Update(func(tx *Tx) error {
		for _, k := range []string{"a/1", "a/3", "a/5", "b/1"} {
			if err := tx.Set(k, "old"+k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := s.Update(func(tx *Tx) error {
		if err := tx.Set("a/2", "new"); err != nil {
			return err
		}
		if err := tx.Set("a/3", "changed"); err != nil {
			return err
		}
		if err := tx.Delete("a/5"); err != nil {
			return err
		}
		if err := tx.Set("a/9", "last"); err != nil {
			return err
		}
		if v, ok, _ := tx.Get("a/3"); !ok || v != "changed" {
			t.Errorf("Get a/3 in tx = %q %v, want changed", v, ok)
		}
		if _, ok, _ := tx.Get("a/5"); ok {
			t.Errorf("Get a/5 after Delete found it")
		}
		var got []string
		if err := tx.Ascend("a/", func(k, v string) bool {
			got = append(got, k+"="+v)
			return true
		}); err != nil {
			return err
		}
		want := "a/1=olda/1 a/2=new a/3=changed a/9=last"
		if strings.Join(got, " ") != want {
			t.Errorf("Ascend = %q, want %q", strings.Join(got, " "), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An error from fn writes nothing.
	boom := errors.New("boom")
	if err := s.Update(func(tx *Tx) error {
		_ = tx.Set("a/1", "lost")
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = s.View(func(tx *Tx) error {
		if v, _, _ := tx.Get("a/1"); v != "olda/1" {
			t.Errorf("a/1 = %q after failed update, want olda/1", v)
		}
		var n int
		_ = tx.Ascend("a/", func(k, v string) bool { n++; return n < 2 })
		if n != 2 {
			t.Errorf("Ascend did not stop when fn returned false: %d calls", n)
		}
		return nil
	})
}

func TestReservedKeys(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	err := s.Update(func(tx *Tx) error { return tx.Set("journal", "x") })
	if err == nil {
		t.Fatal("Set journal succeeded")
	}
}

// TestTornWrites cuts the state file at every byte of the last commits and
// checks that what loads is always exactly one whole commit: never a mix.
// TestTornWrites cuts the file of six commits at every length (every
// 3001st byte for commits larger than maxKeptJournal, whose journal is
// settled after they are applied) and requires one whole commit in force.
func TestTornWrites(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int // of each of the four values of a commit
		stride int64
	}{
		{"small commits", 100, 1},
		{"large commits", maxKeptJournal / 3, 3001},
	} {
		t.Run(tt.name, func(t *testing.T) { tornWrites(t, tt.size, tt.stride) })
	}
}

func tornWrites(t *testing.T, size int, stride int64) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := open(t, path)
	var sizes []int64
	big := strings.Repeat("x", size)
	for i := 1; i <= 6; i++ {
		if err := s.Update(func(tx *Tx) error {
			for _, k := range []string{"pos/a", "sample/a", "total/a", "base/a/p/1"} {
				if err := tx.Set(k, strconv.Itoa(i)+big); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(path)
		sizes = append(sizes, fi.Size())
	}
	// A journal larger than maxKeptJournal is not kept once applied.
	var journal string
	_ = s.db.View(func(btx *buntdb.Tx) error {
		journal, _ = btx.Get(keyJournal)
		return nil
	})
	if seq, writes, err := decodeJournal(journal); err != nil || seq != s.seq || (4*size > maxKeptJournal) != (len(writes) == 0) {
		t.Fatalf("journal after the last commit: seq %d, %d writes, %v", seq, len(writes), err)
	}
	s.Close()
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for cut := sizes[2]; cut <= int64(len(full)); cut += stride {
		if cut+stride > int64(len(full)) {
			cut = int64(len(full))
		}
		p := filepath.Join(dir, "cut.db")
		if err := os.WriteFile(p, full[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		os.Remove(p + ".lock")
		st, err := Open(p, Options{NoSync: true})
		if err != nil {
			t.Fatalf("cut %d: Open: %v", cut, err)
		}
		var vals []string
		_ = st.View(func(tx *Tx) error {
			for _, k := range []string{"pos/a", "sample/a", "total/a", "base/a/p/1"} {
				v, _, _ := tx.Get(k)
				vals = append(vals, strings.TrimSuffix(v, big))
			}
			return nil
		})
		st.Close()
		for _, v := range vals[1:] {
			if v != vals[0] {
				t.Fatalf("cut at %d of %d: mixed commits %v", cut, len(full), vals)
			}
		}
		// The commit in force is the last one whose journal was complete.
		n, _ := strconv.Atoi(vals[0])
		if n < 3 || n > 6 {
			t.Fatalf("cut at %d: commit %d in force, want 3..6", cut, n)
		}
		if cut == int64(len(full)) && n != 6 {
			t.Fatalf("uncut file: commit %d in force, want 6", n)
		}
	}
}

func TestCorruptMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, []byte("this is not a buntdb file\r\n*x\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	defer s.Close()
	if s.MovedAside() == "" {
		t.Fatal("corrupt file not moved aside")
	}
	if b, err := os.ReadFile(s.MovedAside()); err != nil || !strings.HasPrefix(string(b), "this is not") {
		t.Fatalf("moved-aside file = %q, %v", b, err)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Set("a", "1") }); err != nil {
		t.Fatalf("fresh state not writable: %v", err)
	}
}

func TestForeignFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	// A valid buntdb file without a schema key is not ours.
	if err := os.WriteFile(path, []byte("*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	defer s.Close()
	if s.MovedAside() == "" {
		t.Fatal("foreign file not moved aside")
	}
}

// TestZeroFilledMovedAside: a file of zeros (a crash's leftover on some
// filesystems), which buntdb loads as an empty database, is moved aside
// loudly, byte for byte; an empty file is a new state, and says so.
func TestZeroFilledMovedAside(t *testing.T) {
	for _, size := range []int{0, 1, 4096, 100000} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			s, err := Open(path, Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if size == 0 {
				if s.MovedAside() != "" {
					t.Errorf("empty file moved aside to %s", s.MovedAside())
				}
				if !strings.Contains(log.String(), `level=INFO msg="state file is empty: starting a new state"`) {
					t.Errorf("no log line about the empty file:\n%s", log.String())
				}
				return
			}
			if s.MovedAside() == "" {
				t.Fatal("zero-filled file not moved aside")
			}
			b, err := os.ReadFile(s.MovedAside())
			if err != nil || len(b) != size || strings.Trim(string(b), "\x00") != "" {
				t.Errorf("moved-aside file is %d bytes (%v), want the %d zeros", len(b), err, size)
			}
			if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "moved_to="+s.MovedAside()) {
				t.Errorf("no loud log line naming %s:\n%s", s.MovedAside(), log.String())
			}
			if err := s.Update(func(tx *Tx) error { return tx.Set("a", "1") }); err != nil {
				t.Fatalf("fresh state not writable: %v", err)
			}
		})
	}
}

// TestForeignFileKept: a file that is not a state file is kept byte for
// byte: Open moves it aside before buntdb, which cuts a file back to its
// last whole record, can cut it to nothing; OpenSnapshot refuses it, and
// a file that is a state file, or may become one, is not refused.
func TestForeignFileKept(t *testing.T) {
	cases := []struct {
		name    string
		content string
		foreign bool
	}{
		{"database without a line end", "SQLite format 3\x00\x10\x00\x01\x01", true},
		{"gzip", "\x1f\x8b\x08\x00\x00\x00\x00\x00", true},
		{"zeros then bytes", "\x00\x00\x00PK\x03\x04", true},
		{"star without a count", "*\r\n", true},
		{"first record cut short", "*3\r\n$3\r\nse", false},
		{"one record", "*3\r\n$3\r\nset\r\n$6\r\nschema\r\n$1\r\n2\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			snap, err := OpenSnapshot(path)
			if snap != nil {
				snap.Close()
			}
			if got := errors.Is(err, ErrUnusable); got != c.foreign {
				t.Errorf("OpenSnapshot = %v, want ErrUnusable %v", err, c.foreign)
			}
			s := open(t, path)
			defer s.Close()
			if !c.foreign {
				if s.MovedAside() != "" {
					t.Fatalf("moved aside to %s", s.MovedAside())
				}
				return
			}
			if s.MovedAside() == "" {
				t.Fatal("not moved aside")
			}
			if b, err := os.ReadFile(s.MovedAside()); err != nil || string(b) != c.content {
				t.Errorf("moved-aside file = %q (%v), want %q", b, err, c.content)
			}
		})
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s := open(t, path)
	if err := s.Update(func(tx *Tx) error { return tx.Set(keySchema, "99") }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path, Options{NoSync: true})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	if _, err := OpenSnapshot(path); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("OpenSnapshot = %v, want ErrNewerSchema", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("newer state file was touched: %v", err)
	}
}

func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	if _, err := Open(path, Options{NoSync: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	s.Close()
	s2 := open(t, path)
	s2.Close()
}

func TestSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	defer s.Close()
	if err := s.Update(func(tx *Tx) error { return tx.Set("total/x", "42") }); err != nil {
		t.Fatal(err)
	}
	snap, err := OpenSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	_ = snap.View(func(tx *Tx) error {
		if v, _, _ := tx.Get("total/x"); v != "42" {
			t.Errorf("snapshot total/x = %q, want 42", v)
		}
		return nil
	})
	if err := snap.Update(func(tx *Tx) error { return nil }); err == nil {
		t.Error("Update on a snapshot succeeded")
	}
}

func TestSpool(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	push := func(recs ...string) int {
		var d int
		if err := s.Update(func(tx *Tx) error {
			var err error
			d, err = tx.SpoolPush("influx", recs, 5)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	peek := func(n int) ([]string, uint64) {
		var out []string
		var next uint64
		_ = s.View(func(tx *Tx) error {
			var err error
			out, next, err = tx.SpoolPeek("influx", n)
			return err
		})
		return out, next
	}
	if d := push("p0", "p1", "p2"); d != 0 {
		t.Fatalf("dropped %d, want 0", d)
	}
	got, next := peek(2)
	if strings.Join(got, ",") != "p0,p1" {
		t.Fatalf("peek = %v", got)
	}
	if err := s.Update(func(tx *Tx) error { return tx.SpoolAck("influx", next) }); err != nil {
		t.Fatal(err)
	}
	if d := push("p3", "p4", "p5", "p6", "p7"); d != 1 {
		t.Fatalf("dropped %d, want 1 (p2 is the oldest over the bound)", d)
	}
	got, _ = peek(100)
	if strings.Join(got, ",") != "p3,p4,p5,p6,p7" {
		t.Fatalf("peek after overflow = %v", got)
	}
	_ = s.View(func(tx *Tx) error {
		m, _ := tx.SpoolMeta("influx")
		if m.Len() != 5 || m.Dropped != 1 {
			t.Errorf("meta = %+v, want len 5 dropped 1", m)
		}
		return nil
	})
	// Another destination is independent.
	if err := s.Update(func(tx *Tx) error {
		_, err := tx.SpoolPush("udp", []string{"u0"}, 5)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = peek(100)
	if len(got) != 5 {
		t.Fatalf("influx spool changed by udp push: %v", got)
	}
}

func FuzzDecodeJournal(f *testing.F) {
	f.Add(encodeJournal(7, map[string]write{"a": {val: "1"}, "b": {del: true}}))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		seq, w, err := decodeJournal(s)
		if err != nil {
			return
		}
		if again := encodeJournal(seq, w); again != s {
			t.Fatalf("decode/encode not symmetric")
		}
	})
}

// TestCompactOnClose: a file bloated by many commits of the same keys is
// rewritten with its live keys when closed, and keeps them.
func TestCompactOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	val := strings.Repeat("v", 20<<10)
	for i := range 200 {
		if err := s.Update(func(tx *Tx) error { return tx.Set("base/a/p/1", strconv.Itoa(i)+val) }); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < shrinkJournal {
		t.Fatalf("the file is %d bytes: not bloated enough to test", fi.Size())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(path); after.Size() > fi.Size()/10 {
		t.Errorf("file of %d bytes is %d bytes after Close, want a tenth or less", fi.Size(), after.Size())
	}
	s = open(t, path)
	defer s.Close()
	_ = s.View(func(tx *Tx) error {
		if v, ok, _ := tx.Get("base/a/p/1"); !ok || v != "199"+val {
			t.Errorf("after compaction: %q... %v", v[:min(len(v), 8)], ok)
		}
		return nil
	})
}

// TestOlderSchemaUpgraded: a state file of an older schema keeps its
// records and is marked with this build's schema on open (an older build
// then refuses it rather than misread what this one writes); a snapshot
// of it is read as it is, without being written.
func TestOlderSchemaUpgraded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	if err := s.Update(func(tx *Tx) error {
		if err := tx.Set(keySchema, "1"); err != nil {
			return err
		}
		return tx.Set("pos/a", "42")
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	snap, err := OpenSnapshot(path)
	if err != nil {
		t.Fatalf("snapshot of an older schema: %v", err)
	}
	if v, _, _ := snap.schema(); v != 1 {
		t.Errorf("snapshot schema %d, want it as it is (1)", v)
	}
	snap.Close()
	s = open(t, path)
	defer s.Close()
	if v, _, _ := s.schema(); v != SchemaVersion {
		t.Errorf("schema %d after open, want %d", v, SchemaVersion)
	}
	if err := s.View(func(tx *Tx) error {
		v, ok, err := tx.Get("pos/a")
		if err == nil && (!ok || v != "42") {
			err = fmt.Errorf("pos/a = %q, %v after the upgrade", v, ok)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}
