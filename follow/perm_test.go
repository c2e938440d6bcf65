package follow

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unprivilegedEnv marks the copy of the test binary that runs the
// permission tests as an ordinary user: root is not refused by file
// modes, so as root the tests re-run themselves as nobody.
const unprivilegedEnv = "LOGTALLY_FOLLOW_TEST_UNPRIVILEGED"

// runUnprivileged runs the calling test in a copy of the test binary as
// uid/gid 65534 when the test process is root, and reports whether it did
// (the caller then returns).
func runUnprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	if os.Getenv(unprivilegedEnv) != "" {
		t.Fatal("still root in the unprivileged run")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir makes both 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "follow.test")
	copyFile(t, self, bin, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), unprivilegedEnv+"=1", "TMPDIR="+os.TempDir())
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) || strings.Contains(string(out), "--- SKIP") {
		t.Fatalf("unprivileged run did not pass:\n%s", out)
	}
	t.Logf("ran as uid 65534:\n%s", out)
	return true
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenPermission: logrotate's create-then-chmod window. The new file
// exists but cannot be opened yet while the writer already fills it; the
// follower reports it once, retries, never stops, and reads every line
// once the mode is fixed.
func TestOpenPermission(t *testing.T) {
	if runUnprivileged(t) {
		return
	}
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		fn := h.path("app.log")
		writeFile(t, fn, "")
		h.start(FileConfig{Paths: []string{fn}})
		appendFile(t, fn, "o1\n")
		h.expect("o1")

		rename(t, fn, fn+".1")
		w, err := os.OpenFile(fn, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o000)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		w.WriteString("n1\n")
		h.wake()
		h.rec.waitEvent(t, EventOpenError, 1)
		w.WriteString("n2\n")
		h.wake()
		h.sync()
		h.sync()
		if n := len(h.rec.events(EventOpenError)); n != 1 {
			t.Errorf("%d open errors reported, want 1: %q", n, h.rec.allEvents())
		}
		if st := h.files.Stats()[fn]; st.OpenErrors < 2 {
			t.Errorf("open errors counted %d, want every attempt (≥ 2)", st.OpenErrors)
		}
		if err := os.Chmod(fn, 0o644); err != nil {
			t.Fatal(err)
		}
		h.expect("o1", "n1", "n2")
		w.WriteString("n3\n")
		h.expect("o1", "n1", "n2", "n3")
		h.rec.check(t)
	})
}

// TestStatPermission: stat failing with EACCES (the directory lost its
// search permission) is exactly where nxadm/tail calls os.Exit. Here it is
// reported once and the file keeps being followed; nothing is lost.
func TestStatPermission(t *testing.T) {
	if runUnprivileged(t) {
		return
	}
	forEachWatch(t, func(t *testing.T, mode string) {
		h := newHarness(t, mode)
		sub := h.path("sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		fn := filepath.Join(sub, "app.log")
		writeFile(t, fn, "")
		w, err := os.OpenFile(fn, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		h.start(FileConfig{Paths: []string{fn}})
		w.WriteString("s1\n")
		h.expect("s1")

		if err := os.Chmod(sub, 0o000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(sub, 0o755) })
		w.WriteString("s2\n")
		h.wake()
		h.rec.waitEvent(t, EventOpenError, 1)
		h.sync()
		w.WriteString("s3\n")
		h.sync()
		if err := os.Chmod(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		w.WriteString("s4\n")
		h.expect("s1", "s2", "s3", "s4")
		if n := len(h.rec.events(EventOpenError)); n != 1 {
			t.Errorf("%d open errors reported, want 1: %q", n, h.rec.allEvents())
		}
		h.rec.check(t)
	})
}
