package dicomweb

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

const testToken = "test-token"

// tokenGuard admits the holder of testToken.
type tokenGuard struct{}

func (tokenGuard) Check(r *http.Request, a Action) (Caller, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(testToken)) != 1 {
		return Caller{}, &AccessError{Status: http.StatusUnauthorized, Message: "sign in", Challenge: `Bearer realm="test"`}
	}
	return Caller{User: "tester", Role: "clinician"}, nil
}

// memRecorder keeps events; fail makes Record fail.
type memRecorder struct {
	mu     sync.Mutex
	events []Event
	fail   bool
}

func (m *memRecorder) Record(_ context.Context, ev Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("audit disk gone")
	}
	m.events = append(m.events, ev)
	return nil
}

func (m *memRecorder) setFail(fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = fail
}

func (m *memRecorder) take() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.events
	m.events = nil
	return ev
}

type testServer struct {
	*httptest.Server
	store *store.Store
	rec   *memRecorder
	svc   *Service
	logs  *bytes.Buffer
}

func startService(t testing.TB, opts Options) *testServer {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rec := &memRecorder{}
	if opts.Guard == nil {
		opts.Guard = tokenGuard{}
	}
	opts.Recorder = rec
	logs := &bytes.Buffer{}
	opts.Log = slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	svc, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		srv.Close()
		st.Close()
	})
	return &testServer{Server: srv, store: st, rec: rec, svc: svc, logs: logs}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ingest stores Part 10 bytes directly.
func (ts *testServer) ingest(t testing.TB, b []byte) *store.Result {
	t.Helper()
	res, err := ts.store.Ingest(context.Background(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// get sends an authenticated GET with the given Accept.
func (ts *testServer) get(t testing.TB, path, accept string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// part is one part of a multipart response.
type part struct {
	contentType string
	body        []byte
}

func readMultipart(t testing.TB, resp *http.Response) (string, []part) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		t.Fatalf("Content-Type %q: want multipart/related (%v)", resp.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var parts []part
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading multipart: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{contentType: p.Header.Get("Content-Type"), body: b})
	}
	return params["type"], parts
}

// fixture is a small archive: two studies, one with two series.
type fixture struct {
	studyA, studyB     string
	seriesA1, seriesA2 string
	files              map[string][]byte // by SOP Instance UID
	sops               []string
}

func seed(t testing.TB, ts *testServer) *fixture {
	t.Helper()
	f := &fixture{studyA: dcm.NewUID(), studyB: dcm.NewUID(), seriesA1: dcm.NewUID(), seriesA2: dcm.NewUID(), files: map[string][]byte{}}
	specs := []synth.Spec{
		{StudyUID: f.studyA, SeriesUID: f.seriesA1, AccessionNumber: "URNAAA0001", PatientName: "SMITH^OLIVIA", PatientID: "9990000018", InstanceNumber: 1, Modality: "IO"},
		{StudyUID: f.studyA, SeriesUID: f.seriesA1, AccessionNumber: "URNAAA0001", PatientName: "SMITH^OLIVIA", PatientID: "9990000018", InstanceNumber: 2, Modality: "IO"},
		{StudyUID: f.studyA, SeriesUID: f.seriesA2, AccessionNumber: "URNAAA0001", PatientName: "SMITH^OLIVIA", PatientID: "9990000018", Modality: "PX",
			SOPClassUID: synth.DXForPresentation, Rows: 40, Columns: 90},
		{StudyUID: f.studyB, AccessionNumber: "URNBBB0002", PatientName: "JONES^ARTHUR", PatientID: "9990000026", Modality: "IO"},
	}
	for i := range specs {
		specs[i].SOPInstanceUID = dcm.NewUID()
		b, err := synth.Bytes(specs[i])
		if err != nil {
			t.Fatal(err)
		}
		ts.ingest(t, b)
		f.files[specs[i].SOPInstanceUID] = b
		f.sops = append(f.sops, specs[i].SOPInstanceUID)
	}
	return f
}
