package agent_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is this repository's module path.
const module = "github.com/ness-network/ness-sms"

// agentMain is the agent binary's package, relative to the module root.
const agentMain = "./agent/cmd/ness-agent"

// allowedModules are the modules outside the standard library the agent binary may link
// (DESIGN.md, "The agent binary"), each with why.
var allowedModules = map[string]string{
	"go.bug.st/serial":                     "serial ports",
	"github.com/warthog618/modem":          "AT command layer",
	"github.com/warthog618/sms":            "PDU encoding and concatenation",
	"github.com/warthog618/go-gpiocdev":    "GPIO power control",
	"github.com/eclipse/paho.mqtt.golang":  "MQTT client",
	"github.com/gorilla/websocket":         "paho.mqtt.golang dependency (MQTT over WebSocket)",
	"golang.org/x/net":                     "paho.mqtt.golang dependency (proxy)",
	"golang.org/x/sync":                    "paho.mqtt.golang dependency",
	"golang.org/x/crypto":                  "sealing and signing",
	"golang.org/x/sys":                     "serial, GPIO and bbolt system calls",
	"github.com/kelseyhightower/envconfig": "configuration",
	"go.etcd.io/bbolt":                     "durable outbox",
	// Prometheus metrics (client_golang and what promhttp links).
	"github.com/prometheus/client_golang": "metrics",
	"github.com/prometheus/client_model":  "metrics",
	"github.com/prometheus/common":        "metrics",
	"github.com/prometheus/procfs":        "metrics (process collector)",
	"github.com/beorn7/perks":             "metrics (summaries)",
	"github.com/cespare/xxhash/v2":        "metrics (label hashing)",
	"github.com/munnerz/goautoneg":        "metrics (content negotiation)",
	"github.com/klauspost/compress":       "metrics (promhttp compression)",
	"go.yaml.in/yaml/v2":                  "metrics (prometheus/common/model's label config)",
	"google.golang.org/protobuf":          "metrics (exposition format)",
}

// forbidden are import path fragments the agent must never link, with why. They are checked
// before the allow-list, so the report names the real reason.
var forbidden = []struct{ fragment, why string }{
	{"sql", "no SQL in the agent"},
	{"mochi-mqtt", "the embedded broker belongs to the hub"},
	{"coder/websocket", "web UI transport belongs to the hub"},
	{"jackc/pgx", "PostgreSQL belongs to the hub"},
	{module + "/hub", "the agent never imports the hub"},
	{module + "/client", "the agent never imports the user tool"},
	{"github.com/creack/pty", "pseudo-terminals are for ness-modemsim only"},
}

// listedPackage is the part of `go list -json` output the check reads.
type listedPackage struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
	Imports    []string
	CgoFiles   []string
	Error      *struct{ Err string }
}

// checkDeps returns one line per package in pkgs that the agent may not link, naming the chain
// of imports from a root that pulled it in.
func checkDeps(roots []string, pkgs []listedPackage) []string {
	byPath := make(map[string]*listedPackage, len(pkgs))
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	// Breadth-first from the roots: parent[p] is the package through which p was first reached.
	parent := map[string]string{}
	queue := slices.Clone(roots)
	for _, r := range roots {
		parent[r] = ""
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if lp := byPath[p]; lp != nil {
			for _, imp := range lp.Imports {
				if _, ok := parent[imp]; !ok {
					parent[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
	chain := func(p string) string {
		var c []string
		for q, ok := p, true; ok && q != ""; q, ok = parent[q] {
			c = append(c, q)
		}
		slices.Reverse(c)
		if len(c) <= 1 {
			return p
		}
		return strings.Join(c, " -> ")
	}

	var bad []string
	for _, p := range pkgs {
		if p.Error != nil {
			bad = append(bad, fmt.Sprintf("%s: go list error: %s", p.ImportPath, p.Error.Err))
			continue
		}
		mod := ""
		if p.Module != nil {
			mod = p.Module.Path
		}
		reason := ""
		for _, f := range forbidden {
			if strings.Contains(strings.ToLower(p.ImportPath), f.fragment) {
				reason = "forbidden: " + f.why
				break
			}
		}
		switch {
		case reason != "":
		case p.Standard:
		case mod == module:
		case mod == "":
			reason = "not in a module"
		case allowedModules[mod] == "":
			reason = fmt.Sprintf("module %s is not on the allow-list in agent/deps_test.go", mod)
		}
		if reason == "" && !p.Standard && len(p.CgoFiles) > 0 {
			reason = fmt.Sprintf("uses cgo (%s); the agent is built with CGO_ENABLED=0", strings.Join(p.CgoFiles, ", "))
		}
		if reason != "" {
			bad = append(bad, fmt.Sprintf("%s: %s; pulled in by %s", p.ImportPath, reason, chain(p.ImportPath)))
		}
	}
	return bad
}

func TestCheckDeps(t *testing.T) {
	pkg := func(path, mod string, imports ...string) listedPackage {
		p := listedPackage{ImportPath: path, Imports: imports}
		if mod == "std" {
			p.Standard = true
		} else if mod != "" {
			p.Module = &struct{ Path string }{mod}
		}
		return p
	}
	main := module + "/agent/cmd/ness-agent"
	tests := []struct {
		name string
		pkgs []listedPackage
		want []string // substrings of the report, one per offending package; nil = clean
	}{
		{"clean", []listedPackage{
			pkg(main, module, "fmt", module+"/agent/outbox"),
			pkg(module+"/agent/outbox", module, "go.etcd.io/bbolt"),
			pkg("go.etcd.io/bbolt", "go.etcd.io/bbolt", "golang.org/x/sys/unix"),
			pkg("golang.org/x/sys/unix", "golang.org/x/sys"),
			pkg("fmt", "std"),
		}, nil},
		{"SQL driver two levels down", []listedPackage{
			pkg(main, module, module+"/agent/store"),
			pkg(module+"/agent/store", module, "database/sql"),
			pkg("database/sql", "std"),
		}, []string{"database/sql: forbidden: no SQL in the agent; pulled in by " + main + " -> " + module + "/agent/store -> database/sql"}},
		{"hub package", []listedPackage{
			pkg(main, module, module+"/hub"),
			pkg(module+"/hub", module),
		}, []string{module + "/hub: forbidden: the agent never imports the hub"}},
		{"pty", []listedPackage{
			pkg(main, module, "github.com/creack/pty"),
			pkg("github.com/creack/pty", "github.com/creack/pty"),
		}, []string{"github.com/creack/pty: forbidden"}},
		{"mochi", []listedPackage{
			pkg(main, module, "github.com/mochi-mqtt/server/v2"),
			pkg("github.com/mochi-mqtt/server/v2", "github.com/mochi-mqtt/server/v2"),
		}, []string{"mochi-mqtt/server/v2: forbidden"}},
		{"unlisted module", []listedPackage{
			pkg(main, module, "github.com/example/left-pad"),
			pkg("github.com/example/left-pad", "github.com/example/left-pad"),
		}, []string{"github.com/example/left-pad: module github.com/example/left-pad is not on the allow-list in agent/deps_test.go; pulled in by " + main + " -> github.com/example/left-pad"}},
		{"cgo in an allowed module", []listedPackage{
			pkg(main, module, "go.bug.st/serial"),
			{ImportPath: "go.bug.st/serial", Module: &struct{ Path string }{"go.bug.st/serial"}, CgoFiles: []string{"enumerator.go"}},
		}, []string{"go.bug.st/serial: uses cgo (enumerator.go)"}},
		{"go list error", []listedPackage{
			{ImportPath: main, Error: &struct{ Err string }{"no required module provides package x"}},
		}, []string{"go list error: no required module"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkDeps([]string{main}, tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("checkDeps: got %d problems %q, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("checkDeps problem %d: got %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestAgentDependencies lists what the agent binary links, for the host and the boards'
// architectures, and checks it against the allow-list. Until agent/cmd/ness-agent exists it
// checks every package under agent/ except test helpers (xxxtest) and the simulator.
func TestAgentDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go") // go test puts its own $GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("go tool not found on PATH: %v", err)
	}
	root := moduleRoot(t, goTool)
	roots := agentRoots(t, goTool, root)
	t.Logf("roots: %s", strings.Join(roots, " "))

	platforms := [][]string{
		nil, // host
		{"GOOS=linux", "GOARCH=arm64"},
		{"GOOS=linux", "GOARCH=arm", "GOARM=7"},
	}
	for _, env := range platforms {
		name := strings.Join(env, " ")
		if name == "" {
			name = "host"
		}
		t.Run(name, func(t *testing.T) {
			// CGO_ENABLED=1 so that files needing cgo are listed in CgoFiles rather than
			// silently left out of the build.
			args := append([]string{"list", "-e", "-deps", "-json=ImportPath,Standard,Module,Imports,CgoFiles,Error"}, roots...)
			out := runGo(t, goTool, root, append([]string{"CGO_ENABLED=1"}, env...), args...)
			pkgs := decodeList(t, out)
			for _, problem := range checkDeps(roots, pkgs) {
				t.Error(problem)
			}
			// The listing must have reached real dependencies, or the check proves nothing.
			var third []string
			for _, p := range pkgs {
				if !p.Standard && p.Module != nil && p.Module.Path != module {
					third = append(third, p.ImportPath)
				}
			}
			// go.bug.st/serial: every agent build opens serial ports (bbolt arrives with the pipeline).
			if !slices.Contains(third, "go.bug.st/serial") {
				t.Errorf("go list -deps found no go.bug.st/serial among %d packages: the listing is not seeing the agent", len(pkgs))
			}
		})
	}
}

func moduleRoot(t *testing.T, goTool string) string {
	t.Helper()
	gomod := strings.TrimSpace(string(runGo(t, goTool, ".", nil, "env", "GOMOD")))
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD: not inside the module")
	}
	return filepath.Dir(gomod)
}

// agentRoots returns the packages whose dependencies make up the agent binary.
func agentRoots(t *testing.T, goTool, root string) []string {
	t.Helper()
	if files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(agentMain), "*.go")); len(files) > 0 {
		return []string{module + strings.TrimPrefix(agentMain, ".")}
	}
	out := runGo(t, goTool, root, nil, "list", "-e", "./agent/...")
	var roots []string
	for _, p := range strings.Fields(string(out)) {
		last := p[strings.LastIndex(p, "/")+1:]
		if strings.Contains(p, "modemsim") || strings.HasSuffix(last, "test") {
			continue // the simulator and its main, and test helpers, are not in the agent binary
		}
		roots = append(roots, p)
	}
	if len(roots) == 0 {
		t.Fatalf("go list ./agent/... found no agent packages")
	}
	return roots
}

func runGo(t *testing.T, goTool, dir string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s go %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func decodeList(t *testing.T, out []byte) []listedPackage {
	t.Helper()
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}
