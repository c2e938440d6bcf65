package daemon

import (
	"context"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/interval"
)

// cutBudget is how long the end of an interval waits at most for the
// streams to read what was written before it, and for the observables to
// be read (not for those whose last reading took longer: they are not
// waited for at all). A stream that takes longer (its matcher, its command
// or its file is slow) is cut at the budget, and its interval committed
// late, on its own; so is an observable read later: one slow stream never
// delays another's commit, and a commit waits no longer than what it can
// have takes.
const cutBudget = 400 * time.Millisecond

// syncTimeout bounds the wait for a stream's follower to read what is
// readable: at start, at a reload, and at a shutdown.
const syncTimeout = 5 * time.Second

// cutAll ends the interval starting at start for every stream, each as
// soon as it has read what was written before the interval ended (files:
// a check of every file; whole files: the read of the interval), and all
// within budget: a stream not done by then is cut at once, with what it
// has. The waits run concurrently, so that a slow stream makes no other
// wait.
func (d *Daemon) cutAll(streams []*stream, start, next time.Time, budget time.Duration, maxLine int) {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	done := make(chan *stream, len(streams))
	for _, s := range streams {
		if !s.syncing.CompareAndSwap(false, true) {
			// Still reading for an earlier interval: cut at once.
			if s.kind == interval.KindWhole {
				s.begin(start)
				s.end(start, "the read of the previous interval was still going")
			}
			s.cut(start, next, reason(s, next))
			done <- s
			continue
		}
		go func() {
			defer s.syncing.Store(false)
			d.syncStream(ctx, s, start, maxLine)
			s.cut(start, next, reason(s, next))
			done <- s
		}()
	}
	timer := time.NewTimer(budget) // real time: a budget for real work
	defer timer.Stop()
	waited := 0
wait:
	for waited < len(streams) {
		select {
		case <-done:
			waited++
		case <-timer.C:
			break wait
		}
	}
	if waited == len(streams) {
		cancel()
		return
	}
	for _, s := range streams {
		s.cut(start, next, reason(s, next))
	}
	go func() {
		for ; waited < len(streams); waited++ {
			<-done
		}
		cancel()
	}()
}

// syncStream makes a stream read, for the interval starting at start,
// what there is to read at its end: a file stream checks every file; a
// whole-file stream reads its file.
func (d *Daemon) syncStream(ctx context.Context, s *stream, start time.Time, maxLine int) {
	switch s.kind {
	case interval.KindFile:
		if err := s.files.Sync(ctx); err != nil {
			d.log.Warn("sync", "stream", s.source, "err", err)
		}
	case interval.KindWhole:
		d.readWhole(s, start, maxLine)
	case interval.KindInterval:
		// The run ends by the interval's end (RunOnceUntil): waiting for
		// it lets a run that is killed there be committed with its
		// interval, unavailable, rather than late.
		s.mu.Lock()
		run := s.run
		s.mu.Unlock()
		if run != nil {
			select {
			case <-run:
			case <-ctx.Done():
			}
		}
	}
}

// readWhole reads a track_growing_file: false stream's whole file, as it is
// now, as the value of the interval starting at start — unless its
// ifelapsed has not passed, when the last reading stands. A read that takes
// longer than the stream's expireafter (DefaultSampleLimit) is abandoned:
// the interval is unavailable, and the stream is not read again until that
// read ends.
func (d *Daemon) readWhole(s *stream, start time.Time, maxLine int) {
	if !s.due(start) {
		s.skip(start)
		return
	}
	s.begin(start)
	if !s.running.CompareAndSwap(false, true) {
		s.end(start, "the read of an earlier interval is still going")
		return
	}
	s.sampledAt = start
	s.mu.Lock()
	g := s.group
	s.mu.Unlock()
	r := &wholeRead{fold: g.NewFold(s.interval), start: start}
	done := make(chan error, 1)
	go func() {
		defer s.running.Store(false)
		done <- follow.ReadWhole(s.path, maxLine, r)
	}()
	// A bound on a read, not a time of the schedule: the real clock.
	limit := s.expireAfter()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			d.log.Debug("read whole file", "stream", s.source, "err", err)
			s.end(start, err.Error())
			return
		}
	case <-timer.C:
		s.end(start, "the read expired after "+limit.String())
		return
	}
	s.mu.Lock()
	if b := r.fold.Buckets[start.Unix()]; b != nil {
		s.fold.Bucket(start).Merge(s.group, b, g)
	}
	s.mu.Unlock()
	s.end(start, "")
}

// syncFiles waits (bounded) until every file follower has read what is
// readable now: at start and after a reload, so that every file is open,
// and its position fixed, before the daemon says so.
func (d *Daemon) syncFiles() {
	d.mu.Lock()
	streams := d.sortedStreams()
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	done := make(chan struct{}, len(streams))
	n := 0
	for _, s := range streams {
		if s.kind != interval.KindFile {
			continue
		}
		n++
		go func() {
			if err := s.files.Sync(ctx); err != nil {
				d.log.Warn("sync", "stream", s.source, "err", err)
			}
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
}

// startIntervalCommands starts, for the interval starting at start, each
// interval command that is due (ifelapsed) and not still running from the
// previous interval: its output belongs to that interval, and it is killed
// at its timeout or at the interval's end, whichever comes first, so that
// it never takes the next interval's run from it. An interval without a
// run of its command (when it was due), a run that fails, cannot start or
// is killed, is unavailable.
func (d *Daemon) startIntervalCommands(start time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.streams {
		if s.kind != interval.KindInterval {
			continue
		}
		if !s.due(start) {
			s.skip(start) // ifelapsed: the last output stands
			continue
		}
		if !s.running.CompareAndSwap(false, true) {
			s.begin(start)
			s.end(start, "the run of the previous interval was still going")
			continue
		}
		s.sampledAt = start
		s.begin(start)
		run := make(chan struct{})
		s.mu.Lock()
		s.run = run
		s.mu.Unlock()
		end := start.Add(d.interval)
		d.wg.Add(1)
		go func(s *stream) {
			defer d.wg.Done()
			why := ""
			if err := s.pipe.RunOnceUntil(d.followCtx, stamped{s, start}, end); err != nil {
				why = err.Error()
				switch {
				case d.followCtx.Err() != nil:
				case s.quiet.Load(): // the outage is logged already
					d.log.Debug("interval command failed", "stream", s.source, "err", err)
				default:
					// The interval is unavailable: its outage is the one
					// warning, with this as its reason, at its end.
					d.log.Info("interval command failed", "stream", s.source, "err", err)
				}
			}
			s.end(start, why)
			s.running.Store(false)
			close(run)
		}(s)
	}
}

// wholeRead folds a file read whole into a fold of its own, so that a read
// that is abandoned touches nothing of the stream.
type wholeRead struct {
	fold  *interval.Fold
	start time.Time
}

func (r *wholeRead) Batch(b *follow.Batch) {
	for _, l := range b.Lines {
		r.fold.Line(l.Data, l.Cut, interval.Live(r.start))
	}
}

func (r *wholeRead) Event(follow.Event) {}
