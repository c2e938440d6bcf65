package web

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumDeadline bounds one run of the browser.
const chromiumDeadline = 90 * time.Second

// chromium returns the path of the browser, skipping the test when it is
// missing (failing it under CI, which installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (Debian package chromium)")
	}
	t.Skip("chromium is not installed (Debian package chromium)")
	return ""
}

// runChromium runs headless Chromium on url with extra flags and returns
// its standard output.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), chromiumDeadline)
	defer cancel()
	home := t.TempDir()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(home, "profile"),
	}, extra...)
	args = append(args, url)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("chromium did not finish within %v; stderr:\n%s", chromiumDeadline, stderr.Bytes())
		}
		t.Fatalf("chromium: %v; stderr:\n%s", err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// artifactDir is where screenshots are kept: $LOGTALLY_ARTIFACTS when set,
// else the test's temporary directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("LOGTALLY_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("artifacts: %v", err)
		}
		return d
	}
	return t.TempDir()
}

// serveFixture serves v on a loopback port for the length of the test and
// returns the page's URL.
func serveFixture(t *testing.T, v View) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(staticSource{v}, nil).ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

func TestChromium(t *testing.T) {
	bin := chromium(t)
	v := fixture(t)
	url := serveFixture(t, v)
	dir := artifactDir(t)

	t.Run("dom", func(t *testing.T) {
		raw := string(runChromium(t, bin, url, "--dump-dom"))
		// Long names carry <wbr> break opportunities; compare the text.
		dom := strings.ReplaceAll(raw, "<wbr>", "")
		for _, m := range v.Measurements {
			if !strings.Contains(dom, m.Handle) {
				t.Errorf("rendered DOM lacks measurement %s", m.Handle)
			}
		}
		for _, want := range []string{"ssh_username_probe_high_anomaly", "restart_milter", "/var/log/mail.log.1", "influxdb", `<img src="graph/ssh_username_probe.svg"`} {
			if !strings.Contains(dom, want) {
				t.Errorf("rendered DOM lacks %q", want)
			}
		}
		if strings.Contains(strings.ToLower(dom), "<script") {
			t.Error("rendered DOM has a script element")
		}
	})

	// minBand is how many pixels of the graphs' ±dev band (#9ecae1 at half
	// opacity on white) show that the SVG images were fetched and drawn;
	// about a fifth of what a correct page shows.
	for _, size := range []struct {
		name, window string
		minBand      int
	}{
		{"wide", "1280,2000", 1000},
		{"narrow", "390,2400", 80},
	} {
		t.Run("screenshot-"+size.name, func(t *testing.T) {
			file := filepath.Join(dir, "status-page-"+size.name+".png")
			runChromium(t, bin, url, "--window-size="+size.window, "--screenshot="+file)
			img := decodePNG(t, file)
			t.Logf("screenshot: %s (%dx%d)", file, img.Bounds().Dx(), img.Bounds().Dy())
			if colours := countColours(img, 64); colours < 16 {
				t.Errorf("screenshot has %d colours: blank or broken", colours)
			}
			n := countNear(img, [3]uint8{0xce, 0xe4, 0xf0}, 6)
			t.Logf("%d pixels of the graph band", n)
			if n < size.minBand {
				t.Errorf("only %d pixels of the graph band: the week graphs were not drawn", n)
			}
		})
	}
}

func decodePNG(t *testing.T, file string) image.Image {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", file, err)
	}
	return img
}

// countColours counts distinct colours in img, up to limit.
func countColours(img image.Image, limit int) int {
	seen := make(map[[3]uint32]bool)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// countNear counts pixels within tol of colour c in every channel.
func countNear(img image.Image, c [3]uint8, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(int(r>>8), int(c[0]), tol) && near(int(g>>8), int(c[1]), tol) && near(int(bl>>8), int(c[2]), tol) {
				n++
			}
		}
	}
	return n
}

func near(a, b, tol int) bool { return a-b <= tol && b-a <= tol }
