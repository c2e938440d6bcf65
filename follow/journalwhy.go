package follow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logtally/logtally/internal/num"
)

// The directories journalctl reads without --directory or --file: the
// volatile journal and the persistent one (sd_journal_open).
const (
	runJournalDir = "/run/log/journal"
	varJournalDir = "/var/log/journal"
)

// WhyEmpty says, for a person, why reading the journal gave no entry: no
// journal file where journalctl looks, journal files it may not read (the
// usual reason when not root: journalctl then reads the files it can, or
// fails), or no entry the selection picks in the time range, with the time
// of the last one it picks outside it. It looks at the files itself and
// runs journalctl once more at most; it returns "" when it finds no
// reason.
func (j *Journal) WhyEmpty(ctx context.Context) string {
	files := j.journalFiles()
	where := j.where()
	switch {
	case len(files.denied) > 0:
		return files.deniedText(where)
	case len(files.readable) == 0 && files.missing != "":
		return files.missing
	case len(files.readable) == 0:
		why := "no journal files in " + where
		if j.cfg.Directory == "" && len(j.cfg.Files) == 0 {
			why += ": systemd-journald keeps none on this host (it does not run, or Storage=none)"
		}
		return why
	}

	// The files can be read: the selection picks nothing in the range.
	all := &Journal{cfg: j.cfg}
	all.cfg.Since, all.cfg.Until = time.Time{}, time.Time{}
	last, err := all.lastEntry(ctx)
	of := j.selection()
	switch {
	case err != nil:
		return ""
	case last == nil:
		return fmt.Sprintf("no entry %sin the journal (%s in %s)", of, num.Plural(len(files.readable), "file"), where)
	case j.cfg.Since.IsZero() && j.cfg.Until.IsZero():
		return "" // it has one: not a reason
	}
	at := last.realtime.UTC()
	var span string
	switch {
	case j.cfg.Until.IsZero():
		span = "since " + j.cfg.Since.UTC().Format(time.RFC3339)
	case j.cfg.Since.IsZero():
		span = "before " + j.cfg.Until.UTC().Format(time.RFC3339)
	default:
		span = "from " + j.cfg.Since.UTC().Format(time.RFC3339) + " to " + j.cfg.Until.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("no entry %s%s; the last one is from %s", of, span, at.Format(time.RFC3339))
}

// journalFileSet is what WhyEmpty found of the journal files.
type journalFileSet struct {
	readable []string
	denied   []string // files or directories this process may not read
	missing  string   // a directory or file named in the rules that does not exist
	gid      int      // the group of the first file denied (-1: unknown)
}

// journalFiles lists the journal files the Journal reads: the files given,
// or the *.journal files of its directories and of their machine-ID
// subdirectories, as journalctl finds them, and tries to open each.
func (j *Journal) journalFiles() journalFileSet {
	set := journalFileSet{gid: -1}
	try := func(path string) {
		f, err := os.Open(path)
		switch {
		case err == nil:
			f.Close()
			set.readable = append(set.readable, path)
		case errors.Is(err, os.ErrPermission):
			set.deny(path)
		case errors.Is(err, os.ErrNotExist) && len(j.cfg.Files) > 0:
			set.missing = "no journal file " + path
		}
	}
	if len(j.cfg.Files) > 0 {
		for _, f := range j.cfg.Files {
			try(f)
		}
		return set
	}
	var walk func(dir string, top bool)
	walk = func(dir string, top bool) {
		entries, err := os.ReadDir(dir)
		switch {
		case errors.Is(err, os.ErrPermission):
			set.deny(dir)
			return
		case errors.Is(err, os.ErrNotExist) && top && j.cfg.Directory != "":
			set.missing = "no journal directory " + dir + " (journal_directory)"
			return
		case err != nil:
			return
		}
		for _, e := range entries {
			name := e.Name()
			switch {
			case e.IsDir() && top && isID128(name):
				walk(filepath.Join(dir, name), false)
			case !e.IsDir() && (strings.HasSuffix(name, ".journal") || strings.HasSuffix(name, ".journal~")):
				try(filepath.Join(dir, name))
			}
		}
	}
	for _, d := range j.dirs() {
		walk(d, true)
	}
	return set
}

// deny records a path this process may not read, and the group that may.
func (s *journalFileSet) deny(path string) {
	if s.gid < 0 {
		if fi, err := os.Stat(path); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				s.gid = int(st.Gid)
			}
		}
	}
	s.denied = append(s.denied, path)
}

// deniedText says which journal files cannot be read, and who may read
// them.
func (s *journalFileSet) deniedText(where string) string {
	n := len(s.denied) + len(s.readable)
	what := fmt.Sprintf("%d of the %d journal files in %s cannot", len(s.denied), n, where)
	if n == 1 {
		what = s.denied[0] + " cannot"
	}
	shown := s.denied
	if len(shown) > 3 {
		shown = append(shown[:3:3], "…")
	}
	why := fmt.Sprintf("permission denied: %s be read as uid %d", what, os.Geteuid())
	if n > 1 {
		why += " (" + strings.Join(shown, ", ") + ")"
	}
	if len(s.readable) > 0 {
		why += ", so only the others were read"
	}
	why += ": run as root"
	if s.gid > 0 {
		why += ", or as a member of group " + groupName(s.gid)
	}
	return why
}

// groupName returns the name of group gid, or its number.
func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

// dirs returns the directories whose journal files the Journal reads.
func (j *Journal) dirs() []string {
	if j.cfg.Directory != "" {
		return []string{j.cfg.Directory}
	}
	return []string{runJournalDir, varJournalDir}
}

// where names the journal files the Journal reads, for a person.
func (j *Journal) where() string {
	if len(j.cfg.Files) > 0 {
		return strings.Join(j.cfg.Files, ", ")
	}
	return strings.Join(j.dirs(), " or ")
}

// selection describes what the Journal selects ("of unit ssh.service,
// identifier sshd or sshd-session "), or "" when it selects every entry.
func (j *Journal) selection() string {
	var parts []string
	if len(j.cfg.Units) > 0 {
		parts = append(parts, "unit "+strings.Join(j.cfg.Units, " or "))
	}
	if len(j.cfg.Identifiers) > 0 {
		parts = append(parts, "identifier "+strings.Join(j.cfg.Identifiers, " or "))
	}
	if len(j.cfg.Matches) > 0 {
		parts = append(parts, strings.Join(j.cfg.Matches, " "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "of " + strings.Join(parts, ", ") + " "
}

// isID128 reports whether name is a machine ID, the name of a journal
// subdirectory: 32 lowercase hexadecimal digits.
func isID128(name string) bool {
	if len(name) != 32 {
		return false
	}
	for _, c := range name {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
