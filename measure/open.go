package measure

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// OpenPath opens a file, or every file a glob matches in name order, for a
// one-shot read. A name ending in .gz is decompressed, so rotated logs such
// as auth.log.2.gz read like the others. "-" is stdin.
func OpenPath(path string, stdin io.Reader) ([]Input, error) {
	if path == "-" {
		return []Input{{Name: "-", R: io.NopCloser(stdin)}}, nil
	}
	names := []string{path}
	if strings.ContainsAny(path, "*?[") {
		m, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", path, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("glob %s: no file matches", path)
		}
		sort.Strings(m)
		names = m
	}
	var ins []Input
	for _, n := range names {
		in, err := OpenFile(n)
		if err != nil {
			for _, o := range ins {
				o.R.Close()
			}
			return nil, err
		}
		ins = append(ins, in)
	}
	return ins, nil
}

// OpenFile opens one file for reading, decompressing it when its name ends
// in .gz.
func OpenFile(name string) (Input, error) {
	f, err := os.Open(name)
	if err != nil {
		return Input{}, err // "open NAME: why" already
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return Input{}, err // "stat NAME: why"
	}
	if fi.IsDir() {
		f.Close()
		return Input{}, fmt.Errorf("open %s: is a directory", name)
	}
	if !strings.HasSuffix(name, ".gz") {
		return Input{Name: name, R: f, ModTime: fi.ModTime()}, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return Input{}, fmt.Errorf("open %s: %w", name, err)
	}
	return Input{Name: name, R: &gzipFile{Reader: z, f: f}, ModTime: fi.ModTime()}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	return errors.Join(g.Reader.Close(), g.f.Close())
}
