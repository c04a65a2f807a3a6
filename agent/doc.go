// Package agent is the root of the ness-agent tree: the daemon on the ARM board that powers and
// polls the GSM modules, keeps every SMS in a durable outbox and publishes it, sealed to its
// renter and signed, to the hub over MQTT.
//
// Each technology lives in its own subpackage (agent/outbox, agent/modem, …); the binary is
// agent/cmd/ness-agent. deps_test.go in this directory keeps the binary's dependencies to an
// allow-list (see DESIGN.md: no hub code, no SQL driver, no web UI, no cgo).
package agent
