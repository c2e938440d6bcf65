package tests

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// respCommand encodes one command of buntdb's append-only file.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// countedRun runs the daemon of r while n numbered lines (named name) are
// appended to log, until its state file counts them in total "all", and
// returns it stopped.
func countedRun(t *testing.T, r *rig, log, name string, n int) *daemonProc {
	t.Helper()
	d := r.start("inotify", 0)
	d.waitLog(`event=open `, 1)
	appendString(t, log, numbered(name, 0, n))
	waitTotal(t, r.state, "all", n)
	d.stop()
	return d
}

// TestStateFileCorruption: logtally starts on a damaged state file, says so
// loudly, and runs: a file buntdb cannot load, or that is not a logtally
// state file, is moved aside (kept, byte for byte) and a fresh one started;
// a loadable file with values that do not decode loses those values only.
// In every case the lines written afterwards are counted exactly, and
// before, status, graph and survey refuse a file that run moves aside.
func TestStateFileCorruption(t *testing.T) {
	cases := []struct {
		name string
		// damage writes the damaged state file; it may run logtally first.
		damage func(t *testing.T, r *rig, log string)
		// aside: the file is moved aside; else values are dropped.
		aside bool
		// drops are the keys whose values are reported dropped.
		drops []string
		// note, when set, must match a log line.
		note string
	}{
		{
			name: "random bytes",
			damage: func(t *testing.T, r *rig, _ string) {
				b := make([]byte, 4096)
				rng := rand.New(rand.NewPCG(1, 2))
				for i := range b {
					b[i] = byte(rng.UintN(256))
				}
				if err := os.WriteFile(r.state, b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			aside: true,
		},
		{
			name: "text",
			damage: func(t *testing.T, r *rig, _ string) {
				writeFile(t, r.state, "this is not a state file\n")
			},
			aside: true,
		},
		{
			// What a crash leaves on some filesystems: the file's size
			// without its data. buntdb skips NUL bytes, so it loads as an
			// empty database.
			name: "zero-filled",
			damage: func(t *testing.T, r *rig, log string) {
				countedRun(t, r, log, "before", 10)
				fi, err := os.Stat(r.state)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(r.state, make([]byte, fi.Size()), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			aside: true,
		},
		{
			// A file of another program without a line end (a database,
			// a compressed file): buntdb takes it for a state file cut
			// short by a crash and truncates it to its last whole record,
			// which here is all of it; it must be kept as it is.
			name: "another program's binary file",
			damage: func(t *testing.T, r *rig, _ string) {
				b := append([]byte("SQLite format 3\x00"), make([]byte, 8176)...)
				for i := 100; i < len(b); i += 7 {
					b[i] = byte(i % 10) // no '\n' (10) anywhere
				}
				if err := os.WriteFile(r.state, b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			aside: true,
		},
		{
			// An empty file is a new state, and the log says so.
			name: "empty",
			damage: func(t *testing.T, r *rig, _ string) {
				writeFile(t, r.state, "")
			},
			note: `level=INFO msg="state file is empty: starting a new state"`,
		},
		{
			name: "another program's buntdb file",
			damage: func(t *testing.T, r *rig, _ string) {
				writeFile(t, r.state, respCommand("set", "config", "value")+respCommand("set", "other", "x"))
			},
			aside: true,
		},
		{
			// A logtally state file whose position and total values are
			// damaged but still framed (the last commit's journal is gone
			// too, so it cannot repair them).
			name: "damaged values",
			damage: func(t *testing.T, r *rig, log string) {
				countedRun(t, r, log, "before", 10)
				appendString(t, r.state,
					respCommand("set", "pos/"+log+"\x00"+log, "{garbage")+
						respCommand("set", "total/all", "#####")+
						respCommand("del", "journal"))
			},
			drops: []string{`pos/`, `total/all`},
		},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			r := newRig(t, "")
			log := r.path("app.log")
			writeFile(t, r.rules, counterRules(log, "all", ".*"))
			writeFile(t, log, "")
			c.damage(t, r, log)
			damaged, err := os.ReadFile(r.state)
			if err != nil {
				t.Fatal(err)
			}

			// The commands that only read the state (status, graph,
			// survey) say that a file run would move aside is not a
			// state, rather than show it as an empty one, and leave it
			// as it is.
			for _, args := range [][]string{
				{"status", "--state", r.state},
				{"graph", "--state", r.state, "--out", r.path("graph")},
				{"survey", "--state", r.state},
			} {
				res := run(t, "", args...)
				if c.aside && (res.code == 0 || !strings.Contains(res.stderr, r.state) ||
					!strings.Contains(res.stderr, "not a usable logtally state")) {
					t.Errorf("%s on a file run moves aside: exit %d, stderr %q; want an error naming %s and why",
						args[0], res.code, res.stderr, r.state)
				}
				if !c.aside && args[0] == "status" {
					// A damaged value hides nothing else, and is named.
					if res.code != 0 {
						t.Errorf("status: exit %d, stderr %q", res.code, res.stderr)
					}
					for _, k := range c.drops {
						if !regexp.MustCompile(`warning: the value of "` + regexp.QuoteMeta(k) + `.* does not decode`).MatchString(res.stderr) {
							t.Errorf("status does not name the damaged value of %s: %q", k, res.stderr)
						}
					}
				}
				if now, err := os.ReadFile(r.state); err != nil || !bytes.Equal(now, damaged) {
					t.Fatalf("%s changed the state file (%v)", args[0], err)
				}
			}

			d := countedRun(t, r, log, "after", 25)
			wantTotal(t, r.state, "all", 25)

			if c.note != "" && d.countLog(reLine(c.note)) != 1 {
				t.Errorf("no log line matching %q", c.note)
			}
			aside, _ := filepath.Glob(r.state + ".corrupt-*")
			if !c.aside {
				if len(aside) != 0 {
					t.Errorf("state file moved aside (%v); only its damaged values should go", aside)
				}
				for _, k := range c.drops {
					if d.countLog(reLine(`level=ERROR msg="STATE VALUE UNUSABLE.*key="?`+k)) != 1 {
						t.Errorf("no loud message about the dropped value of %s", k)
					}
				}
				return
			}
			if !strings.Contains(d.log(), `level=ERROR msg="STATE FILE UNUSABLE: moved aside`) {
				t.Errorf("no loud message about the state file")
			}
			if len(aside) != 1 {
				t.Fatalf("moved-aside files %v, want one", aside)
			}
			if !strings.Contains(d.log(), "moved_to="+aside[0]) {
				t.Errorf("the log does not say where the state file went (%s)", aside[0])
			}
			kept, err := os.ReadFile(aside[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(kept, damaged) {
				t.Errorf("the moved-aside file differs from the damaged one")
			}
		})
	}
}

// TestStateDiskFull: while the state file cannot grow (a full disk, made
// real by a file-size limit set on the running daemon with prlimit), every
// commit fails; the daemon keeps running and keeps what it read, and once
// there is room again the next commit stores every interval it missed, in
// the state and in the line-protocol output: every line exactly once.
func TestStateDiskFull(t *testing.T) {
	prlimit := need(t, "prlimit")
	r := newRig(t, "")
	log := r.path("app.log")
	writeFile(t, r.rules, counterRules(log, "all", ".*"))
	writeFile(t, log, "")
	// Samples go to stdout, not to a file that the limit would also stop.
	d := startDaemon(t, daemonOpts{rules: r.rules, state: r.state, extra: []string{"--listen="}})
	d.waitLog(`event=open `, 1)
	appendString(t, log, numbered("before", 0, 10))
	waitTotal(t, r.state, "all", 10)

	fi, err := os.Stat(r.state)
	if err != nil {
		t.Fatal(err)
	}
	// The soft limit only, which an unprivileged process may raise again.
	// A little room, so that the first failing commit writes part of its
	// record before the limit: that part must not stay in the file.
	limit := func(v string) {
		t.Helper()
		out, err := exec.Command(prlimit, "--pid", strconv.Itoa(d.pid()), "--fsize="+v+":").CombinedOutput()
		if err != nil {
			t.Fatalf("prlimit --fsize=%s: %v\n%s", v, err, out)
		}
	}
	limit(strconv.FormatInt(fi.Size()+100, 10))
	failed := reLine(`level=ERROR msg="commit failed: kept, retried`)
	before := d.countLog(failed)
	written := 10
	for k := 1; k <= 3; k++ {
		appendString(t, log, numbered(fmt.Sprintf("full%d", k), 0, 7))
		written += 7
		d.waitLog(failed.String(), before+k)
	}
	// Nothing was committed while the disk was full.
	wantTotal(t, r.state, "all", 10)

	limit("unlimited")
	waitTotal(t, r.state, "all", written)
	appendString(t, log, numbered("after", 0, 5))
	written += 5
	waitTotal(t, r.state, "all", written)
	d.stop()
	wantTotal(t, r.state, "all", written)

	// The output has every interval's sample once: their values add up to
	// the lines written.
	var lp strings.Builder
	for _, l := range strings.Split(d.log(), "\n") {
		if strings.HasPrefix(l, "all,") {
			lp.WriteString(l + "\n")
		}
	}
	if sum := sumOnce(t, decodeLP(t, []byte(lp.String())), "all"); sum != float64(written) {
		t.Errorf("the samples on stdout add up to %v, want the %d lines written", sum, written)
	}
	// The daemon starts again on the state file with nothing to repair: a
	// partial record left in the file, with later commits after it, would
	// make it unloadable (moved aside, loudly).
	d = startDaemon(t, daemonOpts{rules: r.rules, state: r.state, extra: []string{"--listen="}})
	d.waitLog(`msg=started `, 1)
	d.stop()
	if d.countLog(reLine(`level=(WARN|ERROR)`)) != 0 {
		t.Errorf("the restart on the state file warned:\n%s", d.log())
	}
	wantTotal(t, r.state, "all", written)
}

// TestStateFileInUse: a second daemon on the state file of a running one
// exits 1 at once, saying which lock holds it and which process, without a
// repeated command prefix; the first goes on.
func TestStateFileInUse(t *testing.T) {
	r := newRig(t, "measurements:\n  - handle: m\n    path: "+yamlQuote(filepath.Join(t.TempDir(), "a.log"))+"\n    select_line_matching: '.*GET .*'\n")
	first := r.start("", 0)
	first.waitLog(`msg=started`, 1)
	res := runBinary(t, bin, "run", "--rules", r.rules, "--state", r.state, "--listen=", "--output", r.path("second.lp"))
	want := fmt.Sprintf("logtally run: open state: state file is in use by another logtally process: %s.lock (pid %d)\n", r.state, first.pid())
	if res.code != 1 || res.stderr != want {
		t.Errorf("second daemon: exit %d, stderr %q; want 1 and %q", res.code, res.stderr, want)
	}
	if !first.running() {
		t.Errorf("the first daemon stopped")
	}
	first.stop()
}

// TestStateDirectory: a --state whose directory does not exist (a typo) is
// an error naming the directory, for every command that writes the state
// file, and nothing is created; the default state file's directory,
// /var/lib/logtally, which a package ships but a plain install may lack,
// is created with a line saying so (in a private mount namespace with an
// empty /var/lib, so that the machine's is left alone).
func TestStateDirectory(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	writeFile(t, log, "Dec 10 06:55:46 mx1 sshd[24200]: Invalid user admin from 203.0.113.9\n")
	rulesPath := filepath.Join(dir, "rules.yaml")
	writeFile(t, rulesPath, probeRule(log)+"watch_files:\n  - handle: etc\n    paths: ["+log+"]\n")
	missing := filepath.Join(dir, "stat", "lib")
	state := filepath.Join(missing, "state.db")
	for _, args := range [][]string{
		{"run", "--rules", rulesPath, "--state", state, "--interval", "1s", "--listen="},
		{"learn", "--rules", rulesPath, "--state", state, log},
		{"accept-changes", "--rules", rulesPath, "--state", state},
	} {
		r := run(t, "", args...)
		want := "state file " + state + ": no such directory " + missing + ": create it, or correct --state"
		if r.code == 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s --state %s: exit %d, want an error saying %q:\n%s", args[0], state, r.code, want, r.stderr)
		}
		if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
			t.Fatalf("%s --state %s created %s", args[0], state, filepath.Dir(missing))
		}
	}

	// The default, as root on a machine without /var/lib/logtally.
	if os.Geteuid() != 0 && os.Getenv("CI") != "true" {
		t.Skip("the default state file is root's: run as root for the rest")
	}
	unshare := need(t, "unshare")
	// run, then learn, each on an empty /var/lib of its own.
	script := `set -e
mount -t tmpfs none /var/lib
"$1" run --rules "$2" --interval 1s --listen= --output /dev/null 2> "$4" & pid=$!
i=0 # until it has started, for 60 s at most
while ! grep -q 'msg=started' "$4"; do kill -0 $pid; i=$((i+1)); [ $i -lt 600 ]; sleep 0.1; done
kill -TERM $pid; wait $pid
echo "mode: $(stat -c '%a %F' /var/lib/logtally)"
test -s /var/lib/logtally/state.db
umount /var/lib
mount -t tmpfs none /var/lib
"$1" learn --rules "$2" "$3" > /dev/null
test -s /var/lib/logtally/state.db`
	runLog := filepath.Join(dir, "run.log")
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh", bin, rulesPath, log, runLog)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	runOut, _ := os.ReadFile(runLog)
	if err != nil {
		t.Fatalf("run and learn with the default state file: %v\n%s%s\nrun's log:\n%s", err, stdout.String(), stderr.String(), runOut)
	}
	if got := stdout.String(); got != "mode: 750 directory\n" {
		t.Errorf("/var/lib/logtally: %q, want mode 750, a directory", got)
	}
	if want := `level=INFO msg="created state directory" dir=/var/lib/logtally`; !strings.Contains(string(runOut), want) {
		t.Errorf("run does not log that it created the state directory (%s):\n%s", want, runOut)
	}
	if want := "logtally learn: created state directory /var/lib/logtally\n"; stderr.String() != want {
		t.Errorf("learn says %q, want %q", stderr.String(), want)
	}
}
