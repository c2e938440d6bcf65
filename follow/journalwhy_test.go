package follow

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestWhyEmptyPermission: journal files in a machine-ID subdirectory, some
// of which this user may not read (a system journal beside a user's own),
// are found, and the reason names those it may not read and says the
// others were read — before journalctl is run at all.
func TestWhyEmptyPermission(t *testing.T) {
	if runUnprivileged(t) {
		return
	}
	dir := t.TempDir()
	sub := filepath.Join(dir, "0123456789abcdef0123456789abcdef")
	other := filepath.Join(dir, "not-a-machine-id") // not looked into
	for _, d := range []string{sub, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, mode := range map[string]os.FileMode{
		"system.journal": 0, "system@0005-0001.journal~": 0, "user-1000.journal": 0o644, "notes.txt": 0,
	} {
		if err := os.WriteFile(filepath.Join(sub, name), nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(other, "x.journal"), nil, 0); err != nil {
		t.Fatal(err)
	}
	j, err := NewJournal(JournalConfig{Directory: dir, Journalctl: "/nonexistent/journalctl"})
	if err != nil {
		t.Fatal(err)
	}
	want := "permission denied: 2 of the 3 journal files in " + dir + " cannot be read as uid " + strconv.Itoa(os.Geteuid()) +
		" (" + filepath.Join(sub, "system.journal") + ", " + filepath.Join(sub, "system@0005-0001.journal~") +
		"), so only the others were read: run as root"
	want += ", or as a member of group " + groupName(os.Getegid()) // the group of the files
	if got := j.WhyEmpty(t.Context()); got != want {
		t.Errorf("WhyEmpty:\n got %q\nwant %q", got, want)
	}
}
