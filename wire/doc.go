// Package wire is the NESS SMS protocol that the agent, the hub, the ness CLI and the dashboard
// all speak: keys and key files, libsodium-compatible sealed boxes, Ed25519 signatures over
// domain-separated canonical bytes, the versioned messages (SMS, sealed plaintext, agent
// certificate, lease, receipt, agent status, sign-in) and the MQTT topic scheme.
//
// Every decoder here takes outside bytes: it is strict (size limits, exact field names, no
// unknown fields or trailing data, exact key lengths) and its errors name the offending field.
// Signatures are never computed over JSON; each message has a canonical byte form (see
// docs/PROTOCOL.md) that starts with a per-kind domain prefix.
package wire
