package listing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// EmerDNS: the hub's optional mirror name as a dns:<domain> NVS record. reference/emercoin.md
// does not describe EmerDNS; the value format below is the common one Emercoin's EmerDNS server
// reads ("A=1.2.3.4,5.6.7.8|AAAA=…|CNAME=…|TXT=…", records separated by '|', values of one
// type by ','): inferred, see docs/EMERCOIN.md.

// DNSPrefix is the EmerDNS namespace.
const DNSPrefix = "dns:"

// ErrBadDNS is the error for a domain or record that cannot be written or read.
var ErrBadDNS = errors.New("invalid EmerDNS record")

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// DNS is one EmerDNS record: the hub's mirror name and where it points.
type DNS struct {
	Domain string       // e.g. "gateway.private.ness"
	A      []netip.Addr // IPv4
	AAAA   []netip.Addr // IPv6
	CNAME  string
	TXT    []string // no '|' or ',' inside (they are the format's separators)
}

// Name is dns:<domain>.
func (d DNS) Name() string { return DNSPrefix + d.Domain }

func checkDomain(s string) error {
	if len(s) == 0 || len(s) > 253 {
		return fmt.Errorf("%w: domain %q", ErrBadDNS, s)
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%w: domain %q needs a dot", ErrBadDNS, s)
	}
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return fmt.Errorf("%w: domain %q: label %q", ErrBadDNS, s, l)
		}
	}
	return nil
}

// Value is the record's on-chain value; it fails for an invalid domain or field, or an empty
// record.
func (d DNS) Value() ([]byte, error) {
	if err := checkDomain(d.Domain); err != nil {
		return nil, err
	}
	var parts []string
	join := func(typ string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, typ+"="+strings.Join(vals, ","))
		}
	}
	var a, aaaa []string
	for _, ip := range d.A {
		if !ip.Is4() {
			return nil, fmt.Errorf("%w: A %s is not IPv4", ErrBadDNS, ip)
		}
		a = append(a, ip.String())
	}
	for _, ip := range d.AAAA {
		if !ip.Is6() || ip.Is4In6() {
			return nil, fmt.Errorf("%w: AAAA %s is not IPv6", ErrBadDNS, ip)
		}
		aaaa = append(aaaa, ip.String())
	}
	join("A", a)
	join("AAAA", aaaa)
	if d.CNAME != "" {
		if err := checkDomain(d.CNAME); err != nil {
			return nil, err
		}
		join("CNAME", []string{d.CNAME})
	}
	for _, t := range d.TXT {
		if t == "" || strings.ContainsAny(t, "|,\n") {
			return nil, fmt.Errorf("%w: TXT %q (empty, or holds | , or a newline)", ErrBadDNS, t)
		}
	}
	join("TXT", d.TXT)
	if len(parts) == 0 {
		return nil, fmt.Errorf("%w: %s has no A, AAAA, CNAME or TXT", ErrBadDNS, d.Domain)
	}
	return []byte(strings.Join(parts, "|")), nil
}

// ParseDNS reads a dns:<domain> record; unknown record types (MX, NS, SD, …) are refused so a
// record is only ever read the way it was written.
func ParseDNS(name string, value []byte) (DNS, error) {
	d := DNS{Domain: strings.TrimPrefix(name, DNSPrefix)}
	if !strings.HasPrefix(name, DNSPrefix) {
		return DNS{}, fmt.Errorf("%w: name %q", ErrBadDNS, name)
	}
	if err := checkDomain(d.Domain); err != nil {
		return DNS{}, err
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(string(value), "|") {
		typ, vals, ok := strings.Cut(part, "=")
		if !ok || vals == "" || seen[typ] {
			return DNS{}, fmt.Errorf("%w: %q", ErrBadDNS, part)
		}
		seen[typ] = true
		for _, v := range strings.Split(vals, ",") {
			switch typ {
			case "A", "AAAA":
				ip, err := netip.ParseAddr(v)
				if err != nil || ip.Zone() != "" || (typ == "A") != ip.Is4() || ip.Is4In6() {
					return DNS{}, fmt.Errorf("%w: %s %q", ErrBadDNS, typ, v)
				}
				if typ == "A" {
					d.A = append(d.A, ip)
				} else {
					d.AAAA = append(d.AAAA, ip)
				}
			case "CNAME":
				if d.CNAME != "" || checkDomain(v) != nil {
					return DNS{}, fmt.Errorf("%w: CNAME %q", ErrBadDNS, v)
				}
				d.CNAME = v
			case "TXT":
				if v == "" || strings.Contains(v, "\n") {
					return DNS{}, fmt.Errorf("%w: TXT %q", ErrBadDNS, v)
				}
				d.TXT = append(d.TXT, v)
			default:
				return DNS{}, fmt.Errorf("%w: record type %q", ErrBadDNS, typ)
			}
		}
	}
	return d, nil
}

// PublishDNS registers d, or updates it when the chain holds another value (rate-limited like
// every update); an unchanged record writes nothing and returns "".
func (p *Publisher) PublishDNS(ctx context.Context, d DNS) (string, error) {
	value, err := d.Value()
	if err != nil {
		return "", err
	}
	rec, live, err := p.current(ctx, d.Name())
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", d.Name(), err)
	}
	if live && bytes.Equal(rec.Value, value) {
		return "", nil
	}
	txid, err := p.write(ctx, d.Name(), value, live, rec)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", d.Name(), err)
	}
	return txid, nil
}
