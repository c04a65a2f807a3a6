package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// mountBase mounts the pseudo file systems. /dev may already be mounted by the kernel
// (CONFIG_DEVTMPFS_MOUNT); EBUSY is fine.
func mountBase() error {
	for _, m := range []struct{ src, dst, fstype, data string }{
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777,size=32m"},
		{"tmpfs", "/run", "tmpfs", "mode=0755,size=8m"},
	} {
		if err := syscall.Mount(m.src, m.dst, m.fstype, syscall.MS_NOSUID, m.data); err != nil && !errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dst, err)
		}
	}
	os.Mkdir("/dev/pts", 0o755)
	syscall.Mount("devpts", "/dev/pts", "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC, "")
	return nil
}

// console reopens fds 0/1/2 on /dev/console: pid 1 may start with them closed.
func console() *os.File {
	f, err := os.OpenFile("/dev/console", os.O_RDWR, 0)
	if err != nil {
		return os.Stderr
	}
	for fd := 0; fd <= 2; fd++ {
		syscall.Dup3(int(f.Fd()), fd, 0)
	}
	return f
}

// disk is the boot disk found by its MBR label id.
type disk struct {
	name  string // vda, mmcblk0, sda
	label string
}

// findDisk returns the disk whose MBR disk identifier is label, waiting a little for slow
// (USB) disks.
func findDisk(label string, wait time.Duration) (*disk, error) {
	deadline := time.Now().Add(wait)
	for {
		ents, _ := os.ReadDir("/sys/block")
		for _, e := range ents {
			mbr := make([]byte, 512)
			f, err := os.Open("/dev/" + e.Name())
			if err != nil {
				continue
			}
			n, _ := f.ReadAt(mbr, 0)
			f.Close()
			if n == 512 && mbr[510] == 0x55 && mbr[511] == 0xaa &&
				fmt.Sprintf("%08x", binary.LittleEndian.Uint32(mbr[440:444])) == label {
				return &disk{name: e.Name(), label: label}, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no disk with MBR label id %s under /sys/block", label)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// part returns the device path of partition n: vda1, mmcblk0p1, sda1.
func (d *disk) part(n int) string {
	for _, name := range []string{fmt.Sprintf("%s%d", d.name, n), fmt.Sprintf("%sp%d", d.name, n)} {
		if _, err := os.Stat(filepath.Join("/sys/block", d.name, name)); err == nil {
			return "/dev/" + name
		}
	}
	return fmt.Sprintf("/dev/%s%d", d.name, n)
}

func mountPerm(dev string) error {
	return syscall.Mount(dev, "/perm", "ext4", syscall.MS_NOATIME|syscall.MS_NODEV|syscall.MS_NOSUID, "errors=remount-ro,commit=5")
}

func mountBoot(dev string) error {
	return syscall.Mount(dev, "/boot", "vfat", syscall.MS_RDONLY|syscall.MS_NOATIME|syscall.MS_NODEV|syscall.MS_NOSUID|syscall.MS_NOEXEC,
		"fmask=0133,dmask=0022,shortname=mixed,utf8")
}

// bootMu serialises writes to the boot partition, which stays read-only between them: a FAT
// file system is not journalled, so it is writable only for the moment of a write.
var bootMu sync.Mutex

func remountBoot(rw bool) error {
	flags := uintptr(syscall.MS_REMOUNT | syscall.MS_NOATIME | syscall.MS_NODEV | syscall.MS_NOSUID | syscall.MS_NOEXEC)
	if !rw {
		flags |= syscall.MS_RDONLY
	}
	return syscall.Mount("", "/boot", "", flags, "fmask=0133,dmask=0022,shortname=mixed,utf8")
}

// writeBoot runs fn with the boot partition writable, then syncs and makes it read-only again.
func writeBoot(fn func() error) error {
	bootMu.Lock()
	defer bootMu.Unlock()
	if err := remountBoot(true); err != nil {
		return fmt.Errorf("boot partition: remount read-write: %w", err)
	}
	err := fn()
	syscall.Sync()
	if rerr := remountBoot(false); rerr != nil && err == nil {
		err = fmt.Errorf("boot partition: remount read-only: %w", rerr)
	}
	return err
}

// writeFileAtomic writes name through a temporary file, fsync and rename.
func writeFileAtomic(name string, data []byte, mode os.FileMode) error {
	tmp := name + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// reaper is the only caller of wait4: as pid 1 it reaps orphans too, and hands each started
// child's status to the goroutine that started it.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan syscall.WaitStatus{}}
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	go func() {
		for range ch {
			r.reap()
		}
	}()
	go func() { // a lost SIGCHLD must not leave a zombie or a waiter behind
		for range time.Tick(5 * time.Second) {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		if w, ok := r.waiters[pid]; ok {
			w <- ws
			delete(r.waiters, pid)
		}
		r.mu.Unlock()
	}
}

// start starts a process; its exit status arrives on the returned channel.
func (r *reaper) start(argv, env []string, stdout, stderr *os.File) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	devnull, _ := os.Open("/dev/null")
	if devnull != nil {
		defer devnull.Close()
	}
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Dir:   "/",
		Env:   env,
		Files: []*os.File{devnull, stdout, stderr},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiters[p.Pid] = ch
	pid := p.Pid
	p.Release()
	return pid, ch, nil
}

// reboot syncs and restarts. arg "0 tryboot" asks the Pi firmware to boot tryboot.txt once.
func reboot(arg string) {
	syscall.Sync()
	syscall.Unmount("/perm", 0)
	syscall.Unmount("/boot", 0)
	syscall.Sync()
	if arg != "" {
		b, _ := syscall.BytePtrFromString(arg)
		syscall.Syscall6(syscall.SYS_REBOOT, syscall.LINUX_REBOOT_MAGIC1, syscall.LINUX_REBOOT_MAGIC2,
			syscall.LINUX_REBOOT_CMD_RESTART2, uintptr(unsafe.Pointer(b)), 0, 0)
	}
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_RESTART)
	select {}
}

func setHostname(name string) {
	syscall.Sethostname([]byte(name))
}

func setClock(t time.Time) error {
	tv := syscall.NsecToTimeval(t.UnixNano())
	return syscall.Settimeofday(&tv)
}

func kernelCmdline() string {
	b, _ := os.ReadFile("/proc/cmdline")
	return strings.TrimSpace(string(b))
}
