package actions

import (
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"syscall"
	"time"
)

// deliver delivers reports in order, one goroutine per Execute, one
// delivery at a time across them.
func (e *Engine) deliver(reports []Firing) {
	r := e.r
	defer r.done()
	r.reportMu.Lock()
	defer r.reportMu.Unlock()
	for _, f := range reports {
		rec := RunRecord{Kind: KindReport, Handle: f.Handle, Key: f.Key, Guard: f.Guard, Message: f.Message, To: f.To,
			Start: time.Now(), ExitCode: -1, Outcome: OutcomeOK}
		if err := e.deliverOne(f); err != nil {
			rec.Outcome = OutcomeFailed
			rec.Err = err.Error()
			var fb *fallbackError
			switch {
			case !errors.As(err, &fb):
				e.log.Error("actions: report not delivered", "handle", f.Handle, "to", f.To, "err", err)
			case !r.syslogDown:
				// Once per outage: a host without a syslog daemon (a
				// container, a CI machine) is not an error per report.
				r.syslogDown = true
				e.log.Warn("actions: syslog cannot be reached: reports to syslog are written to stderr until it can", "handle", f.Handle, "err", fb.err)
			default:
				e.log.Debug("actions: report to syslog written to stderr", "handle", f.Handle, "err", fb.err)
			}
		} else if f.To == "syslog" && r.syslogDown {
			r.syslogDown = false
			e.log.Info("actions: syslog reached again: reports to syslog go there", "handle", f.Handle)
		}
		rec.Duration = time.Since(rec.Start)
		r.mu.Lock()
		if rec.Outcome == OutcomeOK {
			r.stats.Reports++
		} else {
			r.stats.ReportErrors++
		}
		r.record(rec)
		r.mu.Unlock()
	}
}

// deliverOne writes one report where it goes; r.reportMu is held.
func (e *Engine) deliverOne(f Firing) error {
	line := f.Time.UTC().Format(time.RFC3339) + " " + f.Handle + ": " + f.Message + "\n"
	switch f.To {
	case "stderr":
		if _, err := io.WriteString(e.opts.Stderr, line); err != nil {
			return fmt.Errorf("write report to stderr: %w", err)
		}
		return nil
	case "syslog":
		err := e.r.syslog(e.opts.SyslogNetwork, e.opts.SyslogAddr, f.Handle+": "+f.Message)
		if err == nil {
			return nil
		}
		if _, werr := io.WriteString(e.opts.Stderr, line); werr != nil {
			return fmt.Errorf("%w; write report to stderr: %w", err, werr)
		}
		return &fallbackError{err}
	default:
		return appendLine(f.To, line)
	}
}

// fallbackError is a report to syslog that could not reach it and was
// written to stderr instead.
type fallbackError struct{ err error }

func (e *fallbackError) Error() string { return e.err.Error() + " (written to stderr instead)" }
func (e *fallbackError) Unwrap() error { return e.err }

// syslog sends msg at daemon.warning, dialling (again) when needed.
func (r *runner) syslog(network, addr, msg string) error {
	key := network + "\x00" + addr
	var err error
	for range 2 {
		if r.sl == nil || r.slKey != key {
			if r.sl != nil {
				r.sl.Close()
				r.sl = nil
			}
			w, derr := syslog.Dial(network, addr, syslog.LOG_WARNING|syslog.LOG_DAEMON, "logtally")
			if derr != nil {
				return fmt.Errorf("report to syslog: %w", derr)
			}
			r.sl, r.slKey = w, key
		}
		if err = r.sl.Warning(msg); err == nil {
			return nil
		}
		r.sl.Close()
		r.sl = nil
	}
	return fmt.Errorf("report to syslog: %w", err)
}

// appendLine appends line to the report file at path.
func appendLine(path, line string) error { return appendFile(path, []byte(line), "report file") }

// appendFile appends b to the file at path in one write, creating it with
// mode 0640 (less the umask); what names the file in errors. The file is
// opened for each write so that a rotated file is followed without a
// signal; opening does not block on a FIFO, and anything but a regular
// file is refused.
func appendFile(path string, b []byte, what string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0o640)
	if err != nil {
		return fmt.Errorf("open %s: %w", what, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	if err == nil {
		_, err = f.Write(b)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s %s: %w", what, path, err)
	}
	return nil
}
