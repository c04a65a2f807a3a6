package update_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/image/update"
)

// memPart is an in-memory partition.
type memPart struct{ b []byte }

func (m *memPart) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }
func (m *memPart) ReadAt(p []byte, off int64) (int, error)  { return copy(p, m.b[off:]), nil }
func (m *memPart) Sync() error                              { return nil }

func fakeRoot() []byte {
	root := bytes.Repeat([]byte("root file system "), 1000)
	copy(root, "hsqs")
	return root
}

func keys(t *testing.T) (priv, pubPath string, other string) {
	t.Helper()
	dir := t.TempDir()
	priv = filepath.Join(dir, "release.key")
	pubPath = filepath.Join(dir, "release.pub")
	if err := update.GenerateKey(priv, pubPath, "test", time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	other = filepath.Join(dir, "other.key")
	if err := update.GenerateKey(other, filepath.Join(dir, "other.pub"), "other", time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(priv); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode: got %v, want 0600", fi.Mode().Perm())
	}
	return priv, pubPath, other
}

func sign(t *testing.T, keyPath string, root []byte) []byte {
	t.Helper()
	k, err := update.ReadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := update.Write(&buf, bytes.NewReader(root), int64(len(root)), "v1.2.3", time.Unix(1700000000, 0), k); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestApply(t *testing.T) {
	privPath, pubPath, otherPath := keys(t)
	pub, err := update.ReadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := update.ReadPrivateKey(pubPath); err == nil {
		t.Errorf("ReadPrivateKey(public key file): got nil error, want one")
	}
	root := fakeRoot()
	good := sign(t, privPath, root)
	otherSigned := sign(t, otherPath, root)

	unsigned := bytes.Clone(good)
	hl := int(good[8])<<24 | int(good[9])<<16 | int(good[10])<<8 | int(good[11])
	copy(unsigned[12+hl:], make([]byte, ed25519.SignatureSize))

	tamperedPayload := bytes.Clone(good)
	tamperedPayload[len(tamperedPayload)-1] ^= 1

	tamperedHeader := bytes.Clone(good)
	i := bytes.Index(tamperedHeader, []byte("v1.2.3"))
	tamperedHeader[i+1] = '9'

	truncated := good[:len(good)-10]

	tests := []struct {
		name    string
		file    []byte
		trusted []ed25519.PublicKey
		want    error
	}{
		{"good", good, []ed25519.PublicKey{pub}, nil},
		{"good, second trusted key", good, []ed25519.PublicKey{otherPub(t, otherPath), pub}, nil},
		{"unsigned", unsigned, []ed25519.PublicKey{pub}, update.ErrUnsigned},
		{"signed by an untrusted key", otherSigned, []ed25519.PublicKey{pub}, update.ErrBadSignature},
		{"payload changed after signing", tamperedPayload, []ed25519.PublicKey{pub}, update.ErrHashMismatch},
		{"header changed after signing", tamperedHeader, []ed25519.PublicKey{pub}, update.ErrBadSignature},
		{"truncated", truncated, []ed25519.PublicKey{pub}, update.ErrHashMismatch},
		{"raw squashfs, no update header", root, []ed25519.PublicKey{pub}, update.ErrNotUpdate},
		{"no trusted keys", good, nil, update.ErrNoKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			part := &memPart{b: make([]byte, 1<<20)}
			copy(part.b, "old root")
			err := func() error {
				u, err := update.Open(bytes.NewReader(tt.file), int64(len(tt.file)), tt.trusted)
				if err != nil {
					return err
				}
				return u.Apply(part, int64(len(part.b)))
			}()
			if !errors.Is(err, tt.want) {
				t.Fatalf("apply %s: got error %v, want %v", tt.name, err, tt.want)
			}
			if tt.want == nil {
				if !bytes.Equal(part.b[:len(root)], root) {
					t.Errorf("apply %s: partition does not hold the new root", tt.name)
				}
				return
			}
			if string(part.b[:8]) != "old root" {
				t.Errorf("apply %s (refused): partition was written: %q", tt.name, part.b[:8])
			}
		})
	}
}

func TestApplyTooBig(t *testing.T) {
	privPath, pubPath, _ := keys(t)
	pub, _ := update.ReadPublicKey(pubPath)
	good := sign(t, privPath, fakeRoot())
	u, err := update.Open(bytes.NewReader(good), int64(len(good)), []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatal(err)
	}
	part := &memPart{b: make([]byte, 100)}
	if err := u.Apply(part, int64(len(part.b))); err == nil {
		t.Errorf("apply to a 100-byte partition: got nil error, want one")
	}
}

func TestWriteRefusesNonSquashfs(t *testing.T) {
	privPath, _, _ := keys(t)
	k, _ := update.ReadPrivateKey(privPath)
	data := []byte("not a squashfs")
	if err := update.Write(&bytes.Buffer{}, bytes.NewReader(data), int64(len(data)), "v", time.Time{}, k); err == nil {
		t.Errorf("Write(non-squashfs root): got nil error, want one")
	}
}

func otherPub(t *testing.T, privPath string) ed25519.PublicKey {
	t.Helper()
	k, err := update.ReadPrivateKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	return k.Public().(ed25519.PublicKey)
}
