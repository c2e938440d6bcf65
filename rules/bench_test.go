package rules

import (
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
