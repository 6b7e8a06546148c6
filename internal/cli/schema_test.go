package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/spf13/cobra"

	"github.com/netkit/netkit/internal/testnet"
)

// schemaDir holds the JSON Schemas of every document and event netkit
// prints, one file per document or event type.
var schemaDir = filepath.Join("..", "..", "docs", "schema")

var (
	schemasOnce sync.Once
	schemas     map[string]*jsonschema.Schema
	schemasErr  error
)

// schema returns the compiled schema of docs/schema/name.
func schema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	schemasOnce.Do(func() {
		files, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
		if err != nil || len(files) == 0 {
			schemasErr = fmt.Errorf("no schema in %s (%v)", schemaDir, err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		schemas = map[string]*jsonschema.Schema{}
		for _, f := range files {
			abs, _ := filepath.Abs(f)
			sch, err := c.Compile(abs)
			if err != nil {
				schemasErr = err
				return
			}
			schemas[filepath.Base(f)] = sch
		}
	})
	if schemasErr != nil {
		t.Fatalf("compile schemas: %v", schemasErr)
	}
	sch := schemas[name]
	if sch == nil {
		t.Fatalf("no schema docs/schema/%s", name)
	}
	return sch
}

// validated records the schemas validate used, for TestJSONSchemas to
// check that each describes something a command printed.
var validated = map[string]bool{}

// validate checks one JSON document or event against docs/schema/name.
func validate(t *testing.T, name string, doc []byte) {
	t.Helper()
	validated[name] = true
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Errorf("%s: not JSON: %v\n%s", name, err, doc)
		return
	}
	if err := schema(t, name).Validate(inst); err != nil {
		t.Errorf("output does not match docs/schema/%s: %v\n%s", name, err, doc)
	}
}

// checkDocument checks that a run printed exactly one JSON document on
// stdout, valid by docs/schema/name, and exited with code.
func checkDocument(t *testing.T, r result, code int, name string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var doc json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	if dec.More() {
		t.Errorf("stdout has more than one document:\n%s", r.stdout)
	}
	validate(t, name, doc)
}

// checkLines checks that a run printed JSON lines, each valid by the schema
// of its type, docs/schema/prefix-TYPE.json, and returns the types in
// order.
func checkLines(t *testing.T, r result, code int, prefix string) []string {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, code, r.stderr)
	}
	var types []string
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		var ev struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Type == "" {
			t.Errorf("not an event: %v: %q", err, line)
			continue
		}
		types = append(types, ev.Type)
		validate(t, prefix+"-"+ev.Type+".json", []byte(line))
	}
	return types
}

// TestJSONSchemas runs every command that prints JSON, on its success and
// failure paths, and checks what it prints against its schema in
// docs/schema: a field the schema does not have fails the test, so every
// new field is a schema change (and a line of docs/json.md).
func TestJSONSchemas(t *testing.T) {
	// ran records the commands run, to check that none with --json is
	// left out.
	streams, _, _, _ := testStreams()
	root := NewRootCmd(streams)
	ran := map[string]bool{}
	nk := func(t *testing.T, args ...string) result {
		t.Helper()
		if c, _, err := root.Find(args); err == nil {
			ran[c.CommandPath()] = true
		}
		return netkit(t, args...)
	}
	validated = map[string]bool{}
	srv := resolveEnv(t)
	open := testnet.Listen(t, "127.0.0.1:0")
	testnet.ServeConns(t, open, func(c net.Conn) { io.Copy(io.Discard, c) })
	openPort := strconv.Itoa(open.Addr().(*net.TCPAddr).Port)
	closedPort := strconv.Itoa(int(testnet.ClosedPort(t, "tcp", "127.0.0.1").Port()))

	t.Run("resolve", func(t *testing.T) {
		checkDocument(t, nk(t, "resolve", "www.test", "https", "--json"), 0, "resolve.json")
		checkDocument(t, nk(t, "resolve", "web.test", "--json"), 0, "resolve.json")
		checkDocument(t, nk(t, "resolve", "::1", "--json"), 0, "resolve.json")
		checkDocument(t, nk(t, "resolve", "--server", srv.Addr.String(), "db.test", "--json"), 0, "resolve.json")
		checkDocument(t, nk(t, "resolve", "nosuch.test", "--json"), 1, "resolve.json")
		checkDocument(t, nk(t, "resolve", "-6", "web.test", "--json"), 1, "resolve.json")
		checkDocument(t, nk(t, "resolve", "--config", "--json"), 0, "resolve-config.json")
		checkDocument(t, nk(t, "resolve", "-t", "AAAA", "db.test", "--json"), 0, "resolve-records.json")
		checkDocument(t, nk(t, "resolve", "@"+srv.Addr.String(), "-t", "MX", "db.test", "--json"), 1, "resolve-records.json")
		checkDocument(t, nk(t, "resolve", "-t", "A", "nosuch.test", "--json"), 1, "resolve-records.json")
		checkDocument(t, nk(t, "resolve", "-x", "127.0.0.1", "--json"), 1, "resolve-records.json")
	})

	t.Run("hosts", func(t *testing.T) {
		lint := filepath.Join("testdata", "hosts.lint")
		checkDocument(t, nk(t, "hosts", "--file", lint, "--json"), 1, "hosts.json")
		checkDocument(t, nk(t, "hosts", "--hostname", "localhost", "--json"), 0, "hosts.json")
		checkDocument(t, nk(t, "hosts", "--file", lint, "db.internal", "--json"), 0, "hosts-name.json")
		checkDocument(t, nk(t, "hosts", "--file", lint, "broken.test", "--json"), 1, "hosts-name.json")
	})

	t.Run("ping tcp", func(t *testing.T) {
		checkDocument(t, nk(t, "ping", "--tcp", openPort, "-c", "2", "-i", "0.05", "127.0.0.1", "--json"), 0, "ping.json")
		checkDocument(t, nk(t, "ping", "--tcp", closedPort, "-c", "1", "::1", "--json"), 0, "ping.json")
		checkDocument(t, nk(t, "ping", "--tcp", openPort, "-c", "1", "127.0.0.1", "nosuch.test", "--json"), 1, "ping.json")
		checkDocument(t, nk(t, "ping", "--tcp", openPort, "-c", "1", "nosuch.test", "--json"), 1, "ping.json")
		// Hosts start 10 ms apart: a 50 ms deadline skips the later ones.
		many := []string{"ping", "--tcp", closedPort, "-c", "1", "-w", "0.05"}
		for i := 1; i <= 30; i++ {
			many = append(many, "127.0.0."+strconv.Itoa(i))
		}
		r := nk(t, append(many, "--json")...)
		checkDocument(t, r, 1, "ping.json")
		if !strings.Contains(r.stdout, `"state": "skipped"`) {
			t.Errorf("no target skipped:\n%s", r.stdout)
		}
		types := checkLines(t, nk(t, "ping", "--tcp", openPort, "-c", "2", "-i", "0.05", "127.0.0.1", "nosuch.test", "--format", "jsonl"), 1, "ping")
		if !slices.Contains(types, "start") || !slices.Contains(types, "probe") || !slices.Contains(types, "summary") {
			t.Errorf("events %v: want start, probe and summary", types)
		}
	})

	t.Run("ping icmp", func(t *testing.T) {
		if testing.Short() {
			t.Skip("raw ICMP sockets: not under -short")
		}
		pingNeedRoot(t)
		checkDocument(t, nk(t, "ping", "-c", "2", "-i", "0.05", "127.0.0.1", "::1", "--json"), 0, "ping.json")
		checkDocument(t, nk(t, "ping", "-c", "1", "-W", "0.3", "-i", "0.05", "127.0.0.1", "--json"), 0, "ping.json")
		checkLines(t, nk(t, "ping", "-c", "2", "-i", "0.05", "::1", "--format", "jsonl"), 0, "ping")
	})

	t.Run("trace", func(t *testing.T) {
		ran["netkit trace"] = true // run below, where raw sockets may be opened
		pingNeedRoot(t)
		checkDocument(t, nk(t, "trace", "-c", "2", "-i", "0.05", "127.0.0.1", "--json"), 0, "trace.json")
		checkDocument(t, nk(t, "trace", "-c", "1", "--mtu", "127.0.0.1", "--json"), 0, "trace.json")
		checkDocument(t, nk(t, "trace", "-c", "1", "--tcp", openPort, "127.0.0.1", "--json"), 0, "trace.json")
		checkLines(t, nk(t, "trace", "-c", "1", "::1", "--format", "jsonl"), 0, "trace")
	})

	t.Run("sockets", func(t *testing.T) {
		checkDocument(t, nk(t, "sockets", "--json"), 0, "sockets.json")
		checkDocument(t, nk(t, "sockets", "-l", "--port", openPort, "--resolve", "--json"), 0, "sockets.json")
		checkDocument(t, nk(t, "sockets", "--summary", "--json"), 0, "sockets-summary.json")
		checkDocument(t, nk(t, "sockets", "who", openPort, "--json"), 0, "sockets-who.json")
		checkDocument(t, nk(t, "sockets", "-x", "--json"), 0, "sockets.json")
		checkDocument(t, nk(t, "sockets", "-o", "-e", "-w", "--json"), 0, "sockets.json")
		checkLines(t, nk(t, "sockets", "-t", "--watch", "0.1", "-c", "2", "--format", "jsonl"), 0, "sockets")
		checkLines(t, nk(t, "sockets", "--summary", "--watch", "0.1", "-c", "1", "--format", "jsonl"), 0, "sockets")
		// A port nothing holds: tests running beside this one may hold
		// sockets on nearly every ephemeral port, so the first unused one
		// below 32 is asked.
		for port := 1; ; port++ {
			r := nk(t, "sockets", "who", strconv.Itoa(port), "--json")
			if r.code == exitFailed || port == 31 {
				checkDocument(t, r, exitFailed, "sockets-who.json")
				break
			}
		}
	})

	t.Run("echo", func(t *testing.T) {
		s := startEchoServer(t)
		validate(t, "echo-serve.json", s.raw)
		ran["netkit echo serve"] = true
		plain := startEchoServer(t, "--plaintext")
		validate(t, "echo-serve.json", plain.raw)
		addr, ca := s.ready.Listen, s.ready.CertFile
		closed := "127.0.0.1:" + closedPort

		checkDocument(t, nk(t, "echo", "send", "--ca", ca, "--servername", "localhost", addr, "hi", "--json"), 0, "echo-send.json")
		checkDocument(t, nk(t, "echo", "send", "--ca", ca, "--servername", "localhost", "--action", "info", addr, "--json"), 0, "echo-send.json")
		checkDocument(t, nk(t, "echo", "send", "--ca", ca, "--servername", "localhost", "--action", "nosuch", addr, "x", "--json"), 1, "echo-send.json")
		checkDocument(t, nk(t, "echo", "send", "--plaintext", plain.ready.Listen, "hi", "--json"), 0, "echo-send.json")
		checkDocument(t, nk(t, "echo", "send", addr, "hi", "--json"), 1, "echo-send.json") // unknown authority
		checkDocument(t, nk(t, "echo", "send", "--plaintext", addr, "hi", "--json"), 1, "echo-send.json")
		checkDocument(t, nk(t, "echo", "send", closed, "hi", "--json"), 1, "echo-send.json")

		checkDocument(t, nk(t, "echo", "bench", "--ca", ca, "--servername", "localhost", "-c", "2", "-n", "20", "--per-conn", "5", addr, "--json"), 0, "echo-bench.json")
		checkDocument(t, nk(t, "echo", "bench", closed, "--json"), 1, "echo-bench.json")
		types := checkLines(t, nk(t, "echo", "bench", "--plaintext", "-n", "20", plain.ready.Listen, "--format", "jsonl"), 0, "echo-bench")
		if len(types) == 0 || types[len(types)-1] != "result" {
			t.Errorf("events %v: want a result last", types)
		}
		checkLines(t, nk(t, "echo", "bench", closed, "--format", "jsonl"), 1, "echo-bench")
		// A bench long enough for progress events (one a second).
		if !testing.Short() {
			types := checkLines(t, nk(t, "echo", "bench", "--plaintext", "-d", "1200ms", plain.ready.Listen, "--format", "jsonl"), 0, "echo-bench")
			if !slices.Contains(types, "progress") {
				t.Errorf("events %v: want progress", types)
			}
		}

		checkDocument(t, nk(t, "diagnose", addr, "-c", "1", "--ca", ca, "--servername", "localhost", "--json"), 0, "diagnose.json")
		checkLines(t, nk(t, "diagnose", plain.ready.Listen, "-c", "1", "--plaintext", "--format", "jsonl"), 0, "diagnose")
	})

	t.Run("diagnose", func(t *testing.T) {
		checkDocument(t, nk(t, "diagnose", "web.test", closedPort, "-c", "1", "--json"), 1, "diagnose.json")
		checkDocument(t, nk(t, "diagnose", "nosuch.test", closedPort, "-c", "1", "--json"), 1, "diagnose.json")
		types := checkLines(t, nk(t, "diagnose", "127.0.0.1", closedPort, "-c", "1", "--format", "jsonl"), 1, "diagnose")
		if len(types) == 0 || types[len(types)-1] != "report" {
			t.Errorf("events %v: want a report last", types)
		}
	})

	// A command that could not start prints no document: stdout stays
	// empty, the error is on stderr, the exit code 2.
	t.Run("could not start", func(t *testing.T) {
		for _, args := range [][]string{
			{"resolve", "--json"},
			{"resolve", "bad..name", "--json"},
			{"hosts", "--file", filepath.Join(t.TempDir(), "none"), "--json"},
			{"ping", "-c", "0", "127.0.0.1", "--format", "jsonl"},
			{"echo", "serve", "--plaintext", "--listen", open.Addr().String(), "--json"},
			{"echo", "bench", "-c", "0", "127.0.0.1", "--json"},
			{"diagnose", "127.0.0.1", "--json"},
		} {
			r := nk(t, args...)
			if r.code != exitError || r.stdout != "" || r.stderr == "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing on stdout, an error on stderr", args, r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("explain", func(t *testing.T) {
		checkDocument(t, nk(t, "explain", "--json"), 0, "explain.json")
		checkDocument(t, nk(t, "explain", "ECONNREFUSED", "--json"), 0, "explain.json")
	})

	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Flags().Lookup("json") != nil && !ran[c.CommandPath()] {
			t.Errorf("%s has --json, and this test does not run it: add its runs and its schema", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if !testing.Short() && !t.Failed() {
		for name := range readSchemas(t) {
			if name != "defs.json" && !validated[name] {
				t.Errorf("no run printed what docs/schema/%s describes", name)
			}
		}
	}
}

// TestSchemasReject checks that the schemas catch what the convention of
// docs/json.md rules out, on a document that is valid before each change.
func TestSchemasReject(t *testing.T) {
	stats := `"host": "h", "state": "alive", "sent": 1, "received": 1, "duplicates": 0, "late": 0, "errors": 0, "loss_pct": 0, "time_ms": 1,`
	for name, doc := range map[string]string{
		"explain.json": `{"schema_version": 1, "explanations": [{"code": "X", "cause": "c", "next": "n"}]}`,
		"ping.json":    `{"schema_version": 1, "targets": [{` + stats + `"rtt_min_ms": 0.122, "rtt_avg_ms": 1, "rtt_max_ms": 1, "rtt_mdev_ms": 0, "probes": [{"seq": 1, "kind": "reply"}]}]}`,
	} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err := schema(t, name).Validate(inst); err != nil {
			t.Fatalf("%s refuses a valid document: %v", name, err)
		}
	}
	for name, doc := range map[string]string{
		"an undocumented field":       `{"schema_version": 1, "explanations": [], "extra": 1}`,
		"a nested undocumented field": `{"schema_version": 1, "explanations": [{"code": "X", "cause": "c", "next": "n", "extra": 1}]}`,
		"null for a list":             `{"schema_version": 1, "explanations": null}`,
		"another schema_version":      `{"schema_version": 2, "explanations": []}`,
		"an unrounded duration":       `{"schema_version": 1, "targets": [{` + stats + `"rtt_min_ms": 0.12245249999999999, "rtt_avg_ms": 1, "rtt_max_ms": 1, "rtt_mdev_ms": 0, "probes": []}]}`,
		"rtt without a reply":         `{"schema_version": 1, "targets": [{` + strings.Replace(stats, `"received": 1`, `"received": 0`, 1) + `"rtt_min_ms": 0, "rtt_avg_ms": 0, "rtt_max_ms": 0, "rtt_mdev_ms": 0, "probes": []}]}`,
		"an undocumented probe field": `{"schema_version": 1, "targets": [{` + stats + `"rtt_min_ms": 1, "rtt_avg_ms": 1, "rtt_max_ms": 1, "rtt_mdev_ms": 0, "probes": [{"seq": 1, "kind": "reply", "target": 0}]}]}`,
	} {
		schemaName := "explain.json"
		if strings.Contains(doc, "targets") {
			schemaName = "ping.json"
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if schema(t, schemaName).Validate(inst) == nil {
			t.Errorf("%s: %s accepts %s", name, schemaName, doc)
		}
	}
}

// TestSchemasClosed checks that every object in the schemas says which
// fields it has and refuses others: with additionalProperties: false, or,
// for a shape of defs.json left open so that others can extend it, with
// unevaluatedProperties: false wherever it is used.
func TestSchemasClosed(t *testing.T) {
	files := readSchemas(t)
	open := map[string]bool{} // "defs.json#/$defs/x" of the open shapes
	for name, doc := range files {
		defs, _ := doc["$defs"].(map[string]any)
		for k, d := range defs {
			if m, ok := d.(map[string]any); ok && m["properties"] != nil && m["additionalProperties"] == nil {
				open[name+"#/$defs/"+k] = true
			}
		}
	}
	for name, doc := range files {
		var walk func(path string, v any, inDefs bool)
		walk = func(path string, v any, inDefs bool) {
			switch v := v.(type) {
			case []any:
				for i, e := range v {
					walk(path+"/"+strconv.Itoa(i), e, false)
				}
			case map[string]any:
				ref, _ := v["$ref"].(string)
				closed := v["additionalProperties"] == false || v["unevaluatedProperties"] == false
				switch {
				case inDefs:
				case v["properties"] != nil && !closed:
					t.Errorf("%s%s: an object with properties and neither additionalProperties nor unevaluatedProperties false", name, path)
				case open[ref] && !closed:
					t.Errorf("%s%s: uses the open shape %s without unevaluatedProperties: false", name, path, ref)
				}
				for k, e := range v {
					if k == "if" {
						continue // a condition, not a shape
					}
					if k == "properties" || k == "$defs" {
						for pk, pe := range e.(map[string]any) {
							walk(path+"/"+k+"/"+pk, pe, k == "$defs")
						}
						continue
					}
					walk(path+"/"+k, e, false)
				}
			}
		}
		walk("#", doc, false)
	}
}

// readSchemas reads docs/schema/*.json as generic JSON, by file name.
func readSchemas(t *testing.T) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(schemaDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no schemas in %s: %v", schemaDir, err)
	}
	files := map[string]map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files[filepath.Base(p)] = doc
	}
	return files
}

// TestJSONDocMatchesSchemas checks docs/json.md against the schemas: each
// schema is linked from the section of its command, and every field a
// schema names is written there (`name`, `name[]`, `parent.name`); the shared shapes of defs.json
// anywhere in the page.
func TestJSONDocMatchesSchemas(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	sections := regexp.MustCompile(`(?m)^## `).Split(page, -1)
	for name, doc := range readSchemas(t) {
		text := page
		if name != "defs.json" {
			text = ""
			for _, s := range sections {
				if strings.Contains(s, "(schema/"+name+")") {
					text += s
				}
			}
			if text == "" {
				t.Errorf("docs/json.md links no section to schema/%s", name)
				continue
			}
		}
		for _, field := range schemaFields(doc) {
			// The contract at the top of the page describes these two.
			if field == "schema_version" || field == "type" {
				continue
			}
			// `name`, a list as `name[]`, or a path ending in it.
			if !regexp.MustCompile("`([a-z_]+(\\[\\])?\\.)*" + field + "(\\[\\])?[`.]").MatchString(text) {
				t.Errorf("docs/json.md does not document `%s` of schema/%s", field, name)
			}
		}
	}
}

// schemaFields lists the property names a schema defines, at any depth.
func schemaFields(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			out = append(out, schemaFields(e)...)
		}
	case map[string]any:
		for k, e := range v {
			if k == "properties" {
				for pk := range e.(map[string]any) {
					out = append(out, pk)
				}
			}
			out = append(out, schemaFields(e)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
