// Package boottest builds the image and boots it under qemu-system-aarch64 (make image-test).
// It has only tests: reproducibility (two builds in different folders, same SHA-256; every
// partition passes its fsck) and two boots with a simulated modem on usb-serial and a real
// ness-hub on host loopback, its embedded broker forwarded into the guest: the first boot makes
// the device key and the enrolment request, the provider enrols the agent from the boot
// partition, and after the second an SMS injected into the modem reaches the hub and opens with
// the renter's key. Missing tools fail the tests with the package to install.
package boottest

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/image/imagebuild"
	"github.com/ness-network/ness-sms/image/update"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestMain removes the inputs and the image the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if in.dir != "" {
		os.RemoveAll(in.dir)
	}
	if imgDir != "" {
		os.RemoveAll(imgDir)
	}
	os.Exit(code)
}

type inputs struct {
	dir, agent, init, modemsim, releasePub, releaseKey string
	ness, hub                                          string // host binaries: the CLI and the hub
}

var (
	inOnce sync.Once
	in     inputs
	inErr  error
)

func moduleDir() string { d, _ := filepath.Abs(".."); return d }
func repoDir() string   { d, _ := filepath.Abs("../.."); return d }

func goBuild(dir string, env []string, out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"}, env...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// buildInputs builds the arm64 agent and init, and the host's simulator, CLI and hub, once for
// every test.
func buildInputs(t *testing.T) inputs {
	t.Helper()
	inOnce.Do(func() {
		d, err := os.MkdirTemp("", "ness-boottest-in-*")
		if err != nil {
			inErr = err
			return
		}
		in = inputs{dir: d, agent: filepath.Join(d, "ness-agent"), init: filepath.Join(d, "ness-init"),
			modemsim: filepath.Join(d, "ness-modemsim"), ness: filepath.Join(d, "ness"), hub: filepath.Join(d, "ness-hub"),
			releasePub: filepath.Join(d, "release.pub"), releaseKey: filepath.Join(d, "release.key")}
		arm := []string{"GOOS=linux", "GOARCH=arm64"}
		if inErr = goBuild(repoDir(), arm, in.agent, "./agent/cmd/ness-agent"); inErr != nil {
			return
		}
		if inErr = goBuild(moduleDir(), arm, in.init, "./cmd/ness-init"); inErr != nil {
			return
		}
		host := []string{"GOOS=", "GOARCH="}
		for _, b := range []struct{ out, pkg string }{{in.modemsim, "./agent/cmd/ness-modemsim"},
			{in.ness, "./client/cmd/ness"}, {in.hub, "./hub/cmd/ness-hub"}} {
			if inErr = goBuild(repoDir(), host, b.out, b.pkg); inErr != nil {
				return
			}
		}
		inErr = update.GenerateKey(in.releaseKey, in.releasePub, "boottest", epoch)
	})
	if inErr != nil {
		t.Fatalf("building the image inputs: %v", inErr)
	}
	return in
}

func build(t *testing.T, dir string) *imagebuild.Result {
	t.Helper()
	in := buildInputs(t)
	res, err := imagebuild.Build(context.Background(), imagebuild.Config{
		Out: filepath.Join(dir, "out", "ness-agent-rpi-arm64.img.gz"), WorkDir: filepath.Join(dir, "work"),
		ModuleDir: moduleDir(), AgentBin: in.agent, InitBin: in.init, ReleaseKeys: []string{in.releasePub},
		Epoch: epoch, Version: "boottest", Log: testLog{t},
	})
	if err != nil {
		t.Fatalf("build in %s: %v", dir, err)
	}
	return res
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var (
	imgOnce sync.Once
	img     *imagebuild.Result
	imgDir  string
)

// sharedImage is the first build, which the boot test reuses.
func sharedImage(t *testing.T) *imagebuild.Result {
	t.Helper()
	imgOnce.Do(func() {
		imgDir, _ = os.MkdirTemp("", "ness-boottest-a-*")
		img = build(t, imgDir)
	})
	if img == nil {
		t.Fatal("the shared image build failed (see the first test)")
	}
	return img
}

func TestReproducible(t *testing.T) {
	a := sharedImage(t)
	time.Sleep(1100 * time.Millisecond) // a build that leaks the wall clock into the image now differs
	b := build(t, filepath.Join(t.TempDir(), "elsewhere", "deeper"))
	if a.SHA256 != b.SHA256 {
		t.Fatalf("two builds of the same inputs in different folders: sha256 %s (%s) and %s (%s), want equal",
			a.SHA256, a.Image, b.SHA256, b.Image)
	}
	if a.LabelID != b.LabelID {
		t.Errorf("label id: got %s and %s, want equal", a.LabelID, b.LabelID)
	}
	t.Logf("both builds: sha256 %s", a.SHA256)

	// Every partition passes its file system check.
	disk := filepath.Join(t.TempDir(), "disk.img")
	unpack(t, a.Image, disk)
	dir := t.TempDir()
	boot := extract(t, disk, imagebuild.BootPartNum, imagebuild.BootSize, filepath.Join(dir, "boot.fat"))
	perm := extract(t, disk, imagebuild.PermPartNum, imagebuild.PermSize, filepath.Join(dir, "perm.ext4"))
	root := extract(t, disk, imagebuild.RootAPartNum, imagebuild.RootSize, filepath.Join(dir, "root.sqfs"))
	mustRun(t, nil, "fsck.vfat", "-n", boot)
	mustRun(t, nil, "e2fsck", "-fn", perm)
	list := mustRun(t, nil, "unsquashfs", "-l", "-d", "", root)
	for _, want := range []string{"/ness-init", "/bin/ness-agent", "/etc/ness/release-keys/release.pub", "/dev/console"} {
		if !strings.Contains(list, "\n"+want+"\n") {
			t.Errorf("root squashfs: %s missing from the listing", want)
		}
	}
	files := mustRun(t, nil, "mdir", "-b", "-i", boot, "::/")
	for _, want := range []string{"config.txt", "cmdline.txt", "ness-agent.env", "vmlinuz", "start4.elf", "bcm2711-rpi-4-b.dtb", "bcm2712-rpi-5-b.dtb", "bcm2710-rpi-zero-2-w.dtb"} {
		if !strings.Contains(files, "::/"+want+"\n") {
			t.Errorf("boot partition: %s missing", want)
		}
	}
	cfg := mustRun(t, nil, "mtype", "-i", boot, "::/config.txt")
	if !strings.Contains(cfg, "\nenable_uart=1\n") {
		t.Errorf("config.txt: no enable_uart=1:\n%s", cfg)
	}
	cl := mustRun(t, nil, "mtype", "-i", boot, "::/cmdline.txt")
	if want := "root=PARTUUID=" + a.LabelID + "-02 "; !strings.Contains(cl, want) {
		t.Errorf("cmdline.txt: got %q, want it to contain %q", cl, want)
	}
}

// ---- helpers ----

func need(t *testing.T, bin, pkg string) string {
	t.Helper()
	for _, p := range []string{bin, "/usr/sbin/" + bin, "/sbin/" + bin} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("%s not found: install Debian package %s (scripts/setup packages)", bin, pkg)
	return ""
}

var pkgOf = map[string]string{"fsck.vfat": "dosfstools", "e2fsck": "e2fsprogs", "debugfs": "e2fsprogs", "unsquashfs": "squashfs-tools",
	"mdir": "mtools", "mtype": "mtools", "mcopy": "mtools", "qemu-system-aarch64": "qemu-system-arm"}

func mustRun(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(need(t, bin, pkgOf[bin]), args...)
	cmd.Env = append(os.Environ(), append([]string{"MTOOLS_SKIP_CHECK=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// unpack decompresses the image, keeping zero blocks sparse.
func unpack(t *testing.T, gz, dst string) {
	t.Helper()
	f, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	var off int64
	for {
		n, err := io.ReadFull(zr, buf)
		if n > 0 && string(buf[:n]) != string(zero[:n]) {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				t.Fatal(err)
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Truncate(off); err != nil {
		t.Fatal(err)
	}
}

func extract(t *testing.T, disk string, part int, size int64, dst string) string {
	t.Helper()
	f, err := os.Open(disk)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(f, imagebuild.PartOffset(part), size)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// console follows the guest's serial console file.
type console struct {
	path string
	off  int
}

// wait returns the first line after the last match that matches re, or fails at the deadline.
func (c *console) wait(t *testing.T, re string, deadline time.Time, exited <-chan struct{}) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		data, _ := os.ReadFile(c.path)
		text := string(data)
		if loc := rx.FindStringIndex(text[c.off:]); loc != nil {
			start := c.off + loc[0]
			end := c.off + loc[1]
			c.off = end
			ls := strings.LastIndex(text[:start], "\n") + 1
			le := strings.Index(text[end:], "\n")
			if le < 0 {
				return text[ls:]
			}
			return text[ls : end+le]
		}
		select {
		case <-exited:
			t.Fatalf("the guest stopped before printing %q; console:\n%s", re, tail(text))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest did not print %q in time; console:\n%s", re, tail(text))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	return strings.Join(lines, "\n")
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}

// ---- boot ----

type guest struct {
	disk, console, sock string
	brokerPort          int
	label               string
	kernel              string
	rtc                 string // QEMU -rtc base=
}

// startQEMU boots the guest; the returned channel is closed when QEMU exits.
func startQEMU(t *testing.T, g guest, root int, logName string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	q := need(t, "qemu-system-aarch64", "qemu-system-arm")
	args := []string{"-M", "virt", "-cpu", "cortex-a53", "-smp", "2", "-m", "512",
		"-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
		"-rtc", "base=" + g.rtc,
		"-serial", "file:" + g.console,
		"-kernel", g.kernel,
		"-append", fmt.Sprintf("console=ttyAMA0 root=PARTUUID=%s-%02d ro init=%s rootwait panic=10", g.label, root, imagebuild.InitPath),
		"-drive", "file=" + g.disk + ",format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0",
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-tcp:127.0.0.1:%d", g.brokerPort),
		"-device", "virtio-net-pci,netdev=n0,romfile=",
		"-device", "qemu-xhci", "-chardev", "socket,id=m0,path=" + g.sock, "-device", "usb-serial,chardev=m0",
	}
	cmd := exec.Command(q, args...)
	logf, _ := os.Create(filepath.Join(filepath.Dir(g.console), logName))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	return cmd, done
}

// proc is a host process the test started; stop ends it by its PID (SIGTERM, then SIGKILL).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	return fmt.Sprintf("--- last lines of %s:\n%s", p.name, tail(string(b)))
}

// hub is a real ness-hub on loopback: embedded MQTT broker, SQLite and the development chain in
// its data directory.
type hub struct {
	*proc
	url        string
	mqttPort   int
	verify     string // the hub's Ed25519 key, base64: NESS_AGENT_HUB_KEY
	cliEnv     []string
	nessBinary string
}

func startHub(t *testing.T, in inputs, dir string) *hub {
	t.Helper()
	hdir := filepath.Join(dir, "hub")
	os.MkdirAll(hdir, 0o700)
	h := &hub{nessBinary: in.ness,
		// The CLI keeps nothing in the user's ~/.config: sign-ins are printed (--print), not saved.
		cliEnv: []string{"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "NESS_HUB_URL=", "NESS_TOKEN=", "NESS_KEY="}}
	out := h.ness(t, "keygen", "--kind", "hub", "--name", "boottest-hub", "--out", filepath.Join(hdir, "hub.key"))
	h.verify = field(t, out, "verify (Ed25519):")
	for attempt := 1; ; attempt++ {
		httpPort, mqttPort := freePort(t), freePort(t)
		if httpPort == mqttPort {
			continue
		}
		h.url = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		h.mqttPort = mqttPort
		h.proc = startProc(t, dir, fmt.Sprintf("ness-hub-%d", attempt), []string{
			"NESS_HUB_DATA_DIR=" + hdir, "NESS_HUB_KEY=" + filepath.Join(hdir, "hub.key"),
			fmt.Sprintf("NESS_HUB_HTTP_ADDR=127.0.0.1:%d", httpPort), fmt.Sprintf("NESS_HUB_MQTT_LISTEN=127.0.0.1:%d", mqttPort),
			"NESS_HUB_MQTT_CLIENT_ID=ness-hub-boottest"}, in.hub)
		deadline := time.Now().Add(30 * time.Second)
		for !h.exited() && time.Now().Before(deadline) {
			if r, err := http.Get(h.url + "/healthz"); err == nil {
				r.Body.Close()
				if r.StatusCode == http.StatusOK {
					return h
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		h.stop()
		// Another program may have taken a port between freePort and the hub's listen.
		if b, _ := os.ReadFile(h.log); attempt < 3 && strings.Contains(string(b), "address already in use") {
			continue
		}
		t.Fatalf("ness-hub not healthy at %s/healthz within 30s\n%s", h.url, h.logTail())
	}
}

// ness runs the CLI and returns its stdout; a failure fails the test with its stderr.
func (h *hub) ness(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(h.nessBinary, args...)
	cmd.Env = append(os.Environ(), h.cliEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ness %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// field returns the value after prefix on its line of out.
func field(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %q line in:\n%s", prefix, out)
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, r.Status)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// writeBootFile puts a file on the SD card's boot partition, as a provider would from any computer.
func writeBootFile(t *testing.T, dir, fat, name string, data []byte) {
	t.Helper()
	src := filepath.Join(dir, "boot-"+name)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, "mcopy", "-o", "-i", fat, src, "::/"+name)
}

// TestBoot boots the image twice, as a provider would use it. Boot 1: no certificate; the agent
// makes its device key, ness-init writes the enrolment request to the boot partition, the slot
// reaches ready on the simulated modem, then the power is cut. The provider reads the request
// from the card, signs the certificate, enrols the agent at the hub (its MQTT password), binds the
// SIM's number and a renter rents it; the certificate and settings go onto the boot partition.
// Boot 2: the agent connects to the hub through the one forwarded address, an SMS injected into
// the modem arrives at the hub, and the renter's CLI verifies it (wire) and opens it.
func TestBoot(t *testing.T) {
	need(t, "qemu-system-aarch64", "qemu-system-arm")
	res := sharedImage(t)
	in := buildInputs(t)
	dir := t.TempDir()
	kdir, err := imagebuild.ModuleFileDir(context.Background(), moduleDir(), imagebuild.ModKernelArm64)
	if err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()

	// The hub, on host loopback. Its embedded broker is the one address forwarded into the
	// guest (10.0.2.100:1883); restrict=on leaves the guest no other way out.
	h := startHub(t, in, dir)

	// The SD card, with the settings a provider would write from a computer.
	disk := filepath.Join(dir, "sd.img")
	unpack(t, res.Image, disk)
	fat := fmt.Sprintf("%s@@%d", disk, imagebuild.PartOffset(imagebuild.BootPartNum))
	writeBootFile(t, dir, fat, "ness-agent.env", []byte("\xef\xbb\xbf# written by the boot test\r\n"+
		"NESS_AGENT_BOARD=usb-generic\r\nNESS_AGENT_PORTS=/dev/ttyUSB0\r\n"+
		"NESS_AGENT_MQTT_URL=tcp://10.0.2.100:1883\r\n"+
		"NESS_NTP_SERVERS=10.0.2.3\r\nNESS_NTP_WAIT=3s\r\n"+
		"NESS_UPDATE_HEALTHY_AFTER=5s\r\n"))

	// Modem: one simulated SIM7600 on a unix socket, attached to the guest as usb-serial. It
	// runs across both boots, like the modem on a board.
	simDir := filepath.Join(dir, "sim")
	os.Mkdir(simDir, 0o755)
	sim := exec.Command(in.modemsim, "--slots", "1", "--dir", simDir, "--socket", "--boot-delay", "500ms")
	simOut, _ := sim.StdoutPipe()
	simLog, _ := os.Create(filepath.Join(dir, "modemsim.log"))
	sim.Stderr = simLog
	if err := sim.Start(); err != nil {
		t.Fatalf("start ness-modemsim: %v", err)
	}
	t.Cleanup(func() { sim.Process.Signal(syscall.SIGTERM); sim.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(simOut)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				ready <- sc.Text()
			}
		}
	}()
	var simControl string
	select {
	case l := <-ready:
		m := regexp.MustCompile(`control=(http://\S+)`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("ness-modemsim ready line %q names no control URL", l)
		}
		simControl = m[1]
	case <-time.After(20 * time.Second):
		t.Fatal("ness-modemsim did not print its ready line within 20s")
	}

	// ---- boot 1: no certificate yet ----
	g := guest{disk: disk, console: filepath.Join(dir, "console.log"), sock: filepath.Join(simDir, "slot0.sock"),
		brokerPort: h.mqttPort, label: res.LabelID, kernel: filepath.Join(kdir, "vmlinuz"),
		// The Pi has no battery-backed clock: start the guest far in the past so the clock
		// fallback has to work.
		rtc: "2000-01-01T00:00:00"}
	start := time.Now()
	qemu, exited := startQEMU(t, g, imagebuild.RootAPartNum, "qemu.log")
	c := &console{path: g.console}
	deadline := start.Add(150 * time.Second)
	c.wait(t, `ness-init: starting, image boottest`, deadline, exited)
	t.Logf("ness-init's first line %.1fs after qemu started", time.Since(start).Seconds())
	c.wait(t, `ness-init: mounted /perm \(/dev/vda4\)`, deadline, exited)
	c.wait(t, `ness-init: read ness-agent.env: 6 settings`, deadline, exited)
	line := c.wait(t, `ness-init: clock: 2000-01-0.* is before the build time; set to 2026-01-01T00:00:00Z`, deadline, exited)
	t.Log(line)
	c.wait(t, `ness-init: network: eth0: 10\.0\.2\.15/24`, deadline, exited)
	c.wait(t, `ness-init: clock: no NTP answer within 3s .*keeping fallback: build time: 2026-01-01T00:00`, deadline, exited)
	c.wait(t, `ness-init: agent: started /bin/ness-agent`, deadline, exited)
	t.Logf("agent started %.1fs after qemu started", time.Since(start).Seconds())
	// Before or after the agent's start (from `ness-agent enroll-request`, or from the key file
	// an agent without that command creates): search the whole console.
	line = (&console{path: g.console}).wait(t, `ness-init: enrolment request written to the boot partition`, deadline, exited)
	t.Log(line)
	// The agent reaches the modem on /dev/ttyUSB0 (the simulator answers its AT commands).
	line = c.wait(t, `ness-agent: .*slot=0 from=initialising to=ready`, deadline, exited)
	t.Log(line)
	// Let the agent settle, then cut the power (as a board on a windowsill would see).
	time.Sleep(3 * time.Second)
	qemu.Process.Kill()
	<-exited

	// The enrolment request on the boot partition names the key the agent keeps on /perm.
	reqText := mustRun(t, nil, "mtype", "-i", fat, "::/ness-enroll-request.json")
	var req struct {
		Agent    string `json:"agent"`
		AgentKey string `json:"agent_key"`
	}
	if err := json.Unmarshal([]byte(reqText), &req); err != nil || len(req.Agent) != 32 || req.AgentKey == "" {
		t.Fatalf("ness-enroll-request.json: got %q (%v), want {\"agent\": 32 hex, \"agent_key\": ...}", reqText, err)
	}
	perm := extract(t, disk, imagebuild.PermPartNum, imagebuild.PermSize, filepath.Join(dir, "perm.ext4"))
	// A power cut leaves the journal to replay; after that the file system must be clean.
	cmd := exec.Command(need(t, "e2fsck", "e2fsprogs"), "-fy", perm)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			t.Fatalf("e2fsck -fy /perm after the power cut: %v\n%s", err, out)
		}
	}
	mustRun(t, nil, "e2fsck", "-fn", perm)
	stat := mustRun(t, nil, "debugfs", "-R", "stat /ness-agent/agent.key", perm)
	if !strings.Contains(stat, "Mode:  0600") {
		t.Errorf("/perm/ness-agent/agent.key: want mode 0600; debugfs stat:\n%s", stat)
	}
	key := mustRun(t, nil, "debugfs", "-R", "cat /ness-agent/agent.key", perm)
	if !strings.Contains(key, `"`+req.Agent+`"`) || !strings.Contains(key, req.AgentKey) {
		t.Errorf("the enrolment request %s does not name the device key on /perm", reqText)
	}
	clock := mustRun(t, nil, "debugfs", "-R", "cat /ness-init/clock", perm)
	if saved, err := time.Parse(time.RFC3339, strings.TrimSpace(lastLine(clock))); err != nil || saved.Before(epoch) {
		t.Errorf("/perm/ness-init/clock: got %q, want a time no earlier than the build time %v", clock, epoch)
	}

	// ---- the provider's enrolment step (docs/IMAGE.md), from the card's boot partition ----
	reqFile := filepath.Join(dir, "ness-enroll-request.json")
	os.WriteFile(reqFile, []byte(reqText), 0o644)
	provKey, certFile, pwFile := filepath.Join(dir, "provider.key"), filepath.Join(dir, "agent.cert"), filepath.Join(dir, "mqtt.password")
	provVerify := field(t, h.ness(t, "keygen", "--kind", "provider", "--name", "boottest-provider", "--out", provKey), "verify (Ed25519):")
	provToken := strings.TrimSpace(h.ness(t, "login", "--hub", h.url, "--key", provKey, "--print"))
	h.ness(t, "provider", "enroll", reqFile, "--key", provKey, "--out", certFile,
		"--hub", h.url, "--token", provToken, "--password-out", pwFile)
	cert, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil || len(strings.TrimSpace(string(pw))) == 0 {
		t.Fatalf("ness provider enroll --password-out wrote no MQTT password (%v)", err)
	}
	writeBootFile(t, dir, fat, "agent.cert", cert)
	writeBootFile(t, dir, fat, "ness-agent.env", []byte("# the provider's enrolment step\n"+
		"NESS_AGENT_BOARD=usb-generic\nNESS_AGENT_PORTS=/dev/ttyUSB0\n"+
		"NESS_AGENT_MQTT_URL=tcp://10.0.2.100:1883\n"+
		"NESS_AGENT_HUB_KEY="+h.verify+"\n"+
		"NESS_AGENT_MQTT_PASSWORD="+strings.TrimSpace(string(pw))+"\n"+
		"NESS_AGENT_STATUS_INTERVAL=5s\n"+
		"NESS_NTP_SERVERS=10.0.2.3\nNESS_NTP_WAIT=3s\n"))

	// The SIM's number, bound by the provider and rented by a renter.
	var slot struct {
		ICCID  string `json:"iccid"`
		Number string `json:"number"`
	}
	getJSON(t, simControl+"/slots/0", &slot)
	h.ness(t, "provider", "numbers", "bind", slot.Number, "--iccid", slot.ICCID, "--agent", req.Agent, "--country", "US",
		"--daily", "0.5", "--weekly", "3", "--monthly", "10", "--per-sms", "0.01", "--hub", h.url, "--token", provToken)
	renterKey := filepath.Join(dir, "renter.key")
	renterPublic := field(t, h.ness(t, "keygen", "--kind", "renter", "--name", "boottest-renter", "--out", renterKey), "public (X25519):")
	renterToken := strings.TrimSpace(h.ness(t, "login", "--hub", h.url, "--key", renterKey, "--print"))
	// Through the API (docs/API.md POST /v1/rentals), as `ness rent` does: the renter sends only
	// the X25519 public key every SMS to the number is sealed to.
	rq, _ := http.NewRequest("POST", h.url+"/v1/rentals", strings.NewReader(fmt.Sprintf(
		`{"number":%q,"duration":"daily","renter_key":%q}`, slot.Number, renterPublic)))
	rq.Header.Set("Authorization", "Bearer "+renterToken)
	rq.Header.Set("Content-Type", "application/json")
	rr, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatalf("POST /v1/rentals: %v", err)
	}
	rental, _ := io.ReadAll(rr.Body)
	rr.Body.Close()
	if rr.StatusCode/100 != 2 {
		t.Fatalf("POST /v1/rentals: %s: %s", rr.Status, rental)
	}
	var rent struct {
		ID    string    `json:"id"`
		Until time.Time `json:"until"`
		Seq   int       `json:"lease_seq"`
	}
	if err := json.Unmarshal(rental, &rent); err != nil || rent.ID == "" {
		t.Fatalf("POST /v1/rentals: answer %s: %v", rental, err)
	}
	t.Logf("rented %s: rental %s, lease #%d, until %s", slot.Number, rent.ID, rent.Seq, rent.Until.Format(time.RFC3339))

	// ---- boot 2: enrolled ----
	// The certificate and lease are valid from now, so the guest needs the right time: on a board
	// NTP gives it, but restrict=on leaves the guest no NTP server (guestfwd is TCP only), so
	// QEMU's RTC carries the host's time, as a board's clock after NTP.
	g.console = filepath.Join(dir, "console2.log")
	g.rtc = time.Now().UTC().Format("2006-01-02T15:04:05")
	start = time.Now()
	qemu, exited = startQEMU(t, g, imagebuild.RootAPartNum, "qemu2.log")
	c = &console{path: g.console}
	deadline = start.Add(120 * time.Second)
	c.wait(t, `ness-init: read ness-agent.env: 8 settings`, deadline, exited)
	c.wait(t, `ness-init: agent: started /bin/ness-agent`, deadline, exited)
	// NESS_AGENT_CERT defaults to the certificate on the boot partition: the agent publishes.
	line = c.wait(t, `ness-agent: .*mqtt connected`, deadline, exited)
	t.Log(line)
	if strings.Contains(readFile(g.console), "store-only") {
		t.Fatalf("the enrolled agent runs store-only; console:\n%s", tail(readFile(g.console)))
	}
	c.wait(t, `ness-agent: .*slot=0 from=initialising to=ready`, deadline, exited)

	// The hub sees the agent online with the SIM; the retained lease reached the agent on subscribe.
	for {
		var v struct {
			Agents []struct {
				ID     string `json:"id"`
				Online bool   `json:"online"`
				Slots  []struct {
					ICCID string `json:"iccid"`
				} `json:"slots"`
			} `json:"agents"`
		}
		json.Unmarshal([]byte(h.ness(t, "provider", "slots", "--json", "--hub", h.url, "--token", provToken)), &v)
		online := false
		for _, a := range v.Agents {
			for _, s := range a.Slots {
				online = online || a.ID == req.Agent && a.Online && s.ICCID == slot.ICCID
			}
		}
		if online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub does not show agent %s online with SIM %s: %+v\n%s", req.Agent, slot.ICCID, v, h.logTail())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// The agent publishes its slots only after its subscriptions' SUBACK, and the broker sends the
	// retained lease right after it; the hub may mark the agent online at CONNECT already. A
	// margin for the lease to be checked and stored on the (emulated, slow) board:
	time.Sleep(2 * time.Second)

	// An SMS arrives at the modem.
	const sender, text = "+4915112345678", "NESS boot test: your code is 482913"
	body := fmt.Sprintf(`{"from":%q,"text":%q}`, sender, text)
	injected := time.Now()
	r, err := http.Post(simControl+"/slots/0/sms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("inject SMS: %v", err)
	}
	r.Body.Close()
	if r.StatusCode/100 != 2 {
		t.Fatalf("inject SMS: POST %s/slots/0/sms: %s", simControl, r.Status)
	}

	// The renter reads it from the hub: ness messages checks the certificate (signed by this
	// provider), the agent's signature and the listed fields with package wire, then opens the
	// sealed box with the renter's X25519 key. A message failing any check makes it exit 1.
	type message struct {
		Number, Sender, Text, Agent, ICCID, Provider string
		Slot                                         int
	}
	var got []message
	for len(got) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the SMS injected %.0fs ago did not reach the renter\n%s\n--- guest console:\n%s",
				time.Since(injected).Seconds(), h.logTail(), tail(readFile(g.console)))
		}
		out := h.ness(t, "messages", "--json", "--wait", "10s", "--provider", provVerify,
			"--hub", h.url, "--token", renterToken, "--key", renterKey)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l == "" {
				continue
			}
			var m message
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("ness messages --json: line %q: %v", l, err)
			}
			got = append(got, m)
		}
	}
	t.Logf("SMS injected → opened by the renter: %.1fs", time.Since(injected).Seconds())
	want := message{Number: slot.Number, Sender: sender, Text: text, Agent: req.Agent, ICCID: slot.ICCID, Provider: provVerify, Slot: 0}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the renter's messages: got %+v, want exactly [%+v]", got, want)
	}
	qemu.Process.Kill()
	<-exited
	t.Logf("TestBoot: %.1fs", time.Since(testStart).Seconds())
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
