package observe

import (
	"github.com/prometheus/procfs"
)

// Process is one entry of the process table.
type Process struct {
	PID  int
	EUID uint64 // effective user, the USER of ps(1)
	Name string // the program (comm), as the kernel shows it in status
}

// Processes returns every process of the process table under proc, as
// ps -e lists them (kernel threads included, the threads of a process
// not). A process that exits while it is read is left out.
func Processes(proc string) ([]Process, error) {
	fs, err := procfs.NewFS(proc)
	if err != nil {
		return nil, &Error{Source: proc, Err: err}
	}
	all, err := fs.AllProcs()
	if err != nil {
		return nil, &Error{Source: proc, Err: err}
	}
	out := make([]Process, 0, len(all))
	for _, p := range all {
		st, err := p.NewStatus()
		if err != nil {
			continue // gone, or not readable: not a process to count
		}
		out = append(out, Process{PID: p.PID, EUID: st.UIDs[1], Name: st.Name})
	}
	return out, nil
}

// readProcs counts root's processes (key: the program) and every other
// user's (key: the user).
func (s *Sampler) readProcs(specs []Spec) []Result {
	ps, err := Processes(s.proc())
	if err != nil {
		return fail(len(specs), err)
	}
	root := Reading{Keys: map[string]uint64{}}
	other := Reading{Keys: map[string]uint64{}}
	for _, p := range ps {
		if p.EUID == 0 {
			root.Value++
			root.Keys[p.Name]++
		} else {
			other.Value++
			other.Keys[s.userName(p.EUID)]++
		}
	}
	out := make([]Result, len(specs))
	for i, sp := range specs {
		if sp.Kind == RootProcs {
			out[i].Reading = root
		} else {
			out[i].Reading = other
		}
	}
	return out
}
