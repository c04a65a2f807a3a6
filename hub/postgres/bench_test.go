package postgres_test

import (
	"context"
	"testing"

	"github.com/ness-network/ness-sms/hub/postgres"
	"github.com/ness-network/ness-sms/hub/postgres/pgtest"
	"github.com/ness-network/ness-sms/hub/storetest"
)

func BenchmarkPutMessage(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchPutMessage(b, s)
}
