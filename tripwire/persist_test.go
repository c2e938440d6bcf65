package tripwire

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/logtally/logtally/state"
)

// The state committed with each scan, loaded again by a new Watcher (a
// restart), gives the same outstanding changes; the change log gets each
// change once.
func TestPersistAndLog(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"etc"}}, map[string]string{"etc/a": "1", "etc/b": "2", "etc/sub/c": "3"})
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logPath := filepath.Join(t.TempDir(), "log", "file_changes.jsonl")
	at := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	scan := func() Result {
		t.Helper()
		r := f.w.Scan()
		if err := st.Update(func(tx *state.Tx) error { return Commit(tx, "etc", r.Delta) }); err != nil {
			t.Fatal(err)
		}
		if err := AppendLog(logPath, "etc", at, r.Changes); err != nil {
			t.Fatal(err)
		}
		return r
	}
	scan()
	f.write("etc/a", "11")
	os.Remove(f.path("etc/b"))
	f.write("etc/d", "4")
	first := f.changes(scan())
	scan() // the same changes, not logged again
	f.write("etc/a", "111")
	scan() // a new change of a

	w, err := New(Config{Paths: []string{f.path("etc")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.View(func(tx *state.Tx) error {
		meta, base, seen, err := Load(tx, "etc")
		if err != nil {
			return err
		}
		w.Restore(meta, base, seen)
		hs, err := Handles(tx)
		if !reflect.DeepEqual(hs, []string{"etc"}) {
			t.Errorf("Handles = %v, %v", hs, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.w = w
	if got := f.changes(Result{Changes: w.Outstanding()}); len(got) != len(first) {
		t.Errorf("after a restart %q, before %q", got, first)
	}

	lf, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	var got []string
	sc := bufio.NewScanner(lf)
	for sc.Scan() {
		var e LogEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if e.Handle != "etc" || !e.Time.Equal(at) {
			t.Errorf("log entry %+v", e)
		}
		got = append(got, e.Change+" "+filepath.Base(e.Path))
	}
	want := []string{"changed a", "removed b", "added d", "changed a"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("change log %q, want %q", got, want)
	}
	if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("change log mode %v, %v", fi.Mode(), err)
	}

	if err := st.Update(func(tx *state.Tx) error { return Drop(tx, "etc") }); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx *state.Tx) error {
		if hs, _ := Handles(tx); len(hs) != 0 {
			t.Errorf("after Drop: %v", hs)
		}
		return nil
	})
}

// A request for the daemon is taken, applied and then seen as applied.
func TestAcceptRequests(t *testing.T) {
	statePath := filepath.Join(t.TempDir(), "state.db")
	if reqs, done, errs := Take(statePath); len(reqs) != 0 || len(errs) != 0 {
		t.Fatalf("nothing requested: %v %v", reqs, errs)
	} else {
		done()
	}
	at := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	fi, err := Request(statePath, AcceptRequest{Watch: "etc", Paths: []string{"/etc/passwd"}, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Request(statePath, AcceptRequest{At: at}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(RequestFile(statePath), append(mustRead(t, RequestFile(statePath)), "not json\n"...), 0o600)
	if Applied(statePath, fi) {
		t.Fatal("applied before taken")
	}
	reqs, done, errs := Take(statePath)
	want := []AcceptRequest{{Watch: "etc", Paths: []string{"/etc/passwd"}, At: at}, {At: at}}
	if !reflect.DeepEqual(reqs, want) || len(errs) != 1 {
		t.Fatalf("Take = %+v, %v", reqs, errs)
	}
	if Applied(statePath, fi) {
		t.Fatal("applied before committed")
	}
	done()
	if !Applied(statePath, fi) {
		t.Fatal("not applied after done")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
