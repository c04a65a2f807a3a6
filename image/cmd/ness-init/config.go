package main

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parseEnv reads ness-agent.env: NAME=value lines, # comments, optional single or double quotes,
// CRLF line ends and a UTF-8 byte-order mark (the file is edited on any computer). Only NESS_*
// names are kept; problems are returned as warnings naming the line, never as a failure, so one
// typo does not keep the board off the network.
func parseEnv(data []byte) (vars map[string]string, warnings []string) {
	vars = map[string]string{}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			warnings = append(warnings, fmt.Sprintf("line %d: %q is not NAME=value; ignored", n, line))
			continue
		}
		if !strings.HasPrefix(name, "NESS_") || strings.ContainsAny(name, " \t") {
			warnings = append(warnings, fmt.Sprintf("line %d: %s is not a NESS_* setting; ignored", n, name))
			continue
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		vars[name] = value
	}
	return vars, warnings
}

// settings are ness-init's own, from ness-agent.env, with their defaults.
type settings struct {
	Hostname       string
	NTPServers     []string
	NTPWait        time.Duration
	StatusAddr     string
	NetAddress     string // CIDR; empty: DHCP
	NetGateway     string
	NetDNS         []string
	HealthyAfter   time.Duration // an update's agent must run this long to be kept
	HealthDeadline time.Duration // ... within this long after boot
}

func loadSettings(v map[string]string) (settings, []string) {
	s := settings{
		Hostname:       "ness-agent",
		NTPServers:     []string{"pool.ntp.org", "time.cloudflare.com"},
		NTPWait:        20 * time.Second,
		StatusAddr:     ":80",
		HealthyAfter:   2 * time.Minute,
		HealthDeadline: 10 * time.Minute,
	}
	var warn []string
	if h := v["NESS_HOSTNAME"]; h != "" {
		s.Hostname = h
	}
	if x := v["NESS_NTP_SERVERS"]; x != "" {
		s.NTPServers = splitList(x)
	}
	dur := func(name string, dst *time.Duration) {
		if x := v[name]; x != "" {
			d, err := time.ParseDuration(x)
			if err != nil || d < 0 {
				warn = append(warn, fmt.Sprintf("%s=%q: want a duration such as 20s; using %v", name, x, *dst))
				return
			}
			*dst = d
		}
	}
	dur("NESS_NTP_WAIT", &s.NTPWait)
	dur("NESS_UPDATE_HEALTHY_AFTER", &s.HealthyAfter)
	dur("NESS_UPDATE_HEALTH_DEADLINE", &s.HealthDeadline)
	if x, ok := v["NESS_STATUS_ADDR"]; ok {
		s.StatusAddr = x // empty: no status page
	}
	s.NetAddress = v["NESS_NET_ADDRESS"]
	s.NetGateway = v["NESS_NET_GATEWAY"]
	s.NetDNS = splitList(v["NESS_NET_DNS"])
	return s, warn
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// agentEnv is the ness-agent process environment: a fixed base, then every NESS_AGENT_* from
// the file, with the data directory on /perm unless the file says otherwise. Sorted, so the
// agent sees the same environment every boot.
func agentEnv(v map[string]string) []string {
	env := map[string]string{
		"PATH":                "/bin",
		"HOME":                "/perm",
		"NESS_AGENT_DATA_DIR": "/perm/ness-agent",
	}
	for k, val := range v {
		if strings.HasPrefix(k, "NESS_AGENT_") {
			env[k] = val
		}
	}
	out := make([]string, 0, len(env))
	for k, val := range env {
		out = append(out, k+"="+val)
	}
	sort.Strings(out)
	return out
}

// BootCert is where a provider may put the agent certificate from any computer. When the env
// file names no NESS_AGENT_CERT and this file exists, the agent is pointed at it: enrolling a
// board is copying agent.cert to the boot partition and adding NESS_AGENT_HUB_KEY and
// NESS_AGENT_MQTT_PASSWORD to ness-agent.env.
const BootCert = "/boot/agent.cert"

// withBootCert adds NESS_AGENT_CERT=BootCert to env (sorted, as agentEnv returns it) when the env
// has no NESS_AGENT_CERT and the file exists.
func withBootCert(env []string, exists bool) []string {
	if !exists {
		return env
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "NESS_AGENT_CERT=") {
			return env
		}
	}
	out := append(append([]string(nil), env...), "NESS_AGENT_CERT="+BootCert)
	sort.Strings(out)
	return out
}

// clockFloor is the earliest the clock may be at boot: the newest of the image's build time and
// the last time saved on /perm. A board without a battery-backed clock boots in 1970; certificates,
// leases and receipts all need a time that is at least not in the past.
func clockFloor(build, saved time.Time) time.Time {
	if saved.After(build) {
		return saved
	}
	return build
}

// parseBuildInfo reads build_epoch from /etc/ness/build-info.
func parseBuildInfo(data []byte) (version string, epoch time.Time) {
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "version":
			version = v
		case "build_epoch":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				epoch = time.Unix(n, 0)
			}
		}
	}
	return version, epoch
}

// cmdlineRoot returns the PARTUUID disk label and partition number of a root=PARTUUID=xxxxxxxx-NN
// kernel command line.
func cmdlineRoot(cmdline string) (label string, part int, err error) {
	for _, f := range strings.Fields(cmdline) {
		v, ok := strings.CutPrefix(f, "root=PARTUUID=")
		if !ok {
			continue
		}
		l, p, ok := strings.Cut(v, "-")
		n, perr := strconv.Atoi(p)
		if !ok || len(l) != 8 || perr != nil || n < 1 {
			return "", 0, fmt.Errorf("root=PARTUUID=%s: want an MBR PARTUUID such as 1a2b3c4d-02", v)
		}
		return strings.ToLower(l), n, nil
	}
	return "", 0, fmt.Errorf("no root=PARTUUID= in the kernel command line %q", cmdline)
}

// configCmdlineFile returns the cmdline= file a Pi config.txt (or tryboot.txt) names.
func configCmdlineFile(config string) string {
	file := "cmdline.txt"
	for _, line := range strings.Split(config, "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if v, ok := strings.CutPrefix(line, "cmdline="); ok {
			file = strings.TrimSpace(v)
		}
	}
	return file
}

// withRoot returns cmdline with its root partition number replaced.
func withRoot(cmdline, label string, part int) string {
	f := strings.Fields(cmdline)
	for i, x := range f {
		if strings.HasPrefix(x, "root=PARTUUID=") {
			f[i] = fmt.Sprintf("root=PARTUUID=%s-%02d", label, part)
		}
	}
	return strings.Join(f, " ")
}

// backoff is the supervisor's restart delay: doubling from 1s to 1 min, back to 1s after the
// agent ran for a minute.
type backoff struct{ d time.Duration }

func (b *backoff) next(ran time.Duration) time.Duration {
	const min, max = time.Second, time.Minute
	if ran >= max || b.d == 0 {
		b.d = min
		return b.d
	}
	b.d *= 2
	if b.d > max {
		b.d = max
	}
	return b.d
}
