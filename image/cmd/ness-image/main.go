// Command ness-image builds the NESS SMS agent's Raspberry Pi image and its signed update files.
//
//	ness-image build -agent ness-agent -init ness-init -out dist/ness-agent-rpi-arm64.img.gz [-release-key release.pub]...
//	ness-image keygen -out release            (writes release.key, mode 0600, and release.pub)
//	ness-image sign -key release.key -root dist/ness-agent-rpi-arm64.root.sqfs -out update.nessupd
//	ness-image verify -keys dir-or-file update.nessupd
//	ness-image deb -arch arm64 -agent ness-agent -out dist/   (the .deb for custom boards)
//
// SOURCE_DATE_EPOCH sets every timestamp in the image (make image passes the last commit's time).
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/image/deb"
	"github.com/ness-network/ness-sms/image/imagebuild"
	"github.com/ness-network/ness-sms/image/update"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "build":
		err = build(ctx, os.Args[2:])
	case "keygen":
		err = keygen(os.Args[2:])
	case "sign":
		err = sign(os.Args[2:])
	case "verify":
		err = verify(os.Args[2:])
	case "deb":
		err = debBuild(ctx, os.Args[2:])
	case "-h", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "ness-image: unknown command %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ness-image:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  ness-image build  -agent BIN -init BIN -out FILE.img.gz [-release-key PUB]... [-ca-bundle PEM] [-version V]
  ness-image keygen -out PREFIX            writes PREFIX.key (0600, keep it off the board) and PREFIX.pub
  ness-image sign   -key PREFIX.key -root ROOT.sqfs -out FILE.nessupd [-version V]
  ness-image verify -keys DIR|PUB FILE.nessupd
  ness-image deb    -arch amd64|arm64|armhf -agent BIN -out DIR [-version V]
environment: SOURCE_DATE_EPOCH (required for build and deb) fixes every timestamp.
`)
	os.Exit(2)
}

func build(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	var c imagebuild.Config
	var keys multi
	fs.StringVar(&c.AgentBin, "agent", "", "linux/arm64 ness-agent binary")
	fs.StringVar(&c.InitBin, "init", "", "linux/arm64 ness-init binary")
	fs.StringVar(&c.Out, "out", "dist/ness-agent-rpi-arm64.img.gz", "image to write")
	fs.StringVar(&c.ModuleDir, "moddir", ".", "the image/ module directory (its go.mod pins the kernel and firmware)")
	fs.StringVar(&c.CABundle, "ca-bundle", "", "PEM CA bundle for TLS (e.g. /etc/ssl/certs/ca-certificates.crt)")
	fs.StringVar(&c.Version, "version", "devel", "version shown on the board")
	work := fs.String("work", "", "scratch directory (default: a new temporary directory, removed afterwards)")
	fs.Var(&keys, "release-key", "public release key file (ness-key JSON) trusted for updates; repeatable")
	fs.Parse(args)
	c.ReleaseKeys = keys
	sde := os.Getenv("SOURCE_DATE_EPOCH")
	if sde == "" {
		return errors.New("SOURCE_DATE_EPOCH is not set (make image sets it to the last commit's time)")
	}
	n, err := strconv.ParseInt(sde, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want a positive Unix time", sde)
	}
	c.Epoch = time.Unix(n, 0).UTC()
	if len(keys) == 0 {
		fmt.Fprintln(os.Stderr, "ness-image: warning: no -release-key: the image will refuse every update")
	}
	if *work == "" {
		d, err := os.MkdirTemp("", "ness-image-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*work = d
	}
	c.WorkDir = *work
	c.Log = os.Stderr
	res, err := imagebuild.Build(ctx, c)
	if err != nil {
		return err
	}
	fmt.Printf("%s  %s\nroot file system: %s\ndisk label id: %s\n", res.SHA256, res.Image, res.RootFS, res.LabelID)
	return nil
}

func keygen(args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ExitOnError)
	out := fs.String("out", "release", "prefix of the key files")
	name := fs.String("name", "ness-release", "key name")
	fs.Parse(args)
	for _, p := range []string{*out + ".key", *out + ".pub"} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; not overwriting a key", p)
		}
	}
	if err := update.GenerateKey(*out+".key", *out+".pub", *name, time.Now()); err != nil {
		return err
	}
	fmt.Printf("wrote %s.key (secret, mode 0600) and %s.pub (pass it to make image as RELEASE_KEY)\n", *out, *out)
	return nil
}

func sign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	keyPath := fs.String("key", "", "release private key (ness-key JSON)")
	root := fs.String("root", "", "root squashfs (make image writes dist/ness-agent-rpi-arm64.root.sqfs)")
	out := fs.String("out", "", "update file to write (.nessupd)")
	version := fs.String("version", "devel", "image version the update carries")
	fs.Parse(args)
	if *keyPath == "" || *root == "" || *out == "" {
		return errors.New("sign: -key, -root and -out are required")
	}
	k, err := update.ReadPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	in, err := os.Open(*root)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	f, err := os.Create(*out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(*out + ".tmp")
	if err := update.Write(f, in, fi.Size(), *version, time.Now(), k); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(*out+".tmp", *out)
}

func verify(args []string) error {
	fs := flag.NewFlagSet("verify", flag.ExitOnError)
	keys := fs.String("keys", "", "directory of trusted public keys, or one key file")
	fs.Parse(args)
	if *keys == "" || fs.NArg() != 1 {
		return errors.New("verify: -keys and one update file are required")
	}
	var trusted []ed25519.PublicKey
	if fi, err := os.Stat(*keys); err == nil && fi.IsDir() {
		if trusted, err = update.ReadTrustedKeys(*keys); err != nil {
			return err
		}
	} else {
		k, err := update.ReadPublicKey(*keys)
		if err != nil {
			return err
		}
		trusted = append(trusted, k)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	u, err := update.Open(f, fi.Size(), trusted)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(fs.Arg(0)), err)
	}
	if err := u.Verify(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(fs.Arg(0)), err)
	}
	fmt.Printf("%s: good signature; image version %s, root %d bytes, sha256 %s\n", fs.Arg(0), u.Header.ImageVersion, u.Header.RootSize, u.Header.RootSHA256)
	return nil
}

func debBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("deb", flag.ExitOnError)
	var c deb.Config
	fs.StringVar(&c.Arch, "arch", "", "Debian architecture: amd64, arm64 or armhf")
	fs.StringVar(&c.AgentBin, "agent", "", "static linux ness-agent binary for that architecture")
	fs.StringVar(&c.OutDir, "out", "dist", "directory for ness-agent_<version>_<arch>.deb")
	fs.StringVar(&c.Version, "version", "devel", "agent version (made a valid Debian version)")
	fs.Parse(args)
	if c.Arch == "" || c.AgentBin == "" {
		return errors.New("deb: -arch and -agent are required")
	}
	sde, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return fmt.Errorf("deb: SOURCE_DATE_EPOCH: %v", err)
	}
	c.Epoch = time.Unix(sde, 0).UTC()
	work, err := os.MkdirTemp("", "ness-deb-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	c.WorkDir = work
	out, err := deb.Build(ctx, c)
	if err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}
