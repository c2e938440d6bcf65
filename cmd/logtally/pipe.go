package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/logtally/logtally/follow"
	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/rules"
)

// collector gathers a command's output lines for a one-shot evaluation.
type collector struct {
	buf    bytes.Buffer
	stderr io.Writer
}

func (c *collector) Batch(b *follow.Batch) {
	for _, l := range b.Lines {
		c.buf.Write(l.Data)
		c.buf.WriteByte('\n')
	}
}

func (c *collector) Event(e follow.Event) {
	if e.Kind == follow.EventExit && e.Err == nil {
		return
	}
	fmt.Fprintf(c.stderr, "logtally test: %s\n", e.String())
}

// openPipeOnce runs a pipe measurement's command once, without a shell and
// with a time limit, and returns its output as the stream.
func openPipeOnce(m *rules.Measurement, timeout time.Duration, stderr io.Writer) ([]measure.Input, error) {
	p, err := follow.NewPipe(follow.PipeConfig{Argv: m.Command, Mode: rules.PipeInterval, Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("run %v: %w", m.Command, err)
	}
	c := &collector{stderr: stderr}
	if err := p.RunOnce(context.Background(), c); err != nil {
		return nil, fmt.Errorf("run %v: %w", m.Command, err)
	}
	return []measure.Input{{Name: p.Source(), R: io.NopCloser(&c.buf)}}, nil
}
