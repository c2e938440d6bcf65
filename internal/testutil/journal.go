package testutil

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// JournalField is one field of a journal entry in the export format.
type JournalField struct {
	Name, Value string
	// Binary writes the value length-prefixed, as the format requires for a
	// value with a newline.
	Binary bool
}

// EncodeExport writes entries in the journal export format, which
// journalctl --output=export writes and systemd-journal-remote reads.
func EncodeExport(entries ...[]JournalField) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		for _, f := range e {
			if !f.Binary {
				fmt.Fprintf(&b, "%s=%s\n", f.Name, f.Value)
				continue
			}
			b.WriteString(f.Name + "\n")
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], uint64(len(f.Value)))
			b.Write(n[:])
			b.WriteString(f.Value + "\n")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// WriteJournal appends entries to the journal file path, a real journal
// file written by systemd-journal-remote from the export format (Debian's
// systemd-journal-remote package).
func WriteJournal(t testing.TB, path string, entries ...[]JournalField) {
	t.Helper()
	remote := NeedTool(t, "systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote")
	in := filepath.Join(t.TempDir(), "in.export")
	if err := os.WriteFile(in, EncodeExport(entries...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(remote, "--output="+path, "--split-mode=none", in).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}
