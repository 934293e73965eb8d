package dimse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// TestStoreStatus: every way an ingest ends maps to the PS3.4 B.2.3 status
// a sender understands, with a comment that says why.
func TestStoreStatus(t *testing.T) {
	diskFull := fmt.Errorf("store instance 1.2.3: %w", &fs.PathError{Op: "write", Path: "blobs/x", Err: syscall.ENOSPC})
	for _, tc := range []struct {
		name    string
		res     *store.Result
		err     error
		status  uint16
		comment string
	}{
		{"stored", &store.Result{Outcome: store.Stored}, nil, StatusSuccess, ""},
		{"already stored", &store.Result{Outcome: store.AlreadyStored}, nil, StatusSuccess, ""},
		{"unknown character set", &store.Result{Warnings: []string{"Specific Character Set: unknown term \"X\""}}, nil, StatusCoercion, "Specific Character Set"},
		{"frames not located", &store.Result{Warnings: []string{"frames: no pixel data"}}, nil, StatusDataSetDoesNotMatchWarn, "frames"},
		{"missing UID", nil, &store.RejectError{Reason: store.ReasonMissingAttribute, Detail: "no Study Instance UID (0020,000D) in the dataset"}, StatusDataSetMismatch, "no Study Instance UID"},
		{"long UID", nil, &store.RejectError{Reason: store.ReasonInvalidAttribute,
			Detail: `SOP Instance UID (0008,0018) "` + strings.Repeat("1.2", 30) + `": longer than 64 characters`},
			StatusDataSetMismatch, "SOP Instance UID (0008,0018): longer than 64 characters"},
		{"truncated", nil, &store.RejectError{Reason: store.ReasonTruncated, Detail: "element (7FE0,0010) at 1234"}, StatusCannotUnderstand, "truncated"},
		{"duplicate", nil, &store.RejectError{Reason: store.ReasonConflict, Detail: "SOP Instance UID 1.2.3 already stored"}, StatusDuplicateConflict, "conflict"},
		{"disk full", nil, diskFull, StatusOutOfResources, "disk full"},
		{"shutting down", nil, context.Canceled, StatusOutOfResources, "shutting down"},
		{"other", nil, errors.New("pebble: corrupt"), StatusProcessingFailure, "server log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, comment := storeStatus(tc.res, tc.err)
			if status != tc.status || !strings.Contains(comment, tc.comment) {
				t.Errorf("got %04X %q, want %04X containing %q", status, comment, tc.status, tc.comment)
			}
			if len(truncateComment(comment)) != len(comment) && tc.status != StatusSuccess {
				t.Errorf("comment %q does not fit Error Comment (LO, 64)", comment)
			}
		})
	}
}

// TestStoreWithoutUsableContext: our SCU refuses, before sending anything,
// a data set no accepted context can carry (JPEG where only uncompressed
// was accepted), converts one it can (big endian to explicit little
// endian), and the association stays usable throughout.
func TestStoreWithoutUsableContext(t *testing.T) {
	srv := startServer(t, nil)
	ctx := context.Background()
	d := Dialer{CallingAE: "TESTSCU"}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}},
		{AbstractSyntax: synth.IntraOralForPresentation, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = a.Store(ctx, StoreRequest{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: "1.2.3",
		TransferSyntax: dcm.JPEGBaseline8Bit, Data: strings.NewReader("not read")})
	if !errors.Is(err, ErrNoContext) {
		t.Fatalf("JPEG data set on an uncompressed-only association: %v, want ErrNoContext", err)
	}
	if err := a.Echo(ctx); err != nil {
		t.Fatalf("association unusable after the refusal: %v", err)
	}

	b, err := synth.Bytes(synth.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := dcm.ParsePart10(bytes.NewReader(b), dcm.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var big bytes.Buffer
	le, _ := dcm.LookupTransferSyntax(dcm.ExplicitVRLittleEndian)
	be, _ := dcm.LookupTransferSyntax(dcm.ExplicitVRBigEndian)
	if err := dcm.Transcode(&big, bytes.NewReader(b[f.DatasetOffset:]), le, be); err != nil {
		t.Fatal(err)
	}
	sop := f.Dataset.String(dcm.SOPInstanceUID)
	rsp, err := a.Store(ctx, StoreRequest{SOPClassUID: synth.IntraOralForPresentation, SOPInstanceUID: sop,
		TransferSyntax: dcm.ExplicitVRBigEndian, Data: &big})
	if err != nil || rsp.Status != StatusSuccess {
		t.Fatalf("big endian data set converted on the way: %v %+v", err, rsp)
	}
	in, err := srv.Store.OpenInstance(ctx, sop)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, err := io.ReadAll(in.DatasetReader())
	if err != nil {
		t.Fatal(err)
	}
	if in.TransferSyntax != dcm.ExplicitVRLittleEndian || !bytes.Equal(got, b[f.DatasetOffset:]) {
		t.Errorf("stored %s, %d dataset bytes; want explicit little endian, the original's %d bytes", in.TransferSyntax, len(got), len(b)-int(f.DatasetOffset))
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}
