//go:build debtest

// The package test (make deb-test, build tag debtest; make image-test does not run it): builds
// the three packages with image/deb.sh as make deb does, checks each with dpkg-deb, installs the
// amd64 one here with dpkg -i (this needs root), checks the unit with systemd-analyze verify and
// runs the installed agent, as its service user with the shipped settings file, against
// ness-modemsim. It purges the package at the end.
package deb

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/image/agentenv"
)

const (
	testVersion = "1.0.0-debtest"
	testEpoch   = "1767225600" // 2026-01-01T00:00:00Z
)

func repoDir() string { d, _ := filepath.Abs("../.."); return d }

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func need(t *testing.T, bin, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s not found: install Debian package %s (scripts/setup packages)", bin, pkg)
	}
}

func buildDebs(t *testing.T, out string, arches ...string) map[string]string {
	t.Helper()
	run(t, []string{"VERSION=" + testVersion, "SOURCE_DATE_EPOCH=" + testEpoch}, filepath.Join(repoDir(), "image", "deb.sh"), append([]string{out}, arches...)...)
	debs := map[string]string{}
	for _, a := range arches {
		p := filepath.Join(out, "ness-agent_1.0.0+debtest_"+a+".deb")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("deb.sh %s: %v", a, err)
		}
		debs[a] = p
	}
	return debs
}

func sha(t *testing.T, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

func TestPackages(t *testing.T) {
	need(t, "dpkg-deb", "dpkg")
	need(t, "file", "file")
	dir := t.TempDir()
	debs := buildDebs(t, filepath.Join(dir, "a"), "amd64", "arm64", "armhf")

	// Reproducible: the same inputs elsewhere give the same bytes.
	again := buildDebs(t, filepath.Join(dir, "elsewhere", "b"), "amd64")
	if a, b := sha(t, debs["amd64"]), sha(t, again["amd64"]); a != b {
		t.Errorf("two builds of the amd64 package: sha256 %s and %s, want equal", a, b)
	}

	fileArch := map[string]string{"amd64": "x86-64", "arm64": "ARM aarch64", "armhf": "ARM, EABI5"}
	for arch, p := range debs {
		t.Run(arch, func(t *testing.T) {
			info := run(t, nil, "dpkg-deb", "--info", p)
			for _, want := range []string{"Package: ness-agent\n", "Version: 1.0.0+debtest\n", "Architecture: " + arch + "\n",
				"Depends: adduser\n", " conffiles", " postinst", " prerm", " postrm"} {
				if !strings.Contains(info, want) {
					t.Errorf("dpkg-deb --info %s: %q missing:\n%s", filepath.Base(p), want, info)
				}
			}
			if got := run(t, nil, "dpkg-deb", "--info", p, "conffiles"); got != EnvPath+"\n" {
				t.Errorf("conffiles: got %q, want %q", got, EnvPath+"\n")
			}
			contents := run(t, nil, "dpkg-deb", "--contents", p)
			for path, mode := range map[string]string{BinPath: "-rwxr-xr-x", UnitPath: "-rw-r--r--", EnvPath: "-rw-r-----",
				UdevPath: "-rw-r--r--", DocPath: "-rw-r--r--"} {
				re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mode) + ` root/root +\d+ 2026-01-01 00:00 \.` + regexp.QuoteMeta(path) + `$`)
				if !re.MatchString(contents) {
					t.Errorf("dpkg-deb --contents: want %s %s root/root at the epoch:\n%s", mode, path, contents)
				}
			}
			if n := strings.Count(strings.TrimSpace(contents), "\n") + 1; n != 18 {
				t.Errorf("dpkg-deb --contents: got %d entries, want 18 (5 files and 13 directories):\n%s", n, contents)
			}
			x := filepath.Join(t.TempDir(), "x")
			run(t, nil, "dpkg-deb", "-x", p, x)
			f := run(t, nil, "file", filepath.Join(x, BinPath))
			if !strings.Contains(f, "statically linked") || !strings.Contains(f, fileArch[arch]) {
				t.Errorf("file %s: got %q, want %s, statically linked", BinPath, f, fileArch[arch])
			}
			env, _ := os.ReadFile(filepath.Join(x, EnvPath))
			if string(env) != agentenv.Deb() {
				t.Errorf("%s differs from agentenv.Deb()", EnvPath)
			}
		})
	}

	// The settings file names only variables the agent knows.
	x := filepath.Join(dir, "x-amd64")
	run(t, nil, "dpkg-deb", "-x", debs["amd64"], x)
	help := run(t, nil, filepath.Join(x, BinPath), "--help")
	for _, n := range agentenv.Names() {
		if !strings.Contains(help, n) {
			t.Errorf("%s names %s, which ness-agent --help does not list", EnvPath, n)
		}
	}

	t.Run("install", func(t *testing.T) { install(t, debs["amd64"]) })
}

// install puts the amd64 package on this machine, checks what postinst did and the unit, runs
// the installed agent against the simulator, and purges the package.
func install(t *testing.T, deb string) {
	if os.Geteuid() != 0 {
		t.Fatal("installing the package needs root (dpkg -i); run make deb-test as root on a disposable machine")
	}
	need(t, "systemd-analyze", "systemd")
	need(t, "setpriv", "util-linux")
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "ness-agent").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatal("ness-agent is already installed here; the test installs and purges its own package: dpkg --purge ness-agent first")
	}
	run(t, nil, "dpkg", "-i", deb)
	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "ness-agent").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge ness-agent: %v\n%s", err, out)
		}
		if _, err := os.Stat(BinPath); err == nil {
			t.Errorf("%s still there after the purge", BinPath)
		}
		os.RemoveAll(StateDir) // kept by a purge on purpose (device key); this one is the test's
	})

	// What postinst did: a system user in dialout and gpio, the state directory, the settings
	// file readable by the service only, the conffile registered.
	pw := run(t, nil, "getent", "passwd", User)
	if f := strings.Split(strings.TrimSpace(pw), ":"); len(f) < 7 || f[6] != "/usr/sbin/nologin" || f[5] != StateDir {
		t.Errorf("getent passwd %s: got %q, want home %s and shell /usr/sbin/nologin", User, pw, StateDir)
	}
	if ids := run(t, nil, "id", User); !strings.Contains(ids, "(dialout)") || !strings.Contains(ids, "(gpio)") {
		t.Errorf("id %s: got %q, want groups dialout and gpio", User, ids)
	}
	if st := run(t, nil, "stat", "-c", "%U:%G %a", StateDir); strings.TrimSpace(st) != "ness-agent:ness-agent 750" {
		t.Errorf("%s: got %q, want ness-agent:ness-agent 750", StateDir, st)
	}
	if st := run(t, nil, "stat", "-c", "%U:%G %a", EnvPath); strings.TrimSpace(st) != "root:ness-agent 640" {
		t.Errorf("%s: got %q, want root:ness-agent 640", EnvPath, st)
	}
	if cf := run(t, nil, "dpkg-query", "-W", "-f", "${Conffiles}", "ness-agent"); !strings.Contains(cf, EnvPath+" ") {
		t.Errorf("dpkg-query Conffiles: got %q, want %s", cf, EnvPath)
	}

	// The unit, as installed: systemd-analyze verify loads it with the real binary in place.
	if out, err := exec.Command("systemd-analyze", "verify", "--man=no", UnitPath).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("systemd-analyze verify %s: %v, output:\n%s", UnitPath, err, out)
	} else {
		t.Logf("systemd-analyze verify %s: exit 0, no output", UnitPath)
	}

	// The udev rules parse: udevadm test reads every rules file and names each line it cannot use
	// ("FILE:LINE: ..."). Matching them needs real modems: a board.
	need(t, "udevadm", "udev")
	rules, err := filepath.EvalSymlinks(UdevPath) // /usr/lib/udev/... on a merged /usr
	if err != nil {
		t.Fatal(err)
	}
	udev, _ := exec.Command("udevadm", "test", "/sys/class/tty/tty").CombinedOutput()
	if !strings.Contains(string(udev), "Reading rules file: "+rules+"\n") {
		t.Errorf("udevadm test did not read %s:\n%s", rules, udev)
	}
	for _, l := range strings.Split(string(udev), "\n") {
		if strings.HasPrefix(l, rules+":") {
			t.Errorf("udevadm test: %s", l)
		}
	}

	runAgent(t)
}

// runAgent runs /usr/bin/ness-agent as the service user with the installed /etc/ness/agent.env
// pointed at a ness-modemsim board, as systemd would (EnvironmentFile=, no other environment):
// slot 0 must reach ready, and an injected SMS must be stored in the outbox and leave the SIM.
func runAgent(t *testing.T) {
	dir, err := os.MkdirTemp("", "ness-debtest-*") // not t.TempDir: the service user must reach it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	sim := filepath.Join(dir, "ness-modemsim")
	build := exec.Command("go", "build", "-o", sim, "./agent/cmd/ness-modemsim")
	build.Dir = repoDir()
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=", "GOARCH=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ness-modemsim: %v\n%s", err, out)
	}
	simDir, data := filepath.Join(dir, "modems"), filepath.Join(dir, "data")
	for _, d := range []string{simDir, data} {
		os.Mkdir(d, 0o750)
		run(t, nil, "chown", User+":"+User, d)
	}
	asUser := []string{"--reuid", User, "--regid", User, "--init-groups", "--no-new-privs", "--"}

	simCmd := exec.Command("setpriv", append(asUser, sim, "--slots", "1", "--dir", simDir, "--boot-delay", "200ms")...)
	simOut, _ := simCmd.StdoutPipe()
	simLog, _ := os.Create(filepath.Join(dir, "modemsim.log"))
	simCmd.Stderr = simLog
	if err := simCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { simCmd.Process.Signal(syscall.SIGTERM); simCmd.Wait() })
	control := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(simOut)
		for sc.Scan() {
			if m := regexp.MustCompile(`^ready control=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				control <- m[1]
			}
		}
	}()
	var simURL string
	select {
	case simURL = <-control:
	case <-time.After(20 * time.Second):
		t.Fatal("ness-modemsim printed no ready line in 20s")
	}

	// The shipped settings file, pointed at the simulator.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	metrics := ln.Addr().String()
	ln.Close()
	shipped, err := os.ReadFile(EnvPath)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.NewReplacer("#NESS_AGENT_BOARD=\n", "NESS_AGENT_BOARD=sim\n",
		"#NESS_AGENT_DATA_DIR=/var/lib/ness-agent\n", "NESS_AGENT_DATA_DIR="+data+"\n").Replace(string(shipped)) +
		"NESS_AGENT_SLOTS=1\nNESS_AGENT_SIM_CONTROL=" + simURL + "\nNESS_AGENT_SIM_DIR=" + simDir + "\n" +
		"NESS_AGENT_METRICS_ADDR=" + metrics + "\nNESS_AGENT_SWEEP_INTERVAL=2s\n"
	var vars []string
	for _, l := range strings.Split(env, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			vars = append(vars, l)
		}
	}
	if len(vars) != 7 {
		t.Fatalf("the edited %s sets %q, want 7 variables (BOARD and DATA_DIR uncommented, 5 added)", EnvPath, vars)
	}
	agentLog := filepath.Join(dir, "agent.log")
	lf, _ := os.Create(agentLog)
	agent := exec.Command("setpriv", append(asUser, BinPath, "run")...)
	agent.Env = append([]string{"PATH=/usr/bin:/bin"}, vars...)
	agent.Stdout, agent.Stderr = lf, lf
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait(); lf.Close() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			agent.Process.Kill()
			<-exited
		}
	})
	waitFor := func(what string, d time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !ok() {
			select {
			case err := <-exited:
				stopped = true
				b, _ := os.ReadFile(agentLog)
				t.Fatalf("the installed agent exited (%v) before %s:\n%s", err, what, b)
			default:
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(agentLog)
				t.Fatalf("no %s within %v; agent log:\n%s", what, d, b)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	logHas := func(re string) func() bool {
		rx := regexp.MustCompile(re)
		return func() bool { b, _ := os.ReadFile(agentLog); return rx.Match(b) }
	}
	waitFor("slot 0 ready", 30*time.Second, logHas(`slot=0 from=initialising to=ready`))
	t.Logf("%s run as %s with %s (edited): slot 0 ready", BinPath, User, EnvPath)

	r, err := http.Post(simURL+"/slots/0/sms", "application/json", strings.NewReader(`{"from":"+4915112345678","text":"installed agent check"}`))
	if err != nil || r.StatusCode/100 != 2 {
		t.Fatalf("inject SMS: %v %v", err, r)
	}
	r.Body.Close()
	stored := regexp.MustCompile(`(?m)^ness_agent_parts_stored_total 1$`)
	waitFor("stored SMS (ness_agent_parts_stored_total 1)", 20*time.Second, func() bool {
		r, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return stored.Match(b)
	})
	// Stored first, then deleted from the SIM.
	waitFor("the SIM emptied", 20*time.Second, func() bool {
		r, err := http.Get(simURL + "/slots/0")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return strings.Contains(string(b), `"messages":[]`) || !strings.Contains(string(b), `"pdu"`)
	})
	t.Log("injected SMS stored in the outbox (ness_agent_parts_stored_total 1) and deleted from the SIM")
	if st := run(t, nil, "stat", "-c", "%U %a", filepath.Join(data, "agent.key")); strings.TrimSpace(st) != "ness-agent 600" {
		t.Errorf("agent.key: got %q, want ness-agent 600", st)
	}
	agent.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			b, _ := os.ReadFile(agentLog)
			t.Errorf("the agent on SIGTERM: %v, want exit 0:\n%s", err, b)
		}
	case <-time.After(45 * time.Second):
		t.Error("the agent did not stop within 45s of SIGTERM (TimeoutStopSec)")
	}
}
