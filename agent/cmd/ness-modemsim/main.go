// Command ness-modemsim runs virtual GSM modems on pseudo-terminals (or unix sockets) with a
// loopback HTTP control API, for tests, benchmarks and the demo. See docs/MODEMSIM.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ness-network/ness-sms/agent/modemsim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "ness-modemsim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("ness-modemsim", flag.ContinueOnError)
	slots := fs.Int("slots", 1, "number of simulated modems")
	dir := fs.String("dir", "", "directory for the slotN symlinks (or slotN.sock sockets); required")
	control := fs.String("control", "127.0.0.1:0", "control API listen address (loopback only)")
	model := fs.String("model", "sim7600", "module model: "+strings.Join(modemsim.ModelNames(), ", "))
	socket := fs.Bool("socket", false, "serve each slot on a unix socket DIR/slotN.sock instead of a pty")
	bootDelay := fs.Duration("boot-delay", 2*time.Second, "time from power-on to the boot banner")
	slowDelay := fs.Duration("slow-delay", 3*time.Second, "answer delay under the slow fault")
	capacity := fs.Int("capacity", 30, "message locations per storage")
	offAtStart := fs.Bool("power-off-at-start", false, "start with every supply off (for a power driver)")
	autoBoot := fs.Bool("autoboot", false, "boot when the supply comes on, without a PWRKEY pulse")
	seed := fs.Int64("seed", 0, "varies IMEI/ICCID/IMSI digits between simulators")
	verbose := fs.Bool("v", false, "log at debug level")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ness-modemsim --slots N --dir DIR [--control 127.0.0.1:PORT] [flags]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nOn start it prints one line to stdout: \"ready control=http://ADDR slots=N dir=DIR\".\n")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	m, err := modemsim.ModelByName(*model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	host, _, err := net.SplitHostPort(*control)
	if err != nil {
		return fmt.Errorf("--control %q: %w", *control, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--control %q: the control API has no authentication; listen on a loopback address", *control)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("component", "modemsim")

	sim, err := modemsim.New(modemsim.Config{
		Slots: *slots, Model: m, Capacity: *capacity, BootDelay: *bootDelay, SlowDelay: *slowDelay,
		PowerOffAtStart: *offAtStart, AutoBoot: *autoBoot, Seed: *seed, Logger: logger,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return fmt.Errorf("control listen: %w", err)
	}
	var ports interface{ Close() error }
	if *socket {
		ports, err = sim.ServeSockets(*dir)
	} else {
		ports, err = sim.ServePTYs(*dir)
	}
	if err != nil {
		ln.Close()
		return err
	}
	defer ports.Close()

	srv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("ready control=http://%s slots=%d dir=%s model=%s\n", ln.Addr(), *slots, *dir, m.Name)
	logger.Info("running", "control", ln.Addr().String(), "slots", *slots, "dir", *dir, "model", m.Name, "socket", *socket)

	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("control server: %w", err)
	}
	stop() // a second signal now kills at once
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(shut)
}
