package daemon

import (
	"sort"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/history"
	"github.com/logtally/logtally/interval"
	"github.com/logtally/logtally/state"
	"github.com/logtally/logtally/web"
)

// graph returns the function that reads the learned week and the last
// week's samples of measurement h, for its graph (web.MeasurementView).
func (d *Daemon) graph(h string) func() ([]history.SlotStat, []history.Sample) {
	return func() ([]history.SlotStat, []history.Sample) {
		d.mu.Lock()
		defer d.mu.Unlock()
		ms := d.eng.State(h)
		if ms == nil || ms.Base == nil {
			return nil, nil
		}
		var recent []history.Sample
		_ = d.store.View(func(tx *state.Tx) error {
			var err error
			recent, err = interval.RecentSamples(tx, d.interval, h, d.clock.Now())
			return err
		})
		return ms.Base.Week(), recent
	}
}

// View returns a snapshot of the running daemon for the status page and
// /metrics; see web.View.
func (d *Daemon) View() web.View {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	v := web.View{
		Now: now, Started: d.started, Build: d.cfg.Build, Rules: d.cfg.Rules, State: d.cfg.State,
		Interval: d.interval, IntervalStart: d.curStart,
	}
	if d.set == nil {
		return v
	}
	v.Host = d.set.Settings.Host
	v.KnownClasses = d.set.KnownClasses()
	positions := map[string][]web.FileView{}
	_ = d.store.View(func(tx *state.Tx) error {
		for _, h := range d.eng.Handles() {
			ms := d.eng.State(h)
			m := ms.Rule
			mv := web.MeasurementView{
				Handle: h, Description: m.Description, Units: m.Units,
				DataType: m.DataType, HistoryType: m.HistoryType,
				Total: ms.Total.Total, Lines: ms.Lines, Selected: ms.Cum.Selected,
				ExtractMisses: ms.Cum.ExtractMisses, Timeouts: ms.Cum.Timeouts, KeyRejects: ms.Cum.KeyRejects,
				Ignored: ms.Cum.Ignored,
			}
			if l := ms.Last; l != nil {
				mv.LastEnd, mv.Value, mv.Av, mv.Dev, mv.Z = l.End, l.Value, l.Av, l.Dev, l.Z
				mv.Classes, mv.TopKey = l.Classes, l.TopKey
				mv.Entropy = l.Entropy
				if t := l.KeyTable; t != nil {
					kv := &web.KeysView{Other: t.Other, OtherKeys: t.OtherKeys, Total: t.Total}
					for _, kc := range t.Top {
						kv.Top = append(kv.Top, web.KeyRow{Key: kc.Key, Count: kc.Count, Share: t.Share(kc.Count)})
					}
					mv.Keys = kv
				}
			}
			if ms.Base != nil {
				th := interval.Threshold(ms)
				mv.Threshold = &th
				if m.Budget != nil {
					mv.Budget = m.Budget.String()
				}
				mv.Graph = d.graph(h)
			}
			v.Measurements = append(v.Measurements, mv)
		}
		return tx.Ascend(prefixPos, func(k, val string) bool {
			var p follow.Position
			if decodeJSON(val, &p) == nil {
				src, path := splitPosKey(k)
				positions[src] = append(positions[src], web.FileView{Path: path, Dev: p.Dev, Ino: p.Ino, Offset: p.Offset})
			}
			return true
		})
	})
	srcs := make([]string, 0, len(d.streams))
	for src := range d.streams {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		s := d.streams[src]
		sv := web.StreamView{Source: src, Kind: string(s.kind), Files: positions[src],
			Down: s.down, DownSince: s.downSince, DownWhy: s.downWhy, Unavailable: s.unavailable}
		var stats []follow.SourceStats
		switch {
		case s.files != nil:
			for _, st := range s.files.Stats() {
				stats = append(stats, st)
			}
		case s.pipe != nil:
			stats = append(stats, s.pipe.Stats())
		case s.journal != nil:
			stats = append(stats, s.journal.Stats())
		}
		for _, st := range stats {
			sv.Lines += st.Lines
			sv.Bytes += st.Bytes
			sv.Cut += st.Cut
			sv.Rotations += st.Rotations
			sv.Truncations += st.Truncations
			sv.OpenErrors += st.OpenErrors
			sv.Restarts += st.Restarts
			sv.Kills += st.Kills
			sv.Losses += st.Losses
			sv.LostBytes += st.LostBytes
		}
		v.Streams = append(v.Streams, sv)
	}
	// An observable is a stream of its own: one reading per interval, a
	// failure counted as an open error.
	for _, m := range observables(d.set) {
		n, failed := d.observe.counts(m.Handle)
		v.Streams = append(v.Streams, web.StreamView{Source: "observe:" + m.Handle, Kind: string(interval.KindObserve),
			Lines: n, OpenErrors: failed})
	}
	for _, s := range d.senders {
		st := s.Stats()
		v.Outputs = append(v.Outputs, web.OutputView{Name: s.Name(), Sent: st.Sent, Failures: st.Failures,
			Invalid: st.Invalid, Depth: st.Depth, DroppedFull: st.DroppedFull, LastError: st.LastError})
	}
	v.Self = web.SelfView{Commits: d.stats.Commits, CommitFailures: d.stats.CommitFailures,
		Reloads: d.stats.Reloads, ReloadFailures: d.stats.ReloadFailures}
	if d.actions != nil {
		for _, c := range d.actions.Active() {
			v.Classes = append(v.Classes, web.ClassView{Name: c.Name, Until: c.Until})
		}
		recent := d.actions.Recent()
		for i := len(recent) - 1; i >= 0; i-- {
			r := recent[i]
			out := r.Stdout
			if r.Stderr != "" {
				out += r.Stderr
			}
			if r.Kind == "report" {
				out = r.Message
			}
			v.Runs = append(v.Runs, web.RunView{Handle: r.Handle, Kind: string(r.Kind), Guard: r.Guard, Argv: r.Argv,
				Start: r.Start, Duration: r.Duration, Exit: r.ExitCode, Err: r.Err, Output: out, DryRun: r.DryRun})
		}
		st := d.actions.Stats()
		v.Self.CommandRuns, v.Self.CommandFails, v.Self.Suppressed = st.Runs, st.Failures, st.Suppressed
	}
	return v
}

var _ web.Source = (*Daemon)(nil)
