package follow

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// contentReader reads a file's content from pos: with pread for a plain
// file, so that nothing depends on the descriptor's shared seek offset,
// or through gzip for a compressed one (forward only). Every byte read is
// shown to the fingerprints.
type contentReader struct {
	f    *os.File
	zr   *gzip.Reader // nil for a plain file
	back []byte       // gzip: bytes read ahead, to be read again first
	pos  int64        // content offset of the next byte
	fp   *prints
	// stopAtNUL: a read of the plain file that starts with a NUL byte
	// returns errNUL instead, so that the content is checked again before
	// it is taken (a followed file truncated since it was checked).
	stopAtNUL bool
}

// errNUL is what a contentReader with stopAtNUL returns at a NUL byte.
var errNUL = errors.New("a NUL byte where reading goes on")

// unread makes the last len(b) bytes read, b, be read again (gzip).
func (c *contentReader) unread(b []byte) {
	c.back = append(c.back[:0:0], b...)
	c.pos -= int64(len(b))
}

// Read implements io.Reader.
func (c *contentReader) Read(p []byte) (int, error) {
	var (
		n   int
		err error
	)
	switch {
	case len(c.back) > 0:
		n = copy(p, c.back)
		c.back = c.back[n:]
	case c.zr != nil:
		n, err = c.zr.Read(p)
	default:
		n, err = c.f.ReadAt(p, c.pos)
		if n > 0 && errors.Is(err, io.EOF) {
			err = nil
		}
		if c.stopAtNUL && n > 0 && p[0] == 0 {
			return 0, errNUL
		}
	}
	if n > 0 {
		c.fp.observe(c.pos, p[:n])
		c.pos += int64(n)
	}
	return n, err
}

// prints are the fingerprints of the content read from a file: its first
// bytes and the sampled windows.
type prints struct {
	head []byte // the first bytes (≤ MaxHeadLen)
	sampler
}

func newPrints() *prints { return &prints{sampler: newSampler()} }

// observe records content bytes p found at offset off.
func (fp *prints) observe(off int64, p []byte) {
	if h := int64(len(fp.head)); off <= h && h < MaxHeadLen && off+int64(len(p)) > h {
		fp.head = append(fp.head, p[h-off:min(int64(len(p)), MaxHeadLen-off)]...)
	}
	fp.sampler.observe(off, p)
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// isGzip reports whether f's content starts with the gzip magic.
func isGzip(f *os.File) bool {
	b := make([]byte, 2)
	n, _ := preadFull(f, b, 0)
	return n == 2 && b[0] == gzipMagic[0] && b[1] == gzipMagic[1]
}

// gunzip returns a reader of f's decompressed content from its start.
func gunzip(f *os.File) (*gzip.Reader, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 64<<10))
	if err != nil {
		return nil, fmt.Errorf("gunzip %s: %w", f.Name(), err)
	}
	return zr, nil
}

// gzipSize returns the decompressed size of the gzip file f as its trailer
// says (modulo 2^32), raised by multiples of 2^32 to at least floor.
func gzipSize(f *os.File, floor int64) (int64, bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() < 4 {
		return 0, false
	}
	b := make([]byte, 4)
	if n, err := preadFull(f, b, fi.Size()-4); err != nil || n < 4 {
		return 0, false
	}
	size := int64(binary.LittleEndian.Uint32(b))
	for size < floor {
		size += 1 << 32
	}
	return size, true
}

// headOf returns the first up to n bytes of a file's content (decompressed
// when it is gzip).
func headOf(f *os.File, n int) ([]byte, error) {
	if !isGzip(f) {
		b := make([]byte, n)
		got, err := preadFull(f, b, 0)
		return b[:got], err
	}
	zr, err := gunzip(f)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	b := make([]byte, n)
	got, err := io.ReadFull(zr, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:got], err
}
