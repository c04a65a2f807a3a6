package main

// Signing in to a hub (ness login, logout, whoami) and what every hub command shares: where the
// hub URL, token and key come from, and JSON output.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/wire"
)

func init() {
	register(&command{name: "login", summary: "sign in to a hub with your key file and keep the token (0600) for the other commands", run: runLogin})
	register(&command{name: "logout", summary: "revoke the saved token at the hub and forget it", run: runLogout})
	register(&command{name: "whoami", summary: "show the account the token stands for", run: runWhoami})
}

// Environment variables of the hub commands (flags win over them).
const (
	envHubURL = "NESS_HUB_URL"
	envToken  = "NESS_TOKEN"
	envKey    = "NESS_KEY"
)

// commandContext is the context of commands that talk to a hub: cancelled by SIGINT/SIGTERM.
// Tests replace it.
var commandContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// hubFlags are the flags every hub command has.
type hubFlags struct {
	hub, token *string
	json       *bool
	key        *string // nil when the command needs no key
}

func addHubFlags(fs *flag.FlagSet, withJSON bool) *hubFlags {
	f := &hubFlags{
		hub:   fs.String("hub", "", "hub URL, e.g. https://hub.example.org (default $"+envHubURL+", else the one you logged in to)"),
		token: fs.String("token", "", "API token (default $"+envToken+", else the saved session's)"),
	}
	if withJSON {
		f.json = fs.Bool("json", false, "print JSON instead of a table")
	} else {
		f.json = new(bool)
	}
	return f
}

// addKeyFlag adds --key for commands that open messages or sign.
func (f *hubFlags) addKeyFlag(fs *flag.FlagSet, help string) {
	f.key = fs.String("key", "", help+" (default $"+envKey+", else the key you logged in with)")
}

// session loads the saved session, if any.
func loadSession() (*client.Session, string, error) {
	path, err := client.SessionFile()
	if err != nil {
		return nil, "", err
	}
	s, err := client.LoadSession(path)
	return s, path, err
}

// connect resolves hub URL and token (flag, environment, saved session for the same hub) and
// returns a client. needToken false allows anonymous calls (the catalogue).
func (f *hubFlags) connect(needToken bool) (*client.Hub, *client.Session, error) {
	s, _, err := loadSession()
	if err != nil {
		return nil, nil, err
	}
	hubURL := firstOf(*f.hub, getenv(envHubURL))
	if hubURL == "" && s != nil {
		hubURL = s.Hub
	}
	if hubURL == "" {
		return nil, nil, usageError("no hub: pass --hub URL or set %s (or run ness login --hub URL --key KEYFILE first)", envHubURL)
	}
	h, err := client.New(hubURL, "")
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	var own *client.Session
	if s != nil && s.Hub == h.URL() {
		own = s
	}
	h.Token = firstOf(*f.token, getenv(envToken))
	if h.Token == "" && own != nil {
		h.Token = own.Token
		if !own.Expires.IsZero() && time.Now().After(own.Expires) {
			return nil, nil, fmt.Errorf("the saved token for %s expired at %s: run ness login again", h.URL(), own.Expires.Format(time.RFC3339))
		}
	}
	if needToken && h.Token == "" {
		return nil, nil, usageError("not signed in to %s: run ness login --hub %s --key KEYFILE, or pass --token / set %s", h.URL(), h.URL(), envToken)
	}
	return h, own, nil
}

// identity reads the key the command opens messages with: --key, $NESS_KEY, or the session's.
func (f *hubFlags) identity(s *client.Session) (*wire.Identity, error) {
	path := firstOf(*f.key, getenv(envKey))
	if path == "" && s != nil {
		path = s.Key
	}
	if path == "" {
		return nil, usageError("no key: pass --key KEYFILE or set %s (your renter key file, with its private key)", envKey)
	}
	kf, err := wire.ReadKeyFile(path)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	if kf.Identity == nil {
		return nil, fmt.Errorf("key %s holds no private key: opening sealed SMS needs it", path)
	}
	return kf.Identity, nil
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// printJSON writes v as one indented JSON document.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func runLogin(env *cmdEnv, args []string) error {
	fs := newFlags(env, "login", "--key KEYFILE [--hub URL] [--print] [--json]\n\n"+
		"Signs in to the hub: asks for a challenge, checks the hub names the origin you reached it at,\n"+
		"signs it with the Ed25519 key of KEYFILE (ness keygen makes one; PrivatenessTools files work too)\n"+
		"and keeps the token in $XDG_CONFIG_HOME/ness/session.json (or ~/.config/ness/), mode 0600, with\n"+
		"the hub URL and the key file's path, so later commands need neither. With --print the token is\n"+
		"printed instead (for "+envToken+") and nothing is saved.")
	f := addHubFlags(fs, true)
	key := fs.String("key", "", "key file with your private key (default $"+envKey+")")
	print := fs.Bool("print", false, "print the token instead of saving it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness login --help)", fs.Args())
	}
	hubURL := firstOf(*f.hub, getenv(envHubURL))
	if hubURL == "" {
		if s, _, _ := loadSession(); s != nil {
			hubURL = s.Hub
		}
	}
	if hubURL == "" {
		return usageError("no hub: pass --hub URL or set %s", envHubURL)
	}
	keyPath := firstOf(*key, getenv(envKey))
	if keyPath == "" {
		return usageError("need --key KEYFILE (or %s): the key you sign in with", envKey)
	}
	kf, err := wire.ReadKeyFile(keyPath)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	if kf.Identity == nil {
		return fmt.Errorf("--key %s holds no private key: signing in needs it", keyPath)
	}
	h, err := client.New(hubURL, "")
	if err != nil {
		return usageError("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := h.SignIn(ctx, kf.Identity)
	if err != nil {
		return err
	}
	if *print {
		if *f.json {
			return printJSON(env.stdout, tok)
		}
		fmt.Fprintln(env.stdout, tok.Token)
		return nil
	}
	abs, err := filepath.Abs(keyPath)
	if err != nil {
		return err
	}
	path, err := client.SessionFile()
	if err != nil {
		return err
	}
	s := client.Session{Hub: h.URL(), Token: tok.Token, Expires: tok.Expires, Key: abs, Account: tok.Account}
	if err := client.SaveSession(path, s); err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, map[string]any{"hub": s.Hub, "session_file": path, "expires": s.Expires, "account": s.Account})
	}
	role := "renter"
	if tok.Account.Provider {
		role = "renter and provider"
	}
	fmt.Fprintf(env.stdout, "signed in to %s as %s (%s) until %s\ntoken saved to %s\n",
		s.Hub, tok.Account.Subject, role, tok.Expires.Local().Format(time.RFC3339), path)
	return nil
}

func runLogout(env *cmdEnv, args []string) error {
	fs := newFlags(env, "logout", "[--hub URL] [--token TOKEN]\n\nRevokes the token at the hub and deletes the saved session.")
	f := addHubFlags(fs, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, own, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Logout(ctx); err != nil && !client.IsCode(err, "unauthenticated") {
		return err
	}
	if own != nil && own.Token == h.Token {
		if path, err := client.SessionFile(); err == nil {
			if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	fmt.Fprintf(env.stdout, "signed out of %s\n", h.URL())
	return nil
}

func runWhoami(env *cmdEnv, args []string) error {
	fs := newFlags(env, "whoami", "[--hub URL] [--token TOKEN] [--json]")
	f := addHubFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := h.WhoAmI(ctx)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, a)
	}
	fmt.Fprintf(env.stdout, "hub:      %s\nsubject:  %s\nkey:      %s\nprovider: %v\n", h.URL(), a.Subject, a.Key, a.Provider)
	return nil
}

// getenv reads the environment (tests replace it).
var getenv = os.Getenv
