package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ServicePATH is the PATH of a systemd service whose unit sets none, as
// the unit logtally ships: systemd's default (systemd-path
// search-binaries-default). The daemon looks the programs of commands and
// pipe streams up in its own PATH, so under that unit in this one.
const ServicePATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Program is a program the daemon starts: the argv[0] of a command (not a
// shell: true one), of a notice policy's page or of a pipe stream, once
// for: is expanded, and where it is written. A program that depends on a
// variable known only at run time is not one.
type Program struct {
	Pos  Pos
	Key  string // e.g. commands[0].command[0]
	Name string

	envPATH bool // a command whose env: sets PATH
}

// ProgramPath says where the daemon finds a program written without a
// slash, for CheckPrograms.
type ProgramPath struct {
	// PATH is the daemon's PATH, directories separated by ':'.
	PATH string
	// Of says whose PATH it is, for the warnings, e.g. "the daemon's PATH
	// (systemd's default for services)".
	Of string
	// Suggest is another PATH, where a program missing from the daemon's
	// is looked for to suggest its absolute path: check's own; "" for
	// none.
	Suggest string
}

// CheckPrograms adds to s.Warnings a warning for each program the daemon
// could not start as written, on this host: a name without a slash that
// is not an executable file in p.PATH (exec.LookPath's search, which is
// the daemon's, without the directories that are not absolute, whose
// finds exec refuses), a relative path, which depends on the daemon's
// working directory, and an absolute path that does not exist, is not a
// regular file, or is executable by nobody. These are warnings, not
// errors: a program may be installed after its rules.
func (s *Set) CheckPrograms(p ProgramPath) {
	reported := map[Program]bool{}
	for _, prog := range s.Programs {
		if reported[prog] {
			continue
		}
		reported[prog] = true
		if msg := p.problem(prog); msg != "" {
			s.Warnings = append(s.Warnings, Warning{Pos: prog.Pos, Key: prog.Key, Msg: msg})
		}
	}
	s.Warnings = sortWarnings(s.Warnings)
}

// problem says why the daemon could not start prog, or "".
func (p ProgramPath) problem(prog Program) string {
	name := prog.Name
	q := strconv.Quote(name)
	switch {
	case !strings.Contains(name, "/"):
		if lookPath(name, p.PATH) != "" {
			return ""
		}
		msg := fmt.Sprintf("program %s is not in %s: %s", q, p.Of, p.PATH)
		if prog.envPATH {
			msg += "; env: PATH is the command's environment, not where its program is looked up"
		}
		if abs := lookPath(name, p.Suggest); abs != "" {
			return msg + " (write its absolute path: " + abs + ")"
		}
		return msg + " (install it, or write its absolute path)"
	case !filepath.IsAbs(name):
		return fmt.Sprintf("relative program path %s resolves against the daemon's working directory (write its absolute path)", q)
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return fmt.Sprintf("program %s does not exist", q)
	case err != nil:
		return fmt.Sprintf("program %s cannot be checked: %v", q, unwrapPath(err))
	case fi.IsDir():
		return fmt.Sprintf("program %s is a directory", q)
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("program %s is not a regular file", q)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Sprintf("program %s is not executable (mode %04o)", q, fi.Mode().Perm())
	}
	return ""
}

// lookPath returns the first file of the absolute directories of path
// named name that is not a directory and is executable by someone, as
// exec.LookPath finds it for root; "" when there is none.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue
		}
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0 {
			return f
		}
	}
	return ""
}

// program checks the program of an argv list, at element 0 of key.
// expanded says whether the list is expanded at run time (a command's,
// a page's): then text from a log line (notice: a notice policy's, whose
// $(message) is one) must never choose the program, and one that depends
// on a variable cannot be checked. A "$(" left in a list that is not
// expanded (a pipe stream's) is already warned about. Any other program
// is recorded in Set.Programs, and program returns it; nil otherwise.
func (l *loader) program(o *obj, key, name string, expanded, notice bool) *Program {
	p, pos := o.elemAt(key, 0)
	switch _, _, _, ref := NextRef(name); {
	case !expanded && strings.Contains(name, "$("):
		return nil
	case !expanded:
	case logVar(name, notice) != "":
		o.errAt(pos, p, "name the program, and pass the text as an argument",
			"$(%s...) is text from a log line and must never choose the program", logVar(name, notice))
		return nil
	case ref:
		return nil
	}
	l.set.Programs = append(l.set.Programs, Program{Pos: pos, Key: p, Name: name})
	return &l.set.Programs[len(l.set.Programs)-1]
}

// logVar is textVar, and in a notice policy's command (notice) $(message)
// too, which is the notice's text.
func logVar(s string, notice bool) string {
	if v := textVar(s); v != "" || !notice {
		return v
	}
	for rest := s; ; {
		_, name, after, ok := NextRef(rest)
		if !ok {
			return ""
		}
		if name == VarMessage {
			return VarMessage
		}
		rest = after
	}
}
