package sqlite_test

import (
	"context"
	"testing"

	"github.com/ness-network/ness-sms/hub/sqlite"
	"github.com/ness-network/ness-sms/hub/storetest"
)

func BenchmarkPutMessage(b *testing.B) {
	s, err := sqlite.OpenDir(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchPutMessage(b, s)
}
