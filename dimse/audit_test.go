package dimse

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

type memAuditor struct {
	mu   sync.Mutex
	got  []Access
	fail bool
}

func (m *memAuditor) RecordAccess(_ context.Context, a Access) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("audit log down")
	}
	m.got = append(m.got, a)
	return nil
}

func (m *memAuditor) take() []Access {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.got
	m.got = nil
	return out
}

func (m *memAuditor) setFail(v bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = v
}

// TestAudit: C-FIND and C-MOVE are recorded with the calling AE, the URN
// and the NHS number before anything is sent, and refused when the audit
// log cannot take the record.
func TestAudit(t *testing.T) {
	dest := startServer(t, nil)
	auditor := &memAuditor{}
	src := startServer(t, func(s *Server) {
		s.Auditor = auditor
		s.Policy.Peers = append(s.Policy.Peers, Peer{AETitle: "MOLAR", Host: "127.0.0.1", Port: dest.Port})
	})
	spec := synth.Spec{AccessionNumber: "URNAUDIT01", PatientID: "9990000018", StudyUID: dcm.NewUID()}
	for range 2 {
		spec.SOPInstanceUID = dcm.NewUID()
		b, err := synth.Bytes(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Store.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	d := Dialer{CallingAE: "HOSPITALPACS"}
	a, err := d.Associate(ctx, src.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
		{AbstractSyntax: StudyRootMove, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	find := func() error {
		keys := dcm.Attrs{{Tag: dcm.AccessionNumber, VR: dcm.SH, Values: []string{"URNAUDIT01"}},
			{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}}, {Tag: dcm.PatientName, VR: dcm.PN}}
		return a.Find(ctx, StudyRootFind, keys, func(dcm.Attrs) error { return nil })
	}
	move := func() (*Command, error) {
		keys := dcm.Attrs{{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}},
			{Tag: dcm.StudyInstanceUID, VR: dcm.UI, Values: []string{spec.StudyUID}}}
		rsp, _, err := a.Move(ctx, StudyRootMove, "MOLAR", keys, nil)
		return rsp, err
	}
	if err := find(); err != nil {
		t.Fatal(err)
	}
	if rsp, err := move(); err != nil || rsp.Status != StatusSuccess {
		t.Fatalf("C-MOVE: %v %+v", err, rsp)
	}
	got := auditor.take()
	if len(got) != 2 {
		t.Fatalf("%d accesses recorded, want 2: %+v", len(got), got)
	}
	if f := got[0]; f.Operation != "C-FIND" || f.CallingAE != "HOSPITALPACS" || f.AccessionNumber != "URNAUDIT01" || f.Query != "AccessionNumber=URNAUDIT01" || f.Client == "" {
		t.Errorf("C-FIND access: %+v", f)
	}
	if m := got[1]; m.Operation != "C-MOVE" || m.Destination != "MOLAR" || m.StudyUID != spec.StudyUID || m.AccessionNumber != "URNAUDIT01" || m.PatientID != "9990000018" || m.Instances != 2 {
		t.Errorf("C-MOVE access: %+v", m)
	}

	auditor.setFail(true)
	var se *StatusError
	if err := find(); !errors.As(err, &se) || se.Status != StatusOutOfResources {
		t.Errorf("C-FIND with the audit log down: %v, want status A700", err)
	}
	rsp, err := move()
	if err != nil || rsp.Status != StatusOutOfResourcesSubops || rsp.SubOps == nil || rsp.SubOps.Completed != 0 {
		t.Errorf("C-MOVE with the audit log down: %v %+v, want A702 with nothing sent", err, rsp)
	}
}

// TestAuditWorklist: a worklist query shows patients, so it is recorded
// like any C-FIND, and refused when it cannot be.
func TestAuditWorklist(t *testing.T) {
	auditor := &memAuditor{}
	srv := startServer(t, func(s *Server) {
		s.Auditor = auditor
		s.Worklist = testWorklist
	})
	ctx := context.Background()
	d := Dialer{CallingAE: "PANORAMIC1"}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", []Proposal{{AbstractSyntax: WorklistFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	query := func() (int, error) {
		n := 0
		keys := dcm.Attrs{{Tag: dcm.AccessionNumber, VR: dcm.SH}, {Tag: dcm.PatientName, VR: dcm.PN}}
		err := a.Find(ctx, WorklistFind, keys, func(dcm.Attrs) error { n++; return nil })
		return n, err
	}
	if n, err := query(); err != nil || n == 0 {
		t.Fatalf("worklist C-FIND: %d items, %v", n, err)
	}
	if got := auditor.take(); len(got) != 1 || got[0].Operation != "MWL C-FIND" || got[0].CallingAE != "PANORAMIC1" {
		t.Errorf("accesses recorded: %+v", got)
	}
	auditor.setFail(true)
	var se *StatusError
	if n, err := query(); !errors.As(err, &se) || se.Status != StatusOutOfResources || n != 0 {
		t.Errorf("worklist with the audit log down: %d items, %v; want none and A700", n, err)
	}
}
