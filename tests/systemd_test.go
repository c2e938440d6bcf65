package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile is packaging/logtally.service: its comment, and the settings of
// its [Service] section.
type unitFile struct {
	text     string
	comment  string              // the leading comment, without the #
	settings map[string][]string // [Service] key → values, in order
}

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{text: string(data), settings: map[string][]string{}}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(u.text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
			if section == "" {
				u.comment += strings.TrimPrefix(line, "#") + "\n"
			}
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]" && line != "":
			k, v, _ := strings.Cut(line, "=")
			u.settings[k] = append(u.settings[k], v)
		}
	}
	return u
}

// sandboxing are systemd's protections (systemd.exec(5), "Sandboxing" and
// "Security"): the unit's comment must say, for each, whether it is on or
// off and why, and that must agree with the unit.
var sandboxing = []string{
	"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
	"PrivateNetwork", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
	"ProtectControlGroups", "ProtectClock", "ProtectHostname", "RestrictRealtime",
	"RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures", "SystemCallFilter",
	"RestrictAddressFamilies", "RestrictNamespaces", "MemoryDenyWriteExecute",
	"CapabilityBoundingSet", "DynamicUser", "UMask",
}

// TestSystemdUnit: the unit passes systemd-analyze verify, reloads with
// SIGHUP, keeps its state in StateDirectory, and its comment says which
// protections are on and which are off, in agreement with its settings.
// The unit as the package installs it is verified by TestDebianPackage.
func TestSystemdUnit(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	src := repo("packaging", "logtally.service")
	u := readUnit(t, src)

	// The unit as shipped, with the binary under test in place of
	// /usr/sbin/logtally (and no man page lookup: that of the installed
	// package is checked with the package).
	if !strings.Contains(u.text, "ExecStart=/usr/sbin/logtally run ") {
		t.Fatalf("ExecStart does not run /usr/sbin/logtally run: %q", u.settings["ExecStart"])
	}
	unit := filepath.Join(t.TempDir(), "logtally.service")
	writeFile(t, unit, strings.ReplaceAll(u.text, "/usr/sbin/logtally", bin))
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	want := map[string]string{
		"ExecReload":     "/bin/kill -HUP $MAINPID",
		"StateDirectory": "logtally",
		"Type":           "exec",
		"KillSignal":     "SIGTERM",
	}
	for k, v := range want {
		if got := u.settings[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s=%q, want %q", k, got, v)
		}
	}
	// The daemon's flags in ExecStart are flags it has.
	for _, f := range strings.Fields(u.settings["ExecStart"][0]) {
		if strings.HasPrefix(f, "--") {
			if r := run(t, "", "run", "--help"); !strings.Contains(r.stdout, f+" ") {
				t.Errorf("ExecStart passes %s, which logtally run does not list", f)
			}
		}
	}

	on, off, ok := strings.Cut(u.comment, "\n Off, and why:\n")
	if !ok {
		t.Fatalf("the unit's comment has no \"Off, and why:\" list:\n%s", u.comment)
	}
	_, on, ok = strings.Cut(on, "\n On:\n")
	if !ok {
		t.Fatalf("the unit's comment has no \"On:\" list:\n%s", u.comment)
	}
	for _, p := range sandboxing {
		set := len(u.settings[p]) > 0
		saysOn, saysOff := strings.Contains(on, p), strings.Contains(off, p)
		switch {
		case saysOn && saysOff:
			t.Errorf("%s: the comment says it is both on and off", p)
		case set && !saysOn:
			t.Errorf("%s is set, but the comment's On list does not say why", p)
		case !set && !saysOff:
			t.Errorf("%s is not set, but the comment's Off list does not say why", p)
		}
	}
}
