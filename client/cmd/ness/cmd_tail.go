package main

// Following messages live over the hub's WebSocket stream, verified and opened locally.

import (
	"errors"
	"fmt"
	"time"

	"github.com/ness-network/ness-sms/client"
)

func init() {
	register(&command{name: "tail", summary: "follow your SMS live (WebSocket), verified and decrypted locally", run: runTail})
}

// errTailDone stops the stream after --count messages.
var errTailDone = errors.New("count reached")

func runTail(env *cmdEnv, args []string) error {
	fs := newFlags(env, "tail", "[--after ID] [--count N] [--key RENTERKEY] [--provider KEY] [--json]\n\n"+
		"Prints every message after --after (default: all of them), then each new one as it arrives,\n"+
		"one line per SMS: time, number, sender, text (--json: one JSON object per line). Each is verified\n"+
		"and opened here as in ness messages; a message that fails is reported as REJECTED on stderr.\n"+
		"A dropped connection is re-opened (with backoff) after the last message shown, so nothing is\n"+
		"lost or repeated. Runs until interrupted, or until --count messages have been shown.")
	f := addHubFlags(fs, true)
	f.addKeyFlag(fs, "renter key file with the private key SMS are sealed to")
	after := fs.String("after", "", "start after this message id")
	count := fs.Int("count", 0, "exit after this many messages (0: run until interrupted)")
	quiet := fs.Bool("quiet", false, "do not report (re)connections on stderr")
	provider := fs.String("provider", "", "require agent certificates signed by this provider Ed25519 key (base64)")
	build := addReadFlags(env, f, provider)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *count < 0 {
		return usageError("unexpected arguments %q (see ness tail --help)", fs.Args())
	}
	p, err := build()
	if err != nil {
		return err
	}
	ctx, cancel := commandContext()
	defer cancel()
	shown := 0
	o := client.TailOptions{After: *after}
	if !*quiet {
		o.OnConnect = func(after string) {
			if after == "" {
				fmt.Fprintf(env.stderr, "ness tail: connected to %s, waiting for SMS (Ctrl-C to stop)\n", p.hub.URL())
			} else {
				fmt.Fprintf(env.stderr, "ness tail: connected to %s, resuming after %.12s…\n", p.hub.URL(), after)
			}
		}
		o.OnError = func(err error, retry time.Duration) {
			fmt.Fprintf(env.stderr, "ness tail: stream dropped (%v); reconnecting in %v\n", err, retry.Round(time.Millisecond))
		}
	}
	err = p.hub.Tail(ctx, o, func(v client.MessageView) error {
		before := p.rejected
		if err := p.print(ctx, v); err != nil {
			return err
		}
		if p.rejected > before {
			return nil // reported on stderr; --count counts only shown messages
		}
		shown++
		if *count > 0 && shown >= *count {
			return errTailDone
		}
		return nil
	})
	if errors.Is(err, errTailDone) {
		err = nil
	}
	if err != nil {
		return err
	}
	if p.rejected > 0 {
		return fmt.Errorf("%d messages REJECTED (see above): they did not verify or open with your key", p.rejected)
	}
	return nil
}
