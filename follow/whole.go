package follow

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// ReadWhole reads the whole regular file at path once and delivers its
// lines to h, the partial last line included (the file is taken as
// complete). It serves track_growing_file: false, where each interval's
// value is the whole file. Batch.End is the position after each batch;
// Backlog is false.
func ReadWhole(path string, maxLine int, h Handler) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read whole: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read whole: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("read whole: %s is not a regular file", path)
	}
	id, _ := idOf(fi)
	o := &openFile{id: id, f: f, source: path, path: path, fp: newPrints()}
	o.startPlain(0, maxLine)
	sk := &sink{h: h, mu: new(sync.Mutex), stats: new(statsTable), log: slog.New(slog.DiscardHandler)}
	var b batcher
	add := func(line []byte, cut, final bool, before int64) {
		n := o.r.Offset() - before
		b.add(line, cut, n)
		o.tail.push(line, cut, final, n)
		if b.full() {
			sk.deliver(&b, path, o.position(o.r.Offset(), true))
		}
	}
	for {
		before := o.r.Offset()
		line, cut, err := o.r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			sk.deliver(&b, path, o.position(o.r.Offset(), true))
			return fmt.Errorf("read whole: %s: %w", path, err)
		}
		add(line, cut, false, before)
	}
	before := o.r.Offset()
	if line, cut, ok := o.r.Final(); ok {
		add(line, cut, true, before)
	}
	sk.deliver(&b, path, o.position(o.r.Offset(), true))
	return nil
}
