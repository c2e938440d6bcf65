package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadBytes measures loading the full example in each format.
func BenchmarkLoadBytes(b *testing.B) {
	for _, name := range []string{"full.yaml", "full.toml", "full.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", "full", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := LoadBytes(name, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoad1000Rules measures loading the 1000 rules of
// bench/rules.sh, one per source address.
func BenchmarkLoad1000Rules(b *testing.B) {
	var data []byte
	data = append(data, "measurements:\n"...)
	for k := range 1000 {
		data = fmt.Appendf(data, "  - handle: failed_from_%04d\n    path: /var/log/auth.log\n", k)
		data = fmt.Appendf(data, "    select_line_matching: '.*sshd\\[\\d+\\]: Failed password for .* from 198\\.18\\.%d\\.%d port \\d+ ssh2'\n", k/256, k%256)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		set, err := LoadBytes("rules.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		if len(set.Measurements) != 1000 {
			b.Fatalf("%d measurements", len(set.Measurements))
		}
	}
}
