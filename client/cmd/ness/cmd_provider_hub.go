package main

// Provider commands that talk to the hub: slots and their health, numbers (bind E.164 ↔ ICCID,
// list), prices and earnings. (`provider enroll` is in cmd_provider.go.)

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ness-network/ness-sms/client"
)

func init() {
	register(&command{name: "provider slots", summary: "list your agents' SIM slots with their health and numbers", run: runProviderSlots})
	register(&command{name: "provider numbers", summary: "list your numbers; 'provider numbers bind' binds a number to a SIM (ICCID)", run: runProviderNumbers})
	register(&command{name: "provider price", summary: "set a number's prices (EMC per day, week, month, SMS)", run: runProviderPrice})
	register(&command{name: "provider earnings", summary: "what renters paid for your numbers", run: runProviderEarnings})
}

func hubContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

func runProviderSlots(env *cmdEnv, args []string) error {
	fs := newFlags(env, "provider slots", "[--json]\n\nLists every slot of your enrolled agents: SIM (ICCID), state, signal (CSQ 0-31, 99 unknown),\n"+
		"registration, operator, and the number bound to the SIM. Sign in with your provider key.")
	f := addHubFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness provider slots --help)", fs.Args())
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := hubContext()
	defer cancel()
	agents, err := h.Agents(ctx)
	if err != nil {
		return err
	}
	if agents.Agents == nil {
		agents.Agents = []client.AgentView{}
	}
	if *f.json {
		return printJSON(env.stdout, agents)
	}
	if len(agents.Agents) == 0 {
		fmt.Fprintln(env.stdout, "no agents enrolled: ness-agent enroll-request on the board, then ness provider enroll --hub")
		return nil
	}
	nums, err := h.ProviderNumbers(ctx)
	if err != nil {
		return err
	}
	byICCID := map[string]string{}
	for _, n := range nums.Numbers {
		byICCID[n.ICCID] = n.Number
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tONLINE\tSLOT\tICCID\tSTATE\tSIGNAL\tREGISTRATION\tOPERATOR\tNUMBER")
	for _, a := range agents.Agents {
		online := "no"
		if a.Online {
			online = "yes"
		}
		if len(a.Slots) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t\t(no status yet)\t\t\t\t\n", a.ID, online)
		}
		for _, s := range a.Slots {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\t%s\n", a.ID, online, s.Slot, dash(s.ICCID), s.State, s.Signal,
				dash(s.Registration), dash(s.Operator), dash(byICCID[s.ICCID]))
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// priceFlags are the four prices; "" means not given.
type priceFlags struct{ day, week, month, sms *string }

func addPriceFlags(fs interface {
	String(name, value, usage string) *string
}) priceFlags {
	return priceFlags{
		day:   fs.String("daily", "", "price of a daily rental in EMC, e.g. 0.5"),
		week:  fs.String("weekly", "", "price of a weekly rental in EMC"),
		month: fs.String("monthly", "", "price of a monthly rental in EMC"),
		sms:   fs.String("per-sms", "", "price per received SMS in EMC (RANDPAY rentals)"),
	}
}

func runProviderNumbers(env *cmdEnv, args []string) error {
	if len(args) > 0 && args[0] == "bind" {
		return runProviderNumbersBind(env, args[1:])
	}
	fs := newFlags(env, "provider numbers", "[--json]   (and: ness provider numbers bind NUMBER --iccid ICCID ...)\n\nLists the numbers you bound, with their SIM, prices and whether they are rented.")
	f := addHubFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError("unexpected arguments %q (see ness provider numbers --help)", fs.Args())
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := hubContext()
	defer cancel()
	l, err := h.ProviderNumbers(ctx)
	if err != nil {
		return err
	}
	if l.Numbers == nil {
		l.Numbers = []client.ProviderNumber{}
	}
	if *f.json {
		return printJSON(env.stdout, l)
	}
	if len(l.Numbers) == 0 {
		fmt.Fprintln(env.stdout, "no numbers bound: ness provider numbers bind NUMBER --iccid ICCID --country CC --daily ... ")
		return nil
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tICCID\tAGENT\tCOUNTRY\tDAY\tWEEK\tMONTH\tPER SMS\tRENTED\tFEATURES")
	for _, n := range l.Numbers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\n", n.Number, n.ICCID, n.Agent, n.Country, n.Prices.Day,
			n.Prices.Week, n.Prices.Month, n.Prices.SMS, n.Rented, strings.Join(n.Features, ","))
	}
	return tw.Flush()
}

func runProviderNumbersBind(env *cmdEnv, args []string) error {
	fs := newFlags(env, "provider numbers bind", "NUMBER --iccid ICCID --country CC --daily X --weekly Y --monthly Z --per-sms W [--agent ID] [--feature sms]... [--json]\n\n"+
		"Binds the E.164 NUMBER to the SIM with ICCID in one of your agents and lists it for rent.\n"+
		"Without --agent, the agent whose slots report that ICCID is used (see ness provider slots).")
	f := addHubFlags(fs, true)
	iccid := fs.String("iccid", "", "ICCID of the SIM that receives the number (required)")
	agent := fs.String("agent", "", "agent id (default: the agent reporting the ICCID)")
	country := fs.String("country", "", "ISO 3166-1 alpha-2 country of the number, e.g. DE (required)")
	var features stringList
	fs.Var(&features, "feature", "feature of the number (repeatable; default sms)")
	pf := addPriceFlags(fs)
	number, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if number == "" || *iccid == "" || *country == "" {
		return usageError("need NUMBER, --iccid and --country (see ness provider numbers bind --help)")
	}
	var missing []string
	for name, v := range map[string]string{"--daily": *pf.day, "--weekly": *pf.week, "--monthly": *pf.month, "--per-sms": *pf.sms} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return usageError("need every price: %s missing (EMC amounts such as 0.5; 0 is allowed)", strings.Join(missing, ", "))
	}
	if len(features) == 0 {
		features = stringList{"sms"}
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := hubContext()
	defer cancel()
	if *agent == "" {
		agents, err := h.Agents(ctx)
		if err != nil {
			return err
		}
		for _, a := range agents.Agents {
			for _, s := range a.Slots {
				if s.ICCID == *iccid {
					*agent = a.ID
				}
			}
		}
		if *agent == "" {
			return fmt.Errorf("no agent of yours reports a SIM with ICCID %s (yet): check ness provider slots, or pass --agent ID", *iccid)
		}
	}
	n, err := h.BindNumber(ctx, client.NumberRequest{Number: number, Agent: *agent, ICCID: *iccid, Country: *country,
		Features: features, Prices: client.Prices{Day: *pf.day, Week: *pf.week, Month: *pf.month, SMS: *pf.sms}})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, n)
	}
	fmt.Fprintf(env.stdout, "bound %s to SIM %s on agent %s: %s/day %s/week %s/month %s/SMS EMC\n", n.Number, n.ICCID, n.Agent,
		n.Prices.Day, n.Prices.Week, n.Prices.Month, n.Prices.SMS)
	return nil
}

func runProviderPrice(env *cmdEnv, args []string) error {
	fs := newFlags(env, "provider price", "NUMBER [--daily X] [--weekly Y] [--monthly Z] [--per-sms W] [--json]\n\nChanges the prices given (EMC); the others stay. Takes effect for new rentals and extensions.")
	f := addHubFlags(fs, true)
	pf := addPriceFlags(fs)
	number, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if number == "" {
		return usageError("need NUMBER (see ness provider numbers)")
	}
	var p client.PricesPatch
	set := func(dst **string, v string) {
		if v != "" {
			*dst = &v
		}
	}
	set(&p.Day, *pf.day)
	set(&p.Week, *pf.week)
	set(&p.Month, *pf.month)
	set(&p.SMS, *pf.sms)
	if p == (client.PricesPatch{}) {
		return usageError("give at least one of --daily, --weekly, --monthly, --per-sms")
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := hubContext()
	defer cancel()
	n, err := h.PatchNumber(ctx, number, client.NumberPatch{Prices: &p})
	if err != nil {
		return err
	}
	if *f.json {
		return printJSON(env.stdout, n)
	}
	fmt.Fprintf(env.stdout, "%s: %s/day %s/week %s/month %s/SMS EMC\n", n.Number, n.Prices.Day, n.Prices.Week, n.Prices.Month, n.Prices.SMS)
	return nil
}

func runProviderEarnings(env *cmdEnv, args []string) error {
	fs := newFlags(env, "provider earnings", "[--json]")
	f := addHubFlags(fs, true)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	h, _, err := f.connect(true)
	if err != nil {
		return err
	}
	ctx, cancel := hubContext()
	defer cancel()
	e, err := h.Earnings(ctx)
	if err != nil {
		return err
	}
	if e.Payments == nil {
		e.Payments = []client.PaymentView{}
	}
	if *f.json {
		return printJSON(env.stdout, e)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PAID\tRENTAL\tAMOUNT\tMETHOD")
	for _, p := range e.Payments {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Created.Local().Format(time.DateTime), p.Rental, p.Amount, p.Method)
	}
	fmt.Fprintf(tw, "total\t\t%s EMC\t\n", e.Total)
	return tw.Flush()
}
