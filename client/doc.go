// Package client holds what the `ness` command-line tool does for providers and renters, apart
// from argument parsing (client/cmd/ness). It grows as the hub API lands.
package client
