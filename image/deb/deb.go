// Package deb builds the ness-agent .deb packages for custom boards (make deb): the static agent,
// a hardened systemd unit, /etc/ness/agent.env (a conffile, from package agentenv like the
// image's ness-agent.env) and udev rules giving modem AT ports stable names. Plain dpkg-deb
// --build --root-owner-group: no debhelper. Same inputs and SOURCE_DATE_EPOCH, same bytes.
package deb

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/image/agentenv"
)

// Paths inside the package.
const (
	BinPath   = "/usr/bin/ness-agent"
	UnitPath  = "/lib/systemd/system/ness-agent.service"
	EnvPath   = "/etc/ness/agent.env"
	UdevPath  = "/lib/udev/rules.d/60-ness-modems.rules"
	DocPath   = "/usr/share/doc/ness-agent/README.Debian"
	User      = "ness-agent"
	StateDir  = "/var/lib/ness-agent"
	Package   = "ness-agent"
	GPIOGroup = "gpio"
)

// Arches maps Debian architectures to the Go target the agent is built for. armhf is built
// for ARMv6 (GOARM=6), which runs on Raspberry Pi OS's armhf (ARMv6) as well as Debian's (ARMv7).
var Arches = map[string][]string{
	"amd64": {"GOARCH=amd64"},
	"arm64": {"GOARCH=arm64"},
	"armhf": {"GOARCH=arm", "GOARM=6"},
}

// Config says what to build.
type Config struct {
	Arch     string    // Debian architecture: amd64, arm64, armhf
	AgentBin string    // static linux ness-agent for Arch
	Version  string    // the agent's version; made a valid Debian version by DebVersion
	Epoch    time.Time // every timestamp in the package (SOURCE_DATE_EPOCH)
	OutDir   string    // where ness-agent_<version>_<arch>.deb goes
	WorkDir  string    // scratch space (the package tree)
}

// Unit is the systemd unit. The agent needs the modems' serial ports and GPIO chips, its state
// directory and the network; everything else is closed.
const Unit = `[Unit]
Description=NESS SMS agent (GSM modems to a NESS hub)
Documentation=https://github.com/ness-network/ness-sms/blob/main/docs/AGENT.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=/usr/bin/ness-agent run
EnvironmentFile=/etc/ness/agent.env
User=ness-agent
Group=ness-agent
SupplementaryGroups=dialout gpio
StateDirectory=ness-agent
StateDirectoryMode=0750
Restart=on-failure
RestartSec=5s
# The agent powers its modems down and flushes its outbox within NESS_AGENT_SHUTDOWN_TIMEOUT (30 s).
TimeoutStopSec=45s
UMask=0077

# Hardening.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ReadWritePaths=/var/lib/ness-agent
DevicePolicy=closed
DeviceAllow=char-ttyUSB rw
DeviceAllow=char-ttyACM rw
DeviceAllow=char-ttyAMA rw
DeviceAllow=char-ttyS rw
DeviceAllow=char-gpiochip rw
CapabilityBoundingSet=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectHostname=yes
ProtectClock=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`

// UdevRules gives each modem's AT port stable names: /dev/ness/by-path/<USB path> always, and
// /dev/ness/slotN from the port of the last USB hub the modem hangs on (port 1 → slot0), for
// the usual build of one hub full of modems.
const UdevRules = `# NESS SMS: stable names for GSM modem AT ports, and GPIO chips for the agent's power control.
#   /dev/ness/by-path/<ID_PATH>   the USB path of the port (stable while the modem stays in its socket)
#   /dev/ness/slotN               N = (port number on the last USB hub) - 1: with one hub full of
#                                 modems, NESS_AGENT_PORTS=/dev/ness/slot0,/dev/ness/slot1,...
# Modems on ports with the same number of two different hubs get the same slotN: use by-path then.
# Local changes: copy this file to /etc/udev/rules.d/ (same name) and edit it there.

SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"

ACTION=="remove", GOTO="ness_end"
SUBSYSTEM!="tty", GOTO="ness_end"

# SIMCom SIM7600 (1e0e:9001): interface 02 is the AT port.
SUBSYSTEMS=="usb", ATTRS{idVendor}=="1e0e", ATTRS{idProduct}=="9001", ENV{NESS_MODEM}="sim7600"
# Quectel EC25 (2c7c:0125): interface 02 is the AT port.
SUBSYSTEMS=="usb", ATTRS{idVendor}=="2c7c", ATTRS{idProduct}=="0125", ENV{NESS_MODEM}="ec25"
ENV{NESS_MODEM}=="", GOTO="ness_generic"
SUBSYSTEMS=="usb", ATTRS{bInterfaceNumber}=="02", ENV{NESS_AT}="1"
GOTO="ness_named"

LABEL="ness_generic"
# Any other modem with a CDC ACM port speaking AT commands (class 02, subclass 02, protocol 01 V.250).
SUBSYSTEMS=="usb", ATTRS{bInterfaceClass}=="02", ATTRS{bInterfaceSubClass}=="02", ATTRS{bInterfaceProtocol}=="01", ENV{NESS_AT}="1", ENV{NESS_MODEM}="acm"

LABEL="ness_named"
ENV{NESS_AT}!="1", GOTO="ness_end"
GROUP="dialout", MODE="0660"
IMPORT{builtin}="path_id"
ENV{ID_PATH}=="?*", SYMLINK+="ness/by-path/$env{ID_PATH}"
SUBSYSTEMS=="usb", KERNELS=="*[.-]1:1.*", SYMLINK+="ness/slot0"
SUBSYSTEMS=="usb", KERNELS=="*[.-]2:1.*", SYMLINK+="ness/slot1"
SUBSYSTEMS=="usb", KERNELS=="*[.-]3:1.*", SYMLINK+="ness/slot2"
SUBSYSTEMS=="usb", KERNELS=="*[.-]4:1.*", SYMLINK+="ness/slot3"
SUBSYSTEMS=="usb", KERNELS=="*[.-]5:1.*", SYMLINK+="ness/slot4"
SUBSYSTEMS=="usb", KERNELS=="*[.-]6:1.*", SYMLINK+="ness/slot5"
SUBSYSTEMS=="usb", KERNELS=="*[.-]7:1.*", SYMLINK+="ness/slot6"

LABEL="ness_end"
`

const postinst = `#!/bin/sh
# ness-agent postinst: the service's system user and groups, its state directory, the settings
# file readable by the service only, udev and systemd told about the new files.
set -e
if [ "$1" = configure ]; then
	getent group gpio >/dev/null || addgroup --quiet --system gpio
	if ! getent passwd ness-agent >/dev/null; then
		adduser --quiet --system --group --home /var/lib/ness-agent --no-create-home \
			--shell /usr/sbin/nologin --gecos "NESS SMS agent" ness-agent
	fi
	# For runs outside systemd too (systemd adds them through SupplementaryGroups=).
	adduser --quiet ness-agent dialout >/dev/null
	adduser --quiet ness-agent gpio >/dev/null
	install -d -o ness-agent -g ness-agent -m 0750 /var/lib/ness-agent
	# May hold the MQTT password.
	chown root:ness-agent /etc/ness/agent.env
	chmod 0640 /etc/ness/agent.env
	if command -v udevadm >/dev/null && [ -d /run/udev ]; then
		udevadm control --reload-rules || true
		udevadm trigger --subsystem-match=tty --subsystem-match=gpio || true
	fi
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper unmask ness-agent.service >/dev/null || true
		deb-systemd-helper enable ness-agent.service >/dev/null || true
	fi
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
		# Upgrades restart a running agent; a new install starts once the settings are filled in.
		systemctl try-restart ness-agent.service || true
	fi
fi
exit 0
`

const prerm = `#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop ness-agent.service || true
fi
exit 0
`

// postrm keeps /var/lib/ness-agent even on purge: it holds the device key the provider enrolled
// and SMS not yet acknowledged by the hub.
const postrm = `#!/bin/sh
set -e
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper purge ness-agent.service >/dev/null || true
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
`

const readme = `ness-agent for Debian and Raspberry Pi OS
=========================================

1. Edit /etc/ness/agent.env: NESS_AGENT_BOARD (ness-agent boards), NESS_AGENT_PORTS (e.g.
   /dev/ness/slot0,/dev/ness/slot1 from the udev rules), NESS_AGENT_MQTT_URL, NESS_AGENT_HUB_KEY.
2. sudo -u ness-agent ness-agent enroll-request > request.json   (creates the device key in
   /var/lib/ness-agent); the provider signs it: ness provider enroll request.json --key PROVIDER_KEY
   --out agent.cert --hub URL --token T --password-out mqtt.password
3. sudo install -o ness-agent -g ness-agent -m 0600 agent.cert mqtt.password /var/lib/ness-agent/
4. sudo systemctl enable --now ness-agent; journalctl -u ness-agent -f

The device key and the outbox stay in /var/lib/ness-agent, also after a purge.
`

var releaseRe = regexp.MustCompile(`^[0-9]+\.[0-9]`)

// DebVersion makes v a valid Debian version: v1.2.3 → 1.2.3, 1.2.3-4-gabc → 1.2.3+4.gabc (sorts
// after 1.2.3); anything not starting with a digit (a bare commit) → 0~git<epoch>.<v>.
func DebVersion(v string, epoch time.Time) string {
	v = strings.TrimPrefix(v, "v")
	numeric := releaseRe.MatchString(v)
	if numeric {
		v = strings.Replace(v, "-", "+", 1)
	}
	v = strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '.', r == '+', r == '~':
			return r
		}
		return '.'
	}, v)
	if numeric {
		return v
	}
	if v = strings.Trim(v, "."); v == "" {
		v = "devel"
	}
	return "0~git" + epoch.UTC().Format("20060102150405") + "." + v
}

// FileName is the package's file name for version and arch.
func FileName(version, arch string, epoch time.Time) string {
	return fmt.Sprintf("%s_%s_%s.deb", Package, DebVersion(version, epoch), arch)
}

// Build writes the package and returns its path.
func Build(ctx context.Context, c Config) (string, error) {
	if _, ok := Arches[c.Arch]; !ok {
		return "", fmt.Errorf("deb: architecture %q: want amd64, arm64 or armhf", c.Arch)
	}
	if c.Epoch.IsZero() {
		return "", fmt.Errorf("deb: no epoch (SOURCE_DATE_EPOCH)")
	}
	root := filepath.Join(c.WorkDir, "deb-"+c.Arch)
	os.RemoveAll(root)
	files := []struct {
		path string
		mode fs.FileMode
		data string
		from string
	}{
		{BinPath, 0o755, "", c.AgentBin},
		{UnitPath, 0o644, Unit, ""},
		{EnvPath, 0o640, agentenv.Deb(), ""},
		{UdevPath, 0o644, UdevRules, ""},
		{DocPath, 0o644, readme, ""},
		{"/DEBIAN/conffiles", 0o644, EnvPath + "\n", ""},
		{"/DEBIAN/postinst", 0o755, postinst, ""},
		{"/DEBIAN/prerm", 0o755, prerm, ""},
		{"/DEBIAN/postrm", 0o755, postrm, ""},
	}
	var size int64
	for _, f := range files {
		data := []byte(f.data)
		if f.from != "" {
			b, err := os.ReadFile(f.from)
			if err != nil {
				return "", fmt.Errorf("deb: %w", err)
			}
			data = b
		}
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("deb: %w", err)
		}
		if err := os.WriteFile(p, data, f.mode); err != nil {
			return "", fmt.Errorf("deb: %w", err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			return "", fmt.Errorf("deb: %w", err)
		}
		if !strings.HasPrefix(f.path, "/DEBIAN/") {
			size += (int64(len(data)) + 1023) / 1024
		}
	}
	control := fmt.Sprintf(`Package: %s
Version: %s
Architecture: %s
Maintainer: NESS SMS developers <ness-sms@ness-network.invalid>
Installed-Size: %d
Depends: adduser
Section: net
Priority: optional
Homepage: https://github.com/ness-network/ness-sms
Description: NESS SMS agent: rent out your SIM cards' phone numbers
 ness-agent powers and polls 1-32 GSM modems, reads each SMS, seals it to the renter
 of the number and sends it, signed, to a NESS hub over MQTT. Static binary; systemd
 unit with restart policy and hardening; udev rules giving modem AT ports stable names
 (/dev/ness/slotN, /dev/ness/by-path/...). Settings: /etc/ness/agent.env.
`, Package, DebVersion(c.Version, c.Epoch), c.Arch, size)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	// Directories 0755, and every timestamp the epoch.
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			if d.IsDir() {
				os.Chmod(p, 0o755)
			}
			paths = append(paths, p)
		}
		return err
	})
	sort.Strings(paths)
	for _, p := range paths {
		if err := os.Chtimes(p, c.Epoch, c.Epoch); err != nil {
			return "", fmt.Errorf("deb: %w", err)
		}
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	out := filepath.Join(c.OutDir, FileName(c.Version, c.Arch, c.Epoch))
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--build", "--root-owner-group", "-Zxz", root, out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(c.Epoch.Unix(), 10))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("deb: dpkg-deb --build: %v\n%s", err, b)
	}
	return out, nil
}
