package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/molar-pacs/molar/dimse"
	"github.com/molar-pacs/molar/internal/dcm"
)

// scuFlags are the flags every SCU command shares: how to reach the peer.
type scuFlags struct {
	callingAE string
	timeout   time.Duration
	useTLS    bool
	tlsCA     string
	insecure  bool
	user      string
	verbose   bool
}

func (f *scuFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.callingAE, "aet", "MOLARSCU", "our (calling) AE title")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "connect and response timeout")
	fs.BoolVar(&f.useTLS, "tls", false, "connect with TLS")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA certificate (PEM) to verify the peer with, instead of the system roots")
	fs.BoolVar(&f.insecure, "tls-insecure", false, "do not verify the peer's certificate (testing only)")
	fs.StringVar(&f.user, "user", "", "username for user identity negotiation; the password is read from MOLAR_DICOM_PASSWORD")
	fs.BoolVar(&f.verbose, "v", false, "print each step")
}

// target is the peer an SCU command talks to: AET@HOST:PORT.
type target struct{ aet, addr string }

func parseTarget(s string) (target, error) {
	aet, addr, ok := strings.Cut(s, "@")
	if !ok {
		aet, addr = "MOLAR", s
	}
	if aet == "" || len(aet) > 16 {
		return target{}, fmt.Errorf("target %q: AE title must be 1 to 16 characters", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return target{}, fmt.Errorf("target %q: want AET@HOST:PORT: %v", s, err)
	}
	return target{aet, addr}, nil
}

func (f *scuFlags) dialer() (*dimse.Dialer, error) {
	d := &dimse.Dialer{CallingAE: f.callingAE, Timeout: f.timeout, IdleTimeout: f.timeout}
	if f.useTLS {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.insecure}
		if f.tlsCA != "" {
			pem, err := os.ReadFile(f.tlsCA)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("no certificate in %s", f.tlsCA)
			}
			tc.RootCAs = pool
		}
		d.TLS = tc
	}
	if f.user != "" {
		pw := os.Getenv("MOLAR_DICOM_PASSWORD")
		typ := byte(dimse.IdentityUsernamePassword)
		if pw == "" {
			typ = dimse.IdentityUsername
		}
		d.Identity = &dimse.UserIdentity{Type: typ, PositiveResponseRequested: true, Primary: []byte(f.user), Secondary: []byte(pw)}
	}
	return d, nil
}

// parseSCU parses an SCU command's flags and its target argument.
func parseSCU(name string, args []string, stderr io.Writer, f *scuFlags, extra func(*flag.FlagSet), usage string) (target, []string, error) {
	fs := flag.NewFlagSet("molar "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: molar %s %s\n\nflags:\n", name, usage)
		fs.PrintDefaults()
	}
	f.register(fs)
	if extra != nil {
		extra(fs)
	}
	// Flags may come after the target too (molar find PACS@host:104 -k …),
	// so parse again after each positional argument.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return target{}, nil, err
			}
			return target{}, nil, exitCode(exitUsage)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) < 1 {
		fs.Usage()
		return target{}, nil, exitCode(exitUsage)
	}
	t, err := parseTarget(positional[0])
	if err != nil {
		return target{}, nil, err
	}
	return t, positional[1:], nil
}

func runEcho(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scuFlags
	t, _, err := parseSCU("echo", args, stderr, &f, nil, "[flags] AET@HOST:PORT")
	if err != nil {
		return err
	}
	d, err := f.dialer()
	if err != nil {
		return err
	}
	start := time.Now()
	a, err := d.Associate(ctx, t.addr, t.aet, []dimse.Proposal{{AbstractSyntax: dimse.VerificationSOPClass,
		TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}}})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Echo(ctx); err != nil {
		return err
	}
	if err := a.Release(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "C-ECHO %s@%s: success in %v (peer implementation: %s)\n", t.aet, t.addr,
		time.Since(start).Round(time.Millisecond), strings.TrimSpace(a.PeerImplementation))
	return nil
}

// storeFile is one Part 10 file to send.
type storeFile struct {
	path                  string
	sopClass, sopInstance string
	ts                    string
	datasetOffset, size   int64
}

func scanFiles(paths []string, stderr io.Writer) ([]storeFile, int) {
	var files []storeFile
	skipped := 0
	add := func(path string) {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "skip %s: %v\n", path, err)
			skipped++
			return
		}
		defer f.Close()
		pf, err := dcm.ParsePart10(f, dcm.ParseOptions{})
		if err != nil {
			fmt.Fprintf(stderr, "skip %s: %v\n", path, err)
			skipped++
			return
		}
		sf := storeFile{path: path, sopClass: pf.Dataset.String(dcm.SOPClassUID), sopInstance: pf.Dataset.String(dcm.SOPInstanceUID),
			ts: pf.TransferSyntax.UID, datasetOffset: pf.DatasetOffset, size: pf.Size}
		if sf.sopClass == "" || sf.sopInstance == "" {
			fmt.Fprintf(stderr, "skip %s: no SOP Class or SOP Instance UID\n", path)
			skipped++
			return
		}
		files = append(files, sf)
	}
	for _, p := range paths {
		filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(stderr, "skip %s: %v\n", path, err)
				skipped++
				return nil
			}
			if !d.IsDir() {
				add(path)
			}
			return nil
		})
	}
	return files, skipped
}

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scuFlags
	t, paths, err := parseSCU("store", args, stderr, &f, nil, "[flags] AET@HOST:PORT FILE|DIR...")
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("nothing to send: name files or directories after the target")
	}
	files, skipped := scanFiles(paths, stderr)
	if len(files) == 0 {
		return fmt.Errorf("no DICOM files found (%d skipped)", skipped)
	}
	// One context per SOP class and stored syntax, plus an uncompressed
	// one per SOP class, up to the 128 an association may carry.
	var props []dimse.Proposal
	seen := map[[2]string]bool{}
	add := func(as string, ts ...string) {
		k := [2]string{as, ts[0]}
		if !seen[k] && len(props) < 128 {
			seen[k] = true
			props = append(props, dimse.Proposal{AbstractSyntax: as, TransferSyntaxes: ts})
		}
	}
	for _, sf := range files {
		add(sf.sopClass, sf.ts)
	}
	for _, sf := range files {
		add(sf.sopClass, dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian)
	}
	d, err := f.dialer()
	if err != nil {
		return err
	}
	a, err := d.Associate(ctx, t.addr, t.aet, props)
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	var sent, failed, warned int
	var bytes int64
	for _, sf := range files {
		if ctx.Err() != nil {
			break
		}
		status, comment, n, err := sendFile(ctx, a, sf)
		bytes += n
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "FAILED %s: %v\n", sf.path, err)
			failed++
			if isDone(a) {
				return fmt.Errorf("association lost after %d of %d files: %w", sent+failed+warned, len(files), err)
			}
		case dimse.Kind(status) == dimse.KindSuccess:
			sent++
			if f.verbose {
				fmt.Fprintf(stdout, "stored %s\n", sf.path)
			}
		case dimse.Kind(status) == dimse.KindWarning:
			warned++
			fmt.Fprintf(stderr, "WARNING %04X %s: %s\n", status, sf.path, comment)
		default:
			failed++
			fmt.Fprintf(stderr, "FAILED %04X %s: %s\n", status, sf.path, comment)
		}
	}
	if err := a.Release(); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "C-STORE %s@%s: %d stored, %d with warnings, %d failed, %d skipped; %.1f MB in %v (%.1f MB/s)\n",
		t.aet, t.addr, sent, warned, failed, skipped, float64(bytes)/1e6, el.Round(time.Millisecond), float64(bytes)/1e6/el.Seconds())
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

func isDone(a *dimse.Assoc) bool {
	select {
	case <-a.Done():
		return true
	default:
		return false
	}
}

// sendFile sends one file's data set as stored, or converted to an
// uncompressed syntax when the peer did not accept the stored one.
func sendFile(ctx context.Context, a *dimse.Assoc, sf storeFile) (uint16, string, int64, error) {
	file, err := os.Open(sf.path)
	if err != nil {
		return 0, "", 0, err
	}
	defer file.Close()
	data := io.NewSectionReader(file, sf.datasetOffset, sf.size-sf.datasetOffset)
	rsp, err := a.Store(ctx, dimse.StoreRequest{SOPClassUID: sf.sopClass, SOPInstanceUID: sf.sopInstance,
		TransferSyntax: sf.ts, Data: data})
	if err != nil {
		return 0, "", data.Size(), err
	}
	return rsp.Status, rsp.ErrorComment, data.Size(), nil
}

// keyList is the repeatable -k TAG[=VALUE] flag.
type keyList []string

func (k *keyList) String() string     { return strings.Join(*k, " ") }
func (k *keyList) Set(v string) error { *k = append(*k, v); return nil }

// parseKeys turns -k arguments into identifier attributes.
func parseKeys(keys []string) (dcm.Attrs, error) {
	var out dcm.Attrs
	for _, k := range keys {
		name, value, _ := strings.Cut(k, "=")
		tag, err := dcm.ParseTag(name)
		if err != nil {
			return nil, fmt.Errorf("-k %s: %w", k, err)
		}
		var values []string
		if value != "" {
			values = strings.Split(value, `\`)
		}
		out.Set(tag, dcm.DictionaryVR(tag), values...)
	}
	return out, nil
}

var queryModels = map[string][2]string{
	"study":   {dimse.StudyRootFind, dimse.StudyRootMove},
	"patient": {dimse.PatientRootFind, dimse.PatientRootMove},
}

func runFind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scuFlags
	var keys keyList
	var level, model string
	t, _, err := parseSCU("find", args, stderr, &f, func(fs *flag.FlagSet) {
		fs.Var(&keys, "k", "matching or return key TAG[=VALUE], TAG a keyword or GGGG,EEEE (repeatable)")
		fs.StringVar(&level, "level", "STUDY", "query level: PATIENT, STUDY, SERIES or IMAGE")
		fs.StringVar(&model, "model", "study", "information model: study, patient or worklist")
	}, "[flags] AET@HOST:PORT")
	if err != nil {
		return err
	}
	attrs, err := parseKeys(keys)
	if err != nil {
		return err
	}
	var as string
	switch model {
	case "worklist":
		as = dimse.WorklistFind
		if len(attrs) == 0 {
			attrs = defaultWorklistKeys()
		}
	case "study", "patient":
		as = queryModels[model][0]
		attrs.Set(dcm.QueryRetrieveLevel, dcm.CS, strings.ToUpper(level))
		if len(attrs) == 1 {
			for _, tg := range []dcm.Tag{dcm.PatientName, dcm.PatientID, dcm.AccessionNumber, dcm.StudyDate, dcm.StudyInstanceUID, dcm.ModalitiesInStudy, dcm.NumberOfStudyRelatedInstances} {
				attrs.Set(tg, dcm.DictionaryVR(tg))
			}
		}
	default:
		return fmt.Errorf("--model %q: want study, patient or worklist", model)
	}
	d, err := f.dialer()
	if err != nil {
		return err
	}
	a, err := d.Associate(ctx, t.addr, t.aet, []dimse.Proposal{{AbstractSyntax: as,
		TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}}})
	if err != nil {
		return err
	}
	defer a.Close()
	n := 0
	err = a.Find(ctx, as, attrs, func(m dcm.Attrs) error {
		n++
		fmt.Fprintf(stdout, "# match %d\n", n)
		printAttrs(stdout, m, "")
		return nil
	})
	if err != nil {
		return err
	}
	if n == 1 {
		fmt.Fprintln(stdout, "1 match")
	} else {
		fmt.Fprintf(stdout, "%d matches\n", n)
	}
	return a.Release()
}

func defaultWorklistKeys() dcm.Attrs {
	var a dcm.Attrs
	for _, tg := range []dcm.Tag{dcm.AccessionNumber, dcm.PatientName, dcm.PatientID, dcm.PatientBirthDate, dcm.StudyInstanceUID} {
		a.Set(tg, dcm.DictionaryVR(tg))
	}
	var sps dcm.Attrs
	for _, tg := range []dcm.Tag{dcm.Modality, 0x00400001, 0x00400002, 0x00400007} {
		sps.Set(tg, dcm.DictionaryVR(tg))
	}
	a.SetSequence(0x00400100, sps)
	return a
}

func printAttrs(w io.Writer, attrs dcm.Attrs, indent string) {
	for _, at := range attrs {
		name := at.Tag.Keyword()
		if name == "" {
			name = at.Tag.String()
		}
		if at.VR == dcm.SQ {
			fmt.Fprintf(w, "%s%s:\n", indent, name)
			for i, item := range at.Items {
				fmt.Fprintf(w, "%s  - item %d\n", indent, i+1)
				printAttrs(w, item, indent+"    ")
			}
			continue
		}
		fmt.Fprintf(w, "%s%s = %s\n", indent, name, strings.Join(at.Values, `\`))
	}
}

func runMove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f scuFlags
	var keys keyList
	var level, model, dest string
	t, _, err := parseSCU("move", args, stderr, &f, func(fs *flag.FlagSet) {
		fs.Var(&keys, "k", "unique key TAG=VALUE, e.g. -k StudyInstanceUID=1.2.3 (repeatable)")
		fs.StringVar(&level, "level", "STUDY", "retrieve level: PATIENT, STUDY, SERIES or IMAGE")
		fs.StringVar(&model, "model", "study", "information model: study or patient")
		fs.StringVar(&dest, "dest", "", "move destination AE title (required), as the peer knows it")
	}, "[flags] --dest AET AET@HOST:PORT")
	if err != nil {
		return err
	}
	if dest == "" {
		return fmt.Errorf("--dest is required: the AE title the peer should send to")
	}
	m, ok := queryModels[model]
	if !ok {
		return fmt.Errorf("--model %q: want study or patient", model)
	}
	attrs, err := parseKeys(keys)
	if err != nil {
		return err
	}
	attrs.Set(dcm.QueryRetrieveLevel, dcm.CS, strings.ToUpper(level))
	d, err := f.dialer()
	if err != nil {
		return err
	}
	a, err := d.Associate(ctx, t.addr, t.aet, []dimse.Proposal{{AbstractSyntax: m[1],
		TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian, dcm.ImplicitVRLittleEndian}}})
	if err != nil {
		return err
	}
	defer a.Close()
	start := time.Now()
	final, failedUIDs, err := a.Move(ctx, m[1], dest, attrs, func(s dimse.SubOps) {
		if f.verbose {
			fmt.Fprintf(stdout, "pending: %d remaining, %d completed, %d failed, %d warning\n", s.Remaining, s.Completed, s.Failed, s.Warning)
		}
	})
	if err != nil {
		return err
	}
	s := dimse.SubOps{}
	if final.SubOps != nil {
		s = *final.SubOps
	}
	fmt.Fprintf(stdout, "C-MOVE to %s: status %04X; %d completed, %d failed, %d warning in %v\n",
		dest, final.Status, s.Completed, s.Failed, s.Warning, time.Since(start).Round(time.Millisecond))
	if final.ErrorComment != "" {
		fmt.Fprintf(stdout, "  %s\n", final.ErrorComment)
	}
	sort.Strings(failedUIDs)
	for _, u := range failedUIDs {
		fmt.Fprintf(stdout, "  failed: %s\n", u)
	}
	if err := a.Release(); err != nil {
		fmt.Fprintf(stderr, "release: %v\n", err)
	}
	if dimse.Kind(final.Status) != dimse.KindSuccess {
		return exitCode(1)
	}
	return nil
}
