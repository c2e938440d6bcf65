package tripwire

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// store is what a caller keeps of a watch: the deltas applied in order.
type store struct {
	meta Meta
	base map[string]*Entry
	seen map[string]*Entry
}

func (s *store) apply(d Delta) {
	if s.base == nil {
		s.base, s.seen = map[string]*Entry{}, map[string]*Entry{}
	}
	for p, e := range d.Base {
		if e == nil {
			delete(s.base, p)
		} else {
			c := *e
			s.base[p] = &c
		}
	}
	for p, e := range d.Seen {
		if e == nil {
			delete(s.seen, p)
		} else {
			c := *e
			s.seen[p] = &c
		}
	}
	if d.Meta != nil {
		s.meta = *d.Meta
	}
}

type fixture struct {
	t   *testing.T
	dir string
	w   *Watcher
	st  store
}

func newFixture(t *testing.T, cfg Config, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir}
	for name, content := range files {
		f.write(name, content)
	}
	for i, p := range cfg.Paths {
		cfg.Paths[i] = filepath.Join(dir, p)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	return f
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

func (f *fixture) write(name, content string) {
	f.t.Helper()
	p := f.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// rewrite changes a file's content in place, keeping its size and mtime.
func (f *fixture) rewrite(name, content string) {
	f.t.Helper()
	p := f.path(name)
	fi, err := os.Stat(p)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) scan() Result {
	f.t.Helper()
	r := f.w.Scan()
	f.st.apply(r.Delta)
	for _, err := range r.Errors {
		f.t.Logf("scan: %v", err)
	}
	return r
}

// changes summarises a scan's changes as "kind name: details" with the
// paths relative to the fixture.
func (f *fixture) changes(r Result) []string {
	var out []string
	for _, c := range r.Changes {
		c.Path = strings.TrimPrefix(c.Path, f.dir+"/")
		var d []string
		for _, x := range c.Details {
			if !strings.HasPrefix(x, "mtime") {
				d = append(d, x)
			}
		}
		c.Details = d
		out = append(out, c.String())
	}
	return out
}

func (f *fixture) want(r Result, want ...string) {
	f.t.Helper()
	if got := f.changes(r); !reflect.DeepEqual(got, want) {
		f.t.Errorf("changes\n got %q\nwant %q", got, want)
	}
}

func TestWatchChanges(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"etc"}}, map[string]string{
		"etc/passwd": "root:x:0:0\n", "etc/ssh/sshd_config": "Port 22\n", "etc/hosts": "127.0.0.1 localhost\n",
	})
	f.want(f.scan()) // the first listing is the baseline

	f.rewrite("etc/passwd", "evil:x:0:0\n") // same size, same mtime
	if err := os.Chmod(f.path("etc/ssh/sshd_config"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(f.path("etc/hosts"), 1000, 1000); err != nil {
		t.Skipf("chown: %v (needs root)", err)
	}
	f.write("etc/cron.d/backdoor", "* * * * * root sh\n")
	if err := os.Remove(f.path("etc/ssh/sshd_config")); err == nil {
		f.write("etc/ssh/sshd_config", "Port 22\n")
		os.Chmod(f.path("etc/ssh/sshd_config"), 0o666)
	}
	r := f.scan()
	f.want(r,
		"added etc/cron.d",
		"added etc/cron.d/backdoor",
		"changed etc/hosts: owner 0 -> 1000, group 0 -> 1000",
		"changed etc/passwd: content",
		"changed etc/ssh/sshd_config: permissions 0644 -> 0666",
	)
	if got := r.Paths(Changed); len(got) != 3 {
		t.Errorf("Paths(changed) = %v", got)
	}
	// update_hashes: no: reported again until accepted.
	f.want(f.scan(),
		"added etc/cron.d",
		"added etc/cron.d/backdoor",
		"changed etc/hosts: owner 0 -> 1000, group 0 -> 1000",
		"changed etc/passwd: content",
		"changed etc/ssh/sshd_config: permissions 0644 -> 0666",
	)
	f.st.apply(f.w.Accept(f.path("etc/cron.d"), f.path("etc/hosts")))
	if err := os.Remove(f.path("etc/ssh/sshd_config")); err != nil {
		t.Fatal(err)
	}
	f.want(f.scan(),
		"changed etc/passwd: content",
		"removed etc/ssh/sshd_config",
	)
	f.st.apply(f.w.Accept())
	f.want(f.scan())
	if len(f.st.seen) != 0 {
		t.Errorf("nothing outstanding, yet %d seen entries are kept", len(f.st.seen))
	}
}

func TestWatchUpdateHashes(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"w"}, Update: true}, map[string]string{"w/a": "1", "w/b": "2"})
	f.want(f.scan())
	f.write("w/a", "11")
	os.Remove(f.path("w/b"))
	f.want(f.scan(), "changed w/a: content, size 1 -> 2", "removed w/b")
	f.want(f.scan()) // reported once
	if len(f.st.seen) != 0 {
		t.Errorf("update_hashes: yes keeps %d seen entries", len(f.st.seen))
	}
}

func TestWatchReportModes(t *testing.T) {
	cases := []struct {
		report string
		want   []string
	}{
		{ReportAll, []string{"changed d/c: content", "changed d/m: permissions 0644 -> 0600", "added d/new", "removed d/r"}},
		{ReportContent, []string{"changed d/c: content", "added d/new", "removed d/r"}},
		{ReportStats, []string{"changed d/m: permissions 0644 -> 0600", "added d/new", "removed d/r"}},
		{ReportNone, []string{"added d/new", "removed d/r"}},
	}
	for _, tc := range cases {
		t.Run(tc.report, func(t *testing.T) {
			f := newFixture(t, Config{Paths: []string{"d"}, Report: tc.report}, map[string]string{"d/c": "abc", "d/m": "x", "d/r": "y"})
			f.want(f.scan())
			f.rewrite("d/c", "abd")
			os.Chmod(f.path("d/m"), 0o600)
			os.Remove(f.path("d/r"))
			f.write("d/new", "z")
			f.want(f.scan(), tc.want...)
		})
	}
}

// A symbolic link is recorded with its target and never followed, inside
// the tree or as a watched path itself.
func TestWatchSymlinks(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("s1"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Config{Paths: []string{"tree", "link"}}, map[string]string{"tree/a": "a"})
	if err := os.Symlink(secret, f.path("tree/out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, f.path("link")); err != nil {
		t.Fatal(err)
	}
	r := f.scan()
	for p, e := range f.w.seen {
		if under(p, outside) || strings.Contains(p, "secret") {
			t.Errorf("listed %s (%+v) outside the tree", p, e)
		}
	}
	if e := f.w.seen[f.path("link")]; e == nil || e.Type != TypeSymlink || e.Target != outside {
		t.Errorf("link: %+v", e)
	}
	if r.Progress.Files != 4 { // tree, tree/a, tree/out, link
		t.Errorf("%d entries listed", r.Progress.Files)
	}
	os.WriteFile(secret, []byte("s2 changed"), 0o644)
	f.want(f.scan()) // what a link points to is not watched
	os.Remove(f.path("tree/out"))
	os.Symlink("/etc/shadow", f.path("tree/out"))
	f.want(f.scan(), `changed tree/out: target "`+secret+`" -> "/etc/shadow"`)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// A tree larger than the budget is hashed over several scans, a file
// larger than the budget in pieces, and the hashes are those of the
// files.
func TestWatchBudget(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 6; i++ {
		files[filepath.Join("big", string(rune('a'+i)))] = strings.Repeat(string(rune('a'+i)), 1<<20)
	}
	huge := strings.Repeat("0123456789", 500_000) // 5 MB
	files["big/z-huge"] = huge
	f := newFixture(t, Config{Paths: []string{"big"}, MaxBytes: 2 << 20}, files)
	var scans int
	for scans = 1; scans < 20; scans++ {
		r := f.scan()
		if r.Progress.HashedBytes > 2<<20 {
			t.Fatalf("scan %d hashed %d bytes, over the budget", scans, r.Progress.HashedBytes)
		}
		if len(r.Changes) > 0 {
			t.Fatalf("scan %d reported %v while baselining", scans, f.changes(r))
		}
		if r.Progress.Complete {
			break
		}
		if r.Progress.PendingFiles == 0 {
			t.Fatalf("scan %d: not complete, nothing pending: %+v", scans, r.Progress)
		}
	}
	total := int64(6<<20 + len(huge))
	if min := int(total / (2 << 20)); scans < min || scans > min+2 {
		t.Errorf("baseline complete after %d scans of 2 MiB for %d bytes", scans, total)
	}
	for name, content := range files {
		if got, want := f.st.base[f.path(name)].Hash, sha([]byte(content)); got != want {
			t.Errorf("%s: hash %s, want %s", name, got, want)
		}
	}
	// A change of the big file, same size, mtime kept: found once hashed.
	f.rewrite("big/z-huge", "X"+huge[1:])
	var found []string
	for i := 0; i < 5 && len(found) == 0; i++ {
		found = f.changes(f.scan())
	}
	if !reflect.DeepEqual(found, []string{"changed big/z-huge: content"}) {
		t.Errorf("changes %q", found)
	}
}

// The state survives a restart: what is outstanding is reported again,
// unchanged files are not hashed again.
func TestWatchRestore(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"d"}, MaxBytes: 1 << 20}, map[string]string{"d/a": "a", "d/b": "b", "d/c": "c"})
	f.want(f.scan())
	f.write("d/a", "changed")
	os.Remove(f.path("d/b"))
	before := f.changes(f.scan())

	w, err := New(Config{Paths: []string{f.path("d")}, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	w.Restore(f.st.meta, f.st.base, f.st.seen)
	if got := len(w.Outstanding()); got != 2 {
		t.Errorf("restored %d outstanding changes, want 2", got)
	}
	f.w = w
	r := f.scan()
	if got := f.changes(r); !reflect.DeepEqual(got, before) {
		t.Errorf("after restore %q, before %q", got, before)
	}
	if r.Progress.PendingFiles != 0 {
		t.Errorf("after restore: %+v", r.Progress)
	}
}

// Paths added to or removed from the rules, exclusions and a new hash are
// taken into the baseline silently.
func TestWatchRulesChange(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"a"}, Exclude: []string{"*.swp"}},
		map[string]string{"a/x": "1", "a/x.swp": "s", "b/y": "2", "a/cache/z": "3"})
	f.want(f.scan())
	reload := func(cfg Config) {
		t.Helper()
		for i, p := range cfg.Paths {
			cfg.Paths[i] = f.path(p)
		}
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w.Restore(f.st.meta, f.st.base, f.st.seen)
		f.w = w
	}
	reload(Config{Paths: []string{"a", "b"}, Exclude: []string{"*.swp", f.path("a/cache")}})
	f.want(f.scan())
	if _, ok := f.st.base[f.path("b/y")]; !ok {
		t.Error("b/y is not in the baseline of the new path b")
	}
	if _, ok := f.st.base[f.path("a/cache/z")]; ok {
		t.Error("a/cache/z, now excluded, is still in the baseline")
	}
	reload(Config{Paths: []string{"a"}, Hash: HashBest})
	f.want(f.scan())
	if _, ok := f.st.base[f.path("a/x.swp")]; !ok {
		t.Error("a/x.swp, no longer excluded, is not in the baseline")
	}
	if h := f.st.base[f.path("a/x")].Hash; !strings.HasPrefix(h, "sha512:") {
		t.Errorf("a/x hash %s after hash: best", h)
	}
	if _, ok := f.st.base[f.path("b/y")]; ok {
		t.Error("b/y is still in the baseline after b left the rules")
	}
	f.write("a/x", "22")
	f.want(f.scan(), "changed a/x: content, size 1 -> 2")
}

// A listing cut short reports no removals.
func TestWatchTruncated(t *testing.T) {
	files := map[string]string{}
	for i := 0; i < 20; i++ {
		files[filepath.Join("d", string(rune('a'+i)))] = "x"
	}
	f := newFixture(t, Config{Paths: []string{"d"}}, files)
	f.want(f.scan())
	f.w.cfg.MaxFiles = 5
	r := f.scan()
	f.want(r)
	if !r.Progress.Truncated || r.Progress.Complete {
		t.Errorf("progress %+v", r.Progress)
	}
}

// Re-verification finds a change that kept every attribute (a write to the
// device, say), which only hashing again can see.
func TestWatchReverify(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"d"}}, map[string]string{"d/a": "aaaa", "d/b": "bbbb"})
	f.want(f.scan())
	// Pretend both the baseline and the last hash were of other content
	// with the same attributes.
	for _, m := range []map[string]*Entry{f.w.base, f.w.seen} {
		m[f.path("d/a")].Hash = sha([]byte("zzzz"))
	}
	f.want(f.scan(), "changed d/a: content")
}

// The walk and the hashing keep up with a file changing under them: a
// file written while it is hashed is hashed again later, not recorded
// with a hash of a mix of both.
func TestWatchFileChangesDuringHash(t *testing.T) {
	f := newFixture(t, Config{Paths: []string{"d"}, MaxBytes: 1 << 20, Update: true}, map[string]string{"d/a": strings.Repeat("a", 3<<20)})
	f.scan() // hashes the first MiB
	f.write("d/a", strings.Repeat("b", 3<<20))
	for i := 0; i < 5; i++ {
		f.scan()
	}
	if got, want := f.st.base[f.path("d/a")].Hash, sha([]byte(strings.Repeat("b", 3<<20))); got != want {
		t.Errorf("hash %s, want that of the new content %s", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Paths: []string{"relative"}},
		{Paths: []string{"/etc/[x"}},
		{Paths: []string{"/etc"}, Hash: "md5"},
		{Paths: []string{"/etc"}, Report: "some"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if !slices.Contains([]string{HashSHA256, HashSHA512}, (&Config{Hash: HashBest}).algorithm()) {
		t.Error("best is no algorithm")
	}
}
