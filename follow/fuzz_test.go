package follow

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logtally/logtally/lines"
)

// FuzzAppendChunks writes data to a followed file in the chunks the fuzzer
// chooses, checking after each, and asserts that the lines delivered are
// exactly those of the whole data (the partial last line waiting), and that
// every position falls on a line boundary with fingerprints of the bytes
// really there.
func FuzzAppendChunks(f *testing.F) {
	f.Add([]byte("a\nbb\r\nccc\n"), []byte{1, 2, 3})
	f.Add([]byte("no newline at all"), []byte{5})
	f.Add([]byte("\n\n\n"), []byte{1, 1, 1})
	f.Add([]byte("a very long line that will be cut\nshort\n"), []byte{7, 30, 1})
	f.Add([]byte("x\r"), []byte{1})
	f.Add([]byte(strings.Repeat("a line of a log with sampled windows\n", 200)), []byte{255, 3, 200})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		if len(data) > 32<<10 {
			return
		}
		const maxLine = 16
		fn := filepath.Join(t.TempDir(), "fuzz.log")
		w, err := os.Create(fn)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		files, err := NewFiles(FileConfig{Paths: []string{fn}, Start: "beginning", Watch: "poll",
			MaxLine: maxLine, Clock: newFakeClock()})
		if err != nil {
			t.Fatal(err)
		}
		rec := newRecorder()
		s := scannerOf(files, rec)
		defer s.closeAll()
		s.scan(true)

		written := 0
		for i := 0; written < len(data); i++ {
			n := len(data) - written
			if len(chunks) > 0 && i < 200 { // bounded number of checks
				n = min(n, int(chunks[i%len(chunks)])+1)
			}
			if _, err := w.Write(data[written : written+n]); err != nil {
				t.Fatal(err)
			}
			written += n
			s.scan(i%3 == 0)
		}

		r := lines.NewReader(bytesReader(data), 0, maxLine)
		var want []string
		var wantCut []bool
		for {
			line, cut, err := r.Next()
			if err != nil {
				break
			}
			want = append(want, string(line))
			wantCut = append(wantCut, cut)
		}
		var got []string
		var gotCut []bool
		var prevEnd int64
		for _, b := range rec.batches() {
			got = append(got, b.Lines...)
			gotCut = append(gotCut, b.Cut...)
			e := b.End
			switch {
			case e.Offset <= prevEnd || e.Offset > int64(len(data)) || data[e.Offset-1] != '\n':
				t.Fatalf("batch end %d (previous %d) is not a new line boundary of %q", e.Offset, prevEnd, data)
			case e.HeadLen > MaxHeadLen || e.HeadLen > len(data) || hash64(data[:e.HeadLen]) != e.HeadHash:
				t.Fatalf("head fingerprint %d/%x does not match the data", e.HeadLen, e.HeadHash)
			case e.TailLen > MaxTailLen || int64(e.TailLen) > e.Offset ||
				hash64(data[e.Offset-int64(e.TailLen):e.Offset]) != e.TailHash:
				t.Fatalf("tail fingerprint %d/%x does not match the %d bytes before %d", e.TailLen, e.TailHash, e.TailLen, e.Offset)
			case e.TailLen < min(MaxTailLen, int(e.Offset)) && !slices.Contains(b.Cut, true):
				t.Fatalf("tail fingerprint of %d bytes only, at offset %d", e.TailLen, e.Offset)
			case e.SampleCount > 0 && e.SampleHash != sampleHash(data, e.SampleStride, e.SampleCount):
				t.Fatalf("sampled fingerprint (%d windows every %d bytes) does not match the data", e.SampleCount, e.SampleStride)
			case e.SampleCount > 0 && int64(e.SampleCount)*e.SampleStride+SampleLen > e.Offset:
				t.Fatalf("sampled windows (%d every %d bytes) past offset %d", e.SampleCount, e.SampleStride, e.Offset)
			}
			prevEnd = e.Offset
		}
		if !slices.Equal(got, want) || !slices.Equal(gotCut, wantCut) {
			t.Fatalf("lines %q cut %v, want %q cut %v", got, gotCut, want, wantCut)
		}
	})
}

// sampleHash is the fingerprint of n windows every stride bytes of data.
func sampleHash(data []byte, stride int64, n int) uint64 {
	var hs []uint64
	for k := int64(1); k <= int64(n); k++ {
		hs = append(hs, hash64(data[k*stride:k*stride+SampleLen]))
	}
	return combine(hs)
}

// bytesReader returns a reader over b that reports io.EOF at its end.
func bytesReader(b []byte) io.Reader {
	return &sliceReader{b: b}
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
