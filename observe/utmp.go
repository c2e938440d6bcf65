package observe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// The layout of glibc's struct utmp on Linux (the same on every 64-bit and
// 32-bit architecture glibc supports there, since ut_tv is made of two
// int32): 384 bytes per record.
const (
	utmpSize    = 384
	utmpTypeOff = 0  // short ut_type
	utmpPidOff  = 4  // pid_t ut_pid
	utmpUserOff = 44 // char ut_user[32]
	utmpUserLen = 32
	// userProcess is ut_type USER_PROCESS: a login session.
	userProcess = 7
)

// maxUtmp bounds what is read of a utmp file (a corrupt or hostile file
// must not exhaust memory): 100,000 records.
const maxUtmp = 100000 * utmpSize

// Login is one session of a utmp file.
type Login struct {
	User string
	Pid  int32
}

// ParseUtmp returns the login sessions (USER_PROCESS records with a user
// name) of utmp content, in file order; a partial last record is ignored.
func ParseUtmp(b []byte) []Login {
	var out []Login
	for ; len(b) >= utmpSize; b = b[utmpSize:] {
		rec := b[:utmpSize]
		if binary.NativeEndian.Uint16(rec[utmpTypeOff:]) != userProcess {
			continue
		}
		name := rec[utmpUserOff : utmpUserOff+utmpUserLen]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 {
			continue
		}
		out = append(out, Login{User: string(name), Pid: int32(binary.NativeEndian.Uint32(rec[utmpPidOff:]))})
	}
	return out
}

// alive reports whether a process exists, as who(1) checks it: only a
// process that certainly does not exist (ESRCH) is dead.
func alive(pid int32) bool {
	if pid <= 0 {
		return true
	}
	return !errors.Is(syscall.Kill(int(pid), 0), syscall.ESRCH)
}

// readUsers counts the login sessions whose process is alive, as who(1)
// lists them. A missing utmp file is no session, as for who.
func (s *Sampler) readUsers(specs []Spec) []Result {
	b, err := readCapped(s.utmp(), maxUtmp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(len(specs), &Error{Source: s.utmp(), Err: err})
	}
	r := Reading{Keys: map[string]uint64{}}
	for _, l := range ParseUtmp(b) {
		if alive(l.Pid) {
			r.Value++
			r.Keys[l.User]++
		}
	}
	out := make([]Result, len(specs))
	for i := range out {
		out[i].Reading = r
	}
	return out
}

// readCapped reads at most max bytes of a file.
func readCapped(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
