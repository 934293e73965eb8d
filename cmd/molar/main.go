// Command molar is the Molar server and its admin tools. It only wires
// the packages together; the work lives in them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/molar-pacs/molar/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Molar: a dental PACS at the centre of referrals.

Usage:
  molar serve  [flags]          run the server (the default command)
  molar import [flags] PATH...  ingest DICOM files and folder trees
  molar fsck   [flags]          check the archive; --repair rebuilds the index
  molar demo   [flags]          seed the archive with demo studies

DICOM tools, for testing a link to a hospital PACS or a practice device
(TARGET is AET@HOST:PORT):
  molar echo   [flags] TARGET                  C-ECHO
  molar store  [flags] TARGET FILE|DIR...      C-STORE files and folder trees
  molar find   [flags] TARGET -k KEY[=VALUE]   C-FIND (study, patient or worklist)
  molar move   [flags] --dest AET TARGET -k KEY=VALUE   C-MOVE
  molar version

Run "molar COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// exitUsage is the exit status for bad command lines.
const exitUsage = 2

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args, stdout, stderr)
	case "import":
		err = runImport(ctx, args, stdout, stderr)
	case "fsck":
		err = runFsck(ctx, args, stdout, stderr)
	case "demo":
		err = runDemo(ctx, args, stdout, stderr)
	case "echo":
		err = runEcho(ctx, args, stdout, stderr)
	case "store":
		err = runStore(ctx, args, stdout, stderr)
	case "find":
		err = runFind(ctx, args, stdout, stderr)
	case "move":
		err = runMove(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "molar", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "molar: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	var ec exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ec):
		return int(ec)
	default:
		fmt.Fprintf(stderr, "molar %s: %v\n", cmd, err)
		return 1
	}
}

// exitCode ends a command with a status and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// loadConfig builds the configuration from defaults, --config (or
// MOLAR_CONFIG), the environment and the command's flags.
func loadConfig(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*config.Config, *flag.FlagSet, error) {
	cfg := config.Default()
	path := os.Getenv("MOLAR_CONFIG")
	for i, a := range args {
		// --config must be known before the other flags get their defaults.
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			path = v
		} else if (a == "--config" || a == "-config") && i+1 < len(args) {
			path = args[i+1]
		}
	}
	if err := cfg.Load(path, os.Getenv); err != nil {
		return nil, nil, err
	}
	fs := flag.NewFlagSet("molar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", path, "configuration file (TOML); also MOLAR_CONFIG")
	cfg.Flags(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, exitCode(exitUsage)
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	return &cfg, fs, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
