package main

// Browsing the hub's number catalogue.

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ness-network/ness-sms/client"
)

func init() {
	register(&command{name: "numbers", summary: "list the numbers you can rent (filters: country, feature, price, reputation)", run: runNumbers})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runNumbers(env *cmdEnv, args []string) error {
	fs := newFlags(env, "numbers", "[--country DE] [--feature sms]... [--max-price EMC] [--min-reputation N] [--sort price] [--limit N] [--all] [--json]\n\n"+
		"Lists numbers not currently rented, with prices in EMC per day, week, month and SMS. No sign-in needed.")
	f := addHubFlags(fs, true)
	var q client.NumberQuery
	fs.StringVar(&q.Country, "country", "", "ISO 3166-1 alpha-2 country code")
	var features stringList
	fs.Var(&features, "feature", "required feature (repeatable), e.g. sms")
	fs.StringVar(&q.MaxPrice, "max-price", "", "highest daily price in EMC")
	fs.IntVar(&q.MinReputation, "min-reputation", 0, "lowest reputation (0-100)")
	fs.StringVar(&q.Sort, "sort", "", "number, price, -price, reputation or -reputation")
	fs.IntVar(&q.Limit, "limit", 0, "numbers per page (default: the hub's)")
	all := fs.Bool("all", false, "follow the pages to the end")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness numbers --help)", fs.Args())
	}
	q.Features = features
	h, _, err := f.connect(false)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out client.NumberList
	for {
		page, err := h.Numbers(ctx, q)
		if err != nil {
			return err
		}
		out.Numbers = append(out.Numbers, page.Numbers...)
		out.Next = page.Next
		if !*all || page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if out.Numbers == nil {
		out.Numbers = []client.NumberView{}
	}
	if *f.json {
		return printJSON(env.stdout, out)
	}
	if len(out.Numbers) == 0 {
		fmt.Fprintln(env.stdout, "no numbers match")
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tCOUNTRY\tDAY\tWEEK\tMONTH\tPER SMS\tREPUTATION\tFEATURES")
	for _, n := range out.Numbers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", n.Number, n.Country, n.Prices.Day, n.Prices.Week,
			n.Prices.Month, n.Prices.SMS, n.Reputation, strings.Join(n.Features, ","))
	}
	tw.Flush()
	if out.Next != "" {
		fmt.Fprintf(env.stdout, "more: ness numbers --all, or pass the cursor %s\n", out.Next)
	}
	return nil
}
