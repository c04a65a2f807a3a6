package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ness-network/ness-sms/hub"
)

// BenchPutMessage measures PutMessage of new messages (1 KiB of signed bytes each) into s from
// parallel goroutines, as ingest stores them, and reports msgs/s.
func BenchPutMessage(b *testing.B, s hub.Store) {
	a := Agent("bench")
	if err := s.UpsertAgent(ctx, a); err != nil {
		b.Fatal(err)
	}
	signed := make([]byte, 1024)
	rcpt := key("bench recipient")
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m := message(fmt.Sprintf("bench-%d", n.Add(1)), a.ID, "", rcpt)
			m.Signed = signed
			if stored, err := s.PutMessage(ctx, m); err != nil || !stored {
				b.Errorf("PutMessage: stored=%v err=%v", stored, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
