package broker

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"

	_ "embed"
	"github.com/ness-network/ness-sms/wire"
)

// Credential is one line of Mosquitto's password file.
type Credential struct {
	Username     string
	PasswordHash string // HashPassword's "$7$…" form
}

func checkUsername(u string) error {
	switch {
	case u == "":
		return errors.New("empty username")
	case strings.ContainsAny(u, ":\r\n\x00"):
		return fmt.Errorf("username %q holds ':' or a line break", u)
	case strings.ContainsAny(u, "/+#"):
		// %u in an ACL pattern must not widen to other agents' subtrees.
		return fmt.Errorf("username %q holds an MQTT topic character (/ + #)", u)
	}
	return nil
}

// MosquittoPasswordFile returns the contents of a Mosquitto password_file holding creds,
// "username:hash" per line, sorted by username.
func MosquittoPasswordFile(creds []Credential) ([]byte, error) {
	sorted := slices.Clone(creds)
	slices.SortFunc(sorted, func(a, b Credential) int { return strings.Compare(a.Username, b.Username) })
	var buf bytes.Buffer
	for i, c := range sorted {
		if err := checkUsername(c.Username); err != nil {
			return nil, fmt.Errorf("mosquitto password file: %w", err)
		}
		if i > 0 && sorted[i-1].Username == c.Username {
			return nil, fmt.Errorf("mosquitto password file: username %q twice", c.Username)
		}
		if err := ValidHash(c.PasswordHash); err != nil {
			return nil, fmt.Errorf("mosquitto password file: %s: %w", c.Username, err)
		}
		fmt.Fprintf(&buf, "%s:%s\n", c.Username, c.PasswordHash)
	}
	return buf.Bytes(), nil
}

// MosquittoACL returns the contents of a Mosquitto acl_file: every user (each agent) may read and
// write its own subtree ness/v1/agent/<username>/#, and hubUser everything under ness/v1/.
// The file does not change as agents are enrolled, thanks to the pattern.
func MosquittoACL(hubUser string) ([]byte, error) {
	if err := checkUsername(hubUser); err != nil {
		return nil, fmt.Errorf("mosquitto acl: hub user: %w", err)
	}
	return fmt.Appendf(nil, `# NESS SMS broker ACL (written by hub/broker.MosquittoACL).
# No "topic" line before the first "user" line: anonymous clients get nothing.

# Each agent (username = client id = agent id) may use only its own subtree.
pattern readwrite %[1]s%%u/#
pattern readwrite %[1]s%%u

# The hub's own clients.
user %[2]s
topic readwrite %[3]s#
`, AgentTopicRoot, hubUser, TopicRoot), nil
}

// WriteMosquittoFiles writes the password file and the ACL file (mode 0640: give the group to the
// user Mosquitto runs as). Send Mosquitto SIGHUP afterwards to make it reload them.
func WriteMosquittoFiles(passwordFile, aclFile, hubUser string, creds []Credential) error {
	pw, err := MosquittoPasswordFile(creds)
	if err != nil {
		return err
	}
	acl, err := MosquittoACL(hubUser)
	if err != nil {
		return err
	}
	if err := wire.WriteFileAtomic(passwordFile, pw, 0o640); err != nil {
		return err
	}
	return wire.WriteFileAtomic(aclFile, acl, 0o640)
}

// MosquittoListener is one listener of the Mosquitto configuration.
type MosquittoListener struct {
	Port     int
	Bind     string // address to bind, e.g. "127.0.0.1"; empty: all interfaces
	CertFile string // with KeyFile: TLS
	KeyFile  string
	CAFile   string // optional: CA chain of the certificate, for clients that want it
	// ForAgents replaces each client's id by its username (use_username_as_clientid), so an
	// agent can neither take over another agent's session nor appear under another id. Leave it
	// off on the hubs' listener: several hubs share one username and need their own client ids.
	ForAgents bool
}

// MosquittoOptions fill the configuration template.
type MosquittoOptions struct {
	Listeners      []MosquittoListener
	PasswordFile   string
	ACLFile        string
	PersistenceDir string // empty: no persistence (sessions and retained leases lost on restart)
	User           string // user Mosquitto drops to when started as root; empty: Mosquitto's default
	LogDest        string // e.g. "syslog", "stderr", "file /var/log/mosquitto/mosquitto.log"; empty: stderr
	PIDFile        string
}

// ProductionMosquitto are the options of the shipped scripts/mosquitto/mosquitto.conf: TLS on
// 8883 for agents, plain MQTT on loopback only, for hubs on the same machine.
var ProductionMosquitto = MosquittoOptions{
	Listeners: []MosquittoListener{
		{Port: 8883, CertFile: "/etc/mosquitto/certs/ness.crt", KeyFile: "/etc/mosquitto/certs/ness.key", ForAgents: true},
		{Port: 1883, Bind: "127.0.0.1"},
	},
	PasswordFile:   "/etc/mosquitto/ness/passwd",
	ACLFile:        "/etc/mosquitto/ness/acl",
	PersistenceDir: "/var/lib/mosquitto/",
	User:           "mosquitto",
	LogDest:        "syslog",
}

//go:embed mosquitto.conf.tmpl
var mosquittoTemplate string

var mosquittoTmpl = template.Must(template.New("mosquitto.conf").Parse(mosquittoTemplate))

// MosquittoConf renders the Mosquitto configuration that enforces the same rules as the
// embedded broker.
func MosquittoConf(o MosquittoOptions) ([]byte, error) {
	if len(o.Listeners) == 0 {
		return nil, errors.New("mosquitto conf: no listener")
	}
	if o.PasswordFile == "" || o.ACLFile == "" {
		return nil, errors.New("mosquitto conf: password file and ACL file are required")
	}
	for _, l := range o.Listeners {
		if l.Port <= 0 || l.Port > 65535 {
			return nil, fmt.Errorf("mosquitto conf: listener port %d", l.Port)
		}
		if (l.CertFile == "") != (l.KeyFile == "") {
			return nil, fmt.Errorf("mosquitto conf: listener %d: TLS needs both certificate and key", l.Port)
		}
	}
	for _, s := range []string{o.PasswordFile, o.ACLFile, o.PersistenceDir, o.User, o.LogDest, o.PIDFile} {
		if strings.ContainsAny(s, "\r\n") {
			return nil, fmt.Errorf("mosquitto conf: line break in %q", s)
		}
	}
	if o.LogDest == "" {
		o.LogDest = "stderr"
	}
	var buf bytes.Buffer
	if err := mosquittoTmpl.Execute(&buf, o); err != nil {
		return nil, fmt.Errorf("mosquitto conf: %w", err)
	}
	return buf.Bytes(), nil
}
