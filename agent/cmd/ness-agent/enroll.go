package main

import (
	"fmt"
	"io"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/identity"
)

// enrollRequest creates the device key in the data directory if there is none and prints the
// enrolment request (agent id and public key) that the provider signs with
// `ness provider enroll REQUEST --key PROVIDER_KEY`. Only the request goes to stdout, so it can
// be piped or redirected; what happened and what to do next goes to stderr.
func enrollRequest(args []string, stdout, stderr io.Writer, now time.Time) int {
	var cfg agent.Config
	if err := envconfig.Process(agent.EnvPrefix, &cfg); err != nil {
		fmt.Fprintln(stderr, "ness-agent: configuration:", err)
		return 2
	}
	switch {
	case len(args) == 2 && args[0] == "--data-dir":
		cfg.DataDir = args[1]
	case len(args) != 0:
		fmt.Fprintf(stderr, "ness-agent enroll-request: unexpected arguments %q (usage: ness-agent enroll-request [--data-dir DIR])\n", args)
		return 2
	}
	if cfg.DataDir == "" {
		fmt.Fprintf(stderr, "ness-agent enroll-request: %s_DATA_DIR: empty\n", agent.EnvPrefix)
		return 2
	}
	id, created, err := identity.LoadOrCreateKey(cfg.DataDir, now)
	if err != nil {
		fmt.Fprintln(stderr, "ness-agent enroll-request:", err)
		return 1
	}
	if created {
		fmt.Fprintf(stderr, "created the device key %s/%s (agent %s)\n", cfg.DataDir, identity.KeyFileName, id.AgentID())
	}
	if _, err := stdout.Write(identity.NewEnrollRequest(id).Marshal()); err != nil {
		fmt.Fprintln(stderr, "ness-agent enroll-request:", err)
		return 1
	}
	fmt.Fprintf(stderr, "next: the provider runs `ness provider enroll REQUEST --key PROVIDER_KEY --out agent.cert`;\n"+
		"put agent.cert in %s (or set %s_CERT) and restart the agent.\n", cfg.DataDir, agent.EnvPrefix)
	return 0
}
