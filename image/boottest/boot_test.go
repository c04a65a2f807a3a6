// Package boottest builds the image and boots it under qemu-system-aarch64 (make image-test).
// It has only tests: reproducibility (two builds in different folders, same SHA-256; every
// partition passes its fsck) and a boot with a simulated modem on usb-serial and a private
// Mosquitto forwarded into the guest. Missing tools fail the tests with the package to install.
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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
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

// buildInputs builds the arm64 agent and init and the host simulator once for every test.
func buildInputs(t *testing.T) inputs {
	t.Helper()
	inOnce.Do(func() {
		d, err := os.MkdirTemp("", "ness-boottest-in-*")
		if err != nil {
			inErr = err
			return
		}
		in = inputs{dir: d, agent: filepath.Join(d, "ness-agent"), init: filepath.Join(d, "ness-init"),
			modemsim: filepath.Join(d, "ness-modemsim"), releasePub: filepath.Join(d, "release.pub"), releaseKey: filepath.Join(d, "release.key")}
		arm := []string{"GOOS=linux", "GOARCH=arm64"}
		if inErr = goBuild(repoDir(), arm, in.agent, "./agent/cmd/ness-agent"); inErr != nil {
			return
		}
		if inErr = goBuild(moduleDir(), arm, in.init, "./cmd/ness-init"); inErr != nil {
			return
		}
		if inErr = goBuild(repoDir(), []string{"GOOS=", "GOARCH="}, in.modemsim, "./agent/cmd/ness-modemsim"); inErr != nil {
			return
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
	"mdir": "mtools", "mtype": "mtools", "mcopy": "mtools", "qemu-system-aarch64": "qemu-system-arm", "mosquitto": "mosquitto"}

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
}

// startQEMU boots the guest; the returned channel is closed when QEMU exits.
func startQEMU(t *testing.T, g guest, root int, logName string) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	q := need(t, "qemu-system-aarch64", "qemu-system-arm")
	args := []string{"-M", "virt", "-cpu", "cortex-a53", "-smp", "2", "-m", "512",
		"-display", "none", "-monitor", "none", "-no-reboot", "-nodefaults",
		// The Pi has no battery-backed clock: start the guest far in the past so the clock
		// fallback has to work.
		"-rtc", "base=2000-01-01T00:00:00",
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

func TestBoot(t *testing.T) {
	need(t, "qemu-system-aarch64", "qemu-system-arm")
	need(t, "mosquitto", "mosquitto")
	res := sharedImage(t)
	in := buildInputs(t)
	dir := t.TempDir()
	kdir, err := imagebuild.ModuleFileDir(context.Background(), moduleDir(), imagebuild.ModKernelArm64)
	if err != nil {
		t.Fatal(err)
	}

	// The SD card, with the settings a provider would write from a computer.
	disk := filepath.Join(dir, "sd.img")
	unpack(t, res.Image, disk)
	env := filepath.Join(dir, "ness-agent.env")
	os.WriteFile(env, []byte("\xef\xbb\xbf# written by the boot test\r\n"+
		"NESS_AGENT_BOARD=usb-generic\r\nNESS_AGENT_PORTS=/dev/ttyUSB0\r\n"+
		"NESS_AGENT_MQTT_URL=tcp://10.0.2.100:1883\r\n"+
		"NESS_NTP_SERVERS=10.0.2.3\r\nNESS_NTP_WAIT=3s\r\n"+
		"NESS_UPDATE_HEALTHY_AFTER=5s\r\n"), 0o644)
	fat := fmt.Sprintf("%s@@%d", disk, imagebuild.PartOffset(imagebuild.BootPartNum))
	mustRun(t, nil, "mcopy", "-o", "-i", fat, env, "::/ness-agent.env")

	// Broker: a private Mosquitto on a free port, forwarded into the guest as 10.0.2.100:1883.
	port := freePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type all\nlog_dest file %s\n", port, filepath.Join(dir, "mosquitto.log"))), 0o644)
	mq := exec.Command(need(t, "mosquitto", "mosquitto"), "-c", conf)
	if err := mq.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	t.Cleanup(func() { mq.Process.Kill(); mq.Wait() })

	// Modem: one simulated SIM7600 on a unix socket, attached to the guest as usb-serial.
	simDir := filepath.Join(dir, "sim")
	os.Mkdir(simDir, 0o755)
	sim := exec.Command(in.modemsim, "--slots", "1", "--dir", simDir, "--socket", "--boot-delay", "500ms")
	simOut, _ := sim.StdoutPipe()
	simLog, _ := os.Create(filepath.Join(dir, "modemsim.log"))
	sim.Stderr = simLog
	if err := sim.Start(); err != nil {
		t.Fatalf("start ness-modemsim: %v", err)
	}
	t.Cleanup(func() { sim.Process.Kill(); sim.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(simOut)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ready ") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("ness-modemsim did not print its ready line within 20s")
	}

	g := guest{disk: disk, console: filepath.Join(dir, "console.log"), sock: filepath.Join(simDir, "slot0.sock"),
		brokerPort: port, label: res.LabelID, kernel: filepath.Join(kdir, "vmlinuz")}
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
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
