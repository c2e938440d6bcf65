// Package rules loads, validates and expands logtally's rule files: the
// measurements to take from log streams, the user classes built from class
// expressions, the commands and reports those classes trigger, and the
// global settings. Files are YAML, TOML or JSON; every problem is reported
// with file:line:col, the key, what is wrong and a hint, and all problems
// of all files are reported at once.
package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	kmaps "github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/v2"
	gotoml "github.com/pelletier/go-toml/v2"
	yamlv3 "gopkg.in/yaml.v3"
)

// ruleExts are the extensions of rule files in a directory.
var ruleExts = []string{".yaml", ".yml", ".toml", ".json"}

// leftoverSuffixes mark editor and package-manager leftovers that must not
// be loaded even when they carry a rule file extension.
var leftoverSuffixes = []string{"~", ".swp", ".swo", ".bak", ".orig", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".rpmnew", ".rpmsave", ".rpmorig", ".ucf-old", ".ucf-dist"}

// isRuleFile reports whether a directory entry name is a rule file.
func isRuleFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") {
		return false
	}
	for _, s := range leftoverSuffixes {
		if strings.HasSuffix(name, s) {
			return false
		}
	}
	return slices.Contains(ruleExts, strings.ToLower(filepath.Ext(name)))
}

// Load loads a rule file, or every *.yaml, *.yml, *.toml and *.json file of
// a directory (not recursively, sorted by name, skipping hidden files and
// editor or package leftovers such as *~, *.swp, *.dpkg-old, *.rpmnew). It
// returns the Set, or an ErrorList with every error of every file.
// Warnings are in Set.Warnings.
func Load(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, ErrorList{{Pos: Pos{File: path}, Msg: fmt.Sprintf("load rules: %v", unwrapPath(err))}}
	}
	if !fi.IsDir() {
		data, rerr := readRuleFile(path)
		if rerr != nil {
			return nil, ErrorList{rerr}
		}
		l := newLoader()
		l.file(path, data)
		return l.finish()
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, ErrorList{{Pos: Pos{File: path}, Msg: fmt.Sprintf("read rules directory: %v", unwrapPath(err))}}
	}
	l := newLoader()
	for _, e := range entries { // sorted by name
		if !isRuleFile(e.Name()) {
			continue
		}
		name := filepath.Join(path, e.Name())
		fi, err := os.Stat(name) // follows symlinks
		switch {
		case err != nil:
			l.s.errs = append(l.s.errs, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("read rules: %v", unwrapPath(err))})
			continue
		case !fi.Mode().IsRegular():
			continue
		}
		data, rerr := readRuleFile(name)
		if rerr != nil {
			l.s.errs = append(l.s.errs, rerr)
			continue
		}
		l.file(name, data)
	}
	if len(l.set.Files) == 0 && len(l.s.errs) == 0 {
		l.s.warns = append(l.s.warns, Warning{Pos: Pos{File: path}, Msg: "no rule files (*.yaml, *.yml, *.toml, *.json)"})
	}
	return l.finish()
}

// unwrapPath drops the *PathError wrapper, whose path the Error already
// names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LoadBytes parses and validates the content of one rule file. name is used
// in positions and picks the format by its extension (.toml, .json; YAML
// otherwise, so "-" for standard input reads YAML).
func LoadBytes(name string, data []byte) (*Set, error) {
	l := newLoader()
	l.file(name, data)
	return l.finish()
}

// format returns the format of a file by its extension.
func format(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".toml":
		return "toml"
	case ".json":
		return "json"
	default:
		return "yaml"
	}
}

// parse decodes one file with koanf's parsers and indexes its positions,
// once its size and nesting are within bounds (bounds.go). On failure it
// returns the parse error with the best position either parser gives.
//
// The map is decoded once and used as decoded: the loader reads each
// file's map once and never shares it, so what a koanf.Koanf instance adds
// to a parser (merging into its own map, a flattened copy of the keys,
// and the deep copy Raw returns, together more than the decoding of a
// file of 1000 rules) would be work without a use. The one normalisation
// koanf's Load makes is kept: the keys of nested maps become strings
// (maps.IntfaceKeysToStrings), as with every format koanf loads.
func parse(name string, data []byte) (raw map[string]any, ix *posIndex, perr *Error) {
	defer func() {
		if r := recover(); r != nil {
			raw, ix, perr = nil, nil, &Error{Pos: Pos{File: name}, Msg: fmt.Sprintf("cannot parse: %v", r)}
		}
	}()
	if perr = checkSize(name, data); perr != nil {
		return nil, nil, perr
	}
	if perr = scanDepth(name, data); perr != nil {
		return nil, nil, perr
	}
	var err error
	switch format(name) {
	case "toml":
		if ix, perr = indexTOML(name, data); perr != nil {
			return nil, nil, perr
		}
		raw, err = decodeWith(toml.Parser(), data)
	case "json":
		// encoding/json's errors have exact offsets: decode first.
		if raw, err = decodeWith(json.Parser(), data); err != nil {
			break
		}
		// A tab outside a string is JSON whitespace, and inside a JSON
		// string it must be escaped; YAML refuses tabs in some places
		// where JSON allows them, so they are spaced out for the index.
		if ix, _, perr = indexYAML(name, []byte(strings.ReplaceAll(string(data), "\t", " "))); perr != nil {
			return nil, nil, perr
		}
	default:
		var doc *yamlv3.Node
		if ix, doc, perr = indexYAML(name, data); perr != nil {
			return nil, nil, perr
		}
		raw, err = yamlDoc{doc}.Read()
	}
	if err != nil {
		return nil, nil, decodeError(name, data, err)
	}
	kmaps.IntfaceKeysToStrings(raw)
	return raw, ix, nil
}

// decodeWith decodes data with a koanf parser.
func decodeWith(p koanf.Parser, data []byte) (map[string]any, error) {
	return p.Unmarshal(data)
}

// decodeError positions an error of the koanf decoder, for the rare file
// the position parser accepted but the decoder did not.
func decodeError(name string, data []byte, err error) *Error {
	var de *gotoml.DecodeError
	pos := Pos{File: name}
	switch format(name) {
	case "toml":
		if errors.As(err, &de) {
			line, col := de.Position()
			pos = Pos{File: name, Line: line, Col: col}
		}
	case "json":
		pos = jsonErrPos(name, data, err)
	default:
		pos = yamlErrPos(name, err)
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if pos.Line > 0 {
		msg = strings.TrimPrefix(msg, fmt.Sprintf("line %d: ", pos.Line))
	}
	return &Error{Pos: pos, Msg: "syntax error: " + msg}
}
