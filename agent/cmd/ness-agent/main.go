// Command ness-agent is the NESS SMS agent: it powers and supervises the GSM modems of a board
// (1-32 slots), hands every SMS to the pipeline before deleting it from the SIM, and serves
// per-slot metrics. Configuration is read from the environment; `ness-agent --help` lists it.
//
//	ness-agent [run]          run the agent (the default)
//	ness-agent boards         list the built-in board profiles
//	ness-agent enroll-request print the enrolment request the provider signs
//	ness-agent --help         list every environment variable
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ness-network/ness-sms/agent"
	"github.com/ness-network/ness-sms/agent/power"
	"github.com/ness-network/ness-sms/board"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// envSpec is one envconfig struct of the agent's configuration.
type envSpec struct {
	Title    string
	Spec     any          // pointer to an envconfig struct read under agent.EnvPrefix
	Validate func() error // nil, or checks what envconfig cannot (errors name the variable)
}

// configs returns every configuration part: the supervisor's and the pipeline's.
func configs(cfg *agent.Config) []envSpec {
	return append([]envSpec{{Title: "Slots and board", Spec: cfg, Validate: cfg.Validate}}, pipelineConfigs...)
}

func cli(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd = args[0]
	}
	var cfg agent.Config
	switch cmd {
	case "-h", "--help", "help":
		if err := usage(stdout, configs(&cfg)); err != nil {
			fmt.Fprintln(stderr, "ness-agent:", err)
			return 1
		}
		return 0
	case "boards":
		ps, err := board.All()
		if err == nil {
			err = board.WriteTable(stdout, ps)
		}
		if err != nil {
			fmt.Fprintln(stderr, "ness-agent:", err)
			return 1
		}
		return 0
	case "enroll-request":
		return enrollRequest(args[1:], stdout, stderr, time.Now())
	case "run":
	default:
		fmt.Fprintf(stderr, "ness-agent: unknown command %q (want run, boards, enroll-request or --help)\n", cmd)
		return 2
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "ness-agent: unexpected argument %q\n", args[1])
		return 2
	}
	if err := load(configs(&cfg)); err != nil {
		fmt.Fprintln(stderr, "ness-agent: configuration:", err)
		return 2
	}
	level, _ := cfg.Level()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // from now on a second signal ends the process at once
	}()
	if err := run(ctx, &cfg, log); err != nil {
		log.Error("ness-agent stopped", "err", err)
		return 1
	}
	return 0
}

// load reads and validates every part; errors name the variable.
func load(specs []envSpec) error {
	var errs []error
	for _, s := range specs {
		reflect.ValueOf(s.Spec).Elem().SetZero() // only the environment counts, not a previous load
		if err := envconfig.Process(agent.EnvPrefix, s.Spec); err != nil {
			errs = append(errs, err)
			continue
		}
		if s.Validate != nil {
			if err := s.Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// usage prints every variable: each part's envconfig table, then the board timing overrides.
func usage(w io.Writer, specs []envSpec) error {
	fmt.Fprintln(w, "usage: ness-agent [run | boards | enroll-request [--data-dir DIR] | --help]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "  run             supervise the board's modems and publish their SMS (default)")
	fmt.Fprintln(w, "  boards          list the built-in board profiles")
	fmt.Fprintln(w, "  enroll-request  create the device key if needed and print the enrolment request")
	fmt.Fprintln(w, "                  (JSON: agent id and public key) for `ness provider enroll`")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Enrolment: the agent publishes only with a valid agent certificate (NESS_AGENT_CERT,")
	fmt.Fprintln(w, "default <data dir>/agent.cert) and the pinned hub key (NESS_AGENT_HUB_KEY). Without")
	fmt.Fprintln(w, "either it runs STORE-ONLY: it does not connect to the broker, but still reads every SMS")
	fmt.Fprintln(w, "into its outbox and deletes it from the SIM, so nothing is lost; it logs why at start")
	fmt.Fprintln(w, "and every hour, and the metric ness_agent_publishing is 0. Enrol, then restart it.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Configuration is read from these environment variables.")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range specs {
		fmt.Fprintf(tw, "\n%s:\n", s.Title)
		if err := envconfig.Usagef(agent.EnvPrefix, s.Spec, tw, usageFormat); err != nil {
			return err
		}
	}
	fmt.Fprintf(tw, "\nBoard timing overrides (default: the profile's values):\n")
	for _, v := range board.EnvVars {
		fmt.Fprintf(tw, "  %s\t%s\n", v.Name, v.Help)
	}
	return tw.Flush()
}

const usageFormat = `{{range .}}  {{usage_key .}}	{{usage_description .}}{{if usage_default .}} (default {{usage_default .}}){{end}}
{{end}}`

// run wires the board, the supervisor, the pipeline and metrics, and returns once ctx ended and
// every slot has powered down.
func run(ctx context.Context, cfg *agent.Config, log *slog.Logger) error {
	p, err := cfg.Profile(os.LookupEnv, os.ReadFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	// prometheus's own Go and process collectors: the collectors package would link database/sql,
	// which the agent's dependency allow-list forbids (agent/deps_test.go).
	//lint:ignore SA1019 the replacement, package collectors, links database/sql
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	pl, err := newPipeline(ctx, cfg, reg, log) // the pipeline names its components
	if err != nil {
		return err
	}
	defer pl.Close()
	sup, closeBoard, err := supervise(p, cfg, pl.Sink(), serialOpener{}, log, nil)
	if err != nil {
		return err
	}
	defer closeBoard()
	log.Info("starting", "board", p.Name, "slots", len(p.Slots), "health", cfg.HealthInterval, "sweep", cfg.SweepInterval)

	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, reg, sup, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	plDone := make(chan error, 1)
	go func() { plDone <- pl.Run(ctx, sup) }()
	err = sup.Run(ctx)
	if perr := <-plDone; perr != nil {
		err = errors.Join(err, fmt.Errorf("pipeline: %w", perr))
	}
	log.Info("stopped")
	return err
}

// supervise opens the board's power lines (which puts every output at its idle level: the known
// state the agent starts from) and builds the supervisor over them. close releases the lines.
func supervise(p *board.Profile, cfg *agent.Config, sink agent.PartSink, ports agent.PortOpener, log *slog.Logger, onAction func(agent.Action)) (sup *agent.Supervisor, close func(), err error) {
	var opener power.Opener
	if p.Driver == board.DriverSim {
		if opener, err = power.NewSimOpener(cfg.SimControl, nil, power.SystemClock{}); err != nil {
			return nil, nil, fmt.Errorf("%s_SIM_CONTROL: %w", agent.EnvPrefix, err)
		}
	} else {
		opener = power.NewGPIOOpener("ness-agent")
	}
	ctrls, err := power.OpenBoard(p, opener, power.SystemClock{})
	if err != nil {
		return nil, nil, fmt.Errorf("board %s: %w", p.Name, err)
	}
	close = func() {
		for _, c := range ctrls {
			c.Close()
		}
	}
	slots := make([]agent.SlotConfig, len(p.Slots))
	for i, s := range p.Slots {
		slots[i] = agent.SlotConfig{Port: s.Port, Baud: s.Baud, Power: ctrls[i]}
	}
	sup, err = agent.NewSupervisor(agent.SupervisorConfig{
		Slots: slots, Ports: ports, Sink: sink, Timing: cfg.Timing(p),
		Logger: log.With("component", "supervisor"), OnAction: onAction,
	})
	if err != nil {
		close()
		return nil, nil, err
	}
	return sup, close, nil
}

// serveMetrics adds the supervisor's metrics to reg and serves it at /metrics on addr.
func serveMetrics(addr string, reg *prometheus.Registry, sup *agent.Supervisor, log *slog.Logger) (func(), error) {
	if err := agent.RegisterMetrics(reg, sup); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s_METRICS_ADDR: %w", agent.EnvPrefix, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	log.Info("metrics", "addr", "http://"+ln.Addr().String()+"/metrics")
	return func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(c)
	}, nil
}
