// Package imagebuild assembles the flashable Raspberry Pi image of the NESS SMS agent: a FAT boot
// partition (Pi firmware, the gokrazy kernel.rpi kernel, DTBs, overlays, config.txt, cmdline.txt,
// the ness-agent.env template), two read-only squashfs root partitions (A and B, for updates)
// holding ness-init and ness-agent, and an ext4 /perm partition for the agent's keys and outbox.
//
// It runs without root and without mounts: mkfs.vfat and mtools for the FAT, mksquashfs for the
// roots, mkfs.ext4 -d for /perm, sfdisk for the partition table, and Go for the rest. The same
// inputs give the same bytes: every timestamp is Config.Epoch, every file list is sorted, every
// identifier (disk label id, volume id, ext4 UUID and hash seed) is derived from the content.
package imagebuild

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ness-network/ness-sms/image/agentenv"
)

// Partition layout (512-byte sectors), MBR, as gokrazy's: boot at 4 MiB, then root A, root B, /perm.
const (
	SectorSize   = 512
	BootStart    = 8192 // sectors: 4 MiB, aligned for SD cards' erase blocks
	BootSize     = 100 << 20
	RootSize     = 256 << 20
	PermSize     = 256 << 20
	BootPartNum  = 1
	RootAPartNum = 2
	RootBPartNum = 3
	PermPartNum  = 4
)

// Offsets of each partition in bytes.
func partOffset(n int) int64 {
	off := int64(BootStart) * SectorSize
	sizes := []int64{BootSize, RootSize, RootSize, PermSize}
	for i := 1; i < n; i++ {
		off += sizes[i-1]
	}
	return off
}

// PartOffset returns the byte offset of partition n (1..4) in the image.
func PartOffset(n int) int64 { return partOffset(n) }

// ImageSize is the size of the uncompressed image in bytes.
const ImageSize = int64(BootStart)*SectorSize + BootSize + 2*RootSize + PermSize

// Modules the image takes files from (pinned in image/go.mod, hashes in image/go.sum).
const (
	ModKernelRPi   = "github.com/gokrazy/kernel.rpi"
	ModKernelArm64 = "github.com/gokrazy/kernel.arm64"
	ModFirmware    = "github.com/gokrazy/firmware"
)

// InitPath is where ness-init lives in the root file system (the kernel's init=).
const InitPath = "/ness-init"

// Config is what one build needs. Every field that changes the output is an input of the
// reproducibility promise: same Config (and same file contents) → same bytes.
type Config struct {
	Out         string    // the .img.gz to write; the raw root squashfs goes next to it as <base>.root.sqfs
	WorkDir     string    // scratch space (created; removed by the caller)
	ModuleDir   string    // the image/ module directory, whose go.mod pins the kernel and firmware
	AgentBin    string    // linux/arm64 ness-agent
	InitBin     string    // linux/arm64 ness-init
	ReleaseKeys []string  // public release key files (ness-key JSON) baked into the root: /etc/ness/release-keys/
	CABundle    string    // PEM CA bundle for TLS to the broker, optional (/etc/ssl/certs/ca-certificates.crt)
	Epoch       time.Time // every timestamp in the image (SOURCE_DATE_EPOCH); also the clock's floor at boot
	Version     string    // shown on the status page and in /etc/ness/build-info
	Log         io.Writer // progress lines; nil for none
}

// Result describes what Build wrote.
type Result struct {
	Image   string // .img.gz
	RootFS  string // raw root squashfs (the payload of update files)
	LabelID string // MBR disk identifier, 8 hex digits; root A is PARTUUID=<LabelID>-02
	SHA256  string // of the .img.gz
}

func (c *Config) logf(format string, a ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "image: "+format+"\n", a...)
	}
}

// Tools the build runs, checked up front so a missing one is named with its Debian package.
var tools = []struct{ bin, pkg string }{
	{"mkfs.vfat", "dosfstools"},
	{"mcopy", "mtools"},
	{"mmd", "mtools"},
	{"mksquashfs", "squashfs-tools"},
	{"mkfs.ext4", "e2fsprogs"},
	{"sfdisk", "fdisk"},
}

// CheckTools returns an error naming every missing tool and the Debian package that has it.
func CheckTools() error {
	var missing []string
	for _, t := range tools {
		if _, err := lookPath(t.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", t.bin, t.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("image: missing tools: %s; run scripts/setup packages", strings.Join(missing, ", "))
	}
	return nil
}

// lookPath also searches /sbin and /usr/sbin, which a non-root PATH often lacks (mkfs.*, sfdisk).
func lookPath(bin string) (string, error) {
	if p, err := exec.LookPath(bin); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, bin)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", bin)
}

// ModuleFileDir returns the module cache directory of mod at the version image/go.mod pins,
// downloading it through the Go module proxy when needed.
func ModuleFileDir(ctx context.Context, moduleDir, mod string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("image: go mod download %s: %s", mod, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("image: go mod download %s (in %s): %v: %s", mod, moduleDir, err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", fmt.Errorf("image: go mod download %s: no directory in %q", mod, out)
	}
	return info.Dir, nil
}

// Build assembles the image.
func Build(ctx context.Context, c Config) (*Result, error) {
	start := time.Now()
	if err := CheckTools(); err != nil {
		return nil, err
	}
	if c.Epoch.IsZero() || c.Epoch.Unix() <= 0 {
		return nil, errors.New("image: Epoch (SOURCE_DATE_EPOCH) must be set to a positive Unix time")
	}
	for what, p := range map[string]string{"agent binary": c.AgentBin, "init binary": c.InitBin} {
		if err := checkArm64(p); err != nil {
			return nil, fmt.Errorf("image: %s: %w", what, err)
		}
	}
	if err := os.MkdirAll(c.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	rpiDir, err := ModuleFileDir(ctx, c.ModuleDir, ModKernelRPi)
	if err != nil {
		return nil, err
	}
	fwDir, err := ModuleFileDir(ctx, c.ModuleDir, ModFirmware)
	if err != nil {
		return nil, err
	}

	// 1. Root file system → squashfs.
	rootDir := filepath.Join(c.WorkDir, "root")
	if err := c.stageRoot(rootDir, rpiDir); err != nil {
		return nil, err
	}
	rootFS := filepath.Join(c.WorkDir, "root.sqfs")
	if err := c.run(ctx, nil, "mksquashfs", rootDir, rootFS, "-noappend", "-quiet", "-no-progress",
		"-all-root", "-no-xattrs", "-comp", "gzip",
		"-mkfs-time", epochArg(c.Epoch), "-all-time", epochArg(c.Epoch),
		"-p", "/dev/console c 0600 0 0 5 1",
		"-p", "/dev/null c 0666 0 0 1 3"); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(rootFS); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	} else if fi.Size() > RootSize {
		return nil, fmt.Errorf("image: root file system is %d bytes, more than the %d-byte root partition", fi.Size(), RootSize)
	}
	rootSum, err := fileSHA256(rootFS)
	if err != nil {
		return nil, err
	}
	// Identifiers from the content: reproducible, and different for different builds.
	labelID := hex.EncodeToString(rootSum[:4])
	if labelID == "00000000" {
		labelID = "4e455353"
	}
	c.logf("root squashfs %s (%s), disk label id %s", rootFS, humanSize(fileSize(rootFS)), labelID)

	// 2. /perm ext4, empty: ness-init creates what it needs on first boot. (mkfs.ext4 -d would copy
	// the source files' ctimes, which no one can set, so its output would differ on every build.)
	permFS := filepath.Join(c.WorkDir, "perm.ext4")
	os.Remove(permFS)
	uuid := uuidFrom(rootSum[:], "perm-uuid")
	seed := uuidFrom(rootSum[:], "perm-hash-seed")
	env := []string{"E2FSPROGS_FAKE_TIME=" + epochArg(c.Epoch), "SOURCE_DATE_EPOCH=" + epochArg(c.Epoch)}
	if err := c.run(ctx, env, "mkfs.ext4", "-q", "-F", "-L", "perm", "-U", uuid,
		"-E", "hash_seed="+seed+",root_owner=0:0,nodiscard,lazy_itable_init=0,lazy_journal_init=0",
		"-T", "default", "-b", "4096", "-m", "1", permFS, fmt.Sprintf("%dk", PermSize>>10)); err != nil {
		return nil, err
	}

	// 3. FAT boot partition.
	bootDir := filepath.Join(c.WorkDir, "boot")
	if err := c.stageBoot(bootDir, rpiDir, fwDir, labelID); err != nil {
		return nil, err
	}
	bootFS := filepath.Join(c.WorkDir, "boot.fat")
	if err := c.makeFAT(ctx, bootDir, bootFS, labelID); err != nil {
		return nil, err
	}

	// 4. Disk image: partition table, then each partition at its offset (sparse).
	img := filepath.Join(c.WorkDir, "disk.img")
	if err := c.assemble(ctx, img, labelID, bootFS, rootFS, permFS); err != nil {
		return nil, err
	}

	// 5. Outputs.
	if err := os.MkdirAll(filepath.Dir(c.Out), 0o755); err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := gzipFile(img, c.Out); err != nil {
		return nil, err
	}
	rootOut := strings.TrimSuffix(strings.TrimSuffix(c.Out, ".gz"), ".img") + ".root.sqfs"
	if err := copyFile(rootFS, rootOut, 0o644); err != nil {
		return nil, err
	}
	sum, err := fileSHA256(c.Out)
	if err != nil {
		return nil, err
	}
	res := &Result{Image: c.Out, RootFS: rootOut, LabelID: labelID, SHA256: hex.EncodeToString(sum[:])}
	c.logf("wrote %s (%s compressed, %s raw) in %.1fs, sha256 %s", c.Out, humanSize(fileSize(c.Out)), humanSize(ImageSize),
		time.Since(start).Seconds(), res.SHA256)
	return res, nil
}

func epochArg(t time.Time) string { return fmt.Sprint(t.Unix()) }

// checkArm64 makes sure p is a static linux/arm64 ELF executable: an x86 binary in an arm64
// image boots to "exec format error", which is a poor way to find out.
func checkArm64(p string) error {
	if p == "" {
		return errors.New("no path given")
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := make([]byte, 20)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return fmt.Errorf("%s: not an ELF file: %w", p, err)
	}
	if string(hdr[:4]) != "\x7fELF" {
		return fmt.Errorf("%s: not an ELF file", p)
	}
	if hdr[4] != 2 || hdr[18] != 0xb7 || hdr[19] != 0 { // ELFCLASS64, EM_AARCH64 (183)
		return fmt.Errorf("%s: not a linux/arm64 executable (build it with CGO_ENABLED=0 GOOS=linux GOARCH=arm64)", p)
	}
	return nil
}

// stageRoot lays out the root file system.
func (c *Config) stageRoot(dir, rpiDir string) error {
	os.RemoveAll(dir)
	for _, d := range []string{"bin", "boot", "dev", "etc/ness/release-keys", "etc/ssl/certs", "lib", "perm", "proc", "run", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	}
	if err := copyFile(c.InitBin, filepath.Join(dir, InitPath), 0o755); err != nil {
		return err
	}
	if err := copyFile(c.AgentBin, filepath.Join(dir, "bin/ness-agent"), 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"etc/hostname": "ness-agent\n",
		"etc/ness/build-info": fmt.Sprintf("version=%s\nbuild_time=%s\nbuild_epoch=%d\n",
			c.Version, c.Epoch.UTC().Format(time.RFC3339), c.Epoch.Unix()),
		"etc/passwd": "root:x:0:0:root:/perm:/bin/false\n",
		"etc/group":  "root:x:0:\n",
		// Go's resolver reads /etc/hosts and nsswitch; keep them minimal and static.
		"etc/hosts":         "127.0.0.1 localhost\n::1 localhost\n",
		"etc/nsswitch.conf": "hosts: files dns\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	}
	// The root is read-only; ness-init writes DHCP's name servers to /run.
	if err := os.Symlink("/run/resolv.conf", filepath.Join(dir, "etc/resolv.conf")); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	for _, k := range c.ReleaseKeys {
		if err := copyFile(k, filepath.Join(dir, "etc/ness/release-keys", filepath.Base(k)), 0o644); err != nil {
			return err
		}
	}
	if c.CABundle != "" {
		if err := copyFile(c.CABundle, filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"), 0o644); err != nil {
			return err
		}
	}
	// The Pi kernel's loadable modules (Wi-Fi, Bluetooth): the USB modem drivers are built in.
	if err := copyTree(filepath.Join(rpiDir, "lib/modules"), filepath.Join(dir, "lib/modules")); err != nil {
		return err
	}
	// Directory modes must not depend on the builder's umask.
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
}

// stageBoot lays out the boot partition's files.
func (c *Config) stageBoot(dir, rpiDir, fwDir, labelID string) error {
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "overlays"), 0o755); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	// Firmware (Pi 3/4; Pi 5 boots from its EEPROM and needs only the kernel and DTBs).
	fw, err := os.ReadDir(fwDir)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	n := 0
	for _, e := range fw {
		name := e.Name()
		if name == "bootcode.bin" || strings.HasSuffix(name, ".elf") || strings.HasSuffix(name, ".dat") {
			if err := copyFile(filepath.Join(fwDir, name), filepath.Join(dir, name), 0o644); err != nil {
				return err
			}
			n++
		}
	}
	if n < 3 {
		return fmt.Errorf("image: firmware module %s holds %d boot files, want bootcode.bin, start*.elf, fixup*.dat", fwDir, n)
	}
	kern, err := os.ReadDir(rpiDir)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	for _, e := range kern {
		if name := e.Name(); name == "vmlinuz" || strings.HasSuffix(name, ".dtb") {
			if err := copyFile(filepath.Join(rpiDir, name), filepath.Join(dir, name), 0o644); err != nil {
				return err
			}
		}
	}
	if err := copyTree(filepath.Join(rpiDir, "overlays"), filepath.Join(dir, "overlays")); err != nil {
		return err
	}
	files := map[string]string{
		"config.txt":     ConfigTxt("cmdline.txt"),
		"cmdline.txt":    Cmdline(labelID, RootAPartNum) + "\n",
		"ness-agent.env": EnvTemplate,
		"README.txt":     BootReadme,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("image: %w", err)
		}
	}
	return setTimes(dir, c.Epoch)
}

// Cmdline is the kernel command line booting root partition part of the disk labelID.
func Cmdline(labelID string, part int) string {
	return fmt.Sprintf("console=tty1 console=serial0,115200 root=PARTUUID=%s-%02d ro init=%s rootwait panic=10 oops=panic",
		labelID, part, InitPath)
}

// ConfigTxt is the Pi firmware configuration naming the kernel command line file. tryboot.txt
// (written by ness-init for an update) is the same with the trial command line.
func ConfigTxt(cmdlineFile string) string {
	return `# NESS SMS agent image: Raspberry Pi firmware settings.
# 64-bit kernel (gokrazy kernel.rpi) for Pi 3/3+/4/400/5 and Zero 2 W.
arm_64bit=1
kernel=vmlinuz
# Serial console on the GPIO header (pins 8/10, 115200 8N1).
enable_uart=1
# The kernel command line (which root partition, A or B). ness-init rewrites it after a
# successful update; an update is first tried once through tryboot.txt.
cmdline=` + cmdlineFile + `
`
}

// EnvTemplate is ness-agent.env on the boot partition, the one file a provider edits. It comes
// from package agentenv, like the .deb packages' /etc/ness/agent.env, so the two cannot drift.
var EnvTemplate = agentenv.Image()

// BootReadme explains the boot partition to someone who opens it on a computer.
const BootReadme = `NESS SMS agent - boot partition

ness-agent.env              the settings; edit it, then put the card back in the board
ness-enroll-request.json    written by the board after its first start: give it to your
                            provider tool ("ness provider enroll") to sign the agent certificate
agent.cert                  put the signed certificate here (and the hub's settings in
                            ness-agent.env): the agent then publishes to the hub
ness-status.txt             the board's last status (time, version, root partition, agent state)
*.nessupd                   put a signed update file here to update the board at next boot

Everything else here is the Raspberry Pi firmware and the Linux kernel: leave it as it is.
`

// makeFAT creates the FAT32 boot file system from dir with mtools, in sorted order, so the
// directory entries are in the same places every time.
func (c *Config) makeFAT(ctx context.Context, dir, out, labelID string) error {
	os.Remove(out)
	env := []string{"SOURCE_DATE_EPOCH=" + epochArg(c.Epoch), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null"}
	if err := c.run(ctx, env, "mkfs.vfat", "-C", "--invariant", "-F", "32", "-n", "NESSBOOT", "-i", labelID, out,
		fmt.Sprint(BootSize>>10)); err != nil {
		return err
	}
	byDir := map[string][]string{}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, filepath.ToSlash(rel))
			return nil
		}
		parent := filepath.ToSlash(filepath.Dir(rel))
		byDir[parent] = append(byDir[parent], p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		if err := c.run(ctx, env, "mmd", "-i", out, "::/"+d); err != nil {
			return err
		}
	}
	parents := make([]string, 0, len(byDir))
	for p := range byDir {
		parents = append(parents, p)
	}
	sort.Strings(parents)
	for _, p := range parents {
		srcs := byDir[p]
		sort.Strings(srcs)
		target := "::/"
		if p != "." {
			target = "::/" + p + "/"
		}
		args := append([]string{"-m", "-i", out}, srcs...)
		if err := c.run(ctx, env, "mcopy", append(args, target)...); err != nil {
			return err
		}
	}
	return nil
}

// assemble writes the partition table with sfdisk and copies each file system in, skipping
// zero blocks so the image stays sparse.
func (c *Config) assemble(ctx context.Context, img, labelID, bootFS, rootFS, permFS string) error {
	os.Remove(img)
	f, err := os.Create(img)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(ImageSize); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	var script strings.Builder
	fmt.Fprintf(&script, "label: dos\nlabel-id: 0x%s\nunit: sectors\n\n", labelID)
	types := []string{"c", "83", "83", "83"}
	sizes := []int64{BootSize, RootSize, RootSize, PermSize}
	for i := range 4 {
		boot := ""
		if i == 0 {
			boot = ", bootable"
		}
		fmt.Fprintf(&script, "start=%d, size=%d, type=%s%s\n", partOffset(i+1)/SectorSize, sizes[i]/SectorSize, types[i], boot)
	}
	cmd := exec.CommandContext(ctx, mustLook("sfdisk"), "--no-reread", "--no-tell-kernel", "-q", img)
	cmd.Stdin = strings.NewReader(script.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("image: sfdisk %s: %v: %s", img, err, strings.TrimSpace(string(out)))
	}
	for _, p := range []struct {
		n    int
		file string
	}{{BootPartNum, bootFS}, {RootAPartNum, rootFS}, {PermPartNum, permFS}} {
		if err := writeSparse(f, partOffset(p.n), p.file); err != nil {
			return err
		}
	}
	return f.Close()
}

func writeSparse(dst *os.File, off int64, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer in.Close()
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
				return fmt.Errorf("image: write %s: %w", src, werr)
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("image: read %s: %w", src, err)
		}
	}
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(out, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestCompression) // header: no name, no time
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return fmt.Errorf("image: compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return fmt.Errorf("image: compress: %w", err)
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return fmt.Errorf("image: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return os.Rename(tmp, dst)
}

func (c *Config) run(ctx context.Context, env []string, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, mustLook(bin), args...)
	// Only the environment given here may fix timestamps: mksquashfs refuses SOURCE_DATE_EPOCH
	// together with its -mkfs-time/-all-time options.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") && !strings.HasPrefix(kv, "E2FSPROGS_FAKE_TIME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("image: %s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func mustLook(bin string) string {
	if p, err := lookPath(bin); err == nil {
		return p
	}
	return bin
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	os.Remove(dst)
	if err := os.WriteFile(dst, data, mode); err != nil {
		return fmt.Errorf("image: %w", err)
	}
	return os.Chmod(dst, mode) // whatever the umask
}

// copyTree copies regular files and directories (module cache files are read-only; the copies
// are 0644/0755).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("image: %w", err)
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target, 0o644)
	})
}

func setTimes(dir string, t time.Time) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, t, t)
	})
}

func fileSHA256(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("image: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// uuidFrom derives a version-4-shaped UUID from the content hash and a purpose.
func uuidFrom(seed []byte, purpose string) string {
	h := sha256.Sum256(append(append([]byte{}, seed...), purpose...))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

func humanSize(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
