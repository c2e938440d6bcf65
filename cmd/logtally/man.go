package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/logtally/logtally/internal/buildinfo"
)

// manSections follow the description in logtally(8): what a sysadmin looks
// for in a daemon's page beyond its flags. They are markdown, as cobra's
// man page generator takes it.
const manSections = `

# FILES
**/etc/logtally/rules.d/*.yaml** (also *.yml, *.toml, *.json)
: The rule files, read in name order; hidden files and editor or package
leftovers (*~, *.dpkg-old, *.rpmnew) are skipped. The package installs the
examples there as *.yaml.disabled: rename one to enable it.

**/var/lib/logtally/state.db**
: The state file of root's daemon (./logtally.db for another user):
positions, baselines, persistent classes, command locks and the output spool.
Its directory is created when missing (mode 0750); the directory of another
--state must exist.

# SIGNALS
**SIGHUP**
: logtally run reloads the rules; on any error the running rules stay.

**SIGTERM**, **SIGINT**
: logtally run closes the current interval, commits it and exits 0.

# ENVIRONMENT
**LOGTALLY_INFLUX_TOKEN**
: The token of an InfluxDB 2.x destination given with --output.

# EXIT STATUS
0 on success; 1 on a runtime failure; 2 on a mistake on the command line or
invalid rules (and, for check --strict, on any warning).

# DOCUMENTATION
The rule reference, every key of every section with its type, default and an
example: /usr/share/doc/logtally/rules.md (docs/rules.md in the source).
`

func newManCmd(e *env) *cobra.Command {
	cmd := newCommand("man DIR", "write the man pages", `
Write the man pages of logtally to DIR: logtally(8) and one page per
command, logtally-run(8) and so on, generated from the same definitions as
--help. Packages run it at build time.`, "  logtally man /tmp/man && man -l /tmp/man/logtally.8",
		func(cmd *cobra.Command, args []string) int {
			if err := writeMan(cmd.Root(), args[0]); err != nil {
				fmt.Fprintf(e.stderr, "logtally man: %v\n", err)
				return exitFailure
			}
			return exitOK
		})
	cmd.Args = cobra.ExactArgs(1)
	cmd.ValidArgsFunction = nil
	cmd.Hidden = true
	return cmd
}

// writeMan writes the man pages of the tree under root to dir. The date is
// that of the commit the binary was built from, so that the same commit
// gives the same pages.
func writeMan(root *cobra.Command, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write man pages: %w", err)
	}
	bi := buildinfo.Read()
	date := time.Now()
	if t, err := time.Parse(time.RFC3339, bi.Time); err == nil {
		date = t
	}
	root.Long += "\n\n# COMMANDS\n"
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			root.Long += fmt.Sprintf("**%s**\n: %s; see **logtally-%s**(8).\n\n", c.Name(), c.Short, c.Name())
		}
	}
	root.Long += manSections
	root.DisableAutoGenTag = true
	// The footer holds the source, the date and the page's title in 80
	// columns: a short version, not a 48-character pseudo-version.
	header := doc.GenManHeader{Section: "8", Date: &date, Source: "logtally " + bi.Short(), Manual: "System Administration"}
	return writeManTree(root, header, dir)
}

// writeManTree writes the page of c and of every command under it.
func writeManTree(c *cobra.Command, header doc.GenManHeader, dir string) error {
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() && !sub.IsAdditionalHelpTopicCommand() {
			if err := writeManTree(sub, header, dir); err != nil {
				return err
			}
		}
	}
	var page bytes.Buffer
	header.Title = "" // each page's own, from its command path
	if err := doc.GenMan(c, &header, &page); err != nil {
		return fmt.Errorf("write man page of %s: %w", c.CommandPath(), err)
	}
	path := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".8")
	if err := os.WriteFile(path, minusSigns(page.Bytes()), 0o644); err != nil {
		return fmt.Errorf("write man page: %w", err)
	}
	return nil
}

// minusSigns writes the hyphens of the text lines of a roff page as \-, so
// that flags such as --rules print as ASCII minus signs, which a reader can
// copy into a shell, rather than as typographic hyphens.
func minusSigns(page []byte) []byte {
	lines := bytes.SplitAfter(page, []byte("\n"))
	var out bytes.Buffer
	for _, l := range lines {
		if len(l) > 0 && (l[0] == '.' || l[0] == '\'') {
			out.Write(l) // a request: its arguments are not text
			continue
		}
		for i, c := range l {
			if c == '-' && (i == 0 || l[i-1] != '\\') {
				out.WriteString("\\-")
				continue
			}
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}
