package httpapi

import (
	"context"
	"time"

	"github.com/ness-network/ness-sms/hub"
)

// nopStore and nopLeases satisfy New for tests that never serve a request.
type nopStore struct{ hub.Store }

type nopLeases struct{}

func (nopLeases) Begin(context.Context, hub.Rental) (hub.Rental, error) { return hub.Rental{}, nil }
func (nopLeases) End(context.Context, string, time.Time) (hub.Rental, error) {
	return hub.Rental{}, nil
}
