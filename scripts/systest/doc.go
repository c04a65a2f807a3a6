// Package systest holds the system tests of NESS SMS: the whole network (ness-modemsim →
// ness-agent → Mosquitto → two ness-hub instances on one PostgreSQL → renters on WebSocket and
// webhooks) under process kills and modem faults, a hostile-client suite against a running hub,
// and the end-to-end latency benchmark. Every server is a private instance started on free
// ports; the shared Mosquitto (1883) and PostgreSQL (5432) are never touched.
//
// The tests run only when NESS_E2E=1 (`make e2e`, `make bench`); then a missing part (mosquitto,
// PostgreSQL binaries, runuser) fails the test instead of skipping it. docs/TESTING.md describes
// them.
package systest
