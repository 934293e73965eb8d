package dimse

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/molar-pacs/molar/internal/benchdata"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/store"
)

// findBenchStore opens the shared query benchmark store.
func findBenchStore(b *testing.B) *store.Store {
	dir, err := benchdata.QueryStore(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkCFindAccession is a study-level C-FIND by AccessionNumber (the
// referral URN), as a hospital PACS sends it, over one open association
// with 100,000 instances stored: one op is request to final response.
func BenchmarkCFindAccession(b *testing.B) {
	st := findBenchStore(b)
	defer st.Close()
	srv := &Server{Policy: DefaultPolicy("MOLAR"), Archive: st, Log: slog.New(slog.DiscardHandler)}
	srv.Policy.OpenQuery = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	d := Dialer{CallingAE: "BENCHSCU"}
	a, err := d.Associate(ctx, ln.Addr().String(), "MOLAR", []Proposal{{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Release()
	studies := benchdata.QueryStudies
	b.Run("instances=100k", func(b *testing.B) {
		i := 0
		for b.Loop() {
			study := (i * 7919) % studies
			i++
			keys := dcm.Attrs{
				{Tag: dcm.StudyDate, VR: dcm.DA},
				{Tag: dcm.AccessionNumber, VR: dcm.SH, Values: []string{benchdata.Accession(study)}},
				{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}},
				{Tag: dcm.PatientName, VR: dcm.PN},
				{Tag: dcm.PatientID, VR: dcm.LO},
				{Tag: dcm.StudyInstanceUID, VR: dcm.UI},
				{Tag: dcm.NumberOfStudyRelatedInstances, VR: dcm.IS},
			}
			n := 0
			if err := a.Find(ctx, StudyRootFind, keys, func(dcm.Attrs) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != 1 {
				b.Fatalf("study %d: %d matches, want 1", study, n)
			}
		}
	})
}
