package rules

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseOutputURL turns a destination given on the command line (--output)
// into an Output with the same validation and defaults as settings.outputs.
// "-" is stdout; a plain path is a file; URLs may carry the InfluxDB
// parameters in their query: db, rp, precision, org, bucket, gzip,
// batch_size, spool_size (e.g. http://127.0.0.1:8086/write?db=logtally).
// A v2 token is read from the environment by the caller, never from the
// command line, where any user could read it; token is its value.
func ParseOutputURL(raw, token string) (Output, error) {
	if raw == "" {
		return Output{}, errors.New("parse output: empty destination")
	}
	entry := map[string]any{}
	switch {
	case raw == "-":
		entry["url"] = "-"
	case !strings.Contains(raw, "://"):
		abs, err := filepath.Abs(raw)
		if err != nil {
			return Output{}, fmt.Errorf("parse output %s: %w", raw, err)
		}
		entry["url"] = "file://" + abs
	default:
		u, err := url.Parse(raw)
		if err != nil {
			return Output{}, fmt.Errorf("parse output %s: %w", raw, err)
		}
		q := u.Query()
		params := map[string]string{"db": "database", "database": "database", "rp": "retention_policy",
			"precision": "precision", "org": "org", "bucket": "bucket", "gzip": "gzip",
			"batch_size": "batch_size", "spool_size": "spool_size", "api": "api"}
		for k, vs := range q {
			key, ok := params[k]
			if !ok {
				return Output{}, fmt.Errorf("parse output %s: unknown parameter %q (known: db, rp, precision, org, bucket, gzip, batch_size, spool_size, api)", raw, k)
			}
			switch key {
			case "gzip":
				entry[key] = vs[0] == "true" || vs[0] == "1"
			case "batch_size", "spool_size":
				var n int
				if _, err := fmt.Sscan(vs[0], &n); err != nil {
					return Output{}, fmt.Errorf("parse output %s: %s: %w", raw, k, err)
				}
				entry[key] = n
			default:
				entry[key] = vs[0]
			}
		}
		if token != "" && (u.Scheme == "http" || u.Scheme == "https") {
			entry["token"] = token
		}
		u.RawQuery = ""
		entry["url"] = u.String()
	}
	doc, err := yaml.Marshal(map[string]any{"settings": map[string]any{"outputs": []any{entry}}})
	if err != nil {
		return Output{}, fmt.Errorf("parse output %s: %w", raw, err)
	}
	set, err := LoadBytes("--output.yaml", doc)
	if err != nil {
		var list ErrorList
		if errors.As(err, &list) {
			msgs := make([]string, len(list))
			for i, e := range list {
				m := e.Msg
				if e.Hint != "" {
					m += " (" + e.Hint + ")"
				}
				msgs[i] = strings.TrimPrefix(e.Key, "settings.outputs[0].") + ": " + m
			}
			return Output{}, fmt.Errorf("parse output %s: %s", raw, strings.Join(msgs, "; "))
		}
		return Output{}, fmt.Errorf("parse output %s: %w", raw, err)
	}
	out := set.Settings.Outputs[0]
	out.Pos = Pos{File: "--output"}
	return out, nil
}
