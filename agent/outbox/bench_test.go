package outbox_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ness-network/ness-sms/agent/outbox"
)

// benchDelay is Options.BatchDelay for the benchmarks; 0 is the default.
var benchDelay time.Duration

func benchPart(i uint64) outbox.Part {
	pdu := binary.BigEndian.AppendUint64(make([]byte, 0, 160), i)
	pdu = append(pdu, make([]byte, 140)...) // a full single SMS
	return outbox.Part{Key: outbox.PartKey(iccid, pdu), Slot: int(i % 32), ICCID: iccid, Storage: "SM",
		Index: int(i % 50), PDU: pdu, Received: time.Unix(0, int64(i)+1)}
}

func benchOpen(b *testing.B, delay time.Duration) *outbox.Outbox {
	b.Helper()
	o, err := outbox.Open(filepath.Join(b.TempDir(), outbox.FileName),
		outbox.Options{MaxCount: -1, MaxBytes: -1, AckRetention: -1, BatchDelay: delay})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	return o
}

// BenchmarkPutPart measures durable PutPart (each returns after its fsync'd commit), from one
// goroutine and from 32 at once (one per slot; their commits share fsyncs).
func BenchmarkPutPart(b *testing.B) {
	for _, par := range []int{1, 32} {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			o := benchOpen(b, benchDelay)
			var n atomic.Uint64
			b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0))) // par goroutines in all
			b.ResetTimer()
			if par == 1 {
				for b.Loop() {
					if _, err := o.PutPart(benchPart(n.Add(1))); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := o.PutPart(benchPart(n.Add(1))); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkCycle measures one SMS through every state: PutPart, Assemble, Seal (a 400-byte
// payload), MarkPublished, Ack; five durable commits.
func BenchmarkCycle(b *testing.B) {
	sealed := make([]byte, 400)
	for _, par := range []int{1, 32} {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			o := benchOpen(b, benchDelay)
			var n atomic.Uint64
			cycle := func() {
				i := n.Add(1)
				p := benchPart(i)
				id := fmt.Sprintf("%016x", i)
				if _, err := o.PutPart(p); err != nil {
					b.Fatal(err)
				}
				if _, err := o.Assemble(id, []outbox.Key{p.Key}, nil); err != nil {
					b.Fatal(err)
				}
				if err := o.Seal(id, sealed); err != nil {
					b.Fatal(err)
				}
				if err := o.MarkPublished(id, time.Unix(1, 0)); err != nil {
					b.Fatal(err)
				}
				if _, err := o.Ack(id); err != nil {
					b.Fatal(err)
				}
			}
			b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			if par == 1 {
				for b.Loop() {
					cycle()
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					cycle()
				}
			})
		})
	}
}
