package main

// The seed's ptool_* tools as ness commands: keygen, encrypt, decrypt, sign, verify. Files are
// raw bytes: a .enc file is a libsodium sealed box, a .sig file a 64-byte detached Ed25519
// signature over the input file's bytes.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ness-network/ness-sms/wire"
)

// maxCryptoInput bounds files read by the crypto commands.
const maxCryptoInput = 256 << 20

func init() {
	register(&command{name: "keygen", summary: "make a new identity key file (Ed25519 + X25519) and print its public keys", run: runKeygen})
	register(&command{name: "encrypt", summary: "seal a file to a peer's X25519 public key (libsodium sealed box)", run: runEncrypt})
	register(&command{name: "decrypt", summary: "open a sealed box with your private key", run: runDecrypt})
	register(&command{name: "sign", summary: "make a detached Ed25519 signature of a file", run: runSign})
	register(&command{name: "verify", summary: "check a detached Ed25519 signature (exit 0 only if valid)", run: runVerify})
}

func runKeygen(env *cmdEnv, args []string) error {
	fs := newFlags(env, "keygen", "--out FILE [--kind KIND] [--name NAME] [--force]\n\n"+
		"Writes a new NESS key file (mode 0600) and prints its public keys. The file's \"private\" is the\n"+
		"32-byte seed: Ed25519 signing seed and X25519 secret, as in PrivatenessTools.")
	out := fs.String("out", "", "key file to write (required)")
	kind := fs.String("kind", wire.KindUser, "label stored in the file: user, renter, provider, agent, hub")
	name := fs.String("name", "", "optional name stored in the file")
	force := fs.Bool("force", false, "replace an existing file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return usageError("need --out FILE and no other arguments (see ness keygen --help)")
	}
	if _, err := os.Lstat(*out); err == nil && !*force {
		return fmt.Errorf("%s exists; refusing to overwrite a key (use --force)", *out)
	}
	id, err := wire.GenerateIdentity()
	if err != nil {
		return err
	}
	if err := wire.WriteKeyFile(*out, id, *kind, *name, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s\nverify (Ed25519): %s\npublic (X25519):  %s\nagent id:         %s\n", *out, id.Verify, id.Public, id.AgentID())
	return nil
}

// keySource resolves exactly one of a base64 flag and --key FILE.
type keySource struct {
	b64Flag string
	b64     *string
	file    *string
}

func addKeyFlags(fs *flag.FlagSet, b64Flag, b64Help string) *keySource {
	return &keySource{
		b64Flag: b64Flag,
		b64:     fs.String(b64Flag, "", b64Help),
		file:    fs.String("key", "", "key file (ness-key or PrivatenessTools) instead of --"+b64Flag),
	}
}

func (k *keySource) check() error {
	if (*k.b64 == "") == (*k.file == "") {
		return usageError("give exactly one of --%s and --key", k.b64Flag)
	}
	return nil
}

func (k *keySource) identity() (*wire.Identity, error) {
	if *k.b64 != "" {
		return wire.ParsePrivateKey("--"+k.b64Flag, *k.b64)
	}
	kf, err := wire.ReadKeyFile(*k.file)
	if err != nil {
		return nil, err
	}
	if kf.Identity == nil {
		return nil, fmt.Errorf("key file %s holds no private key", *k.file)
	}
	return kf.Identity, nil
}

func (k *keySource) public() (*wire.KeyFile, error) {
	if *k.b64 != "" {
		key, err := wire.ParseKey("--"+k.b64Flag, *k.b64)
		if err != nil {
			return nil, err
		}
		return &wire.KeyFile{Verify: wire.VerifyKey(key), Public: wire.SealKey(key)}, nil
	}
	return wire.ReadKeyFile(*k.file)
}

func ioFlags(fs *flag.FlagSet, outHelp string) (in, out *string) {
	in = fs.String("in", "", "input file, - for standard input (required)")
	if outHelp != "" {
		out = fs.String("out", "", outHelp)
	}
	return in, out
}

func readInput(env *cmdEnv, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = env.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxCryptoInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxCryptoInput {
		return nil, fmt.Errorf("read %s: larger than the %d MiB limit", name, maxCryptoInput>>20)
	}
	return b, nil
}

func writeOutput(env *cmdEnv, name string, data []byte, mode os.FileMode) error {
	if name == "-" {
		_, err := env.stdout.Write(data)
		return err
	}
	return wire.WriteFileAtomic(name, data, mode)
}

func needIO(in, out *string, cmd string) error {
	if *in == "" || (out != nil && *out == "") {
		if out != nil {
			return usageError("need --in and --out (see ness %s --help)", cmd)
		}
		return usageError("need --in (see ness %s --help)", cmd)
	}
	return nil
}

func runEncrypt(env *cmdEnv, args []string) error {
	fs := newFlags(env, "encrypt", "(--peer-pub-b64 PUB | --key FILE) --in FILE --out FILE.enc\n\n"+
		"Seals FILE to the peer's X25519 public key. FILE.enc is the raw libsodium sealed box\n"+
		"(crypto_box_seal), which PyNaCl SealedBox, libsodium and tweetnacl can open.")
	key := addKeyFlags(fs, "peer-pub-b64", "peer's X25519 public key, base64 (standard or URL, padded or not)")
	in, out := ioFlags(fs, "sealed box to write, - for standard output (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := key.check(); err != nil {
		return err
	}
	if err := needIO(in, out, "encrypt"); err != nil {
		return err
	}
	kf, err := key.public()
	if err != nil {
		return err
	}
	data, err := readInput(env, *in)
	if err != nil {
		return err
	}
	sealed, err := wire.Seal(kf.Public, data)
	if err != nil {
		return err
	}
	return writeOutput(env, *out, sealed, 0o644)
}

func runDecrypt(env *cmdEnv, args []string) error {
	fs := newFlags(env, "decrypt", "(--priv-b64 PRIV | --key FILE) --in FILE.enc --out FILE\n\n"+
		"Opens a sealed box. PRIV is the 32-byte private seed (the X25519 secret), or the 64-byte\n"+
		"seed+public form. The output file is written with mode 0600.")
	key := addKeyFlags(fs, "priv-b64", "your private key, base64 (32-byte seed or 64-byte seed+public)")
	in, out := ioFlags(fs, "plaintext file to write, - for standard output (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := key.check(); err != nil {
		return err
	}
	if err := needIO(in, out, "decrypt"); err != nil {
		return err
	}
	id, err := key.identity()
	if err != nil {
		return err
	}
	sealed, err := readInput(env, *in)
	if err != nil {
		return err
	}
	plain, err := id.Open(sealed)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	return writeOutput(env, *out, plain, 0o600)
}

func runSign(env *cmdEnv, args []string) error {
	fs := newFlags(env, "sign", "(--priv-b64 PRIV | --key FILE) --in FILE --out FILE.sig\n\n"+
		"Writes the raw 64-byte Ed25519 signature of FILE's bytes. Refuses input that starts with a\n"+
		"NESS SMS protocol domain prefix (\"NESS-SMS/\"), so a raw signature can never pass for a\n"+
		"protocol message.")
	key := addKeyFlags(fs, "priv-b64", "your private key, base64 (32-byte seed or 64-byte seed+public)")
	in, out := ioFlags(fs, "signature file to write, - for standard output (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := key.check(); err != nil {
		return err
	}
	if err := needIO(in, out, "sign"); err != nil {
		return err
	}
	id, err := key.identity()
	if err != nil {
		return err
	}
	data, err := readInput(env, *in)
	if err != nil {
		return err
	}
	if wire.HasDomainPrefix(data) {
		return fmt.Errorf("%s starts with a NESS SMS protocol domain prefix; refusing to sign it as raw data", *in)
	}
	return writeOutput(env, *out, id.SignBytes(data), 0o644)
}

// errBadSignature makes verify exit 1.
var errBadSignature = errors.New("signature does NOT verify")

func runVerify(env *cmdEnv, args []string) error {
	fs := newFlags(env, "verify", "(--pub-b64 PUB | --key FILE) --in FILE --sig FILE.sig\n\n"+
		"Checks a raw 64-byte Ed25519 signature of FILE's bytes. Exit status 0 only when it is\n"+
		"valid, 1 when it is not, 2 for bad arguments.")
	key := addKeyFlags(fs, "pub-b64", "signer's Ed25519 verify key, base64 (standard or URL, padded or not)")
	in, _ := ioFlags(fs, "")
	sigPath := fs.String("sig", "", "signature file (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := key.check(); err != nil {
		return err
	}
	if err := needIO(in, nil, "verify"); err != nil {
		return err
	}
	if *sigPath == "" {
		return usageError("need --sig (see ness verify --help)")
	}
	kf, err := key.public()
	if err != nil {
		return err
	}
	data, err := readInput(env, *in)
	if err != nil {
		return err
	}
	sig, err := readInput(env, *sigPath)
	if err != nil {
		return err
	}
	if len(sig) != wire.SignatureSize {
		return &exitError{code: 1, err: fmt.Errorf("%s is %d bytes, want a raw %d-byte signature", *sigPath, len(sig), wire.SignatureSize)}
	}
	if !wire.VerifyBytes(kf.Verify, data, sig) {
		return &exitError{code: 1, err: errBadSignature}
	}
	fmt.Fprintln(env.stdout, "signature OK")
	return nil
}
