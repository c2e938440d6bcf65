package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/cfengine"
	"github.com/logtally/logtally/cfimport"
	"github.com/logtally/logtally/internal/num"
)

func newImportCFCmd(e *env) *cobra.Command {
	var out string
	cmd := newCommand("import-cf FILE.cf... [--output FILE]", "convert CFEngine 3 monitoring policy into a rule file", `
Convert the monitoring part of CFEngine 3 policy files into one logtally
rule file: measurements: promises with their match_value and action
bodies; classes: promises built on the classes measurements set, or
comparing a measurement's $(mon.value_h) with a number or another
variable (isgreaterthan, islessthan); and the reports: and commands:
those classes or comparisons guard. A class of one of
cfenvd's observables (www_in_high_anomaly) adds it to observe:.
Variables, lists (one promise per value), arrays, body parameters and
canonify() are resolved as cf-agent resolves them. Each converted item
says in a comment which file and line it comes from.

Whatever is not converted, or is converted without part of its meaning, is
listed on stderr as file:line:col: what: why. The rule file goes to
stdout, or to --output. Check it with logtally check, try it with
logtally test. docs/import-cf.md says what is converted into what, and
what is not yet. Exit status: 0 all converted, 1 something listed, 2 a
file that cannot be read or parsed (the others are still converted).`, `
  logtally import-cf /var/cfengine/masterfiles/services/watch.cf
  logtally import-cf watch.cf thresholds.cf --output /etc/logtally/rules.d/cfengine.yaml
  logtally import-cf watch.cf lib/monitor.cf -o cf.yaml && logtally check --rules cf.yaml`,
		func(_ *cobra.Command, args []string) int { return runImportCF(e, args, out) })
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.ValidArgsFunction = func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"cf"}, cobra.ShellCompDirectiveFilterFileExt
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the rule file here instead of stdout")
	return cmd
}

func runImportCF(e *env, files []string, out string) int {
	pol := &cfengine.Policy{}
	bad := 0
	for _, f := range files {
		p, err := cfengine.ParseFile(f)
		if err != nil {
			bad++
			var pe *cfengine.Error
			if errors.As(err, &pe) {
				fmt.Fprintf(e.stderr, "%v: the file is not converted\n", pe)
			} else {
				fmt.Fprintf(e.stderr, "logtally import-cf: %v\n", err)
			}
			continue
		}
		pol.Merge(p)
	}
	res := cfimport.Convert(pol)
	if out == "" {
		if _, err := e.stdout.Write(res.YAML); err != nil {
			fmt.Fprintf(e.stderr, "logtally import-cf: %v\n", err)
			return exitFailure
		}
	} else if err := os.WriteFile(out, res.YAML, 0o644); err != nil {
		fmt.Fprintf(e.stderr, "logtally import-cf: write rules: %v\n", err)
		return exitFailure
	}
	counts := map[string]int{}
	for _, it := range res.Items {
		fmt.Fprintln(e.stderr, it.String())
		counts[it.Verdict]++
	}
	fmt.Fprintf(e.stderr, "converted %s, %s, %s, %s", num.Plural(res.Measurements, "measurement"),
		num.Plural(res.Classes, "class", "classes"), num.Plural(res.Commands, "command"), num.Plural(res.Reports, "report"))
	if res.Observables > 0 {
		fmt.Fprintf(e.stderr, ", with %s", num.Plural(res.Observables, "observable"))
	}
	fmt.Fprintf(e.stderr, "; listed: %d not converted, %d converted in part, %d assumed",
		counts[cfimport.NotConverted], counts[cfimport.Partly], counts[cfimport.Assumed])
	if bad > 0 {
		fmt.Fprintf(e.stderr, "; %s not read", num.Plural(bad, "file"))
	}
	fmt.Fprintln(e.stderr)
	switch {
	case bad > 0:
		return exitInvalid
	case len(res.Items) > 0:
		return exitFailure
	}
	return exitOK
}
