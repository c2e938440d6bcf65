package follow

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// savedPositions returns the last End of every file, by End.Path, as the
// daemon saves them.
func savedPositions(rec *recorder) map[string]Position {
	saved := make(map[string]Position)
	for _, b := range rec.batches() {
		if b.End.Path != "" {
			saved[b.End.Path] = b.End
		}
	}
	return saved
}

func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestResume(t *testing.T) {
	tests := []struct {
		name string
		// change alters the files while logtally is stopped.
		change func(t *testing.T, fn string)
		want   []string          // lines of the second run's catch-up, all Backlog
		events map[EventKind]int // events of the second run
		gone   bool              // fn does not exist in the second run
	}{
		{
			name:   "same file, lines appended",
			change: func(t *testing.T, fn string) { appendFile(t, fn, "s3\ns4\n") },
			want:   []string{"s3", "s4"},
			events: map[EventKind]int{EventResume: 1},
		},
		{
			name:   "same file, nothing new",
			change: func(t *testing.T, fn string) {},
			events: map[EventKind]int{EventResume: 1},
		},
		{
			name: "rotated",
			change: func(t *testing.T, fn string) {
				appendFile(t, fn, "s3\n")
				rename(t, fn, fn+".1")
				writeFile(t, fn, "n1\nn2\n")
			},
			want:   []string{"s3", "n1", "n2"},
			events: map[EventKind]int{EventResume: 1, EventReset: 1},
		},
		{
			name: "rotated, nothing appended before",
			change: func(t *testing.T, fn string) {
				rename(t, fn, fn+".1")
				writeFile(t, fn, "n1\n")
			},
			want:   []string{"n1"},
			events: map[EventKind]int{EventResume: 1, EventReset: 1},
		},
		{
			name: "truncated smaller",
			change: func(t *testing.T, fn string) {
				writeFile(t, fn, "t1\n")
			},
			want:   []string{"t1"},
			events: map[EventKind]int{EventReset: 1},
		},
		{
			name: "rewritten to the same size",
			change: func(t *testing.T, fn string) {
				f, err := os.OpenFile(fn, os.O_WRONLY|os.O_TRUNC, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("t1\nt2\n")
				f.Close()
			},
			want:   []string{"t1", "t2"},
			events: map[EventKind]int{EventReset: 1},
		},
		{
			name: "rewritten larger",
			change: func(t *testing.T, fn string) {
				writeFile(t, fn, "t1\nt2\nt3\n")
			},
			want:   []string{"t1", "t2", "t3"},
			events: map[EventKind]int{EventReset: 1},
		},
		{
			name: "rewritten larger, same first line",
			change: func(t *testing.T, fn string) {
				writeFile(t, fn, "s1\nt2\nt3\n")
			},
			want:   []string{"s1", "t2", "t3"},
			events: map[EventKind]int{EventReset: 1},
		},
		{
			name: "rotated file not found",
			change: func(t *testing.T, fn string) {
				appendFile(t, fn, "s3\n")
				rename(t, fn, filepath.Join(t.TempDir(), "elsewhere.log"))
				writeFile(t, fn, "n1\n")
			},
			want:   []string{"n1"},
			events: map[EventKind]int{EventLost: 1, EventReset: 1},
		},
		{
			name:   "deleted",
			change: func(t *testing.T, fn string) { os.Remove(fn) },
			events: map[EventKind]int{EventLost: 1},
			gone:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h1, fn, saved := firstRun(t, mode)

				tt.change(t, fn)

				h2 := h1.again()
				h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
				h2.sync()
				got := h2.rec.lines()
				if !slices.Equal(got, tt.want) {
					t.Fatalf("catch-up lines %q, want %q; events %q", got, tt.want, h2.rec.allEvents())
				}
				for _, b := range h2.rec.batches() {
					if !b.Backlog {
						t.Errorf("catch-up batch %q not marked backlog", b.Lines)
					}
				}
				for kind, n := range tt.events {
					if got := len(h2.rec.events(kind)); got != n {
						t.Errorf("%d %v events, want %d: %q", got, kind, n, h2.rec.allEvents())
					}
				}
				if !tt.gone {
					// Lines written after the restart are live.
					appendFile(t, fn, "live\n")
					h2.expect(append(slices.Clone(tt.want), "live")...)
					bs := h2.rec.batches()
					if last := bs[len(bs)-1]; last.Backlog {
						t.Errorf("live batch %q marked backlog", last.Lines)
					}
				}
				h2.rec.check(t, saved[fn].Offset)
			})
		})
	}
}

// openedWhole returns the position saved when the file at path (gzip
// when gz) is opened to be read whole: at offset 0, nothing of it known.
func openedWhole(t *testing.T, path string, gz bool) Position {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := idOf(fi)
	return Position{Path: path, Dev: id.dev, Ino: id.ino, Gzip: gz, HeadHash: hash64(nil), TailHash: hash64(nil)}
}

// TestResumeWhileDraining: logtally stops while it drains a rotated file
// (the writer has not reopened its log yet); the positions of both files
// were saved; after the restart each resumes where it was, and the lines
// written to both while it was down are read once.
func TestResumeWhileDraining(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h1 := newHarness(t, mode)
		fn := h1.path("app.log")
		w := writer(t, fn)
		h1.start(FileConfig{Paths: []string{fn}})
		w.WriteString("r1\n")
		h1.expect("r1")
		rename(t, fn, fn+".1")
		writeFile(t, fn, "n1\n")
		h1.wake()
		h1.rec.waitLines(t, 2)
		w.WriteString("r2\n")
		h1.expect("r1", "n1", "r2")
		h1.stop()
		saved := savedPositions(h1.rec)
		if _, ok := saved[fn+".1"]; !ok {
			t.Fatalf("no position saved for the rotated file: %v", saved)
		}

		w.WriteString("r3\n")
		appendFile(t, fn, "n2\n")

		h2 := h1.again()
		h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
		h2.sync()
		if got := h2.rec.lines(); !slices.Equal(got, []string{"r3", "n2"}) {
			t.Fatalf("lines %q, want [r3 n2]; events %q", got, h2.rec.allEvents())
		}
		if n := len(h2.rec.events(EventResume)); n != 2 {
			t.Errorf("%d resume events, want 2: %q", n, h2.rec.allEvents())
		}
		h2.rec.check(t, saved[fn].Offset, saved[fn+".1"].Offset)
	})
}

// TestResumeRotatedTwice: a file rotated twice while logtally was stopped,
// by renaming, then compressed, or copied and truncated: the saved file
// is found (by identity, or by its fingerprints in a copy or through
// gzip) and read from its position, the file created and rotated away in
// between is read whole, then the current one.
func TestResumeRotatedTwice(t *testing.T) {
	gz := func(t *testing.T, path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		writeFile(t, path+".gz", z.String())
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	copytruncate := func(t *testing.T, fn, to string) {
		data, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, to, string(data))
		if err := os.Truncate(fn, 0); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		rotate func(t *testing.T, fn string, n int) // the nth rotation (1, 2)
	}{
		{"renamed", func(t *testing.T, fn string, n int) {
			if n == 2 {
				rename(t, fn+".1", fn+".2")
			}
			rename(t, fn, fn+".1")
			writeFile(t, fn, "")
		}},
		{"renamed and compressed", func(t *testing.T, fn string, n int) {
			if n == 2 {
				rename(t, fn+".1.gz", fn+".2.gz")
			}
			rename(t, fn, fn+".1")
			gz(t, fn+".1")
			writeFile(t, fn, "")
		}},
		{"dated", func(t *testing.T, fn string, n int) {
			rename(t, fn, fmt.Sprintf("%s-2026120%d", fn, n))
			writeFile(t, fn, "")
		}},
		{"copied and truncated", func(t *testing.T, fn string, n int) {
			if n == 2 {
				rename(t, fn+".1", fn+".2")
			}
			copytruncate(t, fn, fn+".1")
		}},
		{"copied, truncated, compressed", func(t *testing.T, fn string, n int) {
			if n == 2 {
				rename(t, fn+".1.gz", fn+".2.gz")
			}
			copytruncate(t, fn, fn+".1")
			gz(t, fn+".1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h1, fn, saved := firstRun(t, mode)

				appendFile(t, fn, "s3\n")
				tt.rotate(t, fn, 1)
				appendFile(t, fn, "m1\nm2\n")
				tt.rotate(t, fn, 2)
				appendFile(t, fn, "n1\n")

				h2 := h1.again()
				h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
				h2.sync()
				if got := h2.rec.lines(); !slices.Equal(got, []string{"s3", "m1", "m2", "n1"}) {
					t.Fatalf("lines %q, want [s3 m1 m2 n1]; events %q", got, h2.rec.allEvents())
				}
				if n := len(h2.rec.events(EventLost)); n != 0 {
					t.Errorf("lost events: %q", h2.rec.allEvents())
				}
				appendFile(t, fn, "live\n")
				h2.expect("s3", "m1", "m2", "n1", "live")
			})
		})
	}
}

// TestResumeSymlinkRotated: the followed name is a symlink into another
// directory, where the target was rotated while logtally was stopped; the
// old target is found there by identity.
func TestResumeSymlinkRotated(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h1 := newHarness(t, mode)
		target := filepath.Join(t.TempDir(), "real.log")
		link := h1.path("app.log")
		writeFile(t, target, "s1\n")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		h1.start(FileConfig{Paths: []string{link}, Start: "beginning"})
		h1.expect("s1")
		h1.stop()
		saved := savedPositions(h1.rec)

		appendFile(t, target, "s2\n")
		rename(t, target, target+".1")
		writeFile(t, target, "n1\n")

		h2 := h1.again()
		h2.start(FileConfig{Paths: []string{link}, Saved: saved})
		h2.sync()
		if got := h2.rec.lines(); !slices.Equal(got, []string{"s2", "n1"}) {
			t.Fatalf("lines %q, want [s2 n1]; events %q", got, h2.rec.allEvents())
		}
		if n := len(h2.rec.events(EventLost)); n != 0 {
			t.Errorf("lost events: %q", h2.rec.allEvents())
		}
		h2.rec.check(t, saved[link].Offset)
	})
}

// TestSavedRotatedFileGoneElsewhere: the position saved under a rotated
// name (app.log.1, being drained) is of a file that is no longer there
// under that identity while logtally is stopped: gzip replaced it by
// app.log.1.gz (a new inode), or it was deleted and its inode taken by
// an unrelated file of the directory (logrotate's own state file). The
// event that ends the position saved under app.log.1 names the identity
// saved there, so that the daemon deletes it; an unrelated file that
// took the inode is not taken for it.
func TestSavedRotatedFileGoneElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name     string
		change   func(t *testing.T, fn string)
		want     []string
		notNamed string // no event names this file
	}{
		{
			name: "compressed",
			change: func(t *testing.T, fn string) {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write([]byte("s1\ns2\ns3\n"))
				zw.Close()
				writeFile(t, fn+".1.gz", b.String())
				if err := os.Remove(fn + ".1"); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"s3", "n1"},
		},
		{
			name: "inode taken by another file",
			change: func(t *testing.T, fn string) {
				// The rotated file's inode now names lr.state: renamed
				// there and rewritten, as a freed inode reused would be.
				rename(t, fn+".1", filepath.Join(filepath.Dir(fn), "lr.state"))
				writeFile(t, filepath.Join(filepath.Dir(fn), "lr.state"), "logrotate state -- version 2\n")
			},
			want:     []string{"n1"},
			notNamed: "lr.state",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, fn, saved := firstRun(t, "poll")
			appendFile(t, fn, "s3\n")
			rename(t, fn, fn+".1")
			writeFile(t, fn, "n1\n")
			// The position of the rotated file, saved under its new name
			// as the daemon does while it is drained.
			old := saved[fn]
			old.Path = fn + ".1"
			tc.change(t, fn)

			h2 := h.again()
			h2.start(FileConfig{Paths: []string{fn}, Start: "beginning", Saved: map[string]Position{fn + ".1": old}})
			h2.sync()
			if got := h2.rec.lines(); !slices.Equal(got, tc.want) {
				t.Fatalf("lines %q, want %q; events %q", got, tc.want, h2.rec.allEvents())
			}
			ended := false
			for _, e := range append(h2.rec.events(EventClose), h2.rec.events(EventMove)...) {
				if e.Path == fn+".1" {
					ended = true
					if e.Pos.Dev != old.Dev || e.Pos.Ino != old.Ino {
						t.Errorf("%v ends the position saved under %s with (%d %d), want the saved identity (%d %d)",
							e.Kind, e.Path, e.Pos.Dev, e.Pos.Ino, old.Dev, old.Ino)
					}
				}
			}
			if !ended {
				t.Errorf("no event ends the position saved under %s: %q", fn+".1", h2.rec.allEvents())
			}
			if tc.notNamed != "" {
				for _, e := range h2.rec.allEvents() {
					if strings.Contains(e, tc.notNamed) {
						t.Errorf("event %q names %s, an unrelated file", e, tc.notNamed)
					}
				}
			}
		})
	}
}

// TestSavedRotatedFileReadOnce: two positions are saved, the followed
// file's (later renamed to app.log.2) and, at offset 0, that of a file
// rotated in after it (app.log.1: saved when it was opened to be read
// whole, then logtally was killed before a commit). On restart the
// second is drained from its saved position and not read whole again by
// the walk of the files rotated in after the first (850 lines counted
// twice under create and kill -9).
func TestSavedRotatedFileReadOnce(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h, fn, saved := firstRun(t, mode)
		rename(t, fn, fn+".2")
		writeFile(t, fn+".1", "x1\nx2\n")
		saved[fn+".1"] = openedWhole(t, fn+".1", false)
		writeFile(t, fn, "n1\n")

		h2 := h.again()
		h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
		h2.sync()
		got := h2.rec.lines()
		slices.Sort(got)
		if want := []string{"n1", "x1", "x2"}; !slices.Equal(got, want) {
			t.Fatalf("lines %q, want %q once each; events %q", got, want, h2.rec.allEvents())
		}
	})
}

// TestSavedCopyNotReadTwiceByWalk is TestSavedRotatedFileReadOnce in the
// other order. The followed file, copied and truncated, was saved at
// offset 0 with its rotated set; a copy made after that (app.log.1 or
// app.log.1.gz) was saved when it was opened to be read (at offset 0,
// or part read), and logtally was killed before the followed file's
// next commit. While it was stopped, logrotate ran again: that copy is
// app.log.2[.gz] now, and a new one is app.log.1[.gz]. On restart the
// walk of the copies made while stopped, for the followed file, must
// leave the saved copy to its saved position: it was read whole as well
// as drained (3,850 lines counted for 3,000 after five kill -9 under
// copytruncate and compress).
func TestSavedCopyNotReadTwiceByWalk(t *testing.T) {
	for _, tc := range []struct {
		name string
		gz   bool
		read string // of the saved copy, before it was stopped
		want []string
	}{
		{name: "compressed, saved at offset 0", gz: true, want: []string{"x1", "x2", "y1", "after"}},
		{name: "part read", read: "x1\n", want: []string{"x2", "y1", "after"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h := newHarness(t, mode)
				fn := h.path("app.log")
				ext := ""
				if tc.gz {
					ext = ".gz"
				}
				writeFile(t, fn+".1"+ext, string(gzipIf(t, tc.gz, []byte("old1\nold2\n"))))
				saved := map[string]Position{fn: h.emptyFirstRun(fn)}

				// Copied and truncated while it ran: the copy's position
				// is saved.
				cp := fn + ".1" + ext
				rename(t, cp, fn+".2"+ext)
				if tc.read == "" {
					writeFile(t, cp, string(gzipIf(t, tc.gz, []byte("x1\nx2\n"))))
					saved[cp] = openedWhole(t, cp, tc.gz)
				} else {
					writeFile(t, cp, tc.read)
					h0 := h.again()
					h0.start(FileConfig{Paths: []string{cp}, Start: "beginning"})
					h0.expect(strings.TrimSuffix(tc.read, "\n"))
					h0.stop()
					saved[cp] = savedPositions(h0.rec)[cp]
					appendFile(t, cp, "x2\n")
				}

				// Stopped: copied and truncated once more.
				rename(t, fn+".2"+ext, fn+".3"+ext)
				rename(t, cp, fn+".2"+ext)
				writeFile(t, cp, string(gzipIf(t, tc.gz, []byte("y1\n"))))
				appendFile(t, fn, "after\n")

				h.restartExpect(fn, saved, tc.want...)
			})
		})
	}
}

// TestEmptyRotatedAwayWhileStopped: the followed file was saved at
// offset 0 (empty, or no complete line read), then written, rotated away
// and compressed while logtally was stopped, maybe more than once. Its
// position verifies against any file, so its inode, freed by gzip, proves
// nothing either: logrotate's own state file took it (1,000 lines lost:
// the state file was drained as the log, and the log's .gz never read),
// or a later rotated file did. The files that came into the rotated set
// since the position was saved are read whole, oldest first, then the new
// log.
func TestEmptyRotatedAwayWhileStopped(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rotate   func(t *testing.T, fn string) // fn holds a1, a2: rotate it
		want     []string
		notNamed string
	}{
		{
			name: "inode taken by logrotate's state file",
			rotate: func(t *testing.T, fn string) {
				writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte("a1\na2\n"))))
				rename(t, fn, filepath.Join(filepath.Dir(fn), "lr.state"))
				writeFile(t, filepath.Join(filepath.Dir(fn), "lr.state"), "logrotate state -- version 2\n\"line x\" 2026-12-6\n")
			},
			want:     []string{"a1", "a2", "n1"},
			notNamed: "lr.state",
		},
		{
			name: "inode freed",
			rotate: func(t *testing.T, fn string) {
				writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte("a1\na2\n"))))
				if err := os.Remove(fn); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"a1", "a2", "n1"},
		},
		{
			name: "rotated twice, inode taken by the newer file",
			rotate: func(t *testing.T, fn string) {
				writeFile(t, fn+".2.gz", string(gzipIf(t, true, []byte("a1\na2\n"))))
				rename(t, fn, fn+".1.gz")
				writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte("b1\n"))))
			},
			want: []string{"a1", "a2", "b1", "n1"},
		},
		{
			name: "renamed, then a newer file",
			rotate: func(t *testing.T, fn string) {
				rename(t, fn, fn+".2")
				writeFile(t, fn+".1", "b1\n")
			},
			want: []string{"a1", "a2", "b1", "n1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h := newHarness(t, mode)
				fn := h.path("app.log")
				saved := map[string]Position{fn: h.emptyFirstRun(fn)}
				// Held, so that the new log cannot take the saved one's
				// inode (it would be taken for the saved log, truncated).
				held, err := os.Open(fn)
				if err != nil {
					t.Fatal(err)
				}
				defer held.Close()
				appendFile(t, fn, "a1\na2\n")
				tc.rotate(t, fn)
				writeFile(t, fn, "n1\n")

				h2 := h.restartExpect(fn, saved, tc.want...)
				if tc.notNamed != "" {
					for _, e := range h2.rec.allEvents() {
						if strings.Contains(e, tc.notNamed) {
							t.Errorf("event %q names %s, an unrelated file", e, tc.notNamed)
						}
					}
				}
			})
		})
	}
}

// TestSavedCopyAtStartGone: a copy was saved at offset 0 when it was
// opened to be read whole (app.log.1), and logtally was killed before a
// line of it was committed; while it was stopped the copy was compressed
// (app.log.1.gz, a new file) and its inode freed, maybe taken by
// logrotate's state file. Its position describes no content: neither a
// file with its inode under a name outside the rotated set (the state
// file was drained as the log) nor any file of the set (an older one, the
// smallest, was read again) is it. The walk of the files new to the
// followed file's rotated set reads the compressed copy, once.
func TestSavedCopyAtStartGone(t *testing.T) {
	for _, stateFile := range []bool{false, true} {
		t.Run(fmt.Sprintf("inode_taken=%v", stateFile), func(t *testing.T) {
			forEachWatch(t, func(t *testing.T, mode string) {
				h := newHarness(t, mode)
				fn := h.path("app.log")
				writeFile(t, fn+".2.gz", string(gzipIf(t, true, []byte("o\n"))))
				saved := map[string]Position{fn: h.emptyFirstRun(fn)}
				writeFile(t, fn+".1", "x1\nx2\n")
				saved[fn+".1"] = openedWhole(t, fn+".1", false)

				writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte("x1\nx2\n"))))
				if stateFile {
					st := filepath.Join(filepath.Dir(fn), "lr.state")
					rename(t, fn+".1", st)
					writeFile(t, st, "logrotate state -- version 2\n")
				} else if err := os.Remove(fn + ".1"); err != nil {
					t.Fatal(err)
				}
				appendFile(t, fn, "after\n")

				h2 := h.restartExpect(fn, saved, "x1", "x2", "after")
				for _, e := range h2.rec.allEvents() {
					if strings.Contains(e, "lr.state") {
						t.Errorf("event %q names lr.state, an unrelated file", e)
					}
				}
			})
		})
	}
}

// TestRotatedAwayReadWholeThenKilled: the followed log, saved at offset 0,
// was rotated away and compressed while logtally was stopped; the restart
// read the compressed file whole (its position saved at once, at offset
// 0) and was killed before a commit; while it was stopped again the log
// was rotated once more. The next restart must drain that file from its
// saved position and not read it whole too as one of the files that came
// into the rotated set since the followed log's position (850 lines
// counted twice after five kill -9 under create and compress).
func TestRotatedAwayReadWholeThenKilled(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		saved := map[string]Position{fn: h.emptyFirstRun(fn)}
		// logrotate's create and compress: the log renamed, a new one
		// created (before the old inode is freed: it is not reused), the
		// rotated log compressed and unlinked.
		rotateGz := func(lines, next string) {
			if _, err := os.Stat(fn + ".1.gz"); err == nil {
				rename(t, fn+".1.gz", fn+".2.gz")
			}
			appendFile(t, fn, lines)
			rename(t, fn, fn+".1")
			writeFile(t, fn, next)
			writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte(lines))))
			if err := os.Remove(fn + ".1"); err != nil {
				t.Fatal(err)
			}
		}
		// The first log's inode is held, so that no later file takes it
		// (one that did would be taken for the saved log, truncated).
		held, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		rotateGz("a1\na2\n", "")

		h2 := h.again()
		h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
		h2.expect("a1", "a2")
		h2.stop()
		var found bool
		for _, e := range h2.rec.events(EventOpen) {
			if e.Path == fn+".1.gz" {
				saved[fn+".1.gz"], found = e.Pos, true
			}
		}
		if !found {
			t.Fatalf("no open event for %s: %q", fn+".1.gz", h2.rec.allEvents())
		}

		rotateGz("b1\n", "c1\n")
		h.restartExpect(fn, saved, "a1", "a2", "b1", "c1")
	})
}
