package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// testRentalExclusive: PutRentalExclusive refuses a rental overlapping another active or
// pending rental of the same SIM, and nothing else.
func testRentalExclusive(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "exclusive")
	mustNumber(t, s, a.ID, "+4917033333333", 8)
	mustNumber(t, s, a.ID, "+4917033333334", 9)
	day := 24 * time.Hour
	held := rental("r-held", "+4917033333333", 8, "alice", 1, base, base.Add(7*day), hub.RentalActive)
	if err := s.PutRentalExclusive(ctx, held); err != nil {
		t.Fatalf("PutRentalExclusive(%s): %v", held.ID, err)
	}
	for _, r := range []hub.Rental{
		rental("r-ended", "+4917033333333", 8, "x", 2, base.Add(-2*day), base.Add(-day), hub.RentalEnded),
		rental("r-pending", "+4917033333333", 8, "x", 3, base.Add(day), base.Add(2*day), hub.RentalPending),
		rental("r-cancelled", "+4917033333333", 8, "x", 11, base.Add(10*day), base.Add(11*day), hub.RentalCancelled),
	} {
		if err := s.PutRental(ctx, r); err != nil {
			t.Fatalf("PutRental(%s): %v", r.ID, err)
		}
	}
	cases := []struct {
		name     string
		r        hub.Rental
		conflict bool
	}{
		{"inside the held rental", rental("r-in", "+4917033333333", 8, "bob", 4, base.Add(day), base.Add(2*day), hub.RentalActive), true},
		{"overlapping its start", rental("r-start", "+4917033333333", 8, "bob", 5, base.Add(-day), base.Add(time.Microsecond), hub.RentalActive), true},
		{"overlapping its end", rental("r-end", "+4917033333333", 8, "bob", 6, base.Add(7*day-time.Millisecond), base.Add(8*day), hub.RentalActive), true},
		{"after it", rental("r-after", "+4917033333333", 8, "bob", 7, base.Add(7*day), base.Add(8*day), hub.RentalActive), false},
		{"before it, over an ended one", rental("r-before", "+4917033333333", 8, "bob", 8, base.Add(-3*day), base, hub.RentalActive), false},
		{"another SIM", rental("r-other", "+4917033333334", 9, "bob", 1, base, base.Add(day), hub.RentalActive), false},
		{"the held rental extended", rental("r-held", "+4917033333333", 8, "alice", 9, base, base.Add(7*day+time.Hour), hub.RentalActive), true /* r-after now overlaps */},
		{"the held rental ended", rental("r-held", "+4917033333333", 8, "alice", 10, base, base.Add(day), hub.RentalActive), false},
		// a pending rental claims the SIM while it is being paid for (escrow funding, payment)
		{"over a pending claim", rental("r-overpending", "+4917033333333", 8, "bob", 12, base.Add(day+time.Hour), base.Add(3*day), hub.RentalActive), true},
		{"a pending claim over a pending claim", rental("r-pending2", "+4917033333333", 8, "bob", 13, base.Add(day), base.Add(2*day), hub.RentalPending), true},
		{"over a cancelled rental", rental("r-overcancelled", "+4917033333333", 8, "bob", 14, base.Add(10*day), base.Add(11*day), hub.RentalActive), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.PutRentalExclusive(ctx, c.r)
			if got := errors.Is(err, hub.ErrConflict); got != c.conflict || err != nil && !got {
				t.Fatalf("PutRentalExclusive(%s %v..%v): got %v, want conflict=%v", c.r.ID, c.r.From, c.r.Until, err, c.conflict)
			}
			got, gerr := s.GetRental(ctx, c.r.ID)
			switch {
			case c.conflict && gerr == nil && got.LeaseSeq == c.r.LeaseSeq:
				t.Errorf("refused rental %s was written: %+v", c.r.ID, got)
			case !c.conflict && (gerr != nil || got.LeaseSeq != c.r.LeaseSeq):
				t.Errorf("GetRental(%s) after PutRentalExclusive: got seq %d, %v; want seq %d", c.r.ID, got.LeaseSeq, gerr, c.r.LeaseSeq)
			}
		})
	}
	if _, err := s.GetRental(ctx, "r-in"); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("GetRental(r-in) after a refused insert: got %v, want hub.ErrNotFound", err)
	}
}

// testListActiveRentals: only active rentals not yet over, ordered by ICCID, LeaseSeq.
func testListActiveRentals(t *testing.T, s hub.Store) {
	a := mustAgent(t, s, "listactive")
	mustNumber(t, s, a.ID, "+4917044444441", 11)
	mustNumber(t, s, a.ID, "+4917044444442", 12)
	day := 24 * time.Hour
	for _, r := range []hub.Rental{
		rental("r-b", "+4917044444442", 12, "bob", 3, base, base.Add(day), hub.RentalActive),
		rental("r-a2", "+4917044444441", 11, "alice", 2, base.Add(day), base.Add(2*day), hub.RentalActive),
		rental("r-a1", "+4917044444441", 11, "alice", 1, base.Add(-day), base.Add(day), hub.RentalActive),
		rental("r-over", "+4917044444441", 11, "x", 4, base.Add(-3*day), base.Add(-day), hub.RentalActive),
		rental("r-ended", "+4917044444442", 12, "x", 5, base, base.Add(day), hub.RentalEnded),
		rental("r-pending", "+4917044444442", 12, "x", 6, base, base.Add(day), hub.RentalPending),
		rental("r-cancelled", "+4917044444442", 12, "x", 7, base, base.Add(day), hub.RentalCancelled),
	} {
		if err := s.PutRental(ctx, r); err != nil {
			t.Fatalf("PutRental(%s): %v", r.ID, err)
		}
	}
	rs, err := s.ListActiveRentals(ctx, base)
	if err != nil {
		t.Fatalf("ListActiveRentals: %v", err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if want := []string{"r-a1", "r-a2", "r-b"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ListActiveRentals(base): got %v, want %v", got, want)
	}
	if rs, err := s.ListActiveRentals(ctx, base.Add(3*day)); err != nil || len(rs) != 0 {
		t.Errorf("ListActiveRentals after every end: got %d rentals, %v; want none", len(rs), err)
	}
}

// RentConcurrently checks the database-level guard of PutRentalExclusive across hub instances:
// stores are separate Store values opened on one database (as two ness-hub processes would be),
// each trying at once to rent the same SIM to its own renter. Exactly one may succeed, every
// other must get hub.ErrConflict, and the database must then hold one active rental.
func RentConcurrently(t *testing.T, stores ...hub.Store) {
	t.Helper()
	a := mustAgent(t, stores[0], "concurrent-rent")
	mustNumber(t, stores[0], a.ID, "+4917055555555", 15)
	const rounds = 10
	for round := range rounds {
		from := base.Add(time.Duration(round) * time.Hour)
		var wg sync.WaitGroup
		errs := make([]error, 2*len(stores))
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("r-%d-%d", round, i)
				errs[i] = stores[i%len(stores)].PutRentalExclusive(ctx,
					rental(id, "+4917055555555", 15, id, uint64(round*100+i+1), from, from.Add(time.Hour), hub.RentalActive))
			}()
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, hub.ErrConflict):
				t.Errorf("round %d, store %d: PutRentalExclusive: %v; want nil or hub.ErrConflict", round, i%len(stores), err)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of %d concurrent rentals of one SIM succeeded, want exactly 1", round, won, len(errs))
		}
	}
	rs, err := stores[0].ListActiveRentals(ctx, base)
	if err != nil {
		t.Fatalf("ListActiveRentals: %v", err)
	}
	if len(rs) != rounds {
		t.Errorf("active rentals after %d rounds: got %d, want %d", rounds, len(rs), rounds)
	}
}
