package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/molar-pacs/molar/internal/importer"
	"github.com/molar-pacs/molar/store"
	"golang.org/x/term"
)

// exitRejected is import's status when some files were refused: the
// import itself worked, but someone should read the summary.
const exitRejected = 3

// maxExamples is how many rejected files per reason the summary names.
const maxExamples = 10

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var workers int
	var quiet bool
	cfg, fs, err := loadConfig("import", args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&workers, "workers", 4, "files ingested in parallel")
		fs.BoolVar(&quiet, "quiet", false, "no progress bar")
		fs.Usage = func() {
			fmt.Fprintf(fs.Output(), "Usage: molar import [flags] PATH...\n\nIngests DICOM files and folder trees into the archive in --data. Safe to re-run.\nThe server must not be running on the same data directory.\n\n")
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitCode(exitUsage)
	}
	log := newLogger(cfg, stderr)
	archive, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer archive.Close()

	var progress func(importer.Progress)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !quiet {
		progress = func(p importer.Progress) { fmt.Fprintf(stderr, "\r%s", progressBar(p)) }
	}
	sum, err := importer.Run(ctx, archive, fs.Args(), importer.Options{Workers: workers, Progress: progress})
	if progress != nil {
		fmt.Fprintln(stderr)
	}
	if sum != nil {
		printSummary(stdout, sum)
	}
	if err != nil {
		return err
	}
	if len(sum.Errors) > 0 {
		return exitCode(1)
	}
	if len(sum.Rejected) > 0 {
		return exitCode(exitRejected)
	}
	return nil
}

func progressBar(p importer.Progress) string {
	const width = 30
	frac := 0.0
	if p.TotalBytes > 0 {
		frac = float64(p.Bytes) / float64(p.TotalBytes)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '='
		} else {
			bar[i] = ' '
		}
	}
	return fmt.Sprintf("[%s] %d/%d files  %.1f MB/s  ETA %s   ", bar, p.Files, p.TotalFiles, p.MBps(), p.ETA().Round(time.Second))
}

func printSummary(w io.Writer, s *importer.Summary) {
	fmt.Fprintf(w, "Imported %.1f MB in %s (%.1f MB/s)\n", float64(s.Bytes)/1e6, s.Elapsed.Round(time.Millisecond), float64(s.Bytes)/1e6/max(s.Elapsed.Seconds(), 1e-9))
	fmt.Fprintf(w, "  stored:          %d\n", s.Stored)
	fmt.Fprintf(w, "  already present: %d\n", s.AlreadyPresent)
	if s.Replaced > 0 {
		fmt.Fprintf(w, "  replaced:        %d\n", s.Replaced)
	}
	fmt.Fprintf(w, "  rejected:        %d\n", len(s.Rejected))
	for _, rc := range s.ReasonCounts() {
		fmt.Fprintf(w, "    %-18s %d\n", rc.Reason+":", rc.Count)
	}
	// A few examples per reason keep a large import's summary readable.
	shown := map[string]int{}
	for _, r := range s.Rejected {
		if shown[r.Reason]++; shown[r.Reason] <= maxExamples {
			fmt.Fprintf(w, "    %s: %s\n", r.Path, r.Detail)
		}
	}
	for reason, n := range shown {
		if n > maxExamples {
			fmt.Fprintf(w, "    … and %d more %s\n", n-maxExamples, reason)
		}
	}
	if len(s.Errors) > 0 {
		fmt.Fprintf(w, "  errors:          %d\n", len(s.Errors))
		for _, r := range s.Errors {
			fmt.Fprintf(w, "    %s: %s\n", r.Path, r.Detail)
		}
	}
}

func runFsck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var repair bool
	cfg, _, err := loadConfig("fsck", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&repair, "repair", false, "rebuild the index from the blobs")
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if repair {
		rep, err := store.Repair(ctx, cfg.DataDir, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Index rebuilt from blobs: %d instances, %d older duplicates removed, %d unreadable blobs quarantined\n",
			rep.Indexed, rep.Duplicates, len(rep.Quarantined))
		for _, q := range rep.Quarantined {
			fmt.Fprintf(stdout, "  quarantined %s\n", q)
		}
	}
	archive, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer archive.Close()
	rep, err := archive.Fsck(ctx, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Checked %d instances (%.1f MB) and %d blobs: %d problems\n", rep.Instances, float64(rep.Bytes)/1e6, rep.Blobs, len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	if len(rep.Problems) > 0 {
		if !repair {
			fmt.Fprintln(stdout, "Run \"molar fsck --repair\" (with the server stopped) to rebuild the index from the blobs.")
		}
		return exitCode(1)
	}
	return nil
}
