// Command ness is the NESS SMS tool for providers and renters: keys, sealing, signing,
// PDU decoding, provider enrolment, renting and reading messages.
//
// Each command lives in its own file (cmd_*.go) and registers itself in commands with init, so
// command groups can grow without touching this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ness-network/ness-sms/internal/version"
)

// command is one `ness NAME ...` subcommand.
type command struct {
	// name is the word after `ness`, or two words for grouped commands ("pdu decode").
	name string
	// summary is one line for `ness --help`.
	summary string
	// run executes the command with the arguments after its name.
	run func(env *cmdEnv, args []string) error
}

// cmdEnv carries the process's streams so tests can run commands in process.
type cmdEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("ness: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// exitError carries a specific exit status (e.g. verify's 1 for a bad signature).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad arguments: exit status 2.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() {
	env := &cmdEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(env, os.Args[1:]))
}

// run dispatches args and returns the process exit status.
func run(env *cmdEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			return run(env, append(args[1:], "--help"))
		}
		printUsage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(env.stdout, "ness", version.String())
		return 0
	}
	c, rest := lookup(args)
	if c == nil {
		fmt.Fprintf(env.stderr, "ness: unknown command %q (see ness --help)\n", strings.Join(args[:min(2, len(args))], " "))
		return 2
	}
	err := c.run(env, rest)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(env.stderr, "ness %s: %v\n", c.name, err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// lookup finds the longest registered command name that prefixes args.
func lookup(args []string) (*command, []string) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:]
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c, args[1:]
	}
	return nil, nil
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "ness %s: the NESS SMS tool for providers and renters\n\nUsage: ness COMMAND [flags]\n\nCommands:\n", version.String())
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'ness COMMAND --help' for a command's flags.\n")
}

// newFlags returns a FlagSet for a command whose errors and help go to env.stderr.
func newFlags(env *cmdEnv, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("ness "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: ness %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping flag errors to usage errors (exit 2) and -h to ErrHelp (exit 0).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	return nil
}
