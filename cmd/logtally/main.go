// Command logtally tails log files and command output, counts the lines that
// rules select (or extracts numbers from them), learns what is normal for
// each measurement at each time of the week, sets classes that trigger
// remediation commands and reports, and writes every sample as InfluxDB line
// protocol.
//
// This package only parses the command line and wires the packages
// together; each subcommand lives in its own file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	_ "time/tzdata" // timezone: works on hosts without zone files

	"github.com/logtally/logtally/internal/buildinfo"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure
	exitInvalid = 2 // bad usage or invalid rules
)

// defaultRules is where rule files are read from unless --rules says
// otherwise.
const defaultRules = "/etc/logtally/rules.d"

// env is what a command may touch of the process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{"run", "follow every stream, sample each interval, commit, act", cmdRun},
		{"check", "validate rule files", cmdCheck},
		{"test", "run the rules once over files, stdin or commands", cmdTest},
		{"learn", "train the baselines from existing logs", cmdLearn},
		{"backtest", "replay logs or a series and show every class rise", cmdBacktest},
		{"graph", "write the learned week of each measurement as CSV and SVG", cmdGraph},
		{"status", "show positions, samples, baselines and classes from the state file", cmdStatus},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(dispatch(e, os.Args[1:]))
}

func dispatch(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitInvalid
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		if len(args) > 1 {
			return dispatch(e, []string{args[1], "--help"})
		}
		usage(e.stdout)
		return exitOK
	case "--version", "-version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "logtally: unknown command %q%s\n\n", name, suggest(name))
	usage(e.stderr)
	return exitInvalid
}

func suggest(name string) string {
	for _, c := range commands() {
		if strings.HasPrefix(c.name, name) || strings.HasPrefix(name, c.name) {
			return fmt.Sprintf(" (did you mean %q?)", c.name)
		}
	}
	return ""
}

func usage(w io.Writer) {
	fmt.Fprint(w, `logtally measures log streams: it counts the lines that rules select (or
extracts numbers from them), learns what is normal for each measurement at
each time of the week, sets classes that trigger commands and reports, and
writes every sample as InfluxDB line protocol.

Usage:
  logtally <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "logtally <command> --help" for a command's flags and an example.
Rules are read from `+defaultRules+` unless --rules says otherwise.
`)
}

// newFlags returns a FlagSet whose usage prints the command's description,
// its flags and its examples.
func newFlags(e *env, name, synopsis, description, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: logtally %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
		if examples != "" {
			fmt.Fprintf(w, "\nExamples:\n%s\n", strings.Trim(examples, "\n"))
		}
	}
	return fs
}

// parseFlags parses args; it returns false and the exit code when the
// command should stop: --help prints the usage on stdout (exit 0), a bad
// flag prints the error and the usage on stderr (exit 2).
func parseFlags(fs *flag.FlagSet, e *env, args []string) (int, bool) {
	usage := fs.Usage
	fs.Usage = func() {} // printed below, once, where it belongs
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	if err == nil {
		fs.SetOutput(e.stderr)
		return 0, true
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return exitOK, false
	}
	fs.SetOutput(e.stderr)
	fmt.Fprintf(e.stderr, "logtally %s: %v\n\n", fs.Name(), err)
	fs.Usage()
	return exitInvalid, false
}

func cmdVersion(e *env, args []string) int {
	fs := newFlags(e, "version", "", `
Print the version of logtally: the module version, the VCS revision it was
built from (and "modified" when the tree had uncommitted changes), and the
Go version. "logtally --version" prints the same.`, "  logtally version")
	if code, ok := parseFlags(fs, e, args); !ok {
		return code
	}
	fmt.Fprintf(e.stdout, "logtally %s\n", buildinfo.Read())
	return exitOK
}
