package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// builtInfo is what the Go toolchain recorded in a binary, as
// `go version -m` prints it: the reference logtally's own report is
// compared with.
type builtInfo struct {
	version, revision string
	modified          bool
}

func readBuiltInfo(t *testing.T, binary string) builtInfo {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatalf("go version -m %s: %v", binary, err)
	}
	var bi builtInfo
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/logtally/logtally":
			bi.version = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			bi.revision = strings.TrimPrefix(f[1], "vcs.revision=")
		case len(f) == 2 && f[0] == "build" && f[1] == "vcs.modified=true":
			bi.modified = true
		}
	}
	return bi
}

// TestVersion: `logtally version` and `logtally --version` say the module
// version, the commit and whether the tree was modified, exactly as the
// toolchain recorded them; under CI the commit must be there and be HEAD's.
func TestVersion(t *testing.T) {
	bi := readBuiltInfo(t, bin)
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		r := run(t, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		line := strings.TrimSpace(r.stdout)
		if !strings.HasPrefix(line, "logtally "+bi.version+" ") {
			t.Errorf("%v: %q does not start with the module version %q", args, line, bi.version)
		}
		if bi.revision != "" && !strings.Contains(line, "revision "+bi.revision) {
			t.Errorf("%v: %q lacks revision %s", args, line, bi.revision)
		}
		if got := strings.Contains(line, "modified"); got != bi.modified {
			t.Errorf("%v: %q says modified %v, the build says %v", args, line, got, bi.modified)
		}
		if strings.Fields(line)[1] == "dev" {
			t.Errorf("%v: %q: the version is just dev", args, line)
		}
	}
	if bi.revision == "" {
		if inClone() {
			t.Fatalf("built in a git clone, yet the binary records no VCS revision (is git installed?)")
		}
		t.Skipf("the binary records no VCS revision: %s is not a git clone (a worktree or an exported tree), so the toolchain stamps none", repo())
	}
	if head, err := exec.Command("git", "-C", repo(), "rev-parse", "HEAD").Output(); err == nil {
		if h := strings.TrimSpace(string(head)); h != bi.revision {
			t.Errorf("revision %s, HEAD is %s", bi.revision, h)
		}
	}
}

// inClone reports whether the tests run in a git clone, the one kind of
// checkout in which the Go toolchain stamps a revision: it looks for a .git
// directory, so a linked worktree (.git is a file) or an exported tree gets
// none.
func inClone() bool {
	fi, err := os.Stat(filepath.Join(repo(), ".git"))
	return err == nil && fi.IsDir()
}
