package follow

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// The behaviour matrix: each case runs with real files under inotify and
// under polling, and asserts the exact lines delivered.

func TestAppend(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "a1\n")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.expect("a1")
		appendFile(t, fn, "a2\na3\n")
		h.expect("a1", "a2", "a3")
		bs := h.rec.batches()
		if !bs[0].Backlog || bs[len(bs)-1].Backlog {
			t.Errorf("backlog flags: first %v (want true), last %v (want false)", bs[0].Backlog, bs[len(bs)-1].Backlog)
		}
		if st := h.files.Stats()[fn]; st.Lines != 3 || st.Bytes != 9 {
			t.Errorf("stats %+v, want 3 lines, 9 bytes", st)
		}
		h.rec.check(t)
	})
}

func TestPartialWrite(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "p1\np")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.expect("p1")
		appendFile(t, fn, "2")
		h.wake()
		h.sync()
		if got := h.rec.lines(); len(got) != 1 {
			t.Fatalf("a partial line was delivered: %q", got)
		}
		appendFile(t, fn, "\np3\n")
		h.expect("p1", "p2", "p3")
		h.rec.check(t)
	})
}

func TestRotateRenameCreate(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		// The writer keeps its descriptor across the rename, as a daemon
		// does until it is told to reopen its log.
		w := writer(t, fn)
		h.start(FileConfig{Paths: []string{fn}})
		w.WriteString("r1\nr2\n")
		h.expect("r1", "r2")

		if err := os.Rename(fn, fn+".1"); err != nil {
			t.Fatal(err)
		}
		w.WriteString("r3\n") // after the rename, before the new file
		h.expect("r1", "r2", "r3")

		writeFile(t, fn, "n1\n")
		h.wake()
		h.rec.waitLines(t, 4)
		w.WriteString("r4\n") // the writer has not reopened yet
		h.wake()
		h.rec.waitLines(t, 5)
		h.sync()

		got := h.rec.lines()
		if len(got) != 5 {
			t.Fatalf("lines %q, want 5", got)
		}
		var old, cur []string
		for _, l := range got {
			if strings.HasPrefix(l, "r") {
				old = append(old, l)
			} else {
				cur = append(cur, l)
			}
		}
		if !slices.Equal(old, []string{"r1", "r2", "r3", "r4"}) || !slices.Equal(cur, []string{"n1"}) {
			t.Fatalf("old file %q, new file %q", old, cur)
		}
		if n := len(h.rec.events(EventRotate)); n != 1 {
			t.Errorf("%d rotate events, want 1", n)
		}
		// The old file's lines after the rotation carry its new name, so
		// that its position and the new file's do not overwrite each other.
		for _, b := range h.rec.batches() {
			if slices.Contains(b.Lines, "r4") && b.End.Path != fn+".1" {
				t.Errorf("rotated file's batch End.Path = %q, want %q", b.End.Path, fn+".1")
			}
		}

		// The writer reopens its log; after the grace period without
		// growth, the old file is closed.
		w.Close()
		h.advance(testGrace + testPoll)
		h.rec.waitEvent(t, EventClose, 1)
		waitClosed(t, h.rec, fn+".1")
		if e := h.rec.events(EventClose)[0]; e.Path != fn+".1" {
			t.Errorf("close event path %q, want %q", e.Path, fn+".1")
		}
		appendFile(t, fn, "n2\n")
		h.expect("r1", "r2", "r3", "n1", "r4", "n2")
		if st := h.files.Stats()[fn]; st.Rotations != 1 || st.Lines != 6 {
			t.Errorf("stats %+v, want 1 rotation, 6 lines", st)
		}
		h.rec.check(t)
	})
}

func TestCopyTruncate(t *testing.T) {
	// A header longer than the head fingerprint: only the bytes before the
	// offset can tell the refill from an append.
	header := strings.Repeat("h", MaxHeadLen+100)
	tests := []struct {
		name    string
		initial string
		refill  string
		want    []string
	}{
		{"smaller", "", "c3\n", []string{"c1", "c2", "c3"}},
		{"same size", "", "c3\nc4\n", []string{"c1", "c2", "c3", "c4"}},
		{"larger", "", "c3\nc4\nc5\n", []string{"c1", "c2", "c3", "c4", "c5"}},
		{"larger, same first line", "", "c1\nc4\nc5\n", []string{"c1", "c2", "c1", "c4", "c5"}},
		{"larger, same first 1024 bytes", header + "\n", header + "\nc3\nc4\nc5\n",
			[]string{header, "c1", "c2", header, "c3", "c4", "c5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h := newHarness(t, mode)
				fn := h.path("app.log")
				writeFile(t, fn, tt.initial+"c1\nc2\n")
				h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
				if tt.initial != "" {
					h.expect(strings.TrimSuffix(tt.initial, "\n"), "c1", "c2")
				} else {
					h.expect("c1", "c2")
				}
				// logrotate copytruncate: copy, truncate in place, and the
				// writer (O_APPEND) refills from 0 before we look.
				copyTo(t, fn, fn+".1")
				truncateTo0(t, fn)
				appendFile(t, fn, tt.refill)
				h.expect(tt.want...)
				if n := len(h.rec.events(EventTruncate)); n != 1 {
					t.Errorf("%d truncate events, want 1: %q", n, h.rec.allEvents())
				}
				if st := h.files.Stats()[fn]; st.Truncations != 1 {
					t.Errorf("truncations %d, want 1", st.Truncations)
				}
				h.rec.check(t)
			})
		})
	}
}

func TestDelete(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "d1\n")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.expect("d1")
		if err := os.Remove(fn); err != nil {
			t.Fatal(err)
		}
		h.wake()
		h.rec.waitEvent(t, EventDelete, 1)
		waitClosed(t, h.rec, fn)
		h.expect("d1")
		h.rec.check(t)
	})
}

func TestDeleteRecreate(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "d1\nd2\n")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.expect("d1", "d2")
		if err := os.Remove(fn); err != nil {
			t.Fatal(err)
		}
		writeFile(t, fn, "e1\n")
		h.expect("d1", "d2", "e1")
		appendFile(t, fn, "e2\n")
		h.expect("d1", "d2", "e1", "e2")
		if n := len(h.rec.events(EventDelete)); n != 1 {
			t.Errorf("%d delete events, want 1: %q", n, h.rec.allEvents())
		}
		if fds := openFDs(t, h.dir); len(fds) != 1 {
			t.Errorf("open descriptors %q, want only the new file", fds)
		}
		h.rec.check(t)
	})
}

func TestSymlinkSwap(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		a, b, link := h.path("a.log"), h.path("b.log"), h.path("current.log")
		writeFile(t, a, "a1\n")
		writeFile(t, b, "b1\n")
		if err := os.Symlink("a.log", link); err != nil {
			t.Fatal(err)
		}
		h.start(FileConfig{Paths: []string{link}, Start: "beginning"})
		h.expect("a1")
		appendFile(t, a, "a2\n")
		h.expect("a1", "a2")
		// Swap atomically, as deployment tools do.
		if err := os.Symlink("b.log", link+".new"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(link+".new", link); err != nil {
			t.Fatal(err)
		}
		h.expect("a1", "a2", "b1")
		appendFile(t, b, "b2\n")
		h.expect("a1", "a2", "b1", "b2")
		if n := len(h.rec.events(EventRotate)); n != 1 {
			t.Errorf("%d rotate events, want 1", n)
		}
		h.rec.check(t)
	})
}

func TestLateFile(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("late.log")
		// Start "end" applies only to files there at startup: a file that
		// appears later is read from its start.
		h.start(FileConfig{Paths: []string{fn}, Start: "end"})
		writeFile(t, fn, "l1\nl2\n")
		h.expect("l1", "l2")
		appendFile(t, fn, "l3\n")
		h.expect("l1", "l2", "l3")
		h.rec.check(t)
	})
}

func TestGlobNewFile(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		a, b := h.path("a.log"), h.path("b.log")
		writeFile(t, a, "a-old\n")
		writeFile(t, h.path("other.txt"), "not matched\n")
		h.start(FileConfig{Paths: []string{h.path("*.log")}, Start: "end"})
		writeFile(t, b, "b1\nb2\n")
		h.wake()
		h.rec.waitLines(t, 2)
		appendFile(t, a, "a1\n")
		h.wake()
		h.rec.waitLines(t, 3)
		h.sync()
		if got := h.rec.linesOf(b); !slices.Equal(got, []string{"b1", "b2"}) {
			t.Errorf("new match: %q", got)
		}
		if got := h.rec.linesOf(a); !slices.Equal(got, []string{"a1"}) {
			t.Errorf("existing match: %q", got)
		}
		if got := h.rec.lines(); len(got) != 3 {
			t.Errorf("lines %q, want 3", got)
		}
		h.rec.check(t, int64(len("a-old\n")))
	})
}

func TestLongLine(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "")
		h.start(FileConfig{Paths: []string{fn}, MaxLine: 1024})
		long := strings.Repeat("x", 200_000)
		appendFile(t, fn, long+"\nshort\n")
		h.wake()
		h.rec.waitLines(t, 2)
		h.sync()
		bs := h.rec.batches()
		var lines []string
		var cuts []bool
		for _, b := range bs {
			lines = append(lines, b.Lines...)
			cuts = append(cuts, b.Cut...)
		}
		if len(lines) != 2 || lines[0] != long[:1024] || lines[1] != "short" || !cuts[0] || cuts[1] {
			t.Fatalf("got %d lines (lengths %d...), cut %v", len(lines), len(lines[0]), cuts)
		}
		st := h.files.Stats()[fn]
		if st.Cut != 1 || st.Lines != 2 || st.Bytes != uint64(len(long)+1+6) {
			t.Errorf("stats %+v", st)
		}
		if end := bs[len(bs)-1].End.Offset; end != int64(len(long)+1+6) {
			t.Errorf("end offset %d, want %d", end, len(long)+7)
		}
	})
}

func TestFIFO(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.fifo")
		if err := syscall.Mkfifo(fn, 0o600); err != nil {
			t.Fatal(err)
		}
		h.start(FileConfig{Paths: []string{fn}})
		h.rec.waitEvent(t, EventOpen, 1)
		// Several writers, one after the other, form one stream.
		for _, data := range []string{"f1\nf2\n", "f3\n", "f4\nf5\n"} {
			w, err := os.OpenFile(fn, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.WriteString(data); err != nil {
				t.Fatal(err)
			}
			w.Close()
		}
		h.rec.waitLines(t, 5)
		if got := h.rec.lines(); !slices.Equal(got, []string{"f1", "f2", "f3", "f4", "f5"}) {
			t.Fatalf("lines %q", got)
		}
		for _, b := range h.rec.batches() {
			if !b.End.IsZero() || b.Backlog {
				t.Errorf("fifo batch End %+v backlog %v, want zero and false", b.End, b.Backlog)
			}
		}
		h.stop()
		if fds := openFDs(t, h.dir); len(fds) != 0 {
			t.Errorf("descriptors left open after Run returned: %q", fds)
		}
	})
}

// TestFIFOSync: Sync returns only once what was written to a FIFO before
// it has been delivered, so that a shutdown loses nothing left in the
// pipe.
func TestFIFOSync(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.fifo")
		if err := syscall.Mkfifo(fn, 0o600); err != nil {
			t.Fatal(err)
		}
		h.start(FileConfig{Paths: []string{fn}})
		h.rec.waitEvent(t, EventOpen, 1)
		h.sync() // nothing written: returns at once
		want := 0
		for w := 0; w < 4; w++ {
			f, err := os.OpenFile(fn, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i := 0; i < 500; i++ {
				fmt.Fprintf(&b, "w%d %d\n", w, i)
				want++
			}
			if _, err := f.WriteString(b.String()); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		h.sync()
		if got := len(h.rec.lines()); got != want {
			t.Fatalf("%d lines delivered when Sync returned, want %d", got, want)
		}
	})
}

func TestStart(t *testing.T) {
	tests := []struct {
		name    string
		start   string
		initial string
		append  string
		want    []string
	}{
		{"end", "end", "o1\no2\n", "n1\n", []string{"n1"}},
		{"end, default", "", "o1\no2\n", "n1\n", []string{"n1"}},
		{"end, line being written is delivered whole", "end", "o1\no2", "x\nn1\n", []string{"o2x", "n1"}},
		{"end, empty file", "end", "", "n1\n", []string{"n1"}},
		{"beginning", "beginning", "o1\no2\n", "n1\n", []string{"o1", "o2", "n1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h := newHarness(t, mode)
				fn := h.path("app.log")
				writeFile(t, fn, tt.initial)
				h.start(FileConfig{Paths: []string{fn}, Start: tt.start})
				appendFile(t, fn, tt.append)
				h.expect(tt.want...)
				starts := []int64{int64(len(tt.initial))}
				if i := strings.LastIndexByte(tt.initial, '\n'); i >= 0 {
					starts = append(starts, int64(i+1))
				}
				h.rec.check(t, starts...)
			})
		})
	}
}

// TestStartPosition: the event that opens a file without a usable saved
// position carries the position reading starts from, which a resume from
// it accepts; a resumed file's event carries the position it resumes at.
func TestStartPosition(t *testing.T) {
	h := newHarness(t, "poll")
	fn, late := h.path("app.log"), h.path("late.log")
	writeFile(t, fn, "o1\no2\npart")
	h.start(FileConfig{Paths: []string{fn, late}})
	writeFile(t, late, "l1\n")
	h.wake()
	h.rec.waitEvent(t, EventOpen, 2)
	starts := map[string]Position{}
	for _, e := range h.rec.events(EventOpen) {
		if e.Pos.Path != e.Path || e.Pos.Ino == 0 {
			t.Errorf("%s: start %+v, want the position of %s", e, e.Pos, e.Path)
		}
		starts[e.Path] = e.Pos
	}
	if got := starts[fn].Offset; got != 6 {
		t.Errorf("first seen at its end: start offset %d, want 6 (after the last complete line)", got)
	}
	if got := starts[late].Offset; got != 0 {
		t.Errorf("appeared after startup: start offset %d, want 0", got)
	}
	h.stop()

	// Resumed from the start positions, as after a crash before anything
	// else was saved: everything from there is read, once.
	appendFile(t, fn, "x\nn1\n")
	h2 := newHarness(t, "poll")
	h2.start(FileConfig{Paths: []string{fn, late}, Saved: starts})
	h2.expect("partx", "n1", "l1")
	if n := len(h2.rec.events(EventResume)); n != 2 {
		t.Fatalf("%d resumes, want 2: %q", n, h2.rec.allEvents())
	}
	for _, e := range h2.rec.events(EventResume) {
		if w := starts[e.Path]; e.Pos.Path != w.Path || e.Pos.Ino != w.Ino || e.Pos.Offset != w.Offset {
			t.Errorf("%s: position %+v on a resume, want the saved one %+v", e, e.Pos, starts[e.Path])
		}
	}
}

// TestNotFatal: things that made other followers exit or stop are events.
func TestNotFatal(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		dirAsFile := h.path("adir")
		if err := os.Mkdir(dirAsFile, 0o755); err != nil {
			t.Fatal(err)
		}
		fn := h.path("app.log")
		writeFile(t, fn, "")
		h.start(FileConfig{Paths: []string{dirAsFile, fn, h.path("missing/deeper.log")}})
		h.rec.waitEvent(t, EventOpenError, 1)
		appendFile(t, fn, "x1\n")
		h.expect("x1")
		h.sync()
		if n := len(h.rec.events(EventOpenError)); n != 1 {
			t.Errorf("%d open errors reported, want 1 (reported once): %q", n, h.rec.allEvents())
		}
	})
}

func TestNewFilesErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  FileConfig
		want string
	}{
		{"no paths", FileConfig{}, "no path"},
		{"bad glob", FileConfig{Paths: []string{"/var/log/[a"}}, "syntax error"},
		{"bad start", FileConfig{Paths: []string{"/x"}, Start: "middle"}, "start"},
		{"bad watch", FileConfig{Paths: []string{"/x"}, Watch: "kqueue"}, "watch"},
		{"negative poll", FileConfig{Paths: []string{"/x"}, PollEvery: -1}, "negative"},
		{"negative max line", FileConfig{Paths: []string{"/x"}, MaxLine: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFiles(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReadWhole(t *testing.T) {
	dir := t.TempDir()
	fn := filepath.Join(dir, "whole.log")
	writeFile(t, fn, "w1\r\nw2\n"+strings.Repeat("y", 100)+"\nlast")
	rec := newRecorder()
	if err := ReadWhole(fn, 10, rec); err != nil {
		t.Fatal(err)
	}
	bs := rec.batches()
	got := rec.lines()
	want := []string{"w1", "w2", strings.Repeat("y", 10), "last"}
	if !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	end := bs[len(bs)-1].End
	fi, _ := os.Stat(fn)
	if end.Offset != fi.Size() || end.Path != fn {
		t.Errorf("end %+v, want offset %d", end, fi.Size())
	}
	if err := ReadWhole(filepath.Join(dir, "missing"), 0, rec); !isNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	if err := ReadWhole(dir, 0, rec); err == nil {
		t.Error("a directory was read")
	}
	if fds := openFDs(t, dir); len(fds) != 0 {
		t.Errorf("descriptors left open: %q", fds)
	}
}

// TestLargeBacklog: a file with more than one check's worth of backlog is
// read in several checks without holding up the other files, and Sync
// returns only once everything is delivered.
func TestLargeBacklog(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		big, small := h.path("big.log"), h.path("small.log")
		var sb strings.Builder
		const n = 100_000
		line := strings.Repeat("z", 99)
		for range n {
			sb.WriteString(line + "\n")
		}
		if sb.Len() <= maxReadPerCheck {
			t.Fatalf("backlog of %d bytes does not exceed one check (%d)", sb.Len(), maxReadPerCheck)
		}
		writeFile(t, big, sb.String())
		writeFile(t, small, "s1\n")
		h.start(FileConfig{Paths: []string{big, small}, Start: "beginning"})
		h.sync()
		if got := len(h.rec.linesOf(big)); got != n {
			t.Errorf("%d lines of the big file, want %d", got, n)
		}
		if got := h.rec.linesOf(small); !slices.Equal(got, []string{"s1"}) {
			t.Errorf("small file: %q", got)
		}
		// The small file was not made to wait for the whole big one.
		var order []string
		for _, b := range h.rec.batches() {
			if len(order) == 0 || order[len(order)-1] != b.Source {
				order = append(order, b.Source)
			}
		}
		if len(order) < 3 || order[len(order)-1] != big {
			t.Errorf("sources in delivery order %q: want the small file between parts of the big one", order)
		}
		h.rec.check(t)
	})
}

// TestCopyTruncatePartialOnly: nothing but a partial line had been read
// (no bytes before the offset to compare), and the file is refilled
// larger: the head fingerprint tells. The old partial line counts.
func TestCopyTruncatePartialOnly(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "ab")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.wake()
		h.sync()
		if got := h.rec.lines(); len(got) != 0 {
			t.Fatalf("a partial line was delivered: %q", got)
		}
		writeFile(t, fn, "xyz\n")
		h.expect("ab", "xyz")
		if n := len(h.rec.events(EventTruncate)); n != 1 {
			t.Errorf("%d truncate events, want 1", n)
		}
	})
}

// TestGlobMatchesRotatedName: the glob also matches the rotated name
// (app.log*), so the renamed file is a "new" match; it must be recognised
// by identity and not read again from its start.
func TestGlobMatchesRotatedName(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		w := writer(t, fn)
		h.start(FileConfig{Paths: []string{h.path("app.log*")}})
		w.WriteString("r1\nr2\n")
		h.expect("r1", "r2")
		rename(t, fn, fn+".1")
		writeFile(t, fn, "n1\n")
		h.wake()
		h.rec.waitLines(t, 3)
		w.WriteString("r3\n")
		h.expect("r1", "r2", "n1", "r3")
		if got := h.rec.linesOf(fn + ".1"); !slices.Equal(got, []string{"r3"}) {
			t.Errorf("lines under the rotated name %q, want [r3]", got)
		}
		if fds := openFDs(t, h.dir); len(fds) != 3 { // the writer's, and ours of both files
			t.Errorf("open descriptors %q", fds)
		}
		h.rec.check(t)
	})
}

func TestEventString(t *testing.T) {
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: EventRotate, Source: "/l/a.log", Path: "/l/a.log", Detail: "replaced"}, "rotate /l/a.log: replaced"},
		{Event{Kind: EventClose, Source: "/l/a.log", Path: "/l/a.log.1"}, "close /l/a.log (/l/a.log.1)"},
		{Event{Kind: EventStartError, Source: "pipe:x", Err: os.ErrNotExist}, "start-error pipe:x: file does not exist"},
		{Event{Kind: EventKind(99), Source: "s"}, "EventKind(99) s"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("%#v: got %q, want %q", tt.e, got, tt.want)
		}
	}
}

// TestNULBytesInLog: a log whose own lines hold NUL bytes, where reading
// goes on at one: the follower checks the content again (a truncation by a
// writer without O_APPEND leaves NUL bytes there), finds it unchanged, and
// reads the lines as they are.
func TestNULBytesInLog(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		w := writer(t, fn)
		h.start(FileConfig{Paths: []string{fn}})
		w.WriteString("a1\n")
		h.expect("a1")
		w.WriteString("\x00\x00b1\nb2\n")
		h.expect("a1", "\x00\x00b1", "b2")
		if st := h.files.Stats()[fn]; st.Truncations != 0 || st.Losses != 0 {
			t.Errorf("%d truncations, %d losses, want none; events %q", st.Truncations, st.Losses, h.rec.allEvents())
		}
		h.rec.check(t)
	})
}
