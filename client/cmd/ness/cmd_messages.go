package main

// Reading messages: each one is verified (agent certificate, agent signature, the hub's routing
// fields against the signed ones) and opened with the renter's key here, never trusting the hub.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/wire"
)

func init() {
	register(&command{name: "messages", summary: "list your SMS, verified and decrypted locally", run: runMessages})
}

// smsJSON is one verified, opened SMS as --json prints it (one object per line).
type smsJSON struct {
	ID            string    `json:"id"`
	Rental        string    `json:"rental"`
	Number        string    `json:"number"`
	Sender        string    `json:"sender"`
	Text          string    `json:"text"`
	Data          string    `json:"data,omitempty"` // base64 of 8-bit user data
	Received      time.Time `json:"received"`
	SMSCTime      time.Time `json:"smsc_time"`
	Encoding      string    `json:"encoding"`
	Parts         uint32    `json:"parts"`
	PartsExpected uint32    `json:"parts_expected"`
	Flags         []string  `json:"flags"`
	Agent         string    `json:"agent"`
	Slot          int       `json:"slot"`
	ICCID         string    `json:"iccid"`
	LeaseSeq      uint64    `json:"lease_seq"`
	Provider      string    `json:"provider"` // Ed25519 key that certified the agent
}

// messagePrinter verifies, opens and prints messages, naming each rental's number.
type messagePrinter struct {
	env      *cmdEnv
	hub      *client.Hub
	renter   *wire.Identity
	provider wire.VerifyKey
	json     bool
	numbers  map[string]string // rental id → number
	rejected int
}

func (p *messagePrinter) number(ctx context.Context, rental string) string {
	if n, ok := p.numbers[rental]; ok {
		return n
	}
	if l, err := p.hub.Rentals(ctx, ""); err == nil {
		for _, r := range l.Rentals {
			p.numbers[r.ID] = r.Number
		}
	}
	if n, ok := p.numbers[rental]; ok {
		return n
	}
	p.numbers[rental] = "?" // not asked again
	return "?"
}

// print verifies and opens v and prints it; a message that fails is reported on stderr and
// counted, never printed as if it were good.
func (p *messagePrinter) print(ctx context.Context, v client.MessageView) error {
	o, err := client.Open(v, p.renter, p.provider, time.Now())
	if err != nil {
		p.rejected++
		fmt.Fprintf(p.env.stderr, "ness: REJECTED %v\n", err)
		return nil
	}
	pt := o.Plaintext
	num := p.number(ctx, v.Rental)
	if p.json {
		j := smsJSON{ID: v.ID, Rental: v.Rental, Number: num, Sender: pt.Sender, Text: pt.Text,
			Received: o.SMS.Received.UTC(), SMSCTime: pt.SMSCTime, Encoding: pt.Encoding, Parts: pt.Parts,
			PartsExpected: pt.PartsExpected, Flags: pt.Flags.Names(), Agent: v.Agent, Slot: v.Slot, ICCID: v.ICCID,
			LeaseSeq: v.LeaseSeq, Provider: o.Cert.ProviderVerify.String()}
		if len(pt.Data) > 0 {
			j.Data = base64.StdEncoding.EncodeToString(pt.Data)
		}
		if j.Flags == nil {
			j.Flags = []string{}
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		_, err = p.env.stdout.Write(append(b, '\n'))
		return err
	}
	text := pt.Text
	if pt.Flags&wire.Flag8Bit != 0 {
		text = "[8-bit data] " + base64.StdEncoding.EncodeToString(pt.Data)
	}
	if pt.Flags&wire.FlagIncomplete != 0 {
		text += fmt.Sprintf(" [incomplete: %d of %d parts]", pt.Parts, pt.PartsExpected)
	}
	_, err = fmt.Fprintf(p.env.stdout, "%s  %s  %s  %s\n", o.SMS.Received.Local().Format(time.DateTime), num,
		pt.Sender, oneLine(text))
	return err
}

// oneLine keeps one SMS on one output line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ⏎ ", "\n", " ⏎ ", "\r", " ⏎ ").Replace(s)
}

// addReadFlags adds what messages and tail share and returns the printer builder.
func addReadFlags(env *cmdEnv, f *hubFlags, fsProvider *string) func() (*messagePrinter, error) {
	return func() (*messagePrinter, error) {
		h, s, err := f.connect(true)
		if err != nil {
			return nil, err
		}
		id, err := f.identity(s)
		if err != nil {
			return nil, err
		}
		p := &messagePrinter{env: env, hub: h, renter: id, json: *f.json, numbers: map[string]string{}}
		if *fsProvider != "" {
			k, err := wire.ParseVerifyKey("provider", *fsProvider)
			if err != nil {
				return nil, usageError("--provider: %v", err)
			}
			p.provider = k
		}
		return p, nil
	}
}

func runMessages(env *cmdEnv, args []string) error {
	fs := newFlags(env, "messages", "[--rental ID] [--after ID] [--limit N] [--wait 30s] [--key RENTERKEY] [--provider KEY] [--json]\n\n"+
		"Lists your SMS oldest first. Each is checked here: the agent certificate (provider's signature\n"+
		"and validity), the agent's signature, and that the hub's id, agent, slot, SIM, lease and time\n"+
		"match the signed ones; then it is opened with your X25519 key. A message that fails is reported\n"+
		"as REJECTED on stderr and the exit status is 1. Lines: time, number, sender, text.")
	f := addHubFlags(fs, true)
	f.addKeyFlag(fs, "renter key file with the private key SMS are sealed to")
	rental := fs.String("rental", "", "only this rental's messages")
	after := fs.String("after", "", "only messages after this id")
	limit := fs.Int("limit", 0, "at most this many (default: all)")
	wait := fs.Duration("wait", 0, "when nothing is new, wait up to this long (≤ 60s) for a message")
	provider := fs.String("provider", "", "require agent certificates signed by this provider Ed25519 key (base64)")
	build := addReadFlags(env, f, provider)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness messages --help)", fs.Args())
	}
	p, err := build()
	if err != nil {
		return err
	}
	ctx, cancel := commandContext()
	defer cancel()
	q := client.MessageQuery{After: *after, Rental: *rental, Wait: *wait}
	printed := 0
	for {
		if *limit > 0 {
			q.Limit = min(*limit-printed, 1000)
		}
		page, err := p.hub.Messages(ctx, q)
		if err != nil {
			return err
		}
		for _, v := range page.Messages {
			if err := p.print(ctx, v); err != nil {
				return err
			}
			printed++
		}
		if len(page.Messages) == 0 || page.Next == "" || page.Next == q.After || *limit > 0 && printed >= *limit {
			break
		}
		q.After, q.Wait = page.Next, 0
	}
	if printed == 0 && !p.json {
		fmt.Fprintln(env.stderr, "no messages")
	}
	if p.rejected > 0 {
		return fmt.Errorf("%d of %d messages REJECTED (see above): they did not verify or open with your key", p.rejected, printed)
	}
	return nil
}
