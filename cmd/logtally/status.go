package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/logtally/logtally/daemon"
	"github.com/logtally/logtally/internal/num"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
)

// statusOpts are the flags of logtally status.
type statusOpts struct {
	state  string
	asJSON bool
}

func newStatusCmd(e *env) *cobra.Command {
	var o statusOpts
	cmd := newCommand("status [--state FILE] [--json]",
		"show positions, samples, baselines and classes from the state file", `
Show what the state file says, for a running or a stopped daemon (the file
is read from a private copy, without taking the daemon's lock): per stream,
the identity (device, inode) and position of each followed file; per
measurement, the last committed sample, with its baseline and classes, and
its total — the sum of every value committed since the state file began, so
that exactly-once counting can be checked from outside; and the classes set
at the last interval, with the time left on persistent ones.`, `
  logtally status
  logtally status --state /tmp/lt.db --json | jq '.measurements[] | {handle, total}'`,
		func(*cobra.Command, []string) int { return runStatus(e, o) })
	f := cmd.Flags()
	f.StringVar(&o.state, "state", defaultState(), "state file")
	f.BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runStatus(e *env, o statusOpts) int {
	store, err := state.OpenSnapshot(o.state)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally status: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	st, err := daemon.ReadStatus(store)
	if err != nil {
		fmt.Fprintf(e.stderr, "logtally status: %v\n", err)
		return exitFailure
	}
	for _, u := range st.Unusable {
		fmt.Fprintf(e.stderr, "logtally status: warning: the value of %s in %s does not decode (%s): not shown; logtally run drops it when it starts\n",
			strconv.Quote(u.Key), o.state, u.Err)
	}
	if o.asJSON {
		// Numbers as every machine output writes them (num.Round).
		for i := range st.Measurements {
			m := &st.Measurements[i]
			m.Total = num.Round(m.Total, num.Digits)
			if l := m.Last; l != nil {
				for _, p := range []**float64{&l.Value, &l.Av, &l.Dev, &l.Z, &l.Entropy} {
					if *p != nil {
						v := num.Round(**p, num.Digits)
						*p = &v
					}
				}
			}
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(e.stderr, "logtally status: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	printStatus(e.stdout, o.state, st)
	return exitOK
}

func printStatus(w io.Writer, path string, st *daemon.Status) {
	fmt.Fprintf(w, "state %s: interval %s, committed up to %s\n\n", path, orDash(st.Interval), fmtTime(st.CommittedEnd))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tFILE\tDEV:INODE\tOFFSET\t")
	for _, s := range st.Streams {
		if s.Cursor != "" {
			// A journal stream: where it resumes is a cursor, not a file.
			fmt.Fprintf(tw, "%s\t-\t-\tcursor %s\t\n", printable([]byte(s.Source)), printable([]byte(s.Cursor)))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d:%d\t%d\t\n", printable([]byte(s.Source)), printable([]byte(s.Path)), s.Dev, s.Ino, s.Offset)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, d := range st.Down {
		fmt.Fprintf(w, "stream %s DOWN since %s: %s\n", printable([]byte(d.Source)), fmtTime(d.Since), printable([]byte(d.Why)))
	}
	if len(st.Down) > 0 {
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\tLAST END\tVALUE\tAV\tDEV\tZ\tTOTAL\tSAMPLES\tCLASSES\t")
	for _, m := range st.Measurements {
		end, val, av, dev, z, classes := "-", "-", "-", "-", "-", ""
		if l := m.Last; l != nil {
			end = fmtTime(l.End)
			val, av, dev, z = fmtPtr(l.Value), fmtPtr(l.Av), fmtPtr(l.Dev), fmtPtr(l.Z)
			switch {
			case l.Partial:
				end += " (partial)"
			case l.Unavailable:
				end += " (unavailable)"
			}
			for i, c := range l.Classes {
				if i > 0 {
					classes += " "
				}
				classes += c
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", m.Handle, end, val, av, dev, z,
			num.Human(m.Total), m.Count, classes)
	}
	tw.Flush()
	// Text values and sets, which do not fit a column, as test prints them.
	for _, m := range st.Measurements {
		switch l := m.Last; {
		case l == nil:
		case l.Text != "":
			fmt.Fprintf(w, "%s: %s\n", m.Handle, printable([]byte(l.Text)))
		case l.Set != nil:
			fmt.Fprintf(w, "%s: %s\n", m.Handle, printable([]byte(orNone(l.Set))))
			if l.Unexpected != nil || l.Missing != nil {
				fmt.Fprintf(w, "%s: unexpected: %s; missing: %s\n", m.Handle, printable([]byte(orNone(l.Unexpected))), printable([]byte(orNone(l.Missing))))
			}
		}
	}
	fmt.Fprintln(w)
	for _, m := range st.Measurements {
		if m.Last != nil && m.Last.KeyTable != nil {
			printKeyTable(w, m.Handle, m.Last)
		}
	}
	printThresholds(w, st.Measurements)
	if len(st.Watches) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WATCH	FILES	BYTES	HASHED	OUTSTANDING	")
		for _, ws := range st.Watches {
			p := ws.Progress
			hashed := "complete"
			if !p.Complete {
				hashed = fmt.Sprintf("%d files, %d bytes to go", p.PendingFiles, p.PendingBytes)
				if p.Truncated {
					hashed = "listing cut at max_files"
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t\n", ws.Handle, p.Files, p.Bytes, hashed, ws.Outstanding)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(st.Classes) == 0 {
		fmt.Fprintln(w, "no class set at the last interval")
		return
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tPERSISTS\t")
	now := time.Now()
	for _, c := range st.Classes {
		left := "-"
		if !c.Until.IsZero() {
			left = "until " + fmtTime(c.Until)
			if d := c.Until.Sub(now); d > 0 {
				left += fmt.Sprintf(" (%s left)", d.Round(time.Second))
			} else {
				left += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", c.Name, left)
	}
	tw.Flush()
}

// printThresholds prints the adaptive anomaly thresholds of the
// measurements with an alarm budget: the threshold in force, the ideal
// thresholds it averages, and the period under way.
func printThresholds(w io.Writer, ms []daemon.MeasurementStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	n := 0
	for _, m := range ms {
		a := m.Threshold
		if a == nil {
			continue
		}
		if n == 0 {
			fmt.Fprintln(tw, "MEASUREMENT\tALARM BUDGET\tANOMALY THRESHOLD\tIDEALS (OLDEST FIRST)\tPERIOD FROM\tPEAKS\t")
		}
		n++
		ideals := "-"
		if len(a.Ideals) > 0 {
			parts := make([]string, len(a.Ideals))
			for i, v := range a.Ideals {
				parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
			}
			ideals = strings.Join(parts, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t\n", m.Handle, a.Budget, strconv.FormatFloat(a.Threshold, 'f', 2, 64),
			ideals, fmtTime(a.Period), len(a.Peaks))
	}
	if n > 0 {
		tw.Flush()
		fmt.Fprintln(w)
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "-"
	}
	return num.Human(*v)
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printKeyTable prints the key table of a measurement's last sample, as
// cfenvd's ShowState does: each of the most frequent keys with its count
// and share, the others summed, and the entropy of them all.
func printKeyTable(w io.Writer, handle string, l *interval.Sample) {
	t := l.KeyTable
	ent := "-"
	if l.Entropy != nil {
		ent = strconv.FormatFloat(*l.Entropy, 'f', 2, 64)
	}
	fmt.Fprintf(w, "keys of %s in the interval ending %s: %d lines from %d keys, entropy %s\n",
		handle, fmtTime(l.End), t.Total, len(t.Top)+t.OtherKeys, ent)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "KEY\tCOUNT\tSHARE\t")
	for _, kc := range t.Top {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t\n", printable([]byte(kc.Key)), kc.Count, 100*t.Share(kc.Count))
	}
	if t.OtherKeys > 0 {
		fmt.Fprintf(tw, "(%d others)\t%d\t%.1f%%\t\n", t.OtherKeys, t.Other, 100*t.Share(t.Other))
	}
	tw.Flush()
	fmt.Fprintln(w)
}
