package outbox

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Environment of the crash test's child process.
const (
	envCrashChild = "NESS_OUTBOX_CRASH_CHILD" // outbox path; set = run as the child
	envCrashRound = "NESS_OUTBOX_CRASH_ROUND"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envCrashChild); path != "" {
		round, _ := strconv.Atoi(os.Getenv(envCrashRound))
		crashChild(path, round)
		os.Exit(3) // crashChild runs until killed
	}
	os.Exit(m.Run())
}

// crashChild stores parts from several goroutines (as slots do) and prints each key to stdout
// after PutPart returned: the promise is that every printed key survives the SIGKILL.
func crashChild(path string, round int) {
	o, err := Open(path, Options{MaxCount: -1, MaxBytes: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for slot := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				pdu := binary.BigEndian.AppendUint64([]byte{0x07, byte(round), byte(slot)}, uint64(i))
				p := Part{Key: crashKey(round, slot, i), Slot: slot, ICCID: "89440000000000000" + strconv.Itoa(slot),
					Storage: "SM", Index: i % 50, PDU: pdu, Received: time.Now()}
				if _, err := o.PutPart(p); err != nil {
					fmt.Fprintln(os.Stderr, "child: put:", err)
					os.Exit(2)
				}
				mu.Lock()
				os.Stdout.WriteString(p.Key.String() + "\n")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

func crashKey(round, slot, i int) Key {
	return sha256.Sum256(fmt.Appendf(nil, "crash %d %d %d", round, slot, i))
}

// TestCrashSIGKILL kills a child process that is storing parts at random moments, several
// times over the same file, and checks after each kill that the file opens and passes bbolt's
// consistency check and that every key the child reported as stored is there.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), FileName)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	const rounds = 6
	total := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envCrashChild+"="+path, envCrashRound+"="+strconv.Itoa(round))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child: %v", err)
		}
		var printed []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				printed = append(printed, sc.Text())
			}
		}()
		// Let it open the file and store some, then kill it at a random moment.
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		<-done // every line the child wrote before it died
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, want killed by SIGKILL", round, err)
		}
		if len(printed) == 0 {
			t.Fatalf("round %d: child stored nothing before the kill", round)
		}

		o, err := Open(path, Options{MaxCount: -1, MaxBytes: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		err = o.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Errorf("round %d: bbolt check: %v", round, err)
		}
		parts, err := o.Parts()
		if err != nil {
			t.Fatalf("round %d: parts: %v", round, err)
		}
		have := make(map[string]bool, len(parts))
		for _, p := range parts {
			have[p.Key.String()] = true
		}
		missing := 0
		for _, k := range printed {
			if _, err := hex.DecodeString(k); err != nil || !have[k] {
				missing++
				if missing <= 5 {
					t.Errorf("round %d: key %q was reported stored but is not in the reopened outbox", round, k)
				}
			}
		}
		if missing > 0 {
			t.Errorf("round %d: %d of %d reported keys missing", round, missing, len(printed))
		}
		st, err := o.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Quarantined != 0 || int64(st.Parts) != st.Count {
			t.Errorf("round %d: stats %+v: want no quarantined records and Count == Parts", round, st)
		}
		total += len(printed)
		if len(parts) < total {
			t.Errorf("round %d: got %d parts, want at least %d reported", round, len(parts), total)
		}
		t.Logf("round %d: killed after %d reported parts; %d parts in the file", round, len(printed), len(parts))
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
