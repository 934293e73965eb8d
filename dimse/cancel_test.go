package dimse

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// slowArchive is the real store with a delay before each match it hands
// out and each instance it ingests, so operations take long enough for a
// test to act while they run without depending on how fast the machine is.
type slowArchive struct {
	Archive
	perMatch, perIngest time.Duration
}

func (s slowArchive) QueryFunc(ctx context.Context, q store.Query, fn func(store.Match) error) (bool, error) {
	return s.Archive.QueryFunc(ctx, q, func(m store.Match) error {
		if s.perMatch > 0 {
			select {
			case <-time.After(s.perMatch):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return fn(m)
	})
}

func (s slowArchive) IngestDataset(ctx context.Context, meta store.Meta, r io.Reader) (*store.Result, error) {
	time.Sleep(s.perIngest)
	return s.Archive.IngestDataset(ctx, meta, r)
}

// ingestSeries stores n small instances of one series straight into st
// and returns the study and series UIDs.
func ingestSeries(t testing.TB, st *store.Store, n int) (study, series string) {
	t.Helper()
	study, series = dcm.NewUID(), dcm.NewUID()
	for i := 1; i <= n; i++ {
		b, err := synth.Bytes(synth.Spec{StudyUID: study, SeriesUID: series, InstanceNumber: i,
			PatientName: "CANCEL^TEST", PatientID: "9990000018", AccessionNumber: "CANCEL1",
			Rows: 4, Columns: 4, Seed: int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return study, series
}

func imageKeys(study, series string) dcm.Attrs {
	return dcm.Attrs{
		{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"IMAGE"}},
		{Tag: dcm.SOPInstanceUID, VR: dcm.UI},
		{Tag: dcm.StudyInstanceUID, VR: dcm.UI, Values: []string{study}},
		{Tag: dcm.SeriesInstanceUID, VR: dcm.UI, Values: []string{series}},
	}
}

var findProposals = []Proposal{
	{AbstractSyntax: VerificationSOPClass, TransferSyntaxes: []string{dcm.ImplicitVRLittleEndian}},
	{AbstractSyntax: StudyRootFind, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}},
}

const cancelInstances = 200

// startCancelServer serves 200 instances, handing out a match every 5 ms
// (a whole C-FIND takes a second).
func startCancelServer(t *testing.T) (*testServer, string, string) {
	srv := startServer(t, func(s *Server) { s.Archive = slowArchive{Archive: s.Archive, perMatch: 5 * time.Millisecond} })
	study, series := ingestSeries(t, srv.Store, cancelInstances)
	return srv, study, series
}

var errEnough = errors.New("enough matches")

// TestFindCancel: our SCU's Find sends C-CANCEL when its callback fails;
// the server stops early and the association stays usable.
func TestFindCancel(t *testing.T) {
	srv, study, series := startCancelServer(t)
	ctx := context.Background()
	d := Dialer{CallingAE: "CANCELLER", Timeout: 5 * time.Second}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", findProposals)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	calls := 0
	start := time.Now()
	err = a.Find(ctx, StudyRootFind, imageKeys(study, series), func(m dcm.Attrs) error {
		calls++
		if m.First(dcm.SOPInstanceUID) == "" {
			t.Errorf("match without SOP Instance UID: %v", m)
		}
		if calls == 5 {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatalf("Find: %v", err)
	}
	if calls != 5 {
		t.Fatalf("callback called %d times, want 5", calls)
	}
	if took := time.Since(start); took > time.Duration(cancelInstances)*5*time.Millisecond*3/4 {
		t.Errorf("Find took %v; the server went on after the C-CANCEL", took)
	}
	// The server says how many matches it sent before it saw the cancel.
	m := regexp.MustCompile(`C-FIND cancelled.*matches_sent=(\d+)`).FindStringSubmatch(srv.Logs.String())
	if m == nil {
		t.Fatalf("the server did not log a cancelled C-FIND")
	}
	if sent, _ := strconv.Atoi(m[1]); sent >= cancelInstances/4 {
		t.Fatalf("server sent %d of %d matches despite the C-CANCEL", sent, cancelInstances)
	}
	if err := a.Echo(ctx); err != nil {
		t.Fatalf("C-ECHO after the cancelled C-FIND: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestFindCancelStatus drives the exchange by hand to see what Find hides:
// the C-CANCEL-RQ goes out after 5 pending responses and the final
// response carries status FE00.
func TestFindCancelStatus(t *testing.T) {
	srv, study, series := startCancelServer(t)
	ctx := context.Background()
	d := Dialer{CallingAE: "CANCELLER", Timeout: 5 * time.Second, IdleTimeout: 10 * time.Second}
	a, err := d.Associate(ctx, srv.Addr, "MOLAR", findProposals)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pc := a.ContextFor(StudyRootFind)
	body, err := encodeIdentifier(imageKeys(study, series), pc.TransferSyntax, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := a.NextMessageID()
	if err := a.Send(pc, &Command{Field: CFindRQ, MessageID: id, AffectedSOPClassUID: StudyRootFind}, bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	pending := 0
	var final *Command
	for final == nil {
		rsp, err := a.Response(ctx, id)
		if err != nil {
			t.Fatalf("after %d pending responses: %v", pending, err)
		}
		if rsp.Data != nil {
			io.Copy(io.Discard, rsp.Data)
			rsp.Data.Close()
		}
		switch c := rsp.Command; {
		case c.Status == StatusPending || c.Status == StatusPendingWarning:
			pending++
			if pending == 5 {
				if err := a.Send(pc, &Command{Field: CCancelRQ, RespondingTo: id}, nil); err != nil {
					t.Fatal(err)
				}
			}
		default:
			final = c
		}
	}
	if final.Status != StatusCancel {
		t.Fatalf("final status %04X after %d pending responses, want FE00 (Cancel)", final.Status, pending)
	}
	if final.HasDataSet {
		t.Errorf("final C-FIND-RSP announces a data set")
	}
	if pending < 5 || pending >= cancelInstances/4 {
		t.Fatalf("%d pending responses of %d matches with a C-CANCEL after the 5th", pending, cancelInstances)
	}
	if err := a.Echo(ctx); err != nil {
		t.Fatalf("C-ECHO after the cancelled C-FIND: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestFindReturnsCallbackError: when fn fails, Find cancels the query, and
// its caller should learn that it got part of the matches: Find should
// return fn's error, not nil as after a complete query.
func TestFindReturnsCallbackError(t *testing.T) {
	srv := startServer(t, nil)
	study, series := ingestSeries(t, srv.Store, 12)
	d := Dialer{CallingAE: "CANCELLER", Timeout: 5 * time.Second}
	a, err := d.Associate(context.Background(), srv.Addr, "MOLAR", findProposals)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.Find(context.Background(), StudyRootFind, imageKeys(study, series), func(dcm.Attrs) error { return errEnough })
	if !errors.Is(err, errEnough) {
		t.Fatalf("Find after its callback failed returned %v, want the callback's error", err)
	}
}

// TestIdleTimeoutDuringLongOperation: IdleTimeout is for associations with
// nothing going on. A C-MOVE SCU rightly sends nothing while it waits for
// the move's responses, so an operation longer than IdleTimeout must not
// get its association aborted (here: 3 sub-operations to a destination
// taking 400 ms each, IdleTimeout 500 ms).
func TestIdleTimeoutDuringLongOperation(t *testing.T) {
	dest := startServer(t, func(s *Server) {
		s.Policy.AETitle = "DEST"
		s.Archive = slowArchive{Archive: s.Archive, perIngest: 400 * time.Millisecond}
	})
	src := startServer(t, func(s *Server) {
		s.IdleTimeout = 500 * time.Millisecond
		s.Policy.Peers = []Peer{{AETitle: "DEST", Host: "127.0.0.1", Port: dest.Port}}
	})
	study, _ := ingestSeries(t, src.Store, 3)
	ctx := context.Background()
	d := Dialer{CallingAE: "MOVER", Timeout: 5 * time.Second}
	a, err := d.Associate(ctx, src.Addr, "MOLAR", []Proposal{
		{AbstractSyntax: StudyRootMove, TransferSyntaxes: []string{dcm.ExplicitVRLittleEndian}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	keys := dcm.Attrs{
		{Tag: dcm.QueryRetrieveLevel, VR: dcm.CS, Values: []string{"STUDY"}},
		{Tag: dcm.StudyInstanceUID, VR: dcm.UI, Values: []string{study}},
	}
	final, failed, err := a.Move(ctx, StudyRootMove, "DEST", keys, nil)
	if err != nil {
		t.Fatalf("C-MOVE of 3 instances taking ~1.2 s with IdleTimeout 500 ms: %v", err)
	}
	if final.Status != StatusSuccess || final.SubOps == nil || final.SubOps.Completed != 3 || len(failed) != 0 {
		t.Fatalf("C-MOVE final %+v sub-operations %+v failed %v", final, final.SubOps, failed)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
}
