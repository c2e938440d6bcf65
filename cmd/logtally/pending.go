package main

import (
	"fmt"
	"io"
	"time"

	"github.com/logtally/logtally/measure"
	"github.com/logtally/logtally/rules"
)

func notYet(e *env, name string) int {
	fmt.Fprintf(e.stderr, "logtally %s: not built yet\n", name)
	return exitFailure
}

func cmdBacktest(e *env, args []string) int { return notYet(e, "backtest") }

func openPipeOnce(m *rules.Measurement, timeout time.Duration, stderr io.Writer) ([]measure.Input, error) {
	return nil, fmt.Errorf("pipes not built yet")
}
