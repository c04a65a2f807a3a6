package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ness-network/ness-sms/image/update"
)

// A/B updates through the Pi firmware's tryboot:
//
//  1. An update file (*.nessupd on the boot partition or in /perm/update) is verified against
//     the release keys baked into this root, written to the inactive root partition and read
//     back. ness-init then writes cmdline-try.txt (root = the new partition) and tryboot.txt
//     (config.txt naming cmdline-try.txt) and reboots with the "0 tryboot" flag: the firmware
//     reads tryboot.txt for that one boot only.
//  2. The new root's ness-init sees that it booted from a partition other than the one the
//     committed cmdline (config.txt's cmdline= file) names: a trial. When its agent has run
//     for NESS_UPDATE_HEALTHY_AFTER it commits (cmdline.txt names the new root, tryboot files
//     removed). If the agent keeps failing, or is not healthy within
//     NESS_UPDATE_HEALTH_DEADLINE, it reboots without the flag: the firmware boots config.txt,
//     the old root. A new root that cannot even start its init panics the kernel, which
//     reboots (panic=10) into the old root the same way.
//  3. Back on the old root, ness-init finds the trial state on /perm and reports the failure.

const updateStateFile = stateDir + "/update.json"

type updateState struct {
	State   string    `json:"state"` // "trying", "committed", "failed", "refused"
	From    int       `json:"from"`
	To      int       `json:"to"`
	Version string    `json:"version"`
	File    string    `json:"file,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Time    time.Time `json:"time"`
}

func readUpdateState() (updateState, bool) {
	var s updateState
	b, err := os.ReadFile(updateStateFile)
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

func writeUpdateState(s updateState) {
	s.Time = time.Now().UTC()
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := writeFileAtomic(updateStateFile, append(b, '\n'), 0o644); err != nil {
		logf("update: save state: %v", err)
	}
}

// committedRoot returns the root partition the firmware boots without the tryboot flag.
func committedRoot() (label string, part int, cmdlineFile string, err error) {
	cfg, err := os.ReadFile(bootPath("config.txt"))
	if err != nil {
		return "", 0, "", err
	}
	cmdlineFile = configCmdlineFile(string(cfg))
	cl, err := os.ReadFile(bootPath(cmdlineFile))
	if err != nil {
		return "", 0, cmdlineFile, err
	}
	label, part, err = cmdlineRoot(string(cl))
	return label, part, cmdlineFile, err
}

// updateTrial watches the agent of a trial boot.
type updateTrial struct {
	mu       sync.Mutex
	exits    int
	decided  bool
	set      settings
	st       *status
	state    updateState
	label    string
	cmdline  string // committed cmdline file name
	deadline time.Time
	timer    *time.Timer
}

func handleUpdates(dsk *disk, label string, booted int, set settings, st *status) *updateTrial {
	if dsk == nil || booted < 2 || booted > 3 {
		return nil
	}
	committedLabel, committed, cmdlineFile, err := committedRoot()
	if err != nil {
		logf("update: cannot read the committed root from config.txt: %v", err)
		return nil
	}
	prev, havePrev := readUpdateState()
	if committedLabel == label && committed != booted {
		// A trial boot of a new root.
		logf("update: trial boot of root %s (committed root is %s)", partName(booted), partName(committed))
		if !havePrev {
			prev = updateState{From: committed, To: booted}
		}
		prev.State = "trying"
		writeUpdateState(prev)
		st.set(func(s *status) { s.Update = fmt.Sprintf("trial of root %s (%s)", partName(booted), prev.Version) })
		t := &updateTrial{set: set, st: st, state: prev, label: label, cmdline: cmdlineFile,
			deadline: time.Now().Add(set.HealthDeadline)}
		t.timer = time.AfterFunc(set.HealthDeadline, func() { t.fail(fmt.Sprintf("agent not healthy within %v", set.HealthDeadline)) })
		return t
	}
	if havePrev && prev.State == "trying" && prev.To != booted {
		prev.State = "failed"
		if prev.Reason == "" {
			prev.Reason = "the new root did not come up (the firmware booted the old one)"
		}
		writeUpdateState(prev)
		logf("update: update to %s on root %s FAILED (%s); running root %s", prev.Version, partName(prev.To), prev.Reason, partName(booted))
		st.set(func(s *status) { s.Update = "last update failed: " + prev.Reason })
	} else if havePrev {
		st.set(func(s *status) { s.Update = fmt.Sprintf("last update %s: %s", prev.State, prev.Version) })
	}
	// Offer a new update file, if there is one.
	file := findUpdateFile()
	if file == "" {
		return nil
	}
	target := 5 - booted // 2 ↔ 3
	if err := applyUpdate(dsk, file, target, label, cmdlineFile); err != nil {
		logf("update: %s REFUSED: %v", file, err)
		writeUpdateState(updateState{State: "refused", File: filepath.Base(file), Reason: err.Error(), From: booted, To: target})
		st.set(func(s *status) { s.Update = fmt.Sprintf("%s refused: %v", filepath.Base(file), err) })
		moveAside(file, ".refused")
		return nil
	}
	logf("reboot: tryboot into root %s", partName(target))
	reboot("0 tryboot")
	return nil
}

func partName(n int) string {
	switch n {
	case 2:
		return "A"
	case 3:
		return "B"
	}
	return fmt.Sprint(n)
}

func findUpdateFile() string {
	var files []string
	for _, pat := range []string{"/boot/*.nessupd", "/perm/update/*.nessupd"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return ""
	}
	return files[0]
}

// moveAside renames a handled update file so it is not applied again.
func moveAside(file, suffix string) {
	do := func() error { return os.Rename(file, file+suffix) }
	var err error
	if strings.HasPrefix(file, "/boot/") {
		err = writeBoot(do)
	} else {
		err = do()
	}
	if err != nil {
		logf("update: rename %s: %v", file, err)
	}
}

func applyUpdate(dsk *disk, file string, target int, label, cmdlineFile string) error {
	keys, err := update.ReadTrustedKeys(releaseKeys)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("release keys: %w", err)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	u, err := update.Open(f, fi.Size(), keys)
	if err != nil {
		return err
	}
	logf("update: %s: good signature, image %s, root %d bytes; writing root %s (%s)", filepath.Base(file), u.Header.ImageVersion,
		u.Header.RootSize, partName(target), dsk.part(target))
	dev, err := os.OpenFile(dsk.part(target), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer dev.Close()
	size, err := dev.Seek(0, 2)
	if err != nil {
		return err
	}
	if err := u.Apply(dev, size); err != nil {
		return err
	}
	cl, err := os.ReadFile(bootPath(cmdlineFile))
	if err != nil {
		return err
	}
	try := withRoot(strings.TrimSpace(string(cl)), label, target) + "\n"
	cfg, err := os.ReadFile(bootPath("config.txt"))
	if err != nil {
		return err
	}
	tryCfg := strings.Replace(string(cfg), "cmdline="+cmdlineFile, "cmdline=cmdline-try.txt", 1)
	if !strings.Contains(tryCfg, "cmdline=cmdline-try.txt") {
		tryCfg += "cmdline=cmdline-try.txt\n"
	}
	err = writeBoot(func() error {
		if err := writeFileAtomic(bootPath("cmdline-try.txt"), []byte(try), 0o644); err != nil {
			return err
		}
		if err := writeFileAtomic(bootPath("tryboot.txt"), []byte(tryCfg), 0o644); err != nil {
			return err
		}
		if strings.HasPrefix(file, "/boot/") {
			return os.Rename(file, file+".applied")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write tryboot files: %w", err)
	}
	if !strings.HasPrefix(file, "/boot/") {
		os.Rename(file, file+".applied")
	}
	writeUpdateState(updateState{State: "trying", From: 5 - target, To: target, Version: u.Header.ImageVersion, File: filepath.Base(file)})
	return nil
}

// agentStarted arms the health timer: the agent must keep running for HealthyAfter.
func (t *updateTrial) agentStarted(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.decided {
		return
	}
	exits := t.exits
	time.AfterFunc(t.set.HealthyAfter, func() {
		t.mu.Lock()
		healthy := !t.decided && t.exits == exits
		t.mu.Unlock()
		if healthy {
			t.commit()
		}
	})
}

func (t *updateTrial) agentExited() {
	t.mu.Lock()
	t.exits++
	n := t.exits
	t.mu.Unlock()
	if n >= 3 {
		t.fail(fmt.Sprintf("agent exited %d times", n))
	}
}

func (t *updateTrial) commit() {
	t.mu.Lock()
	if t.decided {
		t.mu.Unlock()
		return
	}
	t.decided = true
	t.mu.Unlock()
	t.timer.Stop()
	err := writeBoot(func() error {
		cl, err := os.ReadFile(bootPath(t.cmdline))
		if err != nil {
			return err
		}
		next := withRoot(strings.TrimSpace(string(cl)), t.label, t.state.To) + "\n"
		if err := writeFileAtomic(bootPath(t.cmdline), []byte(next), 0o644); err != nil {
			return err
		}
		os.Remove(bootPath("tryboot.txt"))
		os.Remove(bootPath("cmdline-try.txt"))
		return nil
	})
	if err != nil {
		logf("update: commit root %s: %v", partName(t.state.To), err)
		return
	}
	t.state.State = "committed"
	writeUpdateState(t.state)
	t.st.set(func(s *status) {
		s.Update = fmt.Sprintf("committed root %s (%s)", partName(t.state.To), t.state.Version)
	})
	logf("update: root %s is healthy; committed", partName(t.state.To))
}

func (t *updateTrial) fail(reason string) {
	t.mu.Lock()
	if t.decided {
		t.mu.Unlock()
		return
	}
	t.decided = true
	t.mu.Unlock()
	t.state.State = "trying" // the old root reports it as failed
	t.state.Reason = reason
	writeUpdateState(t.state)
	writeBoot(func() error {
		os.Remove(bootPath("tryboot.txt"))
		return nil
	})
	logf("update: root %s unhealthy (%s); reboot: back to root %s", partName(t.state.To), reason, partName(t.state.From))
	reboot("")
}
