package follow

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseRotated(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
		num  int
		date string
		gz   bool
	}{
		{"app.log.1", true, 1, "", false},
		{"app.log.12.gz", true, 12, "", true},
		{"app.log-20261206", true, -1, "-20261206", false},
		{"app.log-20261206.gz", true, -1, "-20261206", true},
		{"app.log-20261206-1796533094", true, -1, "-20261206-1796533094", false},
		{"app.log.20261206", true, -1, ".20261206", false},
		{"app.log_2026-12-06", true, -1, "_2026-12-06", false},
		{"app.log", false, 0, "", false},
		{"app.log.gz", false, 0, "", false},
		{"app.log.lock", false, 0, "", false},
		{"app.log.1.tmp", false, 0, "", false},
		{"app.log.bak", false, 0, "", false},
		{"app.logx.1", false, 0, "", false},
		{"other.log.1", false, 0, "", false},
	}
	for _, tt := range tests {
		rf, ok := parseRotated("app.log", tt.name)
		if ok != tt.ok || ok && (rf.num != tt.num || rf.date != tt.date || rf.gz != tt.gz) {
			t.Errorf("%s: got %+v %v, want ok %v num %d date %q gz %v", tt.name, rf, ok, tt.ok, tt.num, tt.date, tt.gz)
		}
	}
}

// TestRotatedSet: the rotated set of a name, oldest first; a .gz file
// whose plain twin is there is left out.
func TestRotatedSet(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"app.log", "app.log.1", "app.log.2.gz", "app.log.10", "app.log.3", "app.log.3.gz",
		"app.log-20261205", "app.log-20261206.gz", "app.log-20261204.gz", "app.log.lock", "app.log.bak", "b.log.1"} {
		writeFile(t, filepath.Join(dir, n), "x\n")
	}
	if err := os.Mkdir(filepath.Join(dir, "app.log.4"), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rf := range rotatedSet(filepath.Join(dir, "app.log")) {
		got = append(got, filepath.Base(rf.path))
	}
	want := []string{"app.log.10", "app.log.3", "app.log.2.gz", "app.log.1",
		"app.log-20261204.gz", "app.log-20261205", "app.log-20261206.gz"}
	if !slices.Equal(got, want) {
		t.Errorf("rotated set\n got %q\nwant %q", got, want)
	}
}

// TestSampler: windows sampled while reading in chunks of any size, or
// filled from the file at an offset, give the fingerprints of the bytes
// at their places, which verify checks, and a change of one byte in one
// window makes verify fail.
func TestSampler(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 100, MaxHeadLen + SampleLen, 5000, 70000, 1 << 20} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte('a' + rng.IntN(26))
		}
		fn := filepath.Join(t.TempDir(), "f")
		writeFile(t, fn, string(data))
		f, err := os.Open(fn)
		if err != nil {
			t.Fatal(err)
		}
		s := newSampler()
		for off := 0; off < size; {
			n := min(size-off, 1+rng.IntN(9000))
			s.observe(int64(off), data[off:off+n])
			off += n
		}
		for _, at := range []int64{0, int64(size) / 3, int64(size) / 2, int64(size)} {
			stride, n, h := s.upTo(at)
			var filled sampler
			if err := filled.fill(f, at); err != nil {
				t.Fatal(err)
			}
			fs, fn, fh := filled.upTo(at)
			for i, st := range []struct {
				stride int64
				n      int
				h      uint64
			}{{stride, n, h}, {fs, fn, fh}} {
				if st.n > maxSamples || st.n > 0 && int64(st.n)*st.stride+SampleLen > at {
					t.Fatalf("size %d at %d: %d windows every %d bytes", size, at, st.n, st.stride)
				}
				least := int(max(0, at-SampleLen) / minStride)
				if at >= maxSamples*minStride {
					least = maxSamples/2 - 1
				}
				if (i == 1 || at == int64(size)) && st.n < least {
					t.Errorf("size %d at %d (sampler %d): only %d windows every %d bytes", size, at, i, st.n, st.stride)
				}
				var hs []uint64
				for k := 1; k <= st.n; k++ {
					w := int64(k) * st.stride
					hs = append(hs, hash64(data[w:w+SampleLen]))
				}
				if st.n > 0 && combine(hs) != st.h {
					t.Errorf("size %d at %d (sampler %d): hash of the windows differs", size, at, i)
				}
				p := Position{Offset: at, HeadLen: int(min(at, MaxHeadLen)), HeadHash: hash64(data[:min(at, MaxHeadLen)]),
					TailLen: int(min(at, MaxTailLen)), TailHash: hash64(data[at-min(at, MaxTailLen) : at]),
					SampleStride: st.stride, SampleCount: st.n, SampleHash: st.h}
				if why := verify(f, int64(size), p); why != "" {
					t.Errorf("size %d at %d (sampler %d): %s", size, at, i, why)
				}
				if st.n == 0 {
					continue
				}
				// One byte changed in the middle window.
				w := int64(st.n/2+1) * st.stride
				changed := bytes.Clone(data)
				changed[w+SampleLen/2] ^= 1
				g := filepath.Join(t.TempDir(), "g")
				writeFile(t, g, string(changed))
				gf, err := os.Open(g)
				if err != nil {
					t.Fatal(err)
				}
				if why := verify(gf, int64(size), p); !strings.Contains(why, "sampled") {
					t.Errorf("size %d at %d: a changed window verified (%q)", size, at, why)
				}
				gf.Close()
			}
		}
		f.Close()
	}
}

// TestVerifyStream: a position is checked against a gzip file's
// decompressed content, which is then read on from the offset.
func TestVerifyStream(t *testing.T) {
	var plain bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&plain, "line %d\n", i)
	}
	data := plain.Bytes()
	fn := filepath.Join(t.TempDir(), "a.log")
	writeFile(t, fn, string(data))
	f, err := os.Open(fn)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 5, 700, int64(len(data)) / 2, int64(len(data))} {
		o := &openFile{f: f, fp: newPrints()}
		o.startPlain(off, 0)
		p := o.position(off, true)

		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		gz := filepath.Join(t.TempDir(), "a.log.1.gz")
		writeFile(t, gz, z.String())
		g, err := os.Open(gz)
		if err != nil {
			t.Fatal(err)
		}
		s := &scanner{}
		o2, why := s.openAt(g, fileID{}, gz, p)
		if why != "" {
			t.Fatalf("offset %d: %s", off, why)
		}
		rest, err := readAll(o2)
		if err != nil || rest != string(data[off:]) {
			t.Errorf("offset %d: read on %d bytes (%v), want %d", off, len(rest), err, len(data)-int(off))
		}
		if p2 := o2.position(int64(len(data)), false); !p2.Gzip || p2.SampleCount == 0 && len(data) > 4*minStride {
			t.Errorf("offset %d: position at the end %+v", off, p2)
		}
		g.Close()

		// Another content with the same head and tail does not verify.
		other := bytes.Clone(data)
		if mid := off / 2; off > 4*minStride {
			other[mid] = 'X'
			z.Reset()
			zw = gzip.NewWriter(&z)
			zw.Write(other)
			zw.Close()
			writeFile(t, gz, z.String())
			g, _ = os.Open(gz)
			if _, why := s.openAt(g, fileID{}, gz, p); why == "" && !bytes.Equal(other[:off], data[:off]) {
				// The byte may fall between windows: then only the tail
				// and head are there to tell, and they are the same.
				t.Logf("offset %d: a change at %d between the windows is not seen", off, mid)
			}
			g.Close()
		}
	}
}

// readAll reads the rest of o's content through its line reader.
func readAll(o *openFile) (string, error) {
	var b strings.Builder
	for {
		line, _, err := o.r.Next()
		if err != nil {
			if l, _, ok := o.r.Final(); ok {
				b.Write(l)
			}
			return b.String(), nil
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}

// TestOldPositionResumes: a position saved by an earlier version (no
// sampled windows, no Gzip field) still resumes.
func TestOldPositionResumes(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h1 := newHarness(t, mode)
		fn := h1.path("app.log")
		var b strings.Builder
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(&b, "old %d\n", i)
		}
		writeFile(t, fn, b.String())
		h1.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h1.rec.waitLines(t, 2000)
		h1.sync()
		h1.stop()
		saved := savedPositions(h1.rec)
		p := saved[fn]
		if p.SampleCount == 0 {
			t.Fatalf("position without sampled windows: %+v", p)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var old map[string]json.RawMessage
		if err := json.Unmarshal(js, &old); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"SampleStride", "SampleCount", "SampleHash", "Gzip"} {
			delete(old, k)
		}
		js, _ = json.Marshal(old)
		var back Position
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		appendFile(t, fn, "new 1\n")
		h2 := h1.again()
		h2.start(FileConfig{Paths: []string{fn}, Saved: map[string]Position{fn: back}})
		h2.expect("new 1")
		if n := len(h2.rec.events(EventResume)); n != 1 {
			t.Errorf("%d resumes, want 1: %q", n, h2.rec.allEvents())
		}
	})
}

// TestRewriteSameBytes: a file rewritten in place (same inode) keeping its
// first 1024 bytes and the 64 bytes before the read offset, with other
// lines between, is seen by the sampled windows: the new content is read
// from its start.
func TestRewriteSameBytes(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		var old []string
		for i := 0; i < 400; i++ {
			old = append(old, fmt.Sprintf("line %04d", i))
		}
		writeFile(t, fn, strings.Join(old, "\n")+"\n")
		h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
		h.expect(old...)
		// Lines 200-209 become others of the same length, written in
		// place: the size does not change either.
		refill := slices.Clone(old)
		for i := 200; i < 210; i++ {
			refill[i] = fmt.Sprintf("LINE %04d", i)
		}
		f, err := os.OpenFile(fn, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(strings.Join(refill[200:210], "\n")), 200*10); err != nil {
			t.Fatal(err)
		}
		f.Close()
		h.expect(append(slices.Clone(old), refill...)...)
		if e := h.rec.events(EventTruncate); len(e) != 1 || !strings.Contains(e[0].Detail, "sampled") {
			t.Errorf("truncate events %q, want one saying a sampled window changed", h.rec.allEvents())
		}
		h.rec.check(t)
	})
}

// TestCopyTruncateFromCopy: lines written before logrotate's copy and not
// read yet are read from the copy, from where reading had stopped — plain,
// or gzip when the copy was compressed at once — and the truncated file
// from its start. Polling, so that nothing is read before the tick.
func TestCopyTruncateFromCopy(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprint("compress=", compress), func(t *testing.T) {
			h := newHarness(t, "poll")
			fn := h.path("app.log")
			writeFile(t, fn, "c1\nc2\n")
			h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
			h.expect("c1", "c2")
			appendFile(t, fn, "u1\nu2\npart")
			data, err := os.ReadFile(fn)
			if err != nil {
				t.Fatal(err)
			}
			copyTo := fn + ".1"
			if compress {
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				zw.Write(data)
				zw.Close()
				data, copyTo = z.Bytes(), fn+".1.gz"
			}
			writeFile(t, copyTo, string(data))
			truncateTo0(t, fn)
			appendFile(t, fn, "n1\n")
			h.expect("c1", "c2", "u1", "u2", "part", "n1")
			if n := len(h.rec.events(EventLost)); n != 0 {
				t.Errorf("lost events: %q", h.rec.allEvents())
			}
			if got := h.rec.linesOf(fn); !slices.Equal(got, []string{"c1", "c2", "u1", "u2", "part", "n1"}) {
				t.Errorf("lines of the stream %q", got)
			}
			waitClosed(t, h.rec, copyTo)
		})
	}
}

// TestCopyTruncateWindow: lines written between logrotate's copy and its
// truncation are in no file. A writer without O_APPEND writes on at its
// old offset, leaving a hole exactly as long as the old content: the
// window's bytes are reported lost, exactly. An O_APPEND writer leaves no
// trace: nothing is reported that cannot be proven.
func TestCopyTruncateWindow(t *testing.T) {
	for _, appendMode := range []bool{false, true} {
		t.Run(fmt.Sprint("append=", appendMode), func(t *testing.T) {
			h := newHarness(t, "poll")
			fn := h.path("app.log")
			w := logWriter(t, fn, appendMode)
			w.WriteString("c1\n")
			h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
			h.expect("c1")
			w.WriteString("u1\n")
			copyTo(t, fn, fn+".1")
			w.WriteString("window1\nwindow2\n") // in no file
			truncateTo0(t, fn)
			w.WriteString("n1\n")
			h.expect("c1", "u1", "n1")
			st := h.files.Stats()[fn]
			want := uint64(0)
			if !appendMode {
				want = uint64(len("window1\nwindow2\n"))
			}
			if st.LostBytes != want {
				t.Errorf("%d bytes reported lost, want %d; events %q", st.LostBytes, want, h.rec.allEvents())
			}
			if n := len(h.rec.events(EventLost)); n != int(min(want, 1)) {
				t.Errorf("%d lost events, want %d: %q", n, min(want, 1), h.rec.allEvents())
			}
		})
	}
}

// TestRotatedTwiceBetweenChecks: the name is rotated twice before the
// follower looks again: the file created by the first rotation and
// rotated away by the second was never seen, and is read whole.
func TestRotatedTwiceBetweenChecks(t *testing.T) {
	h := newHarness(t, "poll")
	fn := h.path("app.log")
	writeFile(t, fn, "a1\n")
	h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
	h.expect("a1")
	appendFile(t, fn, "a2\n")
	rename(t, fn, fn+".1")
	writeFile(t, fn, "b1\n")
	rename(t, fn+".1", fn+".2")
	rename(t, fn, fn+".1")
	writeFile(t, fn, "c1\n")
	h.expect("a1", "a2", "b1", "c1")
	h.rec.check(t)
}

// TestDrainRenamed: a rotated file being drained is renamed again (the
// next rotation): its position follows it to its new name, and the next
// rotated file, which takes its old name, is a file of its own.
func TestDrainRenamed(t *testing.T) {
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		w := writer(t, fn)
		h.start(FileConfig{Paths: []string{fn}})
		w.WriteString("r1\n")
		h.expect("r1")
		rename(t, fn, fn+".1")
		writeFile(t, fn, "n1\n")
		h.expect("r1", "n1")
		rename(t, fn+".1", fn+".2")
		rename(t, fn, fn+".1")
		writeFile(t, fn, "m1\n")
		w.WriteString("r2\n") // the first writer has not reopened yet
		h.wake()
		h.rec.waitLines(t, 4)
		h.sync()
		if got := h.rec.lines(); !slices.Equal(got[:2], []string{"r1", "n1"}) || !slices.Equal(slices.Sorted(slices.Values(got[2:])), []string{"m1", "r2"}) {
			t.Fatalf("lines %q, want r1 n1, then m1 and r2", got)
		}
		moves := h.rec.events(EventMove)
		if len(moves) != 1 || moves[0].Path != fn+".1" || moves[0].Pos.Path != fn+".2" {
			t.Fatalf("move events %q, want one from %s to %s", h.rec.allEvents(), fn+".1", fn+".2")
		}
		saved := savedPositions(h.rec)
		if p := saved[fn+".2"]; p.Ino != moves[0].Pos.Ino || p.Offset != 6 {
			t.Errorf("position under %s: %+v, want the first file's at 6", fn+".2", p)
		}
		h.rec.check(t)
	})
}

// TestHashStable: the fingerprint hash is FNV-1a, as in every saved
// position, and combining window hashes is the FNV-1a of their bytes.
func TestHashStable(t *testing.T) {
	for _, s := range []string{"", "a", "Mar  1 12:00:00 host sshd[1234]: Invalid user admin\n", strings.Repeat("x", 1024)} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got := hash64([]byte(s)); got != h.Sum64() {
			t.Errorf("hash64(%q) = %x, want FNV-1a %x", s, got, h.Sum64())
		}
	}
	hs := []uint64{1, 0xdeadbeefcafebabe, 42}
	b := make([]byte, 0, 24)
	for _, v := range hs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	if combine(hs) != hash64(b) {
		t.Errorf("combine differs from the hash of the windows' hashes")
	}
}

// TestCopyTruncateTwiceBetweenChecks: logrotate copies and truncates the
// log twice before the follower looks again, while a writer without
// O_APPEND goes on writing: each content after a truncation starts with
// the hole of the one before. The copy of the content being read is found
// (not the later copy, whose hole covers the same offsets with the same
// zeros), then the later copy is read whole, its hole skipped, then the
// log; the two windows' bytes are reported lost, exactly.
func TestCopyTruncateTwiceBetweenChecks(t *testing.T) {
	h := newHarness(t, "poll")
	fn := h.path("app.log")
	w := logWriter(t, fn, false)
	copytruncate := func(to string) {
		data, err := os.ReadFile(fn)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, to, string(data))
		w.WriteString("gone\n") // in no file
		truncateTo0(t, fn)
	}
	var want []string
	write := func(tag string, n int) {
		for i := 0; i < n; i++ {
			l := fmt.Sprintf("%s %04d", tag, i)
			w.WriteString(l + "\n")
			want = append(want, l)
		}
	}
	write("a", 100)
	h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
	h.expect(want...)
	// Twice: the first content after a truncation is all hole.
	for round := 0; round < 2; round++ {
		write(fmt.Sprintf("b%d", round), 3)
		copytruncate(fn + ".1")
		write(fmt.Sprintf("c%d", round), 5)
		rename(t, fn+".1", fn+".2")
		copytruncate(fn + ".1")
		write(fmt.Sprintf("d%d", round), 2)
		h.expect(want...)
		// The rotation count drops both copies before the next round.
		for _, old := range []string{fn + ".1", fn + ".2"} {
			if err := os.Remove(old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := h.files.Stats()[fn]; st.LostBytes != 4*uint64(len("gone\n")) {
		t.Errorf("%d bytes reported lost, want the %d of the four windows; events %q",
			st.LostBytes, 4*len("gone\n"), h.rec.allEvents())
	}
}

// TestCopyTruncateUnseen: the log was empty when the follower last looked,
// then lines were written, and logrotate copied and truncated it (once or
// twice, with compress or delaycompress) before the next look. Nothing of
// that content was read, so the file keeps no trace of it to compare:
// the copies that were not next to it at the last look are read whole,
// oldest first, then the log from its start. Rotated files that were
// there, renamed since, or compressed (delaycompress: a new gzip file,
// maybe on the inode of the plain one, freed) are not copies: they are
// not read again. A writer without O_APPEND leaves a hole for each window
// between a copy and its truncation: exactly those bytes are reported
// lost.
func TestCopyTruncateUnseen(t *testing.T) {
	tests := []struct {
		name     string
		append   bool
		compress bool // every copy gzipped at once; else delaycompress
		rounds   int  // copytruncates between the two looks
		quiet    bool // nothing written after the last truncation
	}{
		{name: "append", append: true, rounds: 1},
		{name: "hole", rounds: 1},
		{name: "append/gzip", append: true, compress: true, rounds: 1},
		{name: "hole/gzip", compress: true, rounds: 1},
		{name: "append/quiet", append: true, rounds: 1, quiet: true},
		{name: "append/twice", append: true, rounds: 2},
		{name: "hole/twice", rounds: 2},
		{name: "hole/twice/gzip", compress: true, rounds: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "poll")
			fn := h.path("app.log")
			name := func(n int, gz bool) string {
				if gz {
					return fmt.Sprintf("%s.%d.gz", fn, n)
				}
				return fmt.Sprintf("%s.%d", fn, n)
			}
			// Rotated before: never read.
			writeFile(t, name(1, tt.compress), string(gzipIf(t, tt.compress, []byte("old1\nold2\n"))))
			w := logWriter(t, fn, tt.append)
			h.start(FileConfig{Paths: []string{fn}})
			h.expect() // empty
			var want []string
			gen := 1 // rotated files
			copytruncate := func() {
				for n := gen; n >= 2; n-- {
					rename(t, name(n, true), name(n+1, true))
				}
				if tt.compress {
					rename(t, name(1, true), name(2, true))
				} else {
					rename(t, name(1, false), name(2, false))
					data, err := os.ReadFile(name(2, false))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.Remove(name(2, false)); err != nil {
						t.Fatal(err)
					}
					writeFile(t, name(2, true), string(gzipIf(t, true, data)))
				}
				data, err := os.ReadFile(fn)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, name(1, tt.compress), string(gzipIf(t, tt.compress, data)))
				w.WriteString("gone\n") // in no file
				truncateTo0(t, fn)
				gen++
			}
			for round := 0; round < tt.rounds; round++ {
				for i := 0; i < 3; i++ {
					l := fmt.Sprintf("r%d line %d", round, i)
					w.WriteString(l + "\n")
					want = append(want, l)
				}
				copytruncate()
			}
			if !tt.quiet {
				w.WriteString("after\n")
				want = append(want, "after")
			}
			h.expect(want...)
			wantLost := uint64(0)
			if !tt.append {
				wantLost = uint64(tt.rounds * len("gone\n"))
			}
			if st := h.files.Stats()[fn]; st.LostBytes != wantLost || st.Truncations != 1 {
				t.Errorf("%d bytes reported lost, want %d; %d truncations, want 1; events %q",
					st.LostBytes, wantLost, st.Truncations, h.rec.allEvents())
			}
			// Each content after a truncation starts after the hole left
			// by the one before: 3 lines and the window.
			var holeEnds []int64
			for r := 1; !tt.append && r <= tt.rounds; r++ {
				holeEnds = append(holeEnds, int64(r*(3*len("r0 line 0\n")+len("gone\n"))))
			}
			h.rec.check(t, holeEnds...)
		})
	}
}

// gzipIf returns data, gzipped when gz.
func gzipIf(t *testing.T, gz bool, data []byte) []byte {
	t.Helper()
	if !gz {
		return data
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.Bytes()
}

// TestUnseenRotatedGrows: while the log is empty, a rotated file next to
// it grows (a writer that never reopened its log) and the log gets a line:
// the rotated file is no copy of anything unread; it is not read.
func TestUnseenRotatedGrows(t *testing.T) {
	h := newHarness(t, "poll")
	fn := h.path("app.log")
	writeFile(t, fn+".1", "old1\n")
	writeFile(t, fn, "")
	h.start(FileConfig{Paths: []string{fn}})
	h.expect()
	appendFile(t, fn+".1", "old2\n")
	appendFile(t, fn, "new1\n")
	h.expect("new1")
	if st := h.files.Stats()[fn]; st.Truncations != 0 || st.Losses != 0 {
		t.Errorf("%d truncations, %d losses, want none; events %q", st.Truncations, st.Losses, h.rec.allEvents())
	}
}

// TestCopyTruncateUnseenWhileStopped: logtally stops while its log is
// empty (its saved position is at offset 0: it describes no content), and
// while it is stopped lines are written and logrotate copies and
// truncates the log, once or twice, with delaycompress. The position
// saved the rotated set as it was: on restart, the copies that came since
// are read whole, oldest first, then the log; the rotated file that was
// there and was compressed since is not read again.
func TestCopyTruncateUnseenWhileStopped(t *testing.T) {
	for _, rounds := range []int{1, 2} {
		for _, appendMode := range []bool{true, false} {
			t.Run(fmt.Sprintf("rounds=%d/append=%v", rounds, appendMode), func(t *testing.T) {
				h := newHarness(t, "poll")
				fn := h.path("app.log")
				writeFile(t, fn+".1", "old1\nold2\n")
				saved := map[string]Position{fn: h.emptyFirstRun(fn)}

				w := logWriter(t, fn, appendMode)
				var want []string
				for r := 0; r < rounds; r++ {
					for i := 0; i < 3; i++ {
						l := fmt.Sprintf("r%d line %d", r, i)
						w.WriteString(l + "\n")
						want = append(want, l)
					}
					// delaycompress: app.log.N.gz move up, app.log.1 is
					// compressed to app.log.2.gz, the copy made.
					for n := r + 2; n >= 2; n-- {
						if _, err := os.Stat(fmt.Sprintf("%s.%d.gz", fn, n)); err == nil {
							rename(t, fmt.Sprintf("%s.%d.gz", fn, n), fmt.Sprintf("%s.%d.gz", fn, n+1))
						}
					}
					data, err := os.ReadFile(fn + ".1")
					if err != nil {
						t.Fatal(err)
					}
					if err := os.Remove(fn + ".1"); err != nil {
						t.Fatal(err)
					}
					writeFile(t, fn+".2.gz", string(gzipIf(t, true, data)))
					if data, err = os.ReadFile(fn); err != nil {
						t.Fatal(err)
					}
					writeFile(t, fn+".1", string(data))
					truncateTo0(t, fn)
				}
				w.WriteString("after\n")
				want = append(want, "after")

				h2 := h.again()
				h2.start(FileConfig{Paths: []string{fn}, Saved: saved})
				h2.expect(want...)
				for _, b := range h2.rec.batches() {
					if !b.Backlog {
						t.Errorf("batch %q not marked backlog", b.Lines)
					}
				}
				if st := h2.files.Stats()[fn]; st.Losses != 0 {
					t.Errorf("%d losses reported; events %q", st.Losses, h2.rec.allEvents())
				}
			})
		}
	}
}

// TestTruncatedWhileRead: logrotate copies and truncates the log between
// the follower's check of it and its read, and the writer, without
// O_APPEND, goes on at its old offset: the read meets the hole where the
// content it was reading went on. The follower checks again before taking
// a byte of it, reads the unread part from the copy, and the new content
// after the hole; the window's bytes are reported lost, exactly.
func TestTruncatedWhileRead(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "app.log")
	w := logWriter(t, fn, false)
	w.WriteString("a1\n")
	s, rec, files := stepped(t, fn)
	w.WriteString("a2\n") // not read before the copy: read from it
	s.checked = func() {
		s.checked = nil
		copyTo(t, fn, fn+".1")
		w.WriteString("gone\n") // in no file
		truncateTo0(t, fn)
		w.WriteString("b1\n")
	}
	s.scan(false)
	if got := rec.lines(); !slices.Equal(got, []string{"a1", "a2", "b1"}) {
		t.Errorf("lines %q, want a1 a2 b1; events %q", got, rec.allEvents())
	}
	if st := files.Stats()[fn]; st.LostBytes != uint64(len("gone\n")) {
		t.Errorf("%d bytes reported lost, want %d; events %q", st.LostBytes, len("gone\n"), rec.allEvents())
	}
}

// TestCompressedAfterCopyRead: logrotate's copytruncate with compress
// copies the log to app.log.1 and truncates it; the follower reads the
// copy's unread part; then the copy is compressed to app.log.1.gz before a
// line of the new content is read, by gzip beside it (both files seen at
// one look) or through a name outside the rotated set (a look that sees
// neither). The compressed twin of the copy just read is no new copy: its
// lines are not read again.
func TestCompressedAfterCopyRead(t *testing.T) {
	for _, appendMode := range []bool{true, false} {
		for _, aside := range []bool{false, true} {
			t.Run(fmt.Sprintf("append=%v/aside=%v", appendMode, aside), func(t *testing.T) {
				h := newHarness(t, "poll")
				fn := h.path("app.log")
				w := logWriter(t, fn, appendMode)
				w.WriteString("a1\na2\n")
				h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
				want := []string{"a1", "a2"}
				h.expect(want...)
				// Written, then copied and truncated before the next look.
				w.WriteString("b1\nb2\n")
				data, err := os.ReadFile(fn)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, fn+".1", string(data))
				truncateTo0(t, fn)
				if !appendMode {
					if _, err := w.Seek(0, 0); err != nil {
						t.Fatal(err)
					}
				}
				gz := gzipIf(t, true, data)
				if !aside {
					// gzip at work at the look: app.log.1.gz is being written.
					writeFile(t, fn+".1.gz", string(gz[:len(gz)/2]))
				}
				want = append(want, "b1", "b2")
				h.expect(want...)
				if aside {
					rename(t, fn+".1", h.path("compressing.tmp"))
					h.expect(want...)
				} else if err := os.Remove(fn + ".1"); err != nil {
					t.Fatal(err)
				}
				writeFile(t, fn+".1.gz", string(gz))
				w.WriteString("c1\n")
				want = append(want, "c1")
				h.expect(want...)
				w.WriteString("c2\n")
				want = append(want, "c2")
				h.expect(want...)
				if st := h.files.Stats()[fn]; st.Truncations != 1 || st.Losses != 0 || st.LostBytes != 0 {
					t.Errorf("%d truncations (want 1), %d losses, %d bytes lost (want none); events %q",
						st.Truncations, st.Losses, st.LostBytes, h.rec.allEvents())
				}
			})
		}
	}
}

// TestRefilledWhileRead: logrotate copies and truncates the log between
// the follower's check of it and its read, and the writer, with O_APPEND,
// refills it at once from its start — up to, past or far past the offset
// the follower had reached. The read must not take the new content's
// bytes for the old content's continuation: every line is delivered
// once, the old content's unread part from the copy, the new content
// from its start, and nothing is reported lost (nothing is).
func TestRefilledWhileRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refill []string // the new content, written in the gap
	}{
		{"short of the offset", []string{"b1"}},
		{"to the offset", []string{"bb1", "b2"}},
		{"past the offset", []string{"b1", "b2", "b3", "b4"}},
		{"mid-line at the offset", []string{"b12345", "b2"}},
		{"far past the offset", manyLines("b", 2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := filepath.Join(t.TempDir(), "app.log")
			w := logWriter(t, fn, true)
			w.WriteString("a1\na2\n")
			s, rec, files := stepped(t, fn)
			w.WriteString("a3\n") // not read before the copy: read from it
			s.checked = func() {
				s.checked = nil
				copyTo(t, fn, fn+".1")
				truncateTo0(t, fn)
				w.WriteString(strings.Join(tc.refill, "\n") + "\n")
			}
			s.scan(false)
			s.scan(false)
			want := append([]string{"a1", "a2", "a3"}, tc.refill...)
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Errorf("lines %q, want %q; events %q", got, want, rec.allEvents())
			}
			if st := files.Stats()[fn]; st.Losses != 0 || st.LostBytes != 0 {
				t.Errorf("%d losses (%d bytes) reported; events %q", st.Losses, st.LostBytes, rec.allEvents())
			}
		})
	}
}

// manyLines returns n lines prefix1 ... prefixN.
func manyLines(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i+1)
	}
	return out
}

// TestCopyOfReadContent: logrotate's copytruncate copies the log, the
// writer (O_APPEND) writes more, the follower reads it, then the log is
// truncated: the copy is shorter than the offset read to and holds
// nothing unread. It is recognised by what is known of the content read
// (first bytes, sampled windows, the bytes before the offset), plain or
// already compressed, and no loss is reported; a file that differs there,
// or none, is no such copy, and the loss that may be is reported.
func TestCopyOfReadContent(t *testing.T) {
	long := strings.Join(manyLines("a", 400), "\n") + "\n" // with a sampled window at 1024
	for _, tc := range []struct {
		name         string
		before       string // read, then copied
		window       string // written after the copy, read before the truncate
		copied       func(data string) string
		gz           bool
		wantNoneLost bool
	}{
		{"short window", "a1\na2\n", "w1\n", func(d string) string { return d }, false, true},
		{"long window", "a1\na2\n", strings.Repeat("w\n", 100), func(d string) string { return d }, false, true},
		{"sampled", long, "w1\nw2\n", func(d string) string { return d }, false, true},
		{"compressed", long, strings.Repeat("w\n", 100), func(d string) string { return d }, true, true},
		{"differs before the offset", "a1\na2\n", "w1\n", func(d string) string { return d[:len(d)-2] + "X\n" }, false, false},
		{"differs in a window", long, "w1\n", func(d string) string { return d[:1030] + "X" + d[1031:] }, false, false},
		{"another content", "a1\na2\n", "w1\n", func(d string) string { return "b1\n" }, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := filepath.Join(t.TempDir(), "app.log")
			w := logWriter(t, fn, true)
			s, rec, files := stepped(t, fn)
			w.WriteString(tc.before)
			s.scan(false)
			name := fn + ".1"
			if tc.gz {
				name += ".gz"
			}
			writeFile(t, name, string(gzipIf(t, tc.gz, []byte(tc.copied(tc.before)))))
			w.WriteString(tc.window)
			s.scan(false)
			truncateTo0(t, fn)
			w.WriteString("b1\n")
			s.scan(false)
			want := strings.Split(strings.TrimSuffix(tc.before+tc.window+"b1\n", "\n"), "\n")
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Errorf("%d lines, want %d; events %q", len(got), len(want), rec.allEvents())
			}
			st := files.Stats()[fn]
			if st.Truncations != 1 || st.LostBytes != 0 {
				t.Errorf("%d truncations, %d bytes lost, want 1 and 0; events %q", st.Truncations, st.LostBytes, rec.allEvents())
			}
			if none := st.Losses == 0; none != tc.wantNoneLost {
				t.Errorf("%d losses reported, want none: %v; events %q", st.Losses, tc.wantNoneLost, rec.allEvents())
			}
		})
	}
}

// TestCopyOfCurrentContent: logrotate's copytruncate is looked at between
// its copy and its truncate, right after an earlier copytruncate the
// follower sees only now: the newest copy holds what the followed file
// itself starts with. It is not read whole as a copy of content truncated
// away (its lines would be read twice: from it, and from the file); its
// lines are read from the file, and when the truncation comes the copy
// is found again, with nothing unread. Whether the earlier copy holds an
// unread part (read from it), was read all (shorter than the offset), or
// the file was empty at the last look, every line is read once.
func TestCopyOfCurrentContent(t *testing.T) {
	for _, tc := range []string{"unread part", "read all", "empty at the last look"} {
		t.Run(tc, func(t *testing.T) {
			fn := filepath.Join(t.TempDir(), "app.log")
			w := logWriter(t, fn, true)
			s, rec, files := stepped(t, fn)
			copyLog := func() { // copytruncate's copy, the older copies moved up
				if _, err := os.Stat(fn + ".1"); err == nil {
					rename(t, fn+".1", fn+".2")
				}
				copyTo(t, fn, fn+".1")
			}
			truncateLog := func() {
				truncateTo0(t, fn)
			}
			w.WriteString("a1\na2\n")
			s.scan(false)
			want := []string{"a1", "a2"}
			switch tc {
			case "unread part":
				w.WriteString("a3\n")
				copyLog()
				want = append(want, "a3")
			case "read all":
				copyLog()
				w.WriteString("w1\n")
				s.scan(false)
				want = append(want, "w1")
			case "empty at the last look":
				copyLog()
				truncateLog()
				s.scan(false) // sees the truncation; the file is empty
			}
			if tc != "empty at the last look" {
				truncateLog()
			}
			w.WriteString("b1\nb2\n")
			copyLog() // and logrotate is looked at before its truncate
			s.scan(false)
			want = append(want, "b1", "b2")
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Fatalf("before the truncate: lines %q, want %q; events %q", got, want, rec.allEvents())
			}
			truncateLog()
			w.WriteString("c1\n")
			s.scan(false)
			want = append(want, "c1")
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Errorf("lines %q, want %q; events %q", got, want, rec.allEvents())
			}
			if st := files.Stats()[fn]; st.Losses != 0 || st.LostBytes != 0 {
				t.Errorf("%d losses (%d bytes) reported; events %q", st.Losses, st.LostBytes, rec.allEvents())
			}
		})
	}
}

// TestTruncatedAfterStat: a log truncated between the follower's stat of
// it and its read of the first bytes is seen as smaller than the offset
// read, as when the stat already shows it: the reason does not depend on
// which of the two the truncation came before.
func TestTruncatedAfterStat(t *testing.T) {
	fn := filepath.Join(t.TempDir(), "app.log")
	w := logWriter(t, fn, true)
	w.WriteString("a1\na2\n")
	s, rec, _ := stepped(t, fn)
	o := s.tracked[fn].cur
	fi, err := os.Stat(fn) // the stat, before the truncation
	if err != nil {
		t.Fatal(err)
	}
	truncateTo0(t, fn)
	want := "size 0 is below the read offset 6"
	if got := s.checkContent(o, fi.Size()); got != want {
		t.Errorf("checkContent after a stale stat: %q, want %q; lines %q", got, want, rec.lines())
	}
	if got := s.checkContent(o, 0); got != want {
		t.Errorf("checkContent: %q, want %q", got, want)
	}
}

// compressAway does what logrotate's compress does to a rotated file:
// path.gz is written, then path unlinked.
func compressAway(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path+".gz", string(gzipIf(t, true, data)))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// TestRotatedAwayCompressed: logrotate's create and compress rotate the
// log twice (or three times) between two checks, with lines before each
// rotation: the log being read is renamed, compressed and unlinked, and
// so is the one created after it, before the follower looks. The
// follower drains the first through its descriptor, places its content
// in the rotated set by its print (app.log.2.gz), and reads the files
// rotated in after it whole (app.log.1.gz) before the new log. The look
// also comes at other moments of the second rotation: while gzip writes
// app.log.1.gz (the plain app.log.1 is read, and the .gz, once complete,
// is not read again), and while the name is missing (renamed, not yet
// created). A first log that was empty is placed by what the rotated set
// held at the last look instead. Every line is delivered once, and no
// loss is reported.
func TestRotatedAwayCompressed(t *testing.T) {
	tests := []struct {
		name  string
		first string // the first log's content before the rotations
		// second runs the second rotation (app.log.1.gz is the first log
		// compressed, app.log the second) up to the look; finish, if
		// set, completes it after the look.
		second, finish func(t *testing.T, fn string)
		thrice         bool
		empty          bool // the first log stays empty
	}{
		{name: "compressed", first: "a1\n", second: func(t *testing.T, fn string) {
			rename(t, fn+".1.gz", fn+".2.gz")
			rename(t, fn, fn+".1")
			writeFile(t, fn, "c1\n")
			compressAway(t, fn+".1")
		}},
		{name: "thrice", first: "a1\n", thrice: true, second: func(t *testing.T, fn string) {
			rename(t, fn+".1.gz", fn+".2.gz")
			rename(t, fn, fn+".1")
			writeFile(t, fn, "c1\n")
			compressAway(t, fn+".1")
		}},
		{name: "compressing", first: "a1\n", second: func(t *testing.T, fn string) {
			rename(t, fn+".1.gz", fn+".2.gz")
			rename(t, fn, fn+".1")
			writeFile(t, fn, "c1\n")
			data, err := os.ReadFile(fn + ".1")
			if err != nil {
				t.Fatal(err)
			}
			gz := gzipIf(t, true, data)
			writeFile(t, fn+".1.gz", string(gz[:len(gz)/2]))
		}, finish: func(t *testing.T, fn string) {
			if err := os.Remove(fn + ".1.gz"); err != nil {
				t.Fatal(err)
			}
			compressAway(t, fn+".1")
		}},
		{name: "name missing", first: "a1\n", second: func(t *testing.T, fn string) {
			rename(t, fn+".1.gz", fn+".2.gz")
			rename(t, fn, fn+".1")
		}, finish: func(t *testing.T, fn string) {
			writeFile(t, fn, "c1\n")
			compressAway(t, fn+".1")
		}},
		{name: "first empty", empty: true, second: func(t *testing.T, fn string) {
			rename(t, fn+".1.gz", fn+".2.gz")
			rename(t, fn, fn+".1")
			writeFile(t, fn, "c1\n")
			compressAway(t, fn+".1")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			fn := filepath.Join(dir, "app.log")
			writeFile(t, fn, tt.first)
			// Older rotated logs, all read before.
			for i := 1; i <= 3; i++ {
				writeFile(t, fmt.Sprintf("%s.%d.gz", fn, i), string(gzipIf(t, true, []byte(fmt.Sprintf("old%d\n", i)))))
			}
			s, rec, files := stepped(t, fn)
			want := slices.DeleteFunc(strings.Split(tt.first, "\n"), func(l string) bool { return l == "" })
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Fatalf("lines %q, want %q", got, want)
			}
			shift := func() {
				for i := 9; i >= 1; i-- {
					if _, err := os.Stat(fmt.Sprintf("%s.%d.gz", fn, i)); err == nil {
						rename(t, fmt.Sprintf("%s.%d.gz", fn, i), fmt.Sprintf("%s.%d.gz", fn, i+1))
					}
				}
			}
			// The first rotation: the log read is renamed, a new one made,
			// and the first compressed.
			if !tt.empty {
				appendFile(t, fn, "a2\n")
				want = append(want, "a2")
			}
			shift()
			rename(t, fn, fn+".1")
			writeFile(t, fn, "b1\n")
			compressAway(t, fn+".1")
			want = append(want, "b1")
			if tt.thrice {
				appendFile(t, fn, "b2\n")
				shift()
				rename(t, fn, fn+".1")
				writeFile(t, fn, "x1\n")
				compressAway(t, fn+".1")
				want = append(want, "b2", "x1")
			}
			// The second: shifted by hand from app.log.2.gz on, as
			// logrotate does from the oldest.
			for i := 9; i >= 2; i-- {
				if _, err := os.Stat(fmt.Sprintf("%s.%d.gz", fn, i)); err == nil {
					rename(t, fmt.Sprintf("%s.%d.gz", fn, i), fmt.Sprintf("%s.%d.gz", fn, i+1))
				}
			}
			tt.second(t, fn)
			s.scan(true)
			if tt.finish != nil {
				if _, err := os.Stat(fn); err == nil {
					want = append(want, "c1")
				}
				if got := rec.lines(); !slices.Equal(got, want) {
					t.Fatalf("at the look: lines %q, want %q; events %q", got, want, rec.allEvents())
				}
				tt.finish(t, fn)
				s.scan(true)
				if !slices.Contains(want, "c1") {
					want = append(want, "c1")
				}
			} else {
				want = append(want, "c1")
			}
			appendFile(t, fn, "c2\n")
			s.scan(true)
			want = append(want, "c2")
			if got := rec.lines(); !slices.Equal(got, want) {
				t.Fatalf("lines %q, want %q; events %q", got, want, rec.allEvents())
			}
			if st := files.Stats()[fn]; st.Losses != 0 || st.Truncations != 0 {
				t.Errorf("%d losses, %d truncations, want none; events %q", st.Losses, st.Truncations, rec.allEvents())
			}
			rec.check(t)
		})
	}
}

// TestPositionPrefix: a saved position keeps what verifies a copy of its
// content shorter than its offset (copytruncate copied the file before
// logtally read past the copy's end): the head, or the longest prefix of
// it the copy covers, and the sampled windows that end within it. Such a
// copy verifies; one that differs in its first bytes or in a sampled
// window does not; a position saved without Prefixes verifies none.
func TestPositionPrefix(t *testing.T) {
	dir := t.TempDir()
	content := []byte(strings.Join(manyLines("seq", 3000), "\n") + "\n")
	fn := filepath.Join(dir, "app.log")
	writeFile(t, fn, string(content))
	f, err := os.Open(fn)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := int64(len(content)) - 7
	o := &openFile{f: f, path: fn, fp: newPrints()}
	o.startPlain(off, 0)
	p := o.position(off, true)
	if p.SampleCount < 8 || p.Prefixes == "" {
		t.Fatalf("position %+v: want sampled windows and prefixes", p)
	}
	copyOf := func(b []byte) *os.File {
		t.Helper()
		name := filepath.Join(dir, fmt.Sprintf("copy%d", len(b)))
		writeFile(t, name, string(b))
		c, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	for _, n := range []int64{10, 16, 40, 100, 700, 1023, 1024, 1500, 5000, 20000, off - 100, off - 1} {
		q, ok := p.prefix(n)
		if n < 16 {
			if ok {
				t.Errorf("n=%d: a prefix below the shortest kept verifies", n)
			}
			continue
		}
		if !ok {
			t.Errorf("n=%d: no prefix", n)
			continue
		}
		if why := verify(copyOf(content[:n]), n, q); why != "" {
			t.Errorf("n=%d: the copy does not verify: %s", n, why)
		}
		// A byte changed in the head, or in the last window the copy
		// covers, is seen.
		bad := slices.Clone(content[:n])
		bad[0] ^= 1
		if verify(copyOf(bad), n, q) == "" {
			t.Errorf("n=%d: a copy with another first byte verifies", n)
		}
		if q.SampleCount > 0 {
			bad = slices.Clone(content[:n])
			bad[int64(q.SampleCount)*q.SampleStride] ^= 1
			if verify(copyOf(bad), n, q) == "" {
				t.Errorf("n=%d: a copy with another sampled window verifies", n)
			}
		}
	}
	for _, n := range []int64{0, off, off + 1} {
		if _, ok := p.prefix(n); ok {
			t.Errorf("n=%d: a prefix outside (0, offset) verifies", n)
		}
	}
	old := p
	old.Prefixes = ""
	if _, ok := old.prefix(off - 1); ok {
		t.Errorf("a position saved without prefixes verifies a shorter copy")
	}
}

// TestCandidateCompressedSinceListed: a rotated set is listed while gzip
// compresses app.log.1 (the plain file is there, so its partial .gz is
// left out of the listing); gzip finishes and unlinks the plain file
// before it is opened. The candidate is its .gz twin, complete now — the
// copy of a truncated log was otherwise not found, and its unread lines
// reported lost (TestCopytruncateBurst under load, with compress).
func TestCandidateCompressedSinceListed(t *testing.T) {
	dir := t.TempDir()
	fn := filepath.Join(dir, "app.log")
	writeFile(t, fn+".1", "x1\nx2\n")
	writeFile(t, fn+".1.gz", "") // gzip at work
	set := rotatedSet(fn)
	if len(set) != 1 || set[0].path != fn+".1" {
		t.Fatalf("listing %+v, want app.log.1 alone", set)
	}
	writeFile(t, fn+".1.gz", string(gzipIf(t, true, []byte("x1\nx2\n"))))
	if err := os.Remove(fn + ".1"); err != nil {
		t.Fatal(err)
	}
	var got []string
	eachCandidateIn(set, nil, func(f *os.File, _ os.FileInfo, _ fileID, path string) bool {
		if !isGzip(f) {
			t.Errorf("%s opened, not gzip", path)
		}
		got = append(got, filepath.Base(path))
		return false
	})
	if want := []string{"app.log.1.gz"}; !slices.Equal(got, want) {
		t.Errorf("candidates %q, want %q", got, want)
	}
}

// TestAppearedRotatedBeforeLook: the followed name is missing (at
// startup, or deleted since) when the follower looks; before it looks
// again the log is created, written and rotated away twice (logrotate's
// create): the files that came into its rotated set while the name was
// missing hold lines never read, and are read whole, oldest first, before
// the log itself; a rotated file that was there before is not (220–269 of
// 300 lines counted under polling, with no WARN, when a new log was
// rotated before the first look at it).
func TestAppearedRotatedBeforeLook(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, h *harness, fn string) []string // lines read before
	}{
		{"missing at startup", func(t *testing.T, h *harness, fn string) []string {
			h.start(FileConfig{Paths: []string{fn}})
			h.expect()
			return nil
		}},
		{"deleted", func(t *testing.T, h *harness, fn string) []string {
			writeFile(t, fn, "s1\n")
			h.start(FileConfig{Paths: []string{fn}, Start: "beginning"})
			h.expect("s1")
			if err := os.Remove(fn); err != nil {
				t.Fatal(err)
			}
			h.expect("s1")
			return []string{"s1"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "poll")
			fn := h.path("app.log")
			writeFile(t, fn+".1", "old\n")
			before := tc.setup(t, h, fn)
			writeFile(t, fn, "a1\na2\n")
			rotateNumbered(t, fn)
			writeFile(t, fn, "b1\n")
			rotateNumbered(t, fn)
			writeFile(t, fn, "c1\n")
			h.expect(append(before, "a1", "a2", "b1", "c1")...)
			if st := h.files.Stats()[fn]; st.Losses != 0 {
				t.Errorf("%d losses reported; events %q", st.Losses, h.rec.allEvents())
			}
		})
	}
}

// TestGlobMemberRotatedBeforeLook: a log that joins a glob while the
// follower runs is created, written and rotated away twice before the
// follower looks: the files that came into its rotated set since the
// previous look at its directory are read whole, oldest first, then the
// log; a rotated file of the same name from before (an older life of the
// log) is not.
func TestGlobMemberRotatedBeforeLook(t *testing.T) {
	h := newHarness(t, "poll")
	a, d := h.path("a.log"), h.path("d.log")
	writeFile(t, a, "")
	writeFile(t, d+".1", "old\n")
	h.start(FileConfig{Paths: []string{h.path("*.log")}})
	h.expect()
	writeFile(t, d, "d1\n")
	rotateNumbered(t, d)
	writeFile(t, d, "d2\n")
	rotateNumbered(t, d)
	writeFile(t, d, "d3\n")
	h.expect("d1", "d2", "d3")
	if st := h.files.Stats()[d]; st.Losses != 0 {
		t.Errorf("%d losses reported; events %q", st.Losses, h.rec.allEvents())
	}
}

// rotateNumbered rotates fn as logrotate's create does with numbered
// names: fn.N becomes fn.N+1, newest last, and fn becomes fn.1 (the new
// fn is the caller's to create).
func rotateNumbered(t *testing.T, fn string) {
	t.Helper()
	n := 1
	for ; ; n++ {
		if _, err := os.Stat(fmt.Sprintf("%s.%d", fn, n)); err != nil {
			break
		}
	}
	for ; n > 1; n-- {
		rename(t, fmt.Sprintf("%s.%d", fn, n-1), fmt.Sprintf("%s.%d", fn, n))
	}
	rename(t, fn, fn+".1")
}
