package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/match"
	"github.com/logtally/logtally/rules"
)

func newCheckCmd(e *env) *cobra.Command {
	var path, commandPath string
	var strict bool
	var cmd *cobra.Command
	cmd = newCommand("check [--rules PATH] [--strict] [--command-path PATH]", "validate rule files", `
Validate rule files: every file of the rules directory (or the one file
given) is parsed and checked, and every error of every file is printed at
once as file:line:col: key: what is wrong (hint). Warnings (a pattern that
can backtrack catastrophically, shell: true, a class no rule sets, a
relative path, a $( that is no variable, a program the daemon could not
start) are printed once the files have no error. Exit status: 0 valid, 2
invalid (or, with --strict, any warning).

The program of a command, a page or a pipe stream is checked on this host
as the daemon would start it: an absolute path must be an executable file;
a name without a slash must be one in the daemon's PATH, which is not the
PATH of the shell check runs in. Under logtally's systemd unit it is
systemd's default for services (`+rules.ServicePATH+`); give another
with --command-path. A program missing from it but found in check's own
PATH is suggested as an absolute path. A program made of a run-time
variable is not checked; text from a log line never chooses one.

A line costs one shared search for the literal text of all rules, and only
the rules whose text is in it run. A rule whose select pattern has no such
text (one of at least 3 characters every selected line contains, such as
'Invalid user' in '.*sshd\[\d+\]: Invalid user .*') runs on every line:
check names those measurements.`, `
  logtally check
  logtally check --rules examples/rules
  logtally check --rules /etc/logtally/rules.d/ssh.yaml --strict`,
		func(*cobra.Command, []string) int {
			of := "the daemon's PATH under systemd (its default for services)"
			if cmd.Flags().Changed("command-path") {
				of = "the daemon's PATH (--command-path)"
			}
			return runCheck(e, path, strict, rules.ProgramPath{PATH: commandPath, Of: of, Suggest: os.Getenv("PATH")})
		})
	cmd.Flags().StringVar(&path, "rules", defaultRules, "rules directory or file")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as errors")
	cmd.Flags().StringVar(&commandPath, "command-path", rules.ServicePATH, "the PATH the daemon finds programs in")
	return cmd
}

func runCheck(e *env, path string, strict bool, programs rules.ProgramPath) int {
	set, err := rules.Load(path)
	if err != nil {
		printRuleErrors(e, err)
		return exitInvalid
	}
	set.CheckPrograms(programs)
	for _, w := range set.Warnings {
		fmt.Fprintln(e.stderr, w.String())
	}
	watches := ""
	if n := len(set.Watches); n > 0 {
		watches = ", " + num.Plural(n, "file watch", "file watches")
	}
	fmt.Fprintf(e.stdout, "%s: %s, %s%s, %s, %s, %s: OK", path, num.Plural(len(set.Files), "file"),
		num.Plural(len(set.Measurements), "measurement"), watches, num.Plural(len(set.Classes), "class", "classes"),
		num.Plural(len(set.Commands), "command"), num.Plural(len(set.Reports), "report"))
	if n := len(set.Warnings); n > 0 {
		fmt.Fprintf(e.stdout, " (%s)", num.Plural(n, "warning"))
	}
	fmt.Fprintln(e.stdout)
	if full := fullMatching(set); len(full) > 0 {
		fmt.Fprintf(e.stdout, "%d of %s %s no literal text every selected line contains, and %s matched on every line: %s\n",
			len(full), num.Plural(len(set.Measurements), "measurement"), map[bool]string{true: "has", false: "have"}[len(full) == 1],
			map[bool]string{true: "is", false: "are"}[len(full) == 1], strings.Join(full, ", "))
	}
	if strict && len(set.Warnings) > 0 {
		return exitInvalid
	}
	return exitOK
}

// printRuleErrors prints a rules.Load error, one line per problem.
func printRuleErrors(e *env, err error) {
	var list rules.ErrorList
	if errors.As(err, &list) {
		for _, re := range list {
			fmt.Fprintln(e.stderr, re.Error())
		}
		fmt.Fprintln(e.stderr, num.Plural(len(list), "error"))
		return
	}
	fmt.Fprintf(e.stderr, "logtally: %v\n", err)
}

// loadRules loads rules and prints errors and warnings; ok is false when the
// rules are invalid.
func loadRules(e *env, path string) (*rules.Set, bool) {
	set, err := rules.Load(path)
	if err != nil {
		printRuleErrors(e, err)
		return nil, false
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(e.stderr, w.String())
	}
	return set, true
}

// fullMatching returns the handles of the measurements whose select
// pattern has no literal for the shared prefilter: they are matched on
// every line of their stream.
func fullMatching(set *rules.Set) []string {
	groups, err := interval.Groups(set.Measurements, "", match.Options{Timeout: set.Settings.RegexTimeout})
	if err != nil {
		return nil // the rules compiled in Load; nothing to add
	}
	var out []string
	for _, g := range groups {
		for i, m := range g.Measurements {
			if len(g.Set().Describe(i).Prefilter) == 0 {
				out = append(out, m.Handle)
			}
		}
	}
	return out
}
