package observe

import (
	"errors"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// Usage is how full a filesystem is, in bytes, counted as df(1) counts
// them: Used is what is allocated (blocks − free blocks), Avail what an
// ordinary user may still allocate; the blocks reserved for root are in
// neither.
type Usage struct {
	Used, Avail uint64
}

// UsedPercent is df's Use% before df rounds it up: Used / (Used + Avail).
func (u Usage) UsedPercent() float64 {
	if u.Used+u.Avail == 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Used+u.Avail) * 100
}

// FreePercent is cf-monitord's diskfree: Avail / (Used + Avail).
func (u Usage) FreePercent() float64 {
	if u.Used+u.Avail == 0 {
		return 0
	}
	return float64(u.Avail) / float64(u.Used+u.Avail) * 100
}

// DiskUsage returns the usage of the filesystem that holds path.
func DiskUsage(path string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Usage{}, &Error{Source: path, Err: err}
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return Usage{Used: (st.Blocks - st.Bfree) * bs, Avail: st.Bavail * bs}, nil
}

// readDisk reads one filesystem for its diskfree and diskused observables.
func (s *Sampler) readDisk(specs []Spec) []Result {
	u, err := DiskUsage(specs[0].Path)
	if err != nil {
		return fail(len(specs), err)
	}
	out := make([]Result, len(specs))
	for i, sp := range specs {
		if sp.Kind == DiskFree {
			out[i].Value = u.FreePercent()
		} else {
			out[i].Value = u.UsedPercent()
		}
	}
	return out
}

// readLoad reads the one-minute load average, the figure cf-monitord takes
// from getloadavg(3).
func (s *Sampler) readLoad(specs []Spec) []Result {
	fs, err := procfs.NewFS(s.proc())
	if err != nil {
		return fail(len(specs), &Error{Source: s.proc(), Err: err})
	}
	l, err := fs.LoadAvg()
	if err != nil {
		return fail(len(specs), &Error{Source: s.proc() + "/loadavg", Err: err})
	}
	if l == nil {
		return fail(len(specs), &Error{Source: s.proc() + "/loadavg", Err: errors.New("empty")})
	}
	out := make([]Result, len(specs))
	for i := range out {
		out[i].Value = l.Load1
	}
	return out
}
