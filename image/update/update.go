// Package update reads, writes and applies the image's update files: a new root file system
// (squashfs) signed with an Ed25519 release key. ness-init applies a verified update to the
// inactive root partition; anything unsigned, signed by a key the image does not trust, or whose
// payload does not match its signed hash is refused before a byte reaches the partition.
//
// File layout (all integers big-endian):
//
//	"NESSUPD1"       8 bytes, magic
//	header length    4 bytes
//	header           JSON (Header), at most 4 KiB
//	signature        64 bytes: Ed25519 over "ness-sms/image-update/v1\n" || header
//	root file system Header.RootSize bytes
//
// Key files use the ness-key JSON schema of docs/PROTOCOL.md ("verify" is the public key,
// "private" the 32-byte seed, both base64). This module does not import the main module's wire
// package (it is a separate module, to keep the image's kernel and firmware out of the main
// build list), so it reads the two fields it needs with crypto/ed25519 directly.
package update

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Magic starts every update file.
const Magic = "NESSUPD1"

// Domain separates update signatures from every other signature a release key could make.
const Domain = "ness-sms/image-update/v1\n"

const maxHeader = 4 << 10

// Header is the signed description of the payload.
type Header struct {
	Format       string `json:"format"` // "ness-update"
	Version      int    `json:"version"`
	ImageVersion string `json:"image_version"`
	RootSize     int64  `json:"root_size"`
	RootSHA256   string `json:"root_sha256"`
	Created      string `json:"created,omitempty"`
}

// Errors a caller (and a test) can tell apart.
var (
	ErrNotUpdate    = errors.New("not a NESS update file")
	ErrUnsigned     = errors.New("update is not signed")
	ErrBadSignature = errors.New("update signature does not verify with any trusted release key")
	ErrHashMismatch = errors.New("update payload does not match its signed hash")
	ErrNoKeys       = errors.New("no trusted release keys: this image refuses every update")
)

// KeyFile is the part of a ness-key file this package reads.
type KeyFile struct {
	Format  string `json:"format"`
	Kind    string `json:"kind,omitempty"`
	Name    string `json:"name,omitempty"`
	Private string `json:"private,omitempty"`
	Verify  string `json:"verify"`
	Created string `json:"created,omitempty"`
}

func decodeKey(s string, want int, what string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != want {
				return nil, fmt.Errorf("%s: %d bytes, want %d", what, len(b), want)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s: not base64", what)
}

// ReadPublicKey reads the Ed25519 public key ("verify") of a ness-key file.
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	b, err := decodeKey(kf.Verify, ed25519.PublicKeySize, path+": verify")
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(b), nil
}

// ReadPrivateKey reads the signing key ("private" seed) of a ness-key file and checks that its
// "verify" matches.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	kf, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if kf.Private == "" {
		return nil, fmt.Errorf("%s: no private key (is it the public half?)", path)
	}
	seed, err := decodeKey(kf.Private, ed25519.SeedSize, path+": private")
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if kf.Verify != "" {
		pub, err := decodeKey(kf.Verify, ed25519.PublicKeySize, path+": verify")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pub, priv.Public().(ed25519.PublicKey)) {
			return nil, fmt.Errorf("%s: verify does not match private", path)
		}
	}
	return priv, nil
}

func readKeyFile(path string) (*KeyFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kf KeyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%s: not a ness-key JSON file: %w", path, err)
	}
	if kf.Format != "ness-key" {
		return nil, fmt.Errorf("%s: format %q, want \"ness-key\"", path, kf.Format)
	}
	return &kf, nil
}

// ReadTrustedKeys reads every *.key / *.json public key file in dir, sorted by name.
func ReadTrustedKeys(dir string) ([]ed25519.PublicKey, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".key") || strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), ".pub")) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var keys []ed25519.PublicKey
	for _, n := range names {
		k, err := ReadPublicKey(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// GenerateKey writes a new release key pair: priv (mode 0600, keep it off the board) and pub
// (the file to bake into images).
func GenerateKey(privPath, pubPath, name string, now time.Time) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	kf := KeyFile{Format: "ness-key", Kind: "release", Name: name,
		Private: base64.StdEncoding.EncodeToString(priv.Seed()),
		Verify:  base64.StdEncoding.EncodeToString(pub), Created: now.UTC().Format(time.RFC3339)}
	data, _ := json.MarshalIndent(struct {
		KeyFile
		Version int `json:"version"`
	}{kf, 1}, "", "  ")
	if err := os.WriteFile(privPath, append(data, '\n'), 0o600); err != nil {
		return err
	}
	kf.Private = ""
	data, _ = json.MarshalIndent(struct {
		KeyFile
		Version int `json:"version"`
	}{kf, 1}, "", "  ")
	return os.WriteFile(pubPath, append(data, '\n'), 0o644)
}

// Write writes an update file carrying root (a squashfs image) signed with key.
func Write(w io.Writer, root io.Reader, rootSize int64, imageVersion string, created time.Time, key ed25519.PrivateKey) error {
	// Hash first: the header (signed) carries it.
	tmp, err := os.CreateTemp("", "ness-update-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), root)
	if err != nil {
		return fmt.Errorf("update: read root: %w", err)
	}
	if n != rootSize {
		return fmt.Errorf("update: root is %d bytes, expected %d", n, rootSize)
	}
	if err := checkSquashfs(tmp); err != nil {
		return err
	}
	hdr := Header{Format: "ness-update", Version: 1, ImageVersion: imageVersion, RootSize: n,
		RootSHA256: hex.EncodeToString(h.Sum(nil))}
	if !created.IsZero() {
		hdr.Created = created.UTC().Format(time.RFC3339)
	}
	hb, _ := json.Marshal(hdr)
	sig := ed25519.Sign(key, append([]byte(Domain), hb...))
	var lenb [4]byte
	binary.BigEndian.PutUint32(lenb[:], uint32(len(hb)))
	for _, b := range [][]byte{[]byte(Magic), lenb[:], hb, sig} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, tmp)
	return err
}

func checkSquashfs(r io.ReaderAt) error {
	var m [4]byte
	if _, err := r.ReadAt(m[:], 0); err != nil || string(m[:]) != "hsqs" {
		return errors.New("update: root is not a squashfs image")
	}
	return nil
}

// File is an opened update file whose header signature has been checked.
type File struct {
	Header     Header
	f          io.ReaderAt
	payloadOff int64
}

// Open reads and authenticates the header of an update file against the trusted keys. The
// payload is checked by Verify (or Apply) against the signed hash.
func Open(r io.ReaderAt, size int64, trusted []ed25519.PublicKey) (*File, error) {
	if len(trusted) == 0 {
		return nil, ErrNoKeys
	}
	head := make([]byte, 12)
	if _, err := r.ReadAt(head, 0); err != nil || string(head[:8]) != Magic {
		return nil, ErrNotUpdate
	}
	hl := int64(binary.BigEndian.Uint32(head[8:]))
	if hl == 0 || hl > maxHeader || 12+hl > size {
		return nil, fmt.Errorf("%w: header length %d", ErrNotUpdate, hl)
	}
	hb := make([]byte, hl)
	if _, err := r.ReadAt(hb, 12); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotUpdate, err)
	}
	if 12+hl+ed25519.SignatureSize > size {
		return nil, ErrUnsigned
	}
	sig := make([]byte, ed25519.SignatureSize)
	if _, err := r.ReadAt(sig, 12+hl); err != nil {
		return nil, ErrUnsigned
	}
	if bytes.Equal(sig, make([]byte, len(sig))) {
		return nil, ErrUnsigned
	}
	msg := append([]byte(Domain), hb...)
	ok := false
	for _, k := range trusted {
		if ed25519.Verify(k, msg, sig) {
			ok = true
			break
		}
	}
	if !ok {
		return nil, ErrBadSignature
	}
	var hdr Header
	dec := json.NewDecoder(bytes.NewReader(hb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotUpdate, err)
	}
	if hdr.Format != "ness-update" || hdr.Version != 1 {
		return nil, fmt.Errorf("%w: format %q version %d", ErrNotUpdate, hdr.Format, hdr.Version)
	}
	off := 12 + hl + ed25519.SignatureSize
	if hdr.RootSize <= 0 || off+hdr.RootSize != size {
		return nil, fmt.Errorf("%w: payload is %d bytes, header says %d", ErrHashMismatch, size-off, hdr.RootSize)
	}
	return &File{Header: hdr, f: r, payloadOff: off}, nil
}

// Payload returns a reader of the root file system.
func (u *File) Payload() *io.SectionReader {
	return io.NewSectionReader(u.f, u.payloadOff, u.Header.RootSize)
}

// Verify hashes the payload and compares it with the signed hash.
func (u *File) Verify() error {
	return checkHash(u.Payload(), u.Header.RootSHA256)
}

func checkHash(r io.Reader, want string) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return fmt.Errorf("update: read payload: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: sha256 %s, signed %s", ErrHashMismatch, got, want)
	}
	return nil
}

// Partition is the inactive root partition an update is written to.
type Partition interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
}

// Apply verifies the payload, writes it to the partition (of partSize bytes), syncs, and reads
// it back to check it landed intact. The partition is written only after the payload verified.
func (u *File) Apply(p Partition, partSize int64) error {
	if u.Header.RootSize > partSize {
		return fmt.Errorf("update: root file system is %d bytes, the partition %d", u.Header.RootSize, partSize)
	}
	if err := u.Verify(); err != nil {
		return err
	}
	if err := checkSquashfs(u.Payload()); err != nil {
		return err
	}
	if _, err := io.Copy(io.NewOffsetWriter(p, 0), u.Payload()); err != nil {
		return fmt.Errorf("update: write partition: %w", err)
	}
	if err := p.Sync(); err != nil {
		return fmt.Errorf("update: sync partition: %w", err)
	}
	if err := checkHash(io.NewSectionReader(p, 0, u.Header.RootSize), u.Header.RootSHA256); err != nil {
		return fmt.Errorf("update: partition read back: %w", err)
	}
	return nil
}
