// Package tests holds probinv's end-to-end tests. This file executes every notebook in
// notebooks/ headless, as a reader would run it top to bottom.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// jupyter is Debian's: the Python packages it needs live under /usr/bin/python3, which a pyenv
// python3 first on PATH does not see.
const jupyter = "/usr/bin/jupyter"

// TestNotebooks runs each notebooks/*.ipynb through `jupyter nbconvert --execute` on the GoNB
// kernel. A notebook passes when no cell fails and every cell that shows an image in the stored
// notebook shows one again.
//
// Without Jupyter or GoNB the test skips, saying what to install; `make test` installs them and
// sets PROBINV_REQUIRE_NOTEBOOKS=1, which turns that skip into a failure. `go test -short` skips.
func TestNotebooks(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: each notebook compiles and runs its cells in a GoNB kernel")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	notebooks, err := filepath.Glob(filepath.Join(root, "notebooks", "*.ipynb"))
	if err != nil || len(notebooks) == 0 {
		t.Fatalf("no notebooks found in %s/notebooks (err=%v)", root, err)
	}
	trackSources(root)
	env := notebookEnv(root)
	if reason := missingPrerequisite(env); reason != "" {
		if os.Getenv("PROBINV_REQUIRE_NOTEBOOKS") != "" {
			t.Fatalf("%s (PROBINV_REQUIRE_NOTEBOOKS is set)", reason)
		}
		t.Skipf("%s; `make deps` installs it", reason)
	}
	for _, nb := range notebooks {
		t.Run(strings.TrimSuffix(filepath.Base(nb), ".ipynb"), func(t *testing.T) {
			runNotebook(t, nb, env)
		})
	}
}

// trackSources stats every Go source and go.mod of the module. The test binary does not import
// the packages the notebooks use, so without this a change to them would not invalidate go
// test's cached result; Go's test cache does notice the files a test stats. Best effort: files
// that vanish during the walk are ignored.
func trackSources(root string) {
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "tools") {
			return filepath.SkipDir
		}
		if name := d.Name(); strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum" {
			_, _ = os.Stat(path)
		}
		return nil
	})
}

// notebookEnv is the environment for Jupyter and the GoNB kernel it starts: go, gonb, gopls and
// goimports on PATH (./.bin is where `make deps` puts the last three) and PROBINV_ROOT, through
// which the notebooks' own Go modules find this checkout.
func notebookEnv(root string) []string {
	dirs := []string{filepath.Join(root, ".bin")}
	if out, err := exec.Command("go", "env", "GOROOT", "GOPATH").Output(); err == nil {
		for _, dir := range strings.Fields(string(out)) {
			dirs = append(dirs, filepath.Join(dir, "bin"))
		}
	}
	path := strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
	env := []string{"PATH=" + path, "PROBINV_ROOT=" + root}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "PROBINV_ROOT=") {
			env = append(env, kv)
		}
	}
	return env
}

// missingPrerequisite names the first thing missing to run notebooks, or returns "".
func missingPrerequisite(env []string) string {
	if _, err := os.Stat(jupyter); err != nil {
		return jupyter + " not found (Debian packages jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel)"
	}
	var path string
	for _, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	for _, tool := range []string{"gonb", "gopls", "goimports"} {
		if lookPath(tool, path) == "" {
			return tool + " not found on PATH or in ./.bin"
		}
	}
	return missingKernel(env)
}

// missingKernel checks that Jupyter knows a "gonb" kernel whose binary exists.
func missingKernel(env []string) string {
	cmd := exec.Command(jupyter, "--paths", "--json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("%s --paths failed: %v", jupyter, err)
	}
	var paths struct{ Data []string }
	if err := json.Unmarshal(out, &paths); err != nil {
		return fmt.Sprintf("%s --paths: %v", jupyter, err)
	}
	for _, dir := range paths.Data {
		spec, err := os.ReadFile(filepath.Join(dir, "kernels", "gonb", "kernel.json"))
		if err != nil {
			continue
		}
		var kernel struct{ Argv []string }
		if json.Unmarshal(spec, &kernel) != nil || len(kernel.Argv) == 0 {
			return fmt.Sprintf("unreadable GoNB kernel spec in %s", dir)
		}
		if _, err := os.Stat(kernel.Argv[0]); err != nil {
			return fmt.Sprintf("the GoNB kernel spec in %s names a missing binary %s (rerun `gonb --install`)", dir, kernel.Argv[0])
		}
		return ""
	}
	return "GoNB kernel spec not installed (`gonb --install`)"
}

func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// runNotebook executes one notebook into a temporary directory and checks the result. nbconvert
// runs the kernel in the notebook's own directory, as Jupyter does. It runs with --allow-errors so
// that the executed notebook is written even when a cell fails: GoNB reports compile errors as
// HTML output of the cell, which is what the failure message should show.
func runNotebook(t *testing.T, nb string, env []string) {
	outDir := t.TempDir()
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-10*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, jupyter, "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
		"--ExecutePreprocessor.timeout=600", "--output-dir", outDir, nb)
	cmd.Env = env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s executed in %.1fs", filepath.Base(nb), time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("nbconvert --execute %s: %v\n%s", nb, err, tail(withoutKernelLog(log.String()), 6000))
	}
	stored, err := readNotebook(nb)
	if err != nil {
		t.Fatal(err)
	}
	executed, err := readNotebook(filepath.Join(outDir, filepath.Base(nb)))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Cells) != len(executed.Cells) {
		t.Fatalf("executed notebook has %d cells, stored %d", len(executed.Cells), len(stored.Cells))
	}
	failed := false
	for i, cell := range executed.Cells {
		if cell.failed() {
			if !failed { // Later failures are usually consequences of the first.
				t.Errorf("cell %d failed:\n%s\n--- output ---\n%s", i, indent(cell.source()), indent(tail(cell.outputText(), 4000)))
			} else {
				t.Errorf("cell %d failed too", i)
			}
			failed = true
		}
		if stored.Cells[i].hasImage() && !cell.hasImage() && !cell.failed() {
			t.Errorf("cell %d showed an image when the notebook was saved, but shows none now:\n%s\n--- output ---\n%s",
				i, indent(cell.source()), indent(tail(cell.outputText(), 4000)))
		}
	}
}

type notebook struct {
	Cells []cell `json:"cells"`
}

type cell struct {
	CellType string          `json:"cell_type"`
	Source   json.RawMessage `json:"source"` // a string, or a list of lines
	Outputs  []struct {
		OutputType string                     `json:"output_type"`
		Text       json.RawMessage            `json:"text"` // stream output
		Data       map[string]json.RawMessage `json:"data"`
		Ename      string                     `json:"ename"`
		Evalue     string                     `json:"evalue"`
	} `json:"outputs"`
}

func (c cell) failed() bool {
	for _, o := range c.Outputs {
		if o.OutputType == "error" {
			return true
		}
	}
	return false
}

// outputText is the cell's output as plain text: streams, text/plain, HTML without its markup.
func (c cell) outputText() string {
	var b strings.Builder
	for _, o := range c.Outputs {
		switch {
		case o.OutputType == "stream":
			b.WriteString(multiline(o.Text))
		case o.OutputType == "error":
			fmt.Fprintf(&b, "%s: %s\n", o.Ename, o.Evalue)
		case o.Data["text/plain"] != nil:
			b.WriteString(multiline(o.Data["text/plain"]) + "\n")
		case o.Data["text/html"] != nil:
			b.WriteString(htmlText(multiline(o.Data["text/html"])) + "\n")
		}
	}
	return b.String()
}

func (c cell) hasImage() bool {
	for _, o := range c.Outputs {
		if o.Data["image/png"] != nil || o.Data["image/svg+xml"] != nil {
			return true
		}
	}
	return false
}

func (c cell) source() string { return multiline(c.Source) }

// multiline decodes a notebook text field: a string, or a list of lines.
func multiline(raw json.RawMessage) string {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		return text
	}
	var lines []string
	_ = json.Unmarshal(raw, &lines)
	return strings.Join(lines, "")
}

var (
	htmlStyle  = regexp.MustCompile(`(?s)<style.*?</style>`)
	htmlTag    = regexp.MustCompile(`<[^>]*>`)
	blankLines = regexp.MustCompile(`\n\s*\n+`)
)

// htmlText reduces GoNB's HTML error reports to their text.
func htmlText(s string) string {
	s = htmlTag.ReplaceAllString(htmlStyle.ReplaceAllString(s, ""), "")
	return strings.TrimSpace(blankLines.ReplaceAllString(html.UnescapeString(s), "\n"))
}

func readNotebook(path string) (*notebook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	nb := &notebook{}
	if err := json.Unmarshal(data, nb); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nb, nil
}

// klogInfo matches GoNB's info log lines ("I1129 04:17:46.911855   21765 kernel.go:339] ..."),
// which drown the cell error that nbconvert reports.
var klogInfo = regexp.MustCompile(`(?m)^I\d{4} [\d:.]+ +\d+ \S+:\d+\].*\n?`)

func withoutKernelLog(s string) string { return klogInfo.ReplaceAllString(s, "") }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
