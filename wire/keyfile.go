package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Key file schema (docs/PROTOCOL.md "Key files"): one JSON object
//
//	{"format":"ness-key","version":1,"kind":"agent","name":"…","private":"<b64 seed>",
//	 "verify":"<b64 Ed25519 pub>","public":"<b64 X25519 pub>","agent_id":"<hex>","created":"RFC3339"}
//
// "private" is absent in a public-only file. The CLI, the agent and the dashboard export all
// read and write it; ReadKeyFile also imports PrivatenessTools key files.
const (
	KeyFileFormat  = "ness-key"
	KeyFileVersion = 1
	maxKeyFile     = 1 << 20 // PrivatenessTools Users files hold several users and WORM text
)

// Key kinds written into key files (informational; any short label is accepted).
const (
	KindAgent    = "agent"
	KindProvider = "provider"
	KindHub      = "hub"
	KindRenter   = "renter"
	KindUser     = "user"
)

// KeyFile is a parsed key file.
type KeyFile struct {
	Identity *Identity // nil for a public-only file
	Verify   VerifyKey
	Public   SealKey
	Kind     string
	Name     string // PrivatenessTools username or node URL when imported
	Created  time.Time
	Source   string // "ness-key", "privateness-user", "privateness-users", "privateness-node"
}

type keyFileJSON struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Kind    string `json:"kind,omitempty"`
	Name    string `json:"name,omitempty"`
	Private string `json:"private,omitempty"`
	Verify  string `json:"verify"`
	Public  string `json:"public"`
	AgentID string `json:"agent_id"`
	Created string `json:"created,omitempty"`
}

// MarshalKeyFile returns the key file bytes for an identity (with its private seed).
func MarshalKeyFile(id *Identity, kind, name string, created time.Time) ([]byte, error) {
	j := keyFileJSON{Format: KeyFileFormat, Version: KeyFileVersion, Kind: kind, Name: name,
		Private: b64(id.seed[:]), Verify: id.Verify.String(), Public: id.Public.String(), AgentID: id.AgentID()}
	if !created.IsZero() {
		j.Created = created.UTC().Format(time.RFC3339)
	}
	return marshalKeyFile(j)
}

// MarshalPublicKeyFile returns a public-only key file (to hand to peers).
func MarshalPublicKeyFile(verify VerifyKey, public SealKey, kind, name string) ([]byte, error) {
	return marshalKeyFile(keyFileJSON{Format: KeyFileFormat, Version: KeyFileVersion, Kind: kind, Name: name,
		Verify: verify.String(), Public: public.String(), AgentID: AgentIDOf(verify)})
}

func marshalKeyFile(j keyFileJSON) ([]byte, error) {
	if err := checkLabel("key file", "kind", j.Kind, MaxLabel, false); err != nil {
		return nil, err
	}
	if err := checkLabel("key file", "name", j.Name, MaxWormName, false); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteKeyFile writes an identity's key file with mode 0600, atomically (temporary file in the
// same directory, fsync, rename, fsync of the directory). It replaces an existing file.
func WriteKeyFile(path string, id *Identity, kind, name string, created time.Time) error {
	b, err := MarshalKeyFile(id, kind, name, created)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b, 0o600)
}

// WriteFileAtomic writes data to path with the given mode via temp file + fsync + rename.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: some filesystems refuse fsync on directories
		d.Close()
	}
	return nil
}

// ErrKeyFileMode is wrapped when a private key file is readable by group or others.
var ErrKeyFileMode = errors.New("private key file is readable by group or others")

// ReadKeyFile reads a NESS or PrivatenessTools key file. A file holding a private key must not
// be group- or world-readable (mode & 0o077 == 0), or it is refused with a chmod 600 hint.
func ReadKeyFile(path string) (*KeyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read key file %s: not a regular file", path)
	}
	if st.Size() > maxKeyFile {
		return nil, fmt.Errorf("read key file %s: %d bytes exceeds the limit of %d", path, st.Size(), maxKeyFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	k, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if k.Identity != nil && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("read key file %s: %w (mode %04o): run chmod 600 %s", path, ErrKeyFileMode, st.Mode().Perm(), path)
	}
	return k, nil
}

// ParseKeyFile parses key file bytes: the ness-key schema strictly, or a PrivatenessTools
// user, users or node key file (detected by its "filedata" header).
func ParseKeyFile(data []byte) (*KeyFile, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("key file: %d bytes exceeds the limit of %d", len(data), maxKeyFile)
	}
	var probe struct {
		Format   *string         `json:"format"`
		FileData json.RawMessage `json:"filedata"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("key file: bad JSON: %w", err)
	}
	if probe.FileData != nil && probe.Format == nil {
		return parsePrivatenessKey(data)
	}
	const k = "key file"
	var j keyFileJSON
	if err := decodeStrict(k, data, maxKeyFile, &j); err != nil {
		return nil, err
	}
	if j.Format != KeyFileFormat {
		return nil, fieldErr(k, "format", "%q, want %q", trunc(j.Format), KeyFileFormat)
	}
	if j.Version != KeyFileVersion {
		return nil, fieldErr(k, "version", "unsupported version %d (this build reads %d)", j.Version, KeyFileVersion)
	}
	if err := checkLabel(k, "kind", j.Kind, MaxLabel, false); err != nil {
		return nil, err
	}
	if err := checkLabel(k, "name", j.Name, MaxWormName, false); err != nil {
		return nil, err
	}
	kf, err := keysFrom(k, "", j.Private, j.Verify, j.Public)
	if err != nil {
		return nil, err
	}
	kf.Kind, kf.Name, kf.Source = j.Kind, j.Name, KeyFileFormat
	if j.AgentID != "" && j.AgentID != AgentIDOf(kf.Verify) {
		return nil, fieldErr(k, "agent_id", "%s does not match the verify key (whose id is %s)", trunc(j.AgentID), AgentIDOf(kf.Verify))
	}
	if j.Created != "" {
		if kf.Created, err = time.Parse(time.RFC3339, j.Created); err != nil {
			return nil, fieldErr(k, "created", "not an RFC 3339 time: %v", err)
		}
	}
	return kf, nil
}

// keysFrom builds a KeyFile from base64 fields, checking that stored public keys match the ones
// derived from the private seed. prefix is prepended to field names in errors.
func keysFrom(kind, prefix, private, verify, public string) (*KeyFile, error) {
	kf := &KeyFile{}
	if private != "" {
		id, err := ParsePrivateKey(prefix+"private", private)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Kind = kind
			}
			return nil, err
		}
		kf.Identity, kf.Verify, kf.Public = id, id.Verify, id.Public
	}
	for _, f := range []struct {
		name string
		val  string
		have *[KeySize]byte
	}{{"verify", verify, (*[KeySize]byte)(&kf.Verify)}, {"public", public, (*[KeySize]byte)(&kf.Public)}} {
		if f.val == "" {
			if kf.Identity == nil {
				return nil, fieldErr(kind, prefix+f.name, "missing")
			}
			continue
		}
		v, err := keyField(kind, prefix+f.name, f.val)
		if err != nil {
			return nil, err
		}
		if kf.Identity != nil && v != *f.have {
			return nil, fieldErr(kind, prefix+f.name, "does not match the key derived from %sprivate", prefix)
		}
		*f.have = v
	}
	return kf, nil
}

type ptFileData struct {
	Vendor string `json:"vendor"`
	Type   string `json:"type"`
	For    string `json:"for"`
}

type ptUser struct {
	Username string `json:"username"`
	Private  string `json:"private"`
	Public   string `json:"public"`
	Verify   string `json:"verify"`
}

// parsePrivatenessKey imports PrivatenessTools key files (NessKeys/keys/User.py, Users.py,
// Node.py): "private" is the base64 Ed25519 seed, also used as the X25519 secret.
func parsePrivatenessKey(data []byte) (*KeyFile, error) {
	const k = "privateness key file"
	var doc struct {
		FileData ptFileData        `json:"filedata"`
		ptUser                     // single user file
		Current  string            `json:"current"`
		Users    map[string]ptUser `json:"users"`
		Keys     *struct {
			Private string `json:"private"`
			Public  string `json:"public"`
			Verify  string `json:"verify"`
		} `json:"keys"`
		URL string `json:"url"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: trailing data after the JSON object", k)
	}
	if doc.FileData.Vendor != "Privateness" || doc.FileData.Type != "key" {
		return nil, fieldErr(k, "filedata", "vendor %q type %q, want Privateness key", trunc(doc.FileData.Vendor), trunc(doc.FileData.Type))
	}
	var kf *KeyFile
	var err error
	switch {
	case doc.FileData.For == "user" && doc.Users != nil:
		u, ok := doc.Users[doc.Current]
		if !ok {
			return nil, fieldErr(k, "current", "user %q is not in users", trunc(doc.Current))
		}
		prefix := "users." + doc.Current + "."
		if u.Private == "" {
			return nil, fieldErr(k, prefix+"private", "missing")
		}
		if kf, err = keysFrom(k, prefix, u.Private, u.Verify, u.Public); err != nil {
			return nil, err
		}
		kf.Name, kf.Source = doc.Current, "privateness-users"
	case doc.FileData.For == "user":
		if doc.Private == "" {
			return nil, fieldErr(k, "private", "missing")
		}
		if kf, err = keysFrom(k, "", doc.Private, doc.Verify, doc.Public); err != nil {
			return nil, err
		}
		kf.Name, kf.Source = doc.Username, "privateness-user"
	case doc.FileData.For == "node":
		if doc.Keys == nil || doc.Keys.Private == "" {
			return nil, fieldErr(k, "keys.private", "missing")
		}
		if kf, err = keysFrom(k, "keys.", doc.Keys.Private, doc.Keys.Verify, doc.Keys.Public); err != nil {
			return nil, err
		}
		kf.Name, kf.Source = doc.URL, "privateness-node"
	default:
		return nil, fieldErr(k, "filedata.for", "%q: only user and node key files hold identities", trunc(doc.FileData.For))
	}
	kf.Kind = KindUser
	if err := checkLabel(k, "name", kf.Name, MaxWormName, false); err != nil {
		return nil, err
	}
	return kf, nil
}
