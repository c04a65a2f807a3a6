package listing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ness-network/ness-sms/hub/emercoin"
)

// Reader is what rebuilding the catalogue needs from emercoin.Chain.
type Reader interface {
	NameFilter(ctx context.Context, regexp string, opt emercoin.FilterOptions) ([]emercoin.NameEntry, error)
}

// BlindEntry is a live blind listing with its chain position.
type BlindEntry struct {
	Blind
	RegisteredAt int64 // height of the name_new that began the active chain
	ExpiresIn    int64 // blocks
}

// PublicEntry is a live public listing.
type PublicEntry struct {
	Public
	RegisteredAt int64
	ExpiresIn    int64
}

// Skipped is a record under a listing prefix that did not parse; it is left out of the
// catalogue and reported, never fatal, since anyone can write names under these prefixes.
type Skipped struct {
	Name string
	Err  error
}

// Catalogue is the marketplace as the chain holds it, sorted by name so every hub builds the
// same one from the same chain.
type Catalogue struct {
	Blind   []BlindEntry
	Public  []PublicEntry
	Skipped []Skipped
}

// Scan rebuilds the catalogue from two anchored name_filter scans, leaving out expired names
// (name_filter lists them; deleted ones it omits itself).
func Scan(ctx context.Context, r Reader) (Catalogue, error) {
	var c Catalogue
	blind, err := r.NameFilter(ctx, "^ness:sms:listing:", emercoin.FilterOptions{})
	if err != nil {
		return Catalogue{}, fmt.Errorf("scan blind listings: %w", err)
	}
	for _, e := range blind {
		if e.Expired {
			continue
		}
		b, err := ParseBlind(e.Name, e.Value)
		if err != nil {
			c.Skipped = append(c.Skipped, Skipped{e.Name, err})
			continue
		}
		c.Blind = append(c.Blind, BlindEntry{b, e.RegisteredAt, e.ExpiresIn})
	}
	public, err := r.NameFilter(ctx, `^sms:\+[1-9][0-9]*$`, emercoin.FilterOptions{})
	if err != nil {
		return Catalogue{}, fmt.Errorf("scan public listings: %w", err)
	}
	for _, e := range public {
		if e.Expired {
			continue
		}
		p, err := ParsePublic(e.Name, e.Value)
		if err != nil {
			c.Skipped = append(c.Skipped, Skipped{e.Name, err})
			continue
		}
		c.Public = append(c.Public, PublicEntry{p, e.RegisteredAt, e.ExpiresIn})
	}
	sort.Slice(c.Blind, func(i, j int) bool { return c.Blind[i].ID < c.Blind[j].ID })
	sort.Slice(c.Public, func(i, j int) bool { return c.Public[i].Number < c.Public[j].Number })
	sort.Slice(c.Skipped, func(i, j int) bool { return c.Skipped[i].Name < c.Skipped[j].Name })
	return c, nil
}

// Writer is what publishing needs from emercoin.Chain.
type Writer interface {
	NameShow(ctx context.Context, name string) (emercoin.NameRecord, error)
	NameNew(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
	NameUpdate(ctx context.Context, name string, value []byte, days int, toAddress string) (string, error)
	NameDelete(ctx context.Context, name string) (string, error)
}

// Errors from Publisher.
var (
	ErrStaleRev = errors.New("listing revision must be the on-chain revision + 1")
)

// RateLimitedError says an update came too soon after the last one: each update costs a fee.
type RateLimitedError struct {
	Name       string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: updated too recently, retry in %s", e.Name, e.RetryAfter.Round(time.Second))
}

// Publisher writes listings, enforcing revisions and a minimum interval between updates.
type Publisher struct {
	Chain Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MinInterval is the least time between two updates of one name; 0 means one hour.
	MinInterval time.Duration
	// Days is the registration period of a new name; 0 means 365. Updates add no days.
	Days int
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// current returns the live on-chain record, or ok=false when the name can be registered anew.
func (p *Publisher) current(ctx context.Context, name string) (emercoin.NameRecord, bool, error) {
	rec, err := p.Chain.NameShow(ctx, name)
	if errors.Is(err, emercoin.ErrNameNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	return rec, rec.Active(), nil
}

func (p *Publisher) write(ctx context.Context, name string, value []byte, live bool, rec emercoin.NameRecord) (string, error) {
	if !live {
		days := p.Days
		if days == 0 {
			days = 365
		}
		return p.Chain.NameNew(ctx, name, value, days, "")
	}
	min := p.MinInterval
	if min == 0 {
		min = time.Hour
	}
	if wait := time.Unix(rec.Time, 0).Add(min).Sub(p.now()); wait > 0 {
		return "", &RateLimitedError{Name: name, RetryAfter: wait}
	}
	return p.Chain.NameUpdate(ctx, name, value, 0, "")
}

// PublishBlind registers b, or updates it when its Rev is the on-chain rev + 1.
func (p *Publisher) PublishBlind(ctx context.Context, b Blind) (string, error) {
	value, err := b.Value()
	if err != nil {
		return "", err
	}
	rec, live, err := p.current(ctx, b.Name())
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", b.Name(), err)
	}
	if live {
		cur, err := ParseBlind(b.Name(), rec.Value)
		if err == nil && b.Rev != cur.Rev+1 {
			return "", fmt.Errorf("publish %s: %w: on chain %d, given %d", b.Name(), ErrStaleRev, cur.Rev, b.Rev)
		}
	}
	txid, err := p.write(ctx, b.Name(), value, live, rec)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", b.Name(), err)
	}
	return txid, nil
}

// PublishPublic registers or updates a public sms:+E164 record (status, reputation…),
// rate-limited like every update.
func (p *Publisher) PublishPublic(ctx context.Context, pub Public) (string, error) {
	value, err := pub.Value()
	if err != nil {
		return "", err
	}
	rec, live, err := p.current(ctx, pub.Name())
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", pub.Name(), err)
	}
	txid, err := p.write(ctx, pub.Name(), value, live, rec)
	if err != nil {
		return "", fmt.Errorf("publish %s: %w", pub.Name(), err)
	}
	return txid, nil
}

// Withdraw deletes a listing record (name is the full NVS name).
func (p *Publisher) Withdraw(ctx context.Context, name string) (string, error) {
	txid, err := p.Chain.NameDelete(ctx, name)
	if err != nil {
		return "", fmt.Errorf("withdraw %s: %w", name, err)
	}
	return txid, nil
}
