package tripwire

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// AcceptRequest asks the daemon that holds a state file to accept the
// outstanding changes of one watch (all when Watch is empty), or of the
// given paths only (a directory stands for all it holds).
type AcceptRequest struct {
	Watch string    `json:"watch,omitempty"`
	Paths []string  `json:"paths,omitempty"`
	At    time.Time `json:"at"`
}

// RequestFile is where requests wait for the daemon of the state file at
// statePath; Taken is where the daemon moves them while it applies them.
func RequestFile(statePath string) string { return statePath + ".accept" }

func takenFile(statePath string) string { return statePath + ".accept.taken" }

// Request appends a request for the daemon (one line, in one write) and
// returns the identity of the request file, to wait on with Applied.
func Request(statePath string, r AcceptRequest) (os.FileInfo, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("request accept: %w", err)
	}
	f, err := os.OpenFile(RequestFile(statePath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("request accept: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("request accept: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("request accept: %w", err)
	}
	return fi, nil
}

// Applied reports whether the daemon has taken the request file req and
// committed what it asked.
func Applied(statePath string, req os.FileInfo) bool {
	if fi, err := os.Stat(RequestFile(statePath)); err == nil && os.SameFile(fi, req) {
		return false // not taken yet
	}
	if fi, err := os.Stat(takenFile(statePath)); err == nil && os.SameFile(fi, req) {
		return false // taken, not committed yet
	}
	return true
}

// Take moves the pending requests aside and returns them; done, called
// once what they asked is committed, removes them. A line that is not a
// request is skipped with an error in errs.
func Take(statePath string) (reqs []AcceptRequest, done func(), errs []error) {
	taken := takenFile(statePath)
	if _, err := os.Stat(taken); err != nil { // none left from a crash before done
		if err := os.Rename(RequestFile(statePath), taken); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("take accept requests: %w", err))
			}
			return nil, func() {}, errs
		}
	}
	f, err := os.Open(taken)
	if err != nil {
		return nil, func() {}, []error{fmt.Errorf("take accept requests: %w", err)}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var r AcceptRequest
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			errs = append(errs, fmt.Errorf("accept request %s:%s: %w", taken, strconv.Itoa(n), err))
			continue
		}
		reqs = append(reqs, r)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("take accept requests: %w", err))
	}
	return reqs, func() { os.Remove(taken) }, errs
}
