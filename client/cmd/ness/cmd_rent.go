package main

// Renting numbers and managing rentals.

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ness-network/ness-sms/client"
	"github.com/ness-network/ness-sms/wire"
)

func init() {
	register(&command{name: "rent", summary: "rent a number: its SMS are sealed to your X25519 key", run: runRent})
	register(&command{name: "rentals", summary: "list your rentals", run: runRentals})
	register(&command{name: "rentals extend", summary: "extend a rental by another period", run: runRentalsExtend})
	register(&command{name: "rentals cancel", summary: "end a rental now", run: runRentalsCancel})
}

var durations = map[string]bool{"daily": true, "weekly": true, "monthly": true}

func runRent(env *cmdEnv, args []string) error {
	fs := newFlags(env, "rent", "NUMBER --duration daily|weekly|monthly [--key RENTERKEY] [--json]\n\n"+
		"Rents NUMBER (E.164, from ness numbers). The agent seals every SMS to the number to the X25519\n"+
		"public key of the key file (only the public half is sent); ness messages and ness tail open them\n"+
		"with the private half.")
	f := addHubFlags(fs, true)
	f.addKeyFlag(fs, "renter key file whose X25519 public key SMS are sealed to (a public-only file will do)")
	duration := fs.String("duration", "", "daily, weekly or monthly (required)")
	number, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if number == "" || *duration == "" {
		return usageError("need NUMBER and --duration daily|weekly|monthly (see ness rent --help)")
	}
	if !durations[*duration] {
		return usageError("--duration %q: want daily, weekly or monthly", *duration)
	}
	h, s, err := f.connect(true)
	if err != nil {
		return err
	}
	pub, err := sealKey(f, s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := h.Rent(ctx, number, *duration, pub)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, r)
	}
	fmt.Fprintf(env.stdout, "rented %s until %s (rental %s, lease #%d, paid %s EMC)\nSMS are sealed to %s\n",
		r.Number, r.Until.Local().Format(time.RFC3339), r.ID, r.LeaseSeq, r.Paid, r.RenterKey)
	return nil
}

// sealKey is the X25519 key rentals seal to: the key file's public half (no private key needed).
func sealKey(f *hubFlags, s *client.Session) (wire.SealKey, error) {
	path := firstOf(*f.key, getenv(envKey))
	if path == "" && s != nil {
		path = s.Key
	}
	if path == "" {
		return wire.SealKey{}, usageError("no key: pass --key RENTERKEY or set %s", envKey)
	}
	kf, err := wire.ReadKeyFile(path)
	if err != nil {
		return wire.SealKey{}, fmt.Errorf("key: %w", err)
	}
	return kf.Public, nil
}

func printRentals(env *cmdEnv, rs []client.RentalView) {
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RENTAL\tNUMBER\tSTATUS\tFROM\tUNTIL\tLEASE")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t#%d\n", r.ID, r.Number, r.Status, r.From.Local().Format(time.DateTime),
			r.Until.Local().Format(time.DateTime), r.LeaseSeq)
	}
	tw.Flush()
}

func runRentals(env *cmdEnv, args []string) error {
	fs := newFlags(env, "rentals", "[--active] [--json]   (also: ness rentals extend ID, ness rentals cancel ID)")
	f := addHubFlags(fs, true)
	active := fs.Bool("active", false, "only active rentals")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness rentals --help)", fs.Args())
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	status := ""
	if *active {
		status = "active"
	}
	l, err := h.Rentals(ctx, status)
	if err != nil {
		return err
	}
	if l.Rentals == nil {
		l.Rentals = []client.RentalView{}
	}
	if *f.json {
		return printJSON(env.stdout, l)
	}
	if len(l.Rentals) == 0 {
		fmt.Fprintln(env.stdout, "no rentals")
		return nil
	}
	printRentals(env, l.Rentals)
	return nil
}

func runRentalsExtend(env *cmdEnv, args []string) error {
	fs := newFlags(env, "rentals extend", "ID --duration daily|weekly|monthly [--json]")
	f := addHubFlags(fs, true)
	duration := fs.String("duration", "", "daily, weekly or monthly (required)")
	id, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if id == "" || !durations[*duration] {
		return usageError("need ID and --duration daily|weekly|monthly")
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := h.Extend(ctx, id, *duration)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, r)
	}
	fmt.Fprintf(env.stdout, "extended %s (%s) until %s, lease #%d, paid %s EMC\n", r.ID, r.Number, r.Until.Local().Format(time.RFC3339), r.LeaseSeq, r.Paid)
	return nil
}

func runRentalsCancel(env *cmdEnv, args []string) error {
	fs := newFlags(env, "rentals cancel", "ID [--json]\n\nEnds the rental now: the agent stops sealing SMS to you.")
	f := addHubFlags(fs, true)
	id, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usageError("need the rental ID (see ness rentals)")
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := h.Cancel(ctx, id)
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, r)
	}
	fmt.Fprintf(env.stdout, "rental %s (%s) is %s\n", r.ID, r.Number, r.Status)
	return nil
}
