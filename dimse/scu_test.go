package dimse

import (
	"bytes"
	"context"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// TestSCURoundTrip drives our own SCU against our own SCP: echo, store,
// find by AccessionNumber in one association.
func TestSCURoundTrip(t *testing.T) {
	srv := startServer(t, nil)
	ctx := context.Background()
	d := Dialer{CallingAE: "TESTSCU"}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}},
		{AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
		{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Echo(ctx); err != nil {
		t.Fatal(err)
	}
	spec := synth.Spec{AccessionNumber: "URN12345", PatientName: "DOE^JANE", PatientID: "9990000018"}
	b, err := synth.Bytes(spec)
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := a.Store(ctx, StoreRequest{SOPClassUID: f.Dataset.String(dcm.SOPClassUID), SOPInstanceUID: f.Dataset.String(dcm.SOPInstanceUID),
		TransferSyntax: f.TransferSyntax.UID, Data: bytes.NewReader(b[f.DatasetOffset:])})
	if err != nil {
		t.Fatal(err)
	}
	if rsp.Status != StatusSuccess {
		t.Fatalf("C-STORE status %04X %s", rsp.Status, rsp.ErrorComment)
	}
	var got []dcm.Attrs
	keys := dcm.Attrs{
		{Tag: dcm.AccessionNumber, VR: dcm.SH, Values: []string{"URN12345"}},
		{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}},
		{Tag: dcm.PatientName, VR: dcm.PN},
	}
	if err := a.Find(ctx, StudyRootFind, keys, func(m dcm.Attrs) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].First(dcm.PatientName) != "DOE^JANE" {
		t.Fatalf("C-FIND: %+v", got)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}
