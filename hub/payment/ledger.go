package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// FileLedger appends every Event as one JSON line to a file and syncs it before Record
// returns, so a payment event the hub acted on is never lost. Safe for concurrent use.
type FileLedger struct {
	Path string

	mu sync.Mutex
}

// Record implements Ledger.
func (l *FileLedger) Record(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if _, err = f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ledger %s: %w", l.Path, err)
	}
	return nil
}

// ReadLedger reads the events a FileLedger wrote, oldest first.
func ReadLedger(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	dec := json.NewDecoder(f)
	for dec.More() {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("ledger %s: event %d: %w", path, len(out)+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}
