// Command logtally tails log files and command output, counts the lines that
// rules select (or extracts numbers from them), learns what is normal for
// each measurement at each time of the week, sets classes that trigger
// remediation commands and reports, and writes every sample as InfluxDB line
// protocol.
//
// This package only parses the command line and wires the packages
// together; each subcommand lives in its own file. The command tree is
// built with cobra, so that --help, the man pages (`logtally man`) and the
// shell completions (`logtally completion`) come from the same definitions.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // timezone: works on hosts without zone files

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/logtally/logtally/internal/buildinfo"
	"github.com/logtally/logtally/rules"
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

// exitCode ends a command with that status; the command has printed its
// own messages.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	os.Exit(dispatch(e, os.Args[1:]))
}

// dispatch runs the command line args and returns the exit status: that of
// the command, or exitInvalid with the error and the usage on stderr for a
// mistake on the command line.
func dispatch(e *env, args []string) int {
	root := newRoot(e)
	root.SetArgs(longFlags(root, args))
	cmd, err := root.ExecuteC()
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	name := "logtally"
	if cmd != nil && cmd != root {
		name += " " + cmd.Name()
	} else {
		cmd = root
	}
	fmt.Fprintf(e.stderr, "%s: %v\n\n", name, err)
	writeUsage(e.stderr, cmd)
	return exitInvalid
}

// newRoot builds the command tree.
func newRoot(e *env) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "logtally",
		Short: "measure log streams, learn what is normal, act on what is not",
		Long: `logtally measures log streams: it counts the lines that rules select (or
extracts numbers from them), learns what is normal for each measurement at
each time of the week, sets classes that trigger commands and reports, and
writes every sample as InfluxDB line protocol.

Rules are read from ` + defaultRules + ` unless --rules says otherwise;
they are described in docs/rules.md.`,
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				fmt.Fprintf(e.stdout, "logtally %s\n", buildinfo.Read())
				return nil
			}
			writeUsage(e.stderr, cmd)
			return exitCode(exitInvalid)
		},
	}
	root.Flags().BoolVar(&showVersion, "version", false, "print the version and exit")
	root.InitDefaultHelpFlag()
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { writeUsage(c.OutOrStdout(), c) })
	root.SetUsageFunc(func(c *cobra.Command) error { writeUsage(c.OutOrStderr(), c); return nil })
	root.SuggestionsMinimumDistance = 2
	root.AddCommand(
		newRunCmd(e),
		newCheckCmd(e),
		newTestCmd(e),
		newLearnCmd(e),
		newBacktestCmd(e),
		newGraphCmd(e),
		newStatusCmd(e),
		newNoticesCmd(e),
		newSurveyCmd(e),
		newAcceptCmd(e),
		newVersionCmd(e),
		newManCmd(e),
		newImportCFCmd(e),
	)
	// cobra's own commands, with texts in the voice of the others.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Short = "print the help of a command"
		case "completion":
			c.Short = "write the shell completion script for bash, zsh or fish"
			// A daemon for Unix hosts: no PowerShell script (nor its
			// page in the man tree).
			for _, sh := range c.Commands() {
				if sh.Name() == "powershell" {
					c.RemoveCommand(sh)
				}
			}
		}
	}
	return root
}

// newCommand returns a subcommand. use is its name and synopsis, long its
// description, example its examples; run returns the exit status. The
// command takes no arguments unless the caller sets Args.
func newCommand(use, short, long, example string, run func(cmd *cobra.Command, args []string) int) *cobra.Command {
	return &cobra.Command{
		Use:                   use,
		Short:                 short,
		Long:                  strings.TrimSpace(long),
		Example:               strings.Trim(example, "\n"),
		DisableFlagsInUseLine: true,
		Args:                  noArgs,
		ValidArgsFunction:     cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := run(cmd, args); code != exitOK {
				return exitCode(code)
			}
			return nil
		},
	}
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	for _, flag := range []string{"log", "rules", "state"} {
		if cmd.Flags().Lookup(flag) != nil {
			return fmt.Errorf("unexpected argument %q: %s takes only flags (did you mean --%s %s?)", args[0], cmd.CommandPath(), flag, args[0])
		}
	}
	return fmt.Errorf("unexpected argument %q: %s takes only flags", args[0], cmd.CommandPath())
}

// intervalFlag is a --interval flag: a duration held, when given, to
// what settings.interval must be (rules.CheckInterval), so that
// "--interval 0s" or "500ms" is refused rather than taken for the default
// or run at a width no baseline can have. Zero, its default, means the
// command's own default.
type intervalFlag struct{ d *time.Duration }

func (f intervalFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f intervalFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a duration (e.g. 1m, 5m, 1h)")
	}
	if why, hint := rules.CheckInterval(d); why != "" {
		return fmt.Errorf("%s (%s)", why, hint)
	}
	*f.d = d
	return nil
}

func (intervalFlag) Type() string { return "duration" }

// addIntervalFlag adds --interval, an intervalFlag, to fs.
func addIntervalFlag(fs *pflag.FlagSet, d *time.Duration, usage string) {
	fs.Var(intervalFlag{d}, "interval", usage)
}

// completeWords completes a flag's value from a fixed list.
func completeWords(cmd *cobra.Command, flag string, words ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp))
}

// writeUsage prints a command's help: synopsis, description, flags and
// examples; for the root, the list of commands.
func writeUsage(w io.Writer, c *cobra.Command) {
	if !c.HasParent() {
		fmt.Fprintf(w, "%s\n\nUsage:\n  logtally <command> [flags]\n\nCommands:\n", c.Long)
		var listed []*cobra.Command
		width := 0
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				listed = append(listed, sub)
				width = max(width, len(sub.Name()))
			}
		}
		for _, sub := range listed {
			fmt.Fprintf(w, "  %-*s  %s\n", width, sub.Name(), sub.Short)
		}
		fmt.Fprintf(w, "\nFlags:\n%s\nRun \"logtally <command> --help\" for a command's flags and an example.\n", c.LocalFlags().FlagUsages())
		return
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags:\n%s", c.UseLine(), c.Long, c.LocalFlags().FlagUsages())
	if c.Example != "" {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
}

// longFlags accepts the single-dash spelling of long flags (-rules,
// -rules=PATH) that earlier versions took, by rewriting them to the
// double-dash one (--rules) the help shows. Arguments after "--" are left
// alone, and so is anything that is not the name of a flag.
func longFlags(root *cobra.Command, args []string) []string {
	names := map[string]bool{"help": true}
	var visit func(*cobra.Command)
	visit = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if len(name) > 1 && names[name] {
			out[i] = "-" + a
		}
	}
	return out
}

func newVersionCmd(e *env) *cobra.Command {
	return newCommand("version", "print the version", `
Print the version of logtally: the module version, the VCS revision it was
built from (and "modified" when the tree had uncommitted changes), and the
Go version. "logtally --version" prints the same.`, "  logtally version",
		func(*cobra.Command, []string) int {
			fmt.Fprintf(e.stdout, "logtally %s\n", buildinfo.Read())
			return exitOK
		})
}
