// Package tests runs the logtally binary end to end: the CLI on the example
// rules and logs, and the daemon under rotation, crashes, reloads, real
// logrotate and a real InfluxDB.
package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/logtally/logtally/internal/testutil"
)

// bin is the logtally binary built for this test run.
var bin string

func TestMain(m *testing.M) {
	// Run by a rule as a command: be that command (helper_test.go).
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode, os.Args[1:]))
	}
	// Syslog timestamps are local time, written here and read by the
	// binary: in a zone with daylight saving time, the hour repeated in
	// autumn gives two hours the same timestamps, and a test whose lines
	// span it would fail in that week only. Both sides use UTC.
	os.Setenv("TZ", "UTC")
	time.Local = time.UTC
	dir, err := os.MkdirTemp("", "logtally-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "logtally")
	// -buildvcs=auto records the commit, as a user's `go build` in a clone
	// does, even where GOFLAGS turns stamping off; TestVersion checks it.
	args := []string{"build", "-buildvcs=auto", "-o", bin}
	if os.Getenv("LOGTALLY_E2E_RACE") == "1" {
		// The daemon's own data races, under the end-to-end load.
		args = append(args, "-race")
	}
	if err := goBuild(append(args, "../cmd/logtally")); err != nil {
		// git refused to describe the tree (a checkout owned by another
		// user, say): build without the commit so that every other test
		// runs; TestVersion fails under CI.
		fmt.Fprintln(os.Stderr, "build logtally with its VCS revision:", err)
		args[1] = "-buildvcs=false"
		if err := goBuild(append(args, "../cmd/logtally")); err != nil {
			fmt.Fprintln(os.Stderr, "build logtally:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func goBuild(args []string) error {
	build := exec.Command("go", args...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	return build.Run()
}

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary to completion with a generous deadline.
func run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return runStdin(t, bin, stdin, args...)
}

// runBinary runs a logtally binary (an installed one, say) as run does.
func runBinary(t testing.TB, binary string, args ...string) result {
	t.Helper()
	return runStdin(t, binary, "", args...)
}

func runStdin(t testing.TB, binary, stdin string, args ...string) result {
	t.Helper()
	return runWith(t, binary, stdin, nil, args...)
}

// runWith runs a binary as runStdin does, once setup (when not nil) has
// set what else the command needs: its user, its directory.
func runWith(t testing.TB, binary, stdin string, setup func(*exec.Cmd), args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if setup != nil {
		setup(cmd)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run logtally %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// repo returns the path of a file of the repository.
func repo(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), ".."}, parts...)...)
}

// need returns the path of a tool the test needs: under CI=true its absence
// fails the test, elsewhere it skips it.
func need(t *testing.T, tool string) string {
	t.Helper()
	return testutil.NeedTool(t, tool)
}
