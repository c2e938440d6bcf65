package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDebianPackage builds the .deb with packaging/build-deb.sh (nfpm, a Go
// tool of this module) from the binary under test, installs it and runs
// the installed binary from the installed paths.
//
// Under CI=true, as root on a fresh Debian machine, it installs the
// package for real with dpkg -i (and purges it afterwards), so that the
// unit is verified where systemd looks for it. Elsewhere it never touches
// the machine: as root it installs into a dpkg database of its own
// (dpkg --root, maintainer scripts run with DPKG_ROOT), otherwise it
// unpacks the package with dpkg-deb -x.
func TestDebianPackage(t *testing.T) {
	for _, tool := range []string{"dpkg", "dpkg-deb", "gzip", "go"} {
		need(t, tool)
	}
	ci := os.Getenv("CI") == "true"
	if ci && os.Geteuid() != 0 {
		t.Fatalf("CI runs as root, to install the package with dpkg -i")
	}
	out := t.TempDir()
	build := exec.Command("sh", repo("packaging", "build-deb.sh"), "-b", bin, out)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("packaging/build-deb.sh: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "logtally_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("packaging/build-deb.sh made %v, want one logtally_*.deb", debs)
	}
	deb := debs[0]

	// The control file: the version is the module version the binary
	// records (v0.0.0-<time>-<commit> becomes 0.0.0~<time>-<commit>-1).
	bi := readBuiltInfo(t, bin)
	control := mustOutput(t, "dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends")
	if !strings.Contains(control, "Package: logtally\n") {
		t.Errorf("control:\n%s", control)
	}
	if v := strings.TrimPrefix(bi.version, "v"); bi.version != "(devel)" && !strings.Contains(strings.ReplaceAll(control, "~", "-"), "Version: "+strings.SplitN(v, "+", 2)[0]) {
		t.Errorf("the package version does not follow the module version %s:\n%s", bi.version, control)
	}
	contents := mustOutput(t, "dpkg-deb", "--contents", deb)
	for _, p := range []string{
		"./usr/sbin/logtally", "./usr/lib/systemd/system/logtally.service",
		"./etc/logtally/rules.d/ssh.yaml.disabled", "./usr/share/man/man8/logtally.8.gz",
		"./usr/share/man/man8/logtally-run.8.gz", "./usr/share/bash-completion/completions/logtally",
		"./usr/share/zsh/vendor-completions/_logtally", "./usr/share/fish/vendor_completions.d/logtally.fish",
		"./usr/share/doc/logtally/rules.md", "./usr/share/doc/logtally/copyright", "./var/lib/logtally/",
	} {
		if !strings.Contains(contents, " "+p+"\n") {
			t.Errorf("the package lacks %s", p)
		}
	}
	conffiles := mustOutput(t, "dpkg-deb", "--info", deb, "conffiles")
	examples, _ := filepath.Glob(repo("examples", "rules", "*.yaml"))
	for _, e := range examples {
		if !strings.Contains(conffiles, "/etc/logtally/rules.d/"+filepath.Base(e)+".disabled\n") {
			t.Errorf("%s is not a conffile:\n%s", filepath.Base(e), conffiles)
		}
	}

	// Install.
	root := t.TempDir()
	dpkg := func(args ...string) string {
		return mustOutput(t, "dpkg", append([]string{"--root=" + root}, args...)...)
	}
	switch {
	case ci:
		root = "/"
		dpkg = func(args ...string) string { return mustOutput(t, "dpkg", args...) }
		t.Cleanup(func() {
			if b, err := exec.Command("dpkg", "--purge", "logtally").CombinedOutput(); err != nil {
				t.Errorf("dpkg --purge logtally: %v\n%s", err, b)
			}
		})
		dpkg("-i", deb)
	case os.Geteuid() == 0:
		// A dpkg database of its own; the maintainer scripts run outside
		// a chroot with DPKG_ROOT set, and libc6 is not in that database.
		for _, d := range []string{"info", "updates", "triggers"} {
			if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg", d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range []string{"status", "available"} {
			writeFile(t, filepath.Join(root, "var/lib/dpkg", f), "")
		}
		dpkg("--force-script-chrootless", "--force-depends", "-i", deb)
	default:
		mustOutput(t, "dpkg-deb", "-x", deb, root)
	}
	installed := filepath.Join(root, "usr/sbin/logtally")

	// The installed binary is the one under test, and says its revision.
	a, errA := os.ReadFile(installed)
	b, errB := os.ReadFile(bin)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("the installed binary is not the one built (%v, %v)", errA, errB)
	}
	version := mustOutput(t, installed, "--version")
	if bi.revision != "" && !strings.Contains(version, "revision "+bi.revision) {
		t.Errorf("installed logtally --version: %q lacks revision %s", version, bi.revision)
	}
	if bi.revision == "" && inClone() {
		t.Errorf("installed logtally --version: %q shows no revision, built in a git clone", version)
	}

	// logtally check from the installed paths: the examples are disabled,
	// and every one of them is valid once enabled.
	rulesDir := filepath.Join(root, "etc/logtally/rules.d")
	checkArgs := []string{"check", "--rules", rulesDir}
	if ci {
		checkArgs = []string{"check"} // the default, /etc/logtally/rules.d
	}
	r := runBinary(t, installed, checkArgs...)
	if r.code != 0 || !strings.Contains(r.stdout, ": 0 files, 0 measurements") || !strings.Contains(r.stderr, "no rule files") {
		t.Errorf("installed logtally check: exit %d, want 0 files loaded and a warning\n%s%s", r.code, r.stdout, r.stderr)
	}
	enabled := t.TempDir()
	disabled, _ := filepath.Glob(filepath.Join(rulesDir, "*.yaml.disabled"))
	for _, d := range disabled {
		data, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(enabled, strings.TrimSuffix(filepath.Base(d), ".disabled")), string(data))
	}
	r = runBinary(t, installed, "check", "--rules", enabled)
	if r.code != 0 || len(disabled) != len(examples) || !strings.Contains(r.stdout, ": "+strconv.Itoa(len(examples))+" files") {
		t.Errorf("installed examples, enabled (%d of %d): exit %d\n%s%s", len(disabled), len(examples), r.code, r.stdout, r.stderr)
	}

	// The unit where systemd finds it, and the man page where man does.
	unit := filepath.Join(root, "usr/lib/systemd/system/logtally.service")
	if ci {
		analyze := need(t, "systemd-analyze")
		if b, err := exec.Command(analyze, "verify", "logtally.service").CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("systemd-analyze verify logtally.service: %v\n%s", err, b)
		}
		man := need(t, "man")
		if got := strings.TrimSpace(mustOutput(t, man, "-w", "logtally")); got != "/usr/share/man/man8/logtally.8.gz" {
			t.Errorf("man -w logtally: %q", got)
		}
	} else if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		u, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), "logtally.service")
		writeFile(t, copyPath, strings.ReplaceAll(string(u), "/usr/sbin/logtally", installed))
		if b, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("systemd-analyze verify (installed unit, binary at %s): %v\n%s", installed, err, b)
		}
	}

	// Purge removes everything, the state directory included.
	if root != "/" && os.Geteuid() == 0 {
		dpkg("--force-script-chrootless", "--purge", "logtally")
		for _, p := range []string{installed, unit, filepath.Join(rulesDir, "ssh.yaml.disabled"), filepath.Join(root, "var/lib/logtally")} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("after dpkg --purge, %s is still there (%v)", p, err)
			}
		}
	}
}

// mustOutput runs a command and returns its standard output, failing the
// test when it fails.
func mustOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}
