package lines

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll splits src completely, as a one-shot read does.
func readAll(t testing.TB, src io.Reader, max int) (got []string, cuts int, r *Reader) {
	t.Helper()
	r = NewReader(src, 0, max)
	for {
		line, cut, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, string(line))
		if cut {
			cuts++
		}
	}
	if line, cut, ok := r.Final(); ok {
		got = append(got, string(line))
		if cut {
			cuts++
		}
	}
	return got, cuts, r
}

// readBlocks splits src completely with NextBlock (and Next for every
// mix-th call when mix > 0, to check that they can be mixed), checks each
// block's invariants and returns its lines as a matcher sees them.
func readBlocks(t testing.TB, src io.Reader, max, mix int) (got []string, cuts int, r *Reader) {
	t.Helper()
	r = NewReader(src, 0, max)
	for call := 1; ; call++ {
		if mix > 0 && call%mix == 0 {
			before := r.Offset()
			line, cut, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if r.Offset() <= before {
				t.Fatalf("Next did not advance the offset from %d", before)
			}
			got = append(got, string(line))
			if cut {
				cuts++
			}
			continue
		}
		before := r.Offset()
		b, err := r.NextBlock()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextBlock: %v", err)
		}
		if b.Offset != before {
			t.Fatalf("block at offset %d, want %d", b.Offset, before)
		}
		if b.Cut {
			if b.Lines != 1 || len(b.Data) != max {
				t.Fatalf("cut block of %d lines, %d bytes; want 1 line of %d bytes", b.Lines, len(b.Data), max)
			}
			got = append(got, string(b.Data))
			cuts++
			continue
		}
		if b.Lines < 1 || b.Lines != bytes.Count(b.Data, []byte{'\n'}) || b.Data[len(b.Data)-1] != '\n' {
			t.Fatalf("block %q: Lines %d", b.Data, b.Lines)
		}
		if r.Offset() != b.Offset+int64(len(b.Data)) {
			t.Fatalf("offset %d after a block of %d bytes at %d", r.Offset(), len(b.Data), b.Offset)
		}
		for _, l := range strings.SplitAfter(string(b.Data), "\n") {
			if l == "" {
				continue
			}
			l = strings.TrimSuffix(l, "\n")
			if len(l) > max {
				t.Fatalf("line of %d bytes in a block, limit %d", len(l), max)
			}
			got = append(got, strings.TrimSuffix(l, "\r"))
		}
	}
	if line, cut, ok := r.Final(); ok {
		got = append(got, string(line))
		if cut {
			cuts++
		}
	}
	return got, cuts, r
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string
		cuts int
	}{
		{"empty", "", 0, nil, 0},
		{"one", "a\n", 0, []string{"a"}, 0},
		{"no final newline", "a\nb", 0, []string{"a", "b"}, 0},
		{"crlf", "a\r\nb\r\n", 0, []string{"a", "b"}, 0},
		{"crlf no final newline", "a\r\nb\r", 0, []string{"a", "b"}, 0},
		{"lone cr kept", "a\rb\n", 0, []string{"a\rb"}, 0},
		{"only one cr stripped", "a\r\r\n", 0, []string{"a\r"}, 0},
		{"empty lines", "\n\n", 0, []string{"", ""}, 0},
		{"invalid utf8", "\xff\xfe x\n", 0, []string{"\xff\xfe x"}, 0},
		{"cut", "abcdef\nxy\n", 4, []string{"abcd", "xy"}, 1},
		{"cut crlf", "abcdef\r\n", 4, []string{"abcd"}, 1},
		{"exactly max", "abcd\n", 4, []string{"abcd"}, 0},
		{"exactly max crlf", "abcd\r\n", 4, []string{"abcd\r"[:4]}, 1},
		{"cut final", "abcdefgh", 4, []string{"abcd"}, 1},
	}
	for _, tt := range tests {
		for name, wrap := range map[string]func(io.Reader) io.Reader{
			"whole": func(r io.Reader) io.Reader { return r },
			"bytes": iotest.OneByteReader,
			"half":  iotest.HalfReader,
		} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				got, cuts, r := readAll(t, wrap(strings.NewReader(tt.in)), tt.max)
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
					t.Errorf("lines = %q, want %q", got, tt.want)
				}
				if cuts != tt.cuts || int(r.Stats().Cut) != tt.cuts {
					t.Errorf("cuts = %d (stats %d), want %d", cuts, r.Stats().Cut, tt.cuts)
				}
				if r.Offset() != int64(len(tt.in)) {
					t.Errorf("Offset = %d, want %d", r.Offset(), len(tt.in))
				}
				max := tt.max
				if max == 0 {
					max = DefaultMax
				}
				for _, mix := range []int{0, 2} {
					got, cuts, r := readBlocks(t, wrap(strings.NewReader(tt.in)), max, mix)
					if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
						t.Errorf("blocks (mix %d): lines = %q, want %q", mix, got, tt.want)
					}
					if cuts != tt.cuts || int(r.Stats().Cut) != tt.cuts || r.Stats().Lines != uint64(len(tt.want)) {
						t.Errorf("blocks (mix %d): cuts = %d, stats %+v, want %d cuts", mix, cuts, r.Stats(), tt.cuts)
					}
					if r.Offset() != int64(len(tt.in)) || r.Stats().Bytes != uint64(len(tt.in)) {
						t.Errorf("blocks (mix %d): Offset = %d, stats %+v, want %d", mix, r.Offset(), r.Stats(), len(tt.in))
					}
				}
			})
		}
	}
}

// TestLongLineMemory checks that a 1 MB line with a small limit is cut and
// counted without being buffered whole.
func TestLongLineMemory(t *testing.T) {
	in := "before\n" + strings.Repeat("x", 1<<20) + "\nafter\n"
	r := NewReader(iotest.HalfReader(strings.NewReader(in)), 0, 1000)
	var got []string
	for {
		line, _, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
		if len(r.buf) > 1<<20 || cap(r.long) > 1<<20 {
			t.Fatalf("buffer grew to %d/%d bytes", len(r.buf), cap(r.long))
		}
	}
	if len(got) != 3 || got[0] != "before" || got[1] != strings.Repeat("x", 1000) || got[2] != "after" {
		t.Fatalf("got %d lines, want before, 1000 x, after", len(got))
	}
	if r.Stats().Cut != 1 || r.Offset() != int64(len(in)) {
		t.Fatalf("cut %d offset %d, want 1 and %d", r.Stats().Cut, r.Offset(), len(in))
	}
}

// TestFollow checks the follow pattern: a partial line waits for its
// newline, the offset stays on the last line boundary, and reading resumes
// when the source grows.
func TestFollow(t *testing.T) {
	var src bytes.Buffer
	r := NewReader(&src, 100, 0)
	src.WriteString("one\ntw")
	line, _, err := r.Next()
	if err != nil || string(line) != "one" {
		t.Fatalf("Next = %q, %v", line, err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on partial line = %v, want io.EOF", err)
	}
	if r.Offset() != 104 || r.Pending() != 2 {
		t.Fatalf("Offset %d Pending %d, want 104 and 2", r.Offset(), r.Pending())
	}
	src.WriteString("o\n")
	line, _, err = r.Next()
	if err != nil || string(line) != "two" {
		t.Fatalf("Next after growth = %q, %v", line, err)
	}
	if r.Offset() != 108 {
		t.Fatalf("Offset %d, want 108", r.Offset())
	}
}

// TestLongPartialFollow checks a long line that arrives in pieces while
// following: it is returned once, cut, when its newline arrives.
func TestLongPartialFollow(t *testing.T) {
	var src bytes.Buffer
	r := NewReader(&src, 0, 10)
	for i := 0; i < 5; i++ {
		src.WriteString(strings.Repeat("y", 7))
		if _, _, err := r.Next(); err != io.EOF {
			t.Fatalf("piece %d: Next = %v, want io.EOF", i, err)
		}
	}
	if r.Pending() != 35 {
		t.Fatalf("Pending = %d, want 35", r.Pending())
	}
	src.WriteString("\n")
	line, cut, err := r.Next()
	if err != nil || !cut || string(line) != strings.Repeat("y", 10) || r.Offset() != 36 {
		t.Fatalf("Next = %q cut=%v err=%v offset=%d", line, cut, err, r.Offset())
	}
}

func TestSourceError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), 0, 0)
	if line, _, err := r.Next(); err != nil || string(line) != "a" {
		t.Fatalf("Next = %q, %v", line, err)
	}
	if _, _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next = %v, want boom", err)
	}
}

// FuzzSplit checks the Reader against a naive splitter for any input,
// limit and read pattern.
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\r\nb\nlonger line\n\xff"), uint16(4), true)
	f.Add([]byte("\n\r\n\r"), uint16(1), false)
	f.Fuzz(func(t *testing.T, in []byte, max16 uint16, oneByte bool) {
		max := int(max16%200) + 1
		var src io.Reader = bytes.NewReader(in)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		got, cuts, r := readAll(t, src, max)
		// The same with blocks, alone and mixed with Next.
		for _, mix := range []int{0, 3} {
			var src io.Reader = bytes.NewReader(in)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			bgot, bcuts, br := readBlocks(t, src, max, mix)
			if strings.Join(bgot, "\n") != strings.Join(got, "\n") || len(bgot) != len(got) || bcuts != cuts {
				t.Fatalf("blocks (mix %d): %q, %d cuts; lines %q, %d cuts", mix, bgot, bcuts, got, cuts)
			}
			if br.Stats() != r.Stats() || br.Offset() != r.Offset() {
				t.Fatalf("blocks (mix %d): stats %+v offset %d; lines %+v %d", mix, br.Stats(), br.Offset(), r.Stats(), r.Offset())
			}
		}
		var want []string
		wantCuts := 0
		parts := strings.Split(string(in), "\n")
		if len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		for _, p := range parts {
			if len(p) > max {
				p = p[:max]
				wantCuts++
			} else {
				p = strings.TrimSuffix(p, "\r")
			}
			want = append(want, p)
		}
		if len(got) != len(want) || cuts != wantCuts {
			t.Fatalf("got %d lines %d cuts, want %d lines %d cuts", len(got), cuts, len(want), wantCuts)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
			}
		}
		if r.Offset() != int64(len(in)) {
			t.Fatalf("Offset = %d, want %d", r.Offset(), len(in))
		}
	})
}
