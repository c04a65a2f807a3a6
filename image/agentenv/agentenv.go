// Package agentenv is the one source of the agent's settings file as it ships: ness-agent.env on
// the Raspberry Pi image's boot partition and /etc/ness/agent.env in the .deb packages. Both list
// the same NESS_AGENT_* variables with the same comments (Agent); they differ only in the data
// directory's default and in the image's board settings read by ness-init.
package agentenv

import "strings"

// Var is one agent setting as the file shows it: commented out, with an example or the default.
type Var struct {
	Name    string // NESS_AGENT_…
	Comment string // one or more lines, without "# "
	Example string // value shown after "#NAME=", often empty
}

// Agent lists the settings a provider sets on every installation, in file order. Every other
// NESS_AGENT_* variable of `ness-agent --help` works too.
func Agent(dataDir string) []Var {
	return []Var{
		{"NESS_AGENT_BOARD", "Board profile (`ness-agent boards` lists them). Empty: detected from the device tree model.", ""},
		{"NESS_AGENT_PORTS", "Modem AT ports when the board profile does not list them, comma-separated; paths or\nglobs, e.g. /dev/ness/slot* (the udev rules' stable names) or /dev/ttyUSB2,/dev/ttyUSB6.", ""},
		{"NESS_AGENT_MQTT_URL", "MQTT broker of your hub, e.g. ssl://hub.example.org:8883", ""},
		{"NESS_AGENT_HUB_KEY", "The hub's Ed25519 public key(s), base64, comma-separated (pins the hub).", ""},
		{"NESS_AGENT_MQTT_PASSWORD", "The MQTT password the hub issued when the provider enrolled this agent\n(`ness provider enroll --hub ... --password-out FILE`). Keep this file private.", ""},
		{"NESS_AGENT_CERT", "The agent certificate from `ness provider enroll` (default: agent.cert in the data directory).", ""},
		{"NESS_AGENT_DATA_DIR", "The agent's data directory (device key, certificate, outbox). Rarely changed.", dataDir},
	}
}

// Names are the variables of Agent, in order.
func Names() []string {
	var n []string
	for _, v := range Agent("") {
		n = append(n, v.Name)
	}
	return n
}

func render(b *strings.Builder, vars []Var) {
	for _, v := range vars {
		b.WriteString("\n")
		for _, l := range strings.Split(v.Comment, "\n") {
			b.WriteString("# " + l + "\n")
		}
		b.WriteString("#" + v.Name + "=" + v.Example + "\n")
	}
}

// Image is ness-agent.env on the image's boot partition, the one file a provider edits.
func Image() string {
	var b strings.Builder
	b.WriteString(`# NESS SMS agent settings. Edit this file on any computer (the boot partition of the SD card)
# and put the card back in the board. Lines are NAME=value; lines starting with # are ignored.
# Only NESS_* names are read. Every NESS_AGENT_* variable is passed to ness-agent; run
# "ness-agent --help" for the full list.
# Enrolment: copy agent.cert next to this file (it is used when NESS_AGENT_CERT is not set) and
# set NESS_AGENT_MQTT_URL, NESS_AGENT_HUB_KEY and NESS_AGENT_MQTT_PASSWORD.
`)
	render(&b, Agent("/perm/ness-agent"))
	b.WriteString(`
# --- Board settings read by ness-init ---
# Host name on the network.
#NESS_HOSTNAME=ness-agent
# NTP servers, comma-separated, and how long to wait for one at boot (Go duration) before the
# clock falls back to the newest of the image's build time and the last time saved on /perm.
#NESS_NTP_SERVERS=pool.ntp.org,time.cloudflare.com
#NESS_NTP_WAIT=20s
# Status page (plain HTTP on the local network; shows state and the enrolment request, no logs).
#NESS_STATUS_ADDR=:80
# Fixed address instead of DHCP, e.g. 192.168.1.50/24 with NESS_NET_GATEWAY and NESS_NET_DNS.
#NESS_NET_ADDRESS=
#NESS_NET_GATEWAY=
#NESS_NET_DNS=
`)
	return b.String()
}

// Deb is /etc/ness/agent.env of the .deb packages (systemd's EnvironmentFile=).
func Deb() string {
	var b strings.Builder
	b.WriteString(`# NESS SMS agent settings, read by ness-agent.service (systemd EnvironmentFile=).
# Lines are NAME=value; lines starting with # are ignored. Every NESS_AGENT_* variable of
# "ness-agent --help" works here. After a change: systemctl restart ness-agent
# Enrolment: "sudo -u ness-agent ness-agent enroll-request > request.json" prints the request;
# the provider signs it with "ness provider enroll"; put agent.cert into /var/lib/ness-agent/
# (owned by ness-agent) and set NESS_AGENT_MQTT_URL, NESS_AGENT_HUB_KEY and NESS_AGENT_MQTT_PASSWORD.
`)
	render(&b, Agent("/var/lib/ness-agent"))
	return b.String()
}
