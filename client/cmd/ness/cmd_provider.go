package main

// Provider commands: enrolling an agent (signing its enrolment request into an agent
// certificate, offline, and optionally uploading it to a hub).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/agent/identity"
	"github.com/ness-network/ness-sms/wire"
)

func init() {
	register(&command{name: "provider enroll", summary: "sign an agent's enrolment request into an agent certificate (optionally upload it to a hub)", run: runProviderEnroll})
}

// maxEnrollInput bounds the request file read.
const maxEnrollInput = 64 << 10

// enrollUploadPath is the hub API endpoint that takes a new agent certificate.
const enrollUploadPath = "/v1/provider/agents"

// now is the clock of the provider commands (tests set it).
var now = time.Now

func runProviderEnroll(env *cmdEnv, args []string) error {
	fs := newFlags(env, "provider enroll", "REQUEST --key PROVIDER_KEY [--out CERT] [--valid 365d] [--worm NAME] [--hub URL --token TOKEN]\n\n"+
		"REQUEST is the output of `ness-agent enroll-request` on the board: a file, or - for standard input.\n"+
		"Signs an agent certificate (agent id and key, the provider's Ed25519 and X25519 keys, validity)\n"+
		"with the provider key. With --out it is written there (copy it to the agent's data directory as\n"+
		"agent.cert, or point NESS_AGENT_CERT at it); without, it is printed. With --hub it is also\n"+
		"uploaded to the hub (POST "+enrollUploadPath+"), which answers with the agent's MQTT password\n"+
		"(shown once: --password-out FILE keeps it).")
	key := fs.String("key", "", "provider key file (ness-key or PrivatenessTools) with its private key (required)")
	out := fs.String("out", "", "write the certificate to this file (default: standard output)")
	valid := fs.String("valid", "365d", "validity from now: days as 365d, or a Go duration such as 720h")
	worm := fs.String("worm", "", "the provider's WORM identity on Emercoin: NAME or worm:user:ness:NAME (optional)")
	hub := fs.String("hub", "", "also upload the certificate to this hub, e.g. https://hub.example.org")
	token := fs.String("token", "", "the provider's API token for --hub (from signing in to the hub)")
	passwordOut := fs.String("password-out", "", "with --hub: write the agent's MQTT password the hub issues to this file (mode 0600; copy it to the agent's data directory as mqtt.password)")
	request, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if request == "" || *key == "" {
		return usageError("need REQUEST (a file or -) and --key PROVIDER_KEY (see ness provider enroll --help)")
	}
	validity, err := parseValidity(*valid)
	if err != nil {
		return usageError("--valid: %v", err)
	}
	wormName := *worm
	if wormName != "" && !strings.HasPrefix(wormName, wire.WormPrefix) {
		wormName = wire.WormPrefix + wormName
	}
	if *hub != "" {
		if u, err := url.Parse(*hub); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError("--hub: %q is not an http:// or https:// URL", *hub)
		}
	}

	data, err := readLimited(env, request, maxEnrollInput)
	if err != nil {
		return err
	}
	req, err := identity.DecodeEnrollRequest(bytes.TrimSpace(data))
	if err != nil {
		return fmt.Errorf("REQUEST %s: %w", request, err)
	}
	kf, err := wire.ReadKeyFile(*key)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	if kf.Identity == nil {
		return fmt.Errorf("--key: %s holds no private key (a public-only file cannot sign)", *key)
	}
	t := now()
	// Back-date by a minute so a board whose clock is slightly behind accepts it at once.
	cert, err := wire.NewAgentCert(req.AgentKey, kf.Identity, wormName, t.Add(-time.Minute), t.Add(validity))
	if err != nil {
		return fmt.Errorf("sign certificate: %w", err)
	}
	b, err := cert.MarshalJSON()
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *out != "" {
		if err := wire.WriteFileAtomic(*out, b, 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		fmt.Fprintf(env.stderr, "wrote %s: agent %s, provider %s, valid until %s\n", *out, cert.AgentID, cert.ProviderVerify, cert.NotAfter.Format(time.RFC3339))
	} else if _, err := env.stdout.Write(b); err != nil {
		return err
	}
	if *hub != "" {
		return uploadCert(env, *hub, *token, b, *passwordOut)
	}
	return nil
}

// errHubNotAvailable is returned when the hub has no enrolment endpoint (yet).
var errHubNotAvailable = errors.New("not available yet")

// uploadCert posts the certificate to the hub ({"certificate": CERT}, docs/API.md) and hands
// the MQTT password it issues to the operator. A hub without the endpoint (404, 405, 501) gives
// a clear "not available yet" error with exit status 2; the certificate is signed all the same.
func uploadCert(env *cmdEnv, hub, token string, cert []byte, passwordOut string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := strings.TrimRight(hub, "/") + enrollUploadPath
	body, err := json.Marshal(struct {
		Certificate json.RawMessage `json:"certificate"`
	}{bytes.TrimSpace(cert)})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--hub: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("--hub: upload the certificate: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		return &exitError{code: 2, err: fmt.Errorf("--hub: agent upload (POST %s) is %w on %s (HTTP %d); the certificate was signed: install it on the agent by hand",
			enrollUploadPath, errHubNotAvailable, hub, resp.StatusCode)}
	case resp.StatusCode/100 != 2:
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := strings.TrimSpace(string(answer))
		if json.Unmarshal(answer, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return fmt.Errorf("--hub: upload refused: HTTP %d: %s", resp.StatusCode, msg)
	}
	var ok struct {
		MQTTUsername string `json:"mqtt_username"`
		MQTTPassword string `json:"mqtt_password"`
	}
	if err := json.Unmarshal(answer, &ok); err != nil || ok.MQTTPassword == "" {
		fmt.Fprintf(env.stderr, "uploaded to %s (HTTP %d); the hub issued no MQTT password\n", hub, resp.StatusCode)
		return nil
	}
	if passwordOut != "" {
		if err := wire.WriteFileAtomic(passwordOut, []byte(ok.MQTTPassword+"\n"), 0o600); err != nil {
			return fmt.Errorf("--password-out: %w (the password was issued and is shown only once: upload again to rotate it)", err)
		}
		fmt.Fprintf(env.stderr, "uploaded to %s; MQTT username %s, password written to %s: copy it to the agent's data directory as mqtt.password (mode 0600)\n",
			hub, ok.MQTTUsername, passwordOut)
		return nil
	}
	fmt.Fprintf(env.stderr, "uploaded to %s; MQTT username %s, password (shown once; set it as NESS_AGENT_MQTT_PASSWORD or in the agent's mqtt.password):\n%s\n",
		hub, ok.MQTTUsername, ok.MQTTPassword)
	return nil
}

// parseInterspersed parses flags before and after one positional argument (REQUEST), so both
// `ness provider enroll REQ --key K` and `ness provider enroll --key K REQ` work.
func parseInterspersed(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return "", err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch len(pos) {
	case 0:
		return "", nil
	case 1:
		return pos[0], nil
	}
	return "", usageError("want one REQUEST, got %d arguments: %q", len(pos), pos)
}

// parseValidity parses "365d" (days) or a Go duration.
func parseValidity(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q: want days such as 365d or a duration such as 720h", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q: want days such as 365d or a duration such as 720h", s)
		}
	}
	if d < time.Hour || d > 10*365*24*time.Hour {
		return 0, fmt.Errorf("%q: want 1 hour to 10 years", s)
	}
	return d, nil
}

// readLimited reads a file or standard input ("-"), at most limit bytes.
func readLimited(env *cmdEnv, name string, limit int64) ([]byte, error) {
	b, err := readInput(env, name)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, limit)
	}
	return b, nil
}
