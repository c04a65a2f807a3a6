// Command ness-init is pid 1 of the NESS SMS agent image. It mounts /proc, /sys, /dev, /perm
// (ext4, the agent's keys and outbox) and /boot (FAT, read-only but for short writes), reads
// ness-agent.env from the boot partition, brings the network up by DHCP, sets the clock (NTP
// with a bounded wait, else the newest of the build time and the time last saved on /perm),
// applies a signed update to the inactive root partition, writes the agent's enrolment request
// to the boot partition, supervises ness-agent with restart backoff and serves a status page.
//
// It is our own rather than gokrazy's init because the board's first-boot contract is ours:
// settings and the enrolment request on the FAT partition, a clock floor before the agent
// starts, signed A/B updates through the Pi firmware's tryboot, and the agent's output on the
// serial console, none of which gokrazy's init does (it updates over its own unsigned HTTP API
// and keeps programs' output in a memory buffer). It needs only the standard library.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	agentBin    = "/bin/ness-agent"
	stateDir    = "/perm/ness-init"
	clockFile   = stateDir + "/clock"
	enrollFile  = "/boot/ness-enroll-request.json"
	statusFile  = "/boot/ness-status.txt"
	releaseKeys = "/etc/ness/release-keys"
)

var logOut io.Writer = os.Stderr

func logf(format string, a ...any) {
	fmt.Fprintf(logOut, "ness-init: "+format+"\n", a...)
}

// status is what the status page shows; mu guards every field.
type status struct {
	mu            sync.Mutex
	Hostname      string    `json:"hostname"`
	Version       string    `json:"version"`
	BuildTime     time.Time `json:"build_time"`
	Root          string    `json:"root"` // "A" or "B"
	Clock         string    `json:"clock"`
	Addresses     []string  `json:"addresses"`
	Agent         string    `json:"agent"`
	AgentPID      int       `json:"agent_pid,omitempty"`
	AgentRestarts int       `json:"agent_restarts"`
	AgentSince    time.Time `json:"agent_since,omitzero"`
	Enroll        any       `json:"enroll_request,omitempty"`
	Update        string    `json:"update,omitempty"`
	Perm          string    `json:"perm"`
}

func (s *status) set(fn func(*status)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

func (s *status) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "NESS SMS agent %s (%s)\n", s.Hostname, s.Version)
	fmt.Fprintf(&b, "time:      %s (%s)\n", time.Now().UTC().Format(time.RFC3339), s.Clock)
	fmt.Fprintf(&b, "root:      %s   image built %s\n", s.Root, s.BuildTime.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "network:   %s\n", strings.Join(s.Addresses, ", "))
	fmt.Fprintf(&b, "data:      %s\n", s.Perm)
	fmt.Fprintf(&b, "agent:     %s (pid %d, %d restarts)\n", s.Agent, s.AgentPID, s.AgentRestarts)
	if s.Update != "" {
		fmt.Fprintf(&b, "update:    %s\n", s.Update)
	}
	if s.Enroll != nil {
		e, _ := json.Marshal(s.Enroll)
		fmt.Fprintf(&b, "enrolment request (give it to your provider tool): %s\n", e)
	}
	return b.String()
}

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "ness-init: this is the image's init (pid 1); it does nothing elsewhere")
		os.Exit(2)
	}
	if err := mountBase(); err != nil {
		fmt.Fprintln(os.Stderr, "ness-init:", err)
	}
	logOut = console()
	defer func() {
		if r := recover(); r != nil {
			logf("panic: %v; rebooting in 10s", r)
			time.Sleep(10 * time.Second)
			reboot("")
		}
	}()
	st := &status{Agent: "not started", Perm: "not mounted"}
	bi, _ := os.ReadFile("/etc/ness/build-info")
	st.Version, st.BuildTime = parseBuildInfo(bi)
	logf("starting, image %s built %s", st.Version, st.BuildTime.UTC().Format(time.RFC3339))
	rp := newReaper()

	// Disks: the root's PARTUUID names the disk; partition 1 is boot, 4 is /perm.
	label, rootPart, err := cmdlineRoot(kernelCmdline())
	var dsk *disk
	if err == nil {
		dsk, err = findDisk(label, 10*time.Second)
	}
	if err != nil {
		logf("cannot find the boot disk: %v", err)
	}
	st.Root = map[int]string{2: "A", 3: "B"}[rootPart]
	if dsk != nil {
		if err := mountPerm(dsk.part(4)); err != nil {
			logf("mount /perm (%s): %v; keys and outbox will NOT survive a reboot", dsk.part(4), err)
			syscall.Mount("tmpfs", "/perm", "tmpfs", 0, "mode=0755,size=64m")
			st.Perm = "NOT MOUNTED (" + err.Error() + "): data is lost at reboot"
		} else {
			st.Perm = "mounted " + dsk.part(4)
			logf("mounted /perm (%s)", dsk.part(4))
		}
		if err := mountBoot(dsk.part(1)); err != nil {
			logf("mount /boot (%s): %v", dsk.part(1), err)
		}
	}
	os.MkdirAll(stateDir, 0o700)

	// Settings.
	vars := map[string]string{}
	if data, err := os.ReadFile("/boot/ness-agent.env"); err != nil {
		logf("no /boot/ness-agent.env (%v): using defaults", err)
	} else {
		var warn []string
		vars, warn = parseEnv(data)
		for _, w := range warn {
			logf("ness-agent.env: %s", w)
		}
		logf("read ness-agent.env: %d settings", len(vars))
	}
	set, warn := loadSettings(vars)
	for _, w := range warn {
		logf("ness-agent.env: %s", w)
	}
	st.Hostname = set.Hostname
	setHostname(set.Hostname)

	// Clock floor first, so nothing ever sees 1970.
	var saved time.Time
	if b, err := os.ReadFile(clockFile); err == nil {
		saved, _ = time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	}
	floor := clockFloor(st.BuildTime, saved)
	if now := time.Now(); now.Before(floor) {
		src := "build time"
		if floor.Equal(saved) {
			src = "last saved time"
		}
		if err := setClock(floor); err != nil {
			logf("clock: set to %s: %v", floor.UTC().Format(time.RFC3339), err)
		}
		st.Clock = "fallback: " + src
		logf("clock: %s is before the %s; set to %s", now.UTC().Format(time.RFC3339), src, floor.UTC().Format(time.RFC3339))
	} else {
		st.Clock = "hardware clock"
	}

	// Network, then NTP within the bounded wait.
	ntpFromDHCP := make(chan []net.IP, 4)
	go network(set, st, ntpFromDHCP)
	syncClock(set, st, ntpFromDHCP)
	go saveClockLoop()

	// Updates: trial boot, fallback, or a new update file.
	upd := handleUpdates(dsk, label, rootPart, set, st)

	// Status page.
	if set.StatusAddr != "" {
		go serveStatus(set.StatusAddr, st)
	}

	// Enrolment request, then the agent.
	_, certErr := os.Stat(BootCert)
	env := withBootCert(agentEnv(vars), certErr == nil)
	enroll(rp, env, st)
	go writeBootStatus(st)
	superviseAgent(rp, env, st, upd)
}

// network configures every wired interface: a fixed address when the env file gives one, DHCP
// otherwise (renewed at half the lease).
func network(set settings, st *status, ntp chan<- []net.IP) {
	linkUp("lo")
	setAddress("lo", net.IPv4(127, 0, 0, 1), net.CIDRMask(8, 32))
	ifs := networkInterfaces()
	if len(ifs) == 0 {
		logf("network: no wired interface (Wi-Fi is not supported by this image yet)")
		return
	}
	for _, ifc := range ifs {
		linkUp(ifc.Name)
		if set.NetAddress != "" {
			ip, ipn, err := net.ParseCIDR(set.NetAddress)
			if err != nil {
				logf("network: NESS_NET_ADDRESS=%q: %v", set.NetAddress, err)
				return
			}
			if err := setAddress(ifc.Name, ip, ipn.Mask); err != nil {
				logf("network: %v", err)
			}
			if gw := net.ParseIP(set.NetGateway); gw != nil {
				if err := addDefaultRoute(gw); err != nil {
					logf("network: %v", err)
				}
			}
			var dns []net.IP
			for _, d := range set.NetDNS {
				if ip := net.ParseIP(d); ip != nil {
					dns = append(dns, ip)
				}
			}
			writeResolvConf(dns)
			logf("network: %s: %s (fixed)", ifc.Name, set.NetAddress)
			st.set(func(s *status) { s.Addresses = append(s.Addresses, ifc.Name+" "+set.NetAddress) })
			return // one fixed address, on the first interface
		}
		go dhcpLoop(ifc, set.Hostname, st, ntp)
	}
}

func dhcpLoop(ifc net.Interface, hostname string, st *status, ntp chan<- []net.IP) {
	c := &dhcpClient{ifname: ifc.Name, mac: ifc.HardwareAddr, hostname: hostname}
	var cur *lease
	wait := time.Second
	for {
		l, err := c.acquire(cur)
		if err != nil {
			if cur != nil {
				cur = nil // renewal failed: start over
				continue
			}
			logf("network: %v; retrying in %v", err, wait)
			time.Sleep(wait)
			wait = min(wait*2, time.Minute)
			continue
		}
		wait = time.Second
		if cur == nil || !cur.ip.Equal(l.ip) {
			if err := setAddress(ifc.Name, l.ip, l.mask); err != nil {
				logf("network: %v", err)
			}
			if l.router != nil {
				if err := addDefaultRoute(l.router); err != nil {
					logf("network: %v", err)
				}
			}
			writeResolvConf(l.dns)
			logf("network: %s: %s", ifc.Name, l)
			ones, _ := l.mask.Size()
			st.set(func(s *status) { s.Addresses = append(s.Addresses, fmt.Sprintf("%s %v/%d", ifc.Name, l.ip, ones)) })
			select {
			case ntp <- l.ntp:
			default:
			}
		}
		cur = l
		time.Sleep(max(l.duration/2, 30*time.Second))
	}
}

// syncClock waits up to set.NTPWait for an NTP answer; the floor already set stays otherwise.
// It keeps trying in the background, and sets the clock when an answer arrives.
func syncClock(set settings, st *status, fromDHCP <-chan []net.IP) {
	servers := append([]string{}, set.NTPServers...)
	try := func() (time.Time, string, bool) {
		select {
		case ips := <-fromDHCP:
			for _, ip := range ips {
				servers = append([]string{ip.String()}, servers...)
			}
		default:
		}
		for _, s := range servers {
			if t, err := ntpQuery(s, 2*time.Second); err == nil {
				return t, s, true
			}
		}
		return time.Time{}, "", false
	}
	apply := func(t time.Time, server string) {
		if err := setClock(t); err != nil {
			logf("clock: set from NTP: %v", err)
			return
		}
		saveClock()
		st.set(func(s *status) { s.Clock = "NTP " + server })
		logf("clock: set from NTP server %s: %s", server, t.UTC().Format(time.RFC3339))
	}
	deadline := time.Now().Add(set.NTPWait)
	for time.Now().Before(deadline) {
		if t, s, ok := try(); ok {
			apply(t, s)
			go func() { // stay close to NTP: hourly
				for range time.Tick(time.Hour) {
					if t, s, ok := try(); ok {
						apply(t, s)
					}
				}
			}()
			return
		}
		time.Sleep(time.Second)
	}
	st.mu.Lock()
	clk := st.Clock
	st.mu.Unlock()
	logf("clock: no NTP answer within %v (servers %s); keeping %s: %s", set.NTPWait,
		strings.Join(servers, ","), clk, time.Now().UTC().Format(time.RFC3339))
	go func() {
		for {
			time.Sleep(time.Minute)
			if t, s, ok := try(); ok {
				apply(t, s)
				return
			}
		}
	}()
}

func saveClock() {
	writeFileAtomic(clockFile, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// saveClockLoop saves the time every 10 minutes: after a power cut the clock restarts no
// earlier than that.
func saveClockLoop() {
	saveClock()
	for range time.Tick(10 * time.Minute) {
		saveClock()
	}
}

// enroll runs `ness-agent enroll-request` (which creates the device key on first start) and puts
// the request on the boot partition and the status page.
func enroll(rp *reaper, env []string, st *status) {
	out, err := runCapture(rp, []string{agentBin, "enroll-request"}, env, 30*time.Second)
	if err != nil {
		// An agent without the subcommand: build the same request from the device key the agent
		// creates at its first start (docs/PROTOCOL.md key file: agent_id, verify).
		// (In the background: the agent creates the key once it starts; two processes must
		// never create it at the same time, so the subcommand runs before the agent, this after.)
		logf("enrolment request: %v; will read the agent's key file instead", err)
		go func() {
			out, err := requestFromKeyFile(env, 2*time.Minute)
			if err != nil {
				logf("enrolment request: %v", err)
				return
			}
			publishEnroll(out, st)
		}()
		return
	}
	publishEnroll(out, st)
}

func publishEnroll(out []byte, st *status) {
	out = []byte(strings.TrimSpace(string(out)) + "\n")
	var req any
	if err := json.Unmarshal(out, &req); err != nil {
		logf("enrolment request: ness-agent enroll-request printed no JSON: %q", out)
		return
	}
	st.set(func(s *status) { s.Enroll = req })
	if old, _ := os.ReadFile(enrollFile); string(old) == string(out) {
		logf("enrolment request unchanged on the boot partition: %s", strings.TrimSpace(string(out)))
		return
	}
	if err := writeBoot(func() error { return writeFileAtomic(enrollFile, out, 0o644) }); err != nil {
		logf("enrolment request: write %s: %v", enrollFile, err)
		return
	}
	logf("enrolment request written to the boot partition (ness-enroll-request.json): %s", strings.TrimSpace(string(out)))
}

func requestFromKeyFile(env []string, wait time.Duration) ([]byte, error) {
	dir := "/perm/ness-agent"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NESS_AGENT_DATA_DIR="); ok {
			dir = v
		}
	}
	path := filepath.Join(dir, "agent.key")
	deadline := time.Now().Add(wait)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			var kf struct {
				AgentID string `json:"agent_id"`
				Verify  string `json:"verify"`
			}
			if err := json.Unmarshal(data, &kf); err != nil || kf.AgentID == "" || kf.Verify == "" {
				return nil, fmt.Errorf("%s: not a ness-key file with agent_id and verify", path)
			}
			return json.Marshal(struct {
				Agent    string `json:"agent"`
				AgentKey string `json:"agent_key"`
			}{kf.AgentID, kf.Verify})
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no device key at %s after %v: %w", path, wait, err)
		}
		time.Sleep(time.Second)
	}
}

func runCapture(rp *reaper, argv, env []string, timeout time.Duration) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	pid, done, err := rp.start(argv, env, w, ew)
	w.Close()
	ew.Close()
	if err != nil {
		r.Close()
		er.Close()
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	var out, errOut []byte
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { out, _ = io.ReadAll(io.LimitReader(r, 64<<10)); r.Close(); wg.Done() }()
	go func() { errOut, _ = io.ReadAll(io.LimitReader(er, 64<<10)); er.Close(); wg.Done() }()
	select {
	case ws := <-done:
		wg.Wait()
		if ws.ExitStatus() != 0 {
			return out, fmt.Errorf("%s: exit status %d: %s", strings.Join(argv, " "), ws.ExitStatus(), strings.TrimSpace(string(errOut)))
		}
		return out, nil
	case <-time.After(timeout):
		syscall.Kill(pid, syscall.SIGKILL)
		return nil, fmt.Errorf("%s: no answer within %v", strings.Join(argv, " "), timeout)
	}
}

// superviseAgent runs ness-agent forever, restarting it with backoff. Its output goes to the
// console line by line.
func superviseAgent(rp *reaper, env []string, st *status, upd *updateTrial) {
	var b backoff
	for {
		r, w, err := os.Pipe()
		if err != nil {
			logf("agent: pipe: %v", err)
			time.Sleep(5 * time.Second)
			continue
		}
		start := time.Now()
		pid, done, err := rp.start([]string{agentBin}, env, w, w)
		w.Close()
		if err != nil {
			r.Close()
			logf("agent: start: %v", err)
			time.Sleep(b.next(0))
			continue
		}
		logf("agent: started %s (pid %d)", agentBin, pid)
		st.set(func(s *status) { s.Agent, s.AgentPID, s.AgentSince = "running", pid, start })
		copied := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 16<<10), 16<<10)
			for sc.Scan() {
				fmt.Fprintf(logOut, "ness-agent: %s\n", sc.Text())
			}
			r.Close()
			close(copied)
		}()
		if upd != nil {
			upd.agentStarted(start)
		}
		ws := <-done
		<-copied
		ran := time.Since(start)
		delay := b.next(ran)
		desc := fmt.Sprintf("exit status %d", ws.ExitStatus())
		if ws.Signaled() {
			desc = "killed by " + ws.Signal().String()
		}
		logf("agent: %s after %v; restarting in %v", desc, ran.Round(time.Millisecond), delay)
		st.set(func(s *status) { s.Agent, s.AgentPID = "restarting ("+desc+")", 0; s.AgentRestarts++ })
		if upd != nil {
			upd.agentExited()
		}
		time.Sleep(delay)
	}
}

func serveStatus(addr string, st *status) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, st.text())
	})
	mux.HandleFunc("GET /status.json", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		b, _ := json.MarshalIndent(st, "", "  ")
		st.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logf("status page on %s", addr)
	if err := srv.ListenAndServe(); err != nil {
		logf("status page: %v", err)
	}
}

// writeBootStatus puts the status on the boot partition once the agent has had a minute, so a
// provider without a network view of the board can read it off the SD card.
func writeBootStatus(st *status) {
	time.Sleep(time.Minute)
	txt := st.text()
	if err := writeBoot(func() error { return writeFileAtomic(statusFile, []byte(txt), 0o644) }); err != nil {
		logf("status: %v", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func bootPath(name string) string { return filepath.Join("/boot", name) }
