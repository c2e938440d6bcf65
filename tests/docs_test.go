package tests

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/logtally/logtally/rules"
)

// keyDoc is one key as docs/rules.md documents it.
type keyDoc struct {
	line    int    // of its heading
	body    string // the text under the heading
	example string // the first yaml block
}

// readReference parses docs/rules.md: the sections headed "## Top level"
// (the top level of a file) or "## `name`", each with its keys headed
// "### `key`". Other "##" headings are prose.
func readReference(t *testing.T) map[string]map[string]*keyDoc {
	t.Helper()
	data, err := os.ReadFile(repo("docs", "rules.md"))
	if err != nil {
		t.Fatal(err)
	}
	sectionRe := regexp.MustCompile("^## (?:`([a-z_.]+)`|(Top level))$")
	keyRe := regexp.MustCompile("^### `([a-z_]+)`$")
	doc := map[string]map[string]*keyDoc{}
	var section map[string]*keyDoc
	var key *keyDoc
	inYAML, collecting := false, false
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case inYAML && line == "```":
			inYAML, collecting = false, false
		case inYAML:
			if collecting {
				key.example += line + "\n"
			}
		case strings.HasPrefix(line, "## "):
			key, section = nil, nil
			if m := sectionRe.FindStringSubmatch(line); m != nil {
				section = map[string]*keyDoc{}
				doc[m[1]] = section // "" for the top level
			}
		case strings.HasPrefix(line, "### "):
			key = nil
			if m := keyRe.FindStringSubmatch(line); m != nil && section != nil {
				if section[m[1]] != nil {
					t.Errorf("docs/rules.md:%d: %s documented twice", i+1, m[1])
				}
				key = &keyDoc{line: i + 1}
				section[m[1]] = key
			}
		case line == "```yaml":
			inYAML = true
			collecting = key != nil && key.example == "" // the first example
		case key != nil:
			key.body += line + "\n"
		}
	}
	return doc
}

// TestRuleReference: docs/rules.md documents every key the validator
// accepts, in every section, and no key it rejects; each with its type, its
// default and an example that is a valid rule.
func TestRuleReference(t *testing.T) {
	doc := readReference(t)
	vocab := rules.Vocabulary()
	name := func(section string) string {
		if section == "" {
			return "the top level"
		}
		return section
	}
	for _, section := range slices.Sorted(maps.Keys(vocab)) {
		keys := doc[section]
		if keys == nil {
			t.Errorf("docs/rules.md has no section for %s", name(section))
			continue
		}
		for _, k := range vocab[section] {
			if keys[k] == nil {
				t.Errorf("%s: the validator accepts %s, which docs/rules.md does not document", name(section), k)
			}
		}
	}
	for _, section := range slices.Sorted(maps.Keys(doc)) {
		accepted, known := vocab[section]
		if !known {
			t.Errorf("docs/rules.md documents a section %s that the validator does not know", name(section))
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(doc[section])) {
			d := doc[section][k]
			where := "docs/rules.md:" + strconv.Itoa(d.line) + ": " + name(section) + "." + k
			if !slices.Contains(accepted, k) {
				t.Errorf("%s: documented, but the validator rejects it", where)
			}
			if !strings.Contains(d.body, "**Type:**") || !strings.Contains(d.body, "**Default:**") {
				t.Errorf("%s: no **Type:** or **Default:**", where)
			}
			if d.example == "" {
				t.Errorf("%s: no yaml example", where)
				continue
			}
			checkExample(t, where, section, k, d.example)
		}
	}
}

// companion measurements are the ones the examples of classes, commands
// and reports refer to.
const companion = `
measurements:
  - handle: ssh_username_probe
    path: /var/log/auth.log
    select_line_matching: '.*Invalid user .*'
    key: 'from (\S+)'
    key_type: ip
  - handle: ssh_failed_password
    path: /var/log/auth.log
    select_line_matching: '.*Failed password .*'
  - handle: milter_$(m)_errors
    for: { m: [dcc, bogom, greylist] }
    path: /var/log/maillog
    select_line_matching: '.*Milter \($(m)\): to error state'
`

// checkExample loads an example as a rule: a whole file for the top level,
// else its keys merged into a minimal item of its section. It must load
// without errors and use the key it documents.
func checkExample(t *testing.T, where, section, key, example string) {
	t.Helper()
	var frag map[string]any
	if err := yaml.Unmarshal([]byte(example), &frag); err != nil {
		t.Errorf("%s: the example is not YAML: %v\n%s", where, err, example)
		return
	}
	if _, ok := frag[key]; !ok {
		t.Errorf("%s: the example does not use %s:\n%s", where, key, example)
	}
	merge := func(base map[string]any) map[string]any {
		for k, v := range frag {
			base[k] = v
		}
		return base
	}
	var file map[string]any
	withCompanion := true
	switch section {
	case "":
		file, withCompanion = frag, false
	case "measurements":
		base := map[string]any{"handle": "doc_example", "path": "/var/log/doc.log", "select_line_matching": ".*"}
		if _, byNumber := frag["select_line_number"]; byNumber {
			delete(base, "select_line_matching")
		}
		if frag["stream_type"] == "journal" {
			delete(base, "path") // the journal has no path
		}
		file, withCompanion = map[string]any{"measurements": []any{merge(base)}}, false
	case "observe":
		file, withCompanion = map[string]any{"observe": []any{merge(map[string]any{})}}, false
	case "watch_files":
		item := merge(map[string]any{"handle": "doc_example", "paths": []any{"/etc"}})
		file, withCompanion = map[string]any{"watch_files": []any{item}}, false
	case "classes":
		file = map[string]any{"classes": map[string]any{"doc_example": merge(map[string]any{"expression": "any"})}}
	case "commands":
		file = map[string]any{"commands": []any{merge(map[string]any{"if": "any", "command": []any{"/bin/true"}})}}
	case "reports":
		file = map[string]any{"reports": []any{merge(map[string]any{"message": "doc example"})}}
	case "policy":
		file = map[string]any{"policy": []any{merge(map[string]any{"action": "log"})}}
	case "settings":
		file = map[string]any{"settings": frag}
	case "settings.survey":
		file = map[string]any{"settings": map[string]any{"survey": merge(map[string]any{"file": "/var/log/logtally/survey.tsv"})}}
	case "settings.outputs":
		file = map[string]any{"settings": map[string]any{"outputs": []any{merge(map[string]any{"url": "-"})}}}
	default:
		t.Fatalf("%s: no way to check an example of section %q", where, section)
	}
	dir := t.TempDir()
	data, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "example.yaml"), string(data))
	if withCompanion {
		writeFile(t, filepath.Join(dir, "companion.yaml"), companion)
	}
	if _, err := rules.Load(dir); err != nil {
		var list rules.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				t.Errorf("%s: the example is not valid: %v\n%s", where, e, example)
			}
			return
		}
		t.Errorf("%s: the example does not load: %v", where, err)
	}
}

// TestReadmePointsToReference: the README's rule section sends the reader
// to docs/rules.md.
func TestReadmePointsToReference(t *testing.T) {
	data, err := os.ReadFile(repo("README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rulesSection, ok := strings.Cut(string(data), "\n## Rules\n")
	if !ok {
		t.Fatal("README.md has no Rules section")
	}
	rulesSection, _, _ = strings.Cut(rulesSection, "\n## ")
	if !strings.Contains(rulesSection, "(docs/rules.md)") {
		t.Errorf("README.md's Rules section does not link docs/rules.md")
	}
}
