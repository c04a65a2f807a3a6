package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// Session is what `ness login` keeps between commands: the hub, the bearer token and the key
// file it signed in with (so later commands open messages with the same key).
type Session struct {
	Hub     string    `json:"hub"`
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Key     string    `json:"key,omitempty"` // absolute path of the key file
	Account Account   `json:"account"`
}

// SessionFile is the session's path: $XDG_CONFIG_HOME/ness/session.json, or
// ~/.config/ness/session.json.
func SessionFile() (string, error) {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("session file: neither XDG_CONFIG_HOME nor a home directory: %w", err)
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "ness", "session.json"), nil
}

// SaveSession writes s to path with mode 0600 (its directory 0700): the token is a secret.
func SaveSession(path string, s Session) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	b, err := jsonIndent(s)
	if err != nil {
		return err
	}
	if err := wire.WriteFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("session file: %w", err)
	}
	return nil
}

// LoadSession reads the session at path; a missing file is (nil, nil). A file that others can
// read is refused, as ssh refuses such a key.
func LoadSession(path string) (*Session, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("session file %s: mode %04o lets others read the token; chmod 600 it or log in again", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("session file: %w", err)
	}
	var s Session
	if err := DecodeStrict("session file "+path, b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
