package dicomweb_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molar-pacs/molar/dicomweb"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
)

// TestE2EDICOMwebClient drives the service with dicomweb-client, the npm
// package OHIF uses, under Node.js (testdata/e2e/client.js): STOW, QIDO,
// metadata, bulk data, frames, instances, series and studies, rendered
// images, and requests without a token. Each of the script's steps is a
// subtest; then every request the server answered is checked against the
// audit events recorded for it.
//
// It needs node and npm (Debian: nodejs, npm) and the npm registry the
// first time: the packages pinned by testdata/e2e/package-lock.json are
// installed with npm ci into a cache outside the repository (see
// e2eNodeModules), reused while the lock file is unchanged.
func TestE2EDICOMwebClient(t *testing.T) {
	node := e2eNodeTools(t)
	modules := e2eNodeModules(t)

	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	const token = "e2e-token-4f1c9a"
	rec := &e2eRecorder{}
	svc, err := dicomweb.New(st, dicomweb.Options{Guard: e2eGuard{token: token}, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	seen := &e2eRequestLog{}
	srv := httptest.NewServer(seen.wrap(svc))
	t.Cleanup(srv.Close)
	base := srv.URL + svc.Root()

	dir := t.TempDir()
	manifest := e2eWriteInstances(t, dir)
	manifestPath := filepath.Join(dir, "manifest.json")
	mb, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifestPath, mb, 0o644); err != nil {
		t.Fatal(err)
	}

	// Run the script.
	resultsPath := filepath.Join(dir, "results.json")
	script, err := filepath.Abs(filepath.Join("testdata", "e2e", "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(runCtx, node, script, base, manifestPath, resultsPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MOLAR_E2E_NODE_MODULES="+modules, "MOLAR_E2E_TOKEN="+token)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("client.js ran in %v", time.Since(start).Round(time.Millisecond))

	var res e2eResults
	rb, err := os.ReadFile(resultsPath)
	if err == nil {
		err = json.Unmarshal(rb, &res)
	}
	if err != nil {
		t.Fatalf("client.js wrote no results (%v; exit: %v); its output:\n%s", err, runErr, out.String())
	}
	t.Logf("node %s, dicomweb-client %s", res.Node, res.DICOMwebClient)
	if runErr != nil || !res.Complete {
		t.Logf("client.js output:\n%s", out.String())
	}
	if !res.Complete {
		t.Errorf("client.js stopped before its last step: %s (exit: %v)", res.Error, runErr)
	}
	passed := 0
	for _, s := range res.Steps {
		t.Run(s.Name, func(t *testing.T) {
			if !s.OK {
				t.Fatalf("%s", s.Error)
			}
			if s.Detail != "" {
				t.Log(s.Detail)
			}
		})
		if s.OK {
			passed++
		}
	}
	t.Logf("dicomweb-client steps: %d of %d passed", passed, len(res.Steps))
	if runErr != nil && passed == len(res.Steps) && res.Complete {
		t.Errorf("client.js failed although every step passed: %v\n%s", runErr, out.String())
	}

	t.Run("audit", func(t *testing.T) {
		e2eCheckAudit(t, srv.URL, manifest, res.Requests, seen.all(), rec.all())
	})
}

// ---- Node.js and the npm packages ----

// e2eNodeTools returns the path of node, failing (not skipping) when node
// or npm is missing or too old: CI must run this test.
func e2eNodeTools(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: the DICOMweb end-to-end test runs dicomweb-client under Node.js; install the Debian packages nodejs and npm (scripts/install-deps.sh)")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Fatalf("npm not found: the DICOMweb end-to-end test installs dicomweb-client with npm ci; install the Debian package npm (scripts/install-deps.sh)")
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(string(v)), ".", 2)[0], "v"))
	if major < 18 {
		t.Fatalf("node %s is too old for the DICOMweb end-to-end test: need 18 or later", strings.TrimSpace(string(v)))
	}
	return node
}

// e2eNodeModules installs the packages of testdata/e2e/package-lock.json
// with npm ci, once per lock file, into
// $MOLAR_E2E_NODE_CACHE (default os.UserCacheDir()/molar-e2e-node) under a
// directory named by the hash of package.json and package-lock.json, and
// returns its node_modules. The install is made in a temporary directory
// beside it and renamed into place when complete, so an interrupted or
// concurrent run never leaves a half-installed cache behind.
func e2eNodeModules(t *testing.T) string {
	t.Helper()
	src := filepath.Join("testdata", "e2e")
	files := []string{"package.json", "package-lock.json"}
	h := sha256.New()
	contents := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		contents[f] = b
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:20]

	root := os.Getenv("MOLAR_E2E_NODE_CACHE")
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		root = filepath.Join(cache, "molar-e2e-node")
	}
	final := filepath.Join(root, key)
	modules := filepath.Join(final, "node_modules")
	if e2eInstalled(final) {
		return modules
	}
	os.RemoveAll(final) // what is there is incomplete or damaged

	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatalf("npm cache directory: %v", err)
	}
	// Installs of runs killed midway.
	if old, _ := filepath.Glob(filepath.Join(root, "*.tmp-*")); len(old) > 0 {
		for _, d := range old {
			if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.RemoveAll(d)
			}
		}
	}
	tmp, err := os.MkdirTemp(root, key+".tmp-")
	if err != nil {
		t.Fatalf("npm cache directory: %v", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tmp, f), contents[f], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci for testdata/e2e failed (%v): the DICOMweb end-to-end test needs the npm registry to install dicomweb-client the first time.\n%s", err, out)
	}
	t.Logf("npm ci installed testdata/e2e's packages in %v into %s", time.Since(start).Round(time.Millisecond), final)
	if err := os.WriteFile(filepath.Join(tmp, ".installed"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !e2eInstalled(tmp) {
		t.Fatalf("npm ci did not install dicomweb-client and xhr2 into %s:\n%s", tmp, out)
	}
	// The rename fails when another run installed the same lock file
	// meanwhile, and then what it installed is used.
	if err := os.Rename(tmp, final); err != nil && !e2eInstalled(final) {
		t.Fatalf("npm cache: %v", err)
	}
	return modules
}

// e2eInstalled reports whether dir holds a complete install.
func e2eInstalled(dir string) bool {
	for _, f := range []string{".installed", "node_modules/dicomweb-client/package.json", "node_modules/xhr2/package.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// ---- the server's side: guard, recorder, request log ----

// e2eGuard admits requests bearing its token.
type e2eGuard struct{ token string }

const e2eUser = "e2e-clinician"

func (g e2eGuard) Check(r *http.Request, _ dicomweb.Action) (dicomweb.Caller, error) {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return dicomweb.Caller{}, &dicomweb.AccessError{Status: http.StatusUnauthorized,
			Message: "Sign-in required: send a bearer token.", Challenge: `Bearer realm="molar-e2e"`}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(g.token)) != 1 {
		return dicomweb.Caller{}, &dicomweb.AccessError{Status: http.StatusUnauthorized,
			Message: "That token is not valid.", Challenge: `Bearer realm="molar-e2e", error="invalid_token"`}
	}
	return dicomweb.Caller{User: e2eUser, Role: "clinician", Org: "e2e-practice"}, nil
}

// e2eRecorder keeps the audit events.
type e2eRecorder struct {
	mu     sync.Mutex
	events []dicomweb.Event
}

func (r *e2eRecorder) Record(_ context.Context, ev dicomweb.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	return nil
}

func (r *e2eRecorder) all() []dicomweb.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dicomweb.Event(nil), r.events...)
}

// e2eRequestLog notes each request the server answered, with its status.
type e2eRequestLog struct {
	mu   sync.Mutex
	reqs []e2eSeen
}

type e2eSeen struct {
	Method, URI string // URI as the Recorder gets it: r.URL.RequestURI()
	Status      int
}

func (l *e2eRequestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &e2eStatusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			l.mu.Lock()
			l.reqs = append(l.reqs, e2eSeen{Method: r.Method, URI: r.URL.RequestURI(), Status: status})
			l.mu.Unlock()
		}()
		h.ServeHTTP(sw, r)
	})
}

func (l *e2eRequestLog) all() []e2eSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]e2eSeen(nil), l.reqs...)
}

type e2eStatusWriter struct {
	http.ResponseWriter
	status int
}

func (w *e2eStatusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *e2eStatusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *e2eStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ---- test data ----

type e2eManifest struct {
	Studies []*e2eStudy `json:"studies"`
}

type e2eStudy struct {
	StudyUID    string       `json:"studyUID"`
	Accession   string       `json:"accession"`
	PatientID   string       `json:"patientID"`
	PatientName string       `json:"patientName"`
	Description string       `json:"description"`
	Date        string       `json:"date"`
	Modalities  []string     `json:"modalities"`
	Series      []*e2eSeries `json:"series"`
}

type e2eSeries struct {
	SeriesUID string         `json:"seriesUID"`
	Modality  string         `json:"modality"`
	Number    int            `json:"number"`
	Instances []*e2eInstance `json:"instances"`
}

type e2eInstance struct {
	SOPUID      string `json:"sopUID"`
	SOPClassUID string `json:"sopClassUID"`
	Rows        int    `json:"rows"`
	Columns     int    `json:"columns"`
	Frames      int    `json:"frames"`
	File        string `json:"file"`
	SHA256      string `json:"sha256"`
	PixelFile   string `json:"pixelFile"`
}

// e2eWriteInstances makes two studies with synth: one with an intra-oral
// series of two images and a panoramic series of one, the other with an
// intra-oral series of one image and one two-frame image; the images of
// different sizes, none square but the first two. It writes their Part 10
// files and raw pixel data (all frames) to dir and returns the manifest
// for client.js.
func e2eWriteInstances(t *testing.T, dir string) *e2eManifest {
	t.Helper()
	type img struct {
		rows, cols, frames int
		seed               int64
	}
	type series struct {
		modality, class string
		imgs            []img
	}
	type study struct {
		accession, patientID, patientName, description, date string
		series                                               []series
	}
	plan := []study{
		{"E2E-URN-0001", "9434765919", "E2E^ALICE", "Bitewings and panoramic", "20260302", []series{
			{"IO", synth.IntraOralForPresentation, []img{{64, 64, 1, 1}, {64, 64, 1, 2}}},
			{"PX", synth.DXForPresentation, []img{{96, 128, 1, 3}}},
		}},
		{"E2E-URN-0002", "9434765870", "E2E^BOB", "Periapical", "20260303", []series{
			{"IO", synth.IntraOralForPresentation, []img{{80, 48, 1, 4}, {40, 56, 2, 5}}},
		}},
	}
	m := &e2eManifest{}
	n := 0
	for si, sp := range plan {
		st := &e2eStudy{StudyUID: fmt.Sprintf("1.2.826.0.1.3680043.10.1427.%d", si+1), Accession: sp.accession,
			PatientID: sp.patientID, PatientName: sp.patientName, Description: sp.description, Date: sp.date}
		mods := map[string]bool{}
		for ri, sr := range sp.series {
			se := &e2eSeries{SeriesUID: fmt.Sprintf("%s.%d", st.StudyUID, ri+1), Modality: sr.modality, Number: ri + 1}
			if !mods[sr.modality] {
				mods[sr.modality] = true
				st.Modalities = append(st.Modalities, sr.modality)
			}
			for ii, im := range sr.imgs {
				n++
				spec := synth.Spec{
					StudyUID: st.StudyUID, SeriesUID: se.SeriesUID, SOPInstanceUID: fmt.Sprintf("%s.%d", se.SeriesUID, ii+1),
					SOPClassUID: sr.class, Modality: sr.modality,
					PatientName: sp.patientName, PatientID: sp.patientID, PatientBirthDate: "19800101", PatientSex: "F",
					AccessionNumber: sp.accession, StudyDate: sp.date, StudyTime: "101500", StudyDescription: sp.description,
					SeriesNumber: se.Number, InstanceNumber: ii + 1,
					Rows: im.rows, Columns: im.cols, BitsStored: 12, Seed: im.seed,
				}
				pixels := synth.Pixels(im.rows, im.cols, 12, im.seed)
				if im.frames > 1 {
					for f := 1; f < im.frames; f++ {
						pixels = append(pixels, synth.Pixels(im.rows, im.cols, 12, im.seed+int64(100*f))...)
					}
					spec.Extra = map[dcm.Tag]synth.Value{
						dcm.NumberOfFrames: {VR: dcm.IS, Value: strconv.Itoa(im.frames)},
						dcm.PixelData:      {VR: dcm.OW, Value: string(pixels)},
					}
				}
				b, err := synth.Bytes(spec)
				if err != nil {
					t.Fatal(err)
				}
				// The pixel data is the file's last element.
				if !bytes.HasSuffix(b, pixels) {
					t.Fatalf("synth instance %d does not end with its pixel data", n)
				}
				in := &e2eInstance{SOPUID: spec.SOPInstanceUID, SOPClassUID: sr.class, Rows: im.rows, Columns: im.cols, Frames: im.frames,
					File: filepath.Join(dir, fmt.Sprintf("instance%d.dcm", n)), PixelFile: filepath.Join(dir, fmt.Sprintf("instance%d.pixels", n))}
				sum := sha256.Sum256(b)
				in.SHA256 = hex.EncodeToString(sum[:])
				if err := os.WriteFile(in.File, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(in.PixelFile, pixels, 0o644); err != nil {
					t.Fatal(err)
				}
				se.Instances = append(se.Instances, in)
			}
			st.Series = append(st.Series, se)
		}
		m.Studies = append(m.Studies, st)
	}
	return m
}

// ---- results and the audit check ----

type e2eResults struct {
	Node           string `json:"node"`
	DICOMwebClient string `json:"dicomwebClient"`
	Steps          []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
		Error  string `json:"error"`
	} `json:"steps"`
	Requests []e2eSent `json:"requests"`
	Complete bool      `json:"complete"`
	Error    string    `json:"error"`
}

// e2eSent is a request dicomweb-client sent, as client.js noted it.
type e2eSent struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// e2eCheckAudit checks that the server saw every request dicomweb-client
// sent, and that each one it answered with success left exactly one audit
// event of the right action, naming the right study, the caller, and for
// reads of a study its accession number and patient ID; and that refused
// requests left none.
func e2eCheckAudit(t *testing.T, serverURL string, m *e2eManifest, sent []e2eSent, seen []e2eSeen, events []dicomweb.Event) {
	seenURIs := map[string]int{}
	for _, s := range seen {
		seenURIs[s.Method+" "+s.URI]++
	}
	for _, r := range sent {
		u, err := url.Parse(r.URL)
		if err != nil || !strings.HasPrefix(r.URL, serverURL+"/") {
			t.Errorf("dicomweb-client sent %s %s, not to the test server", r.Method, r.URL)
			continue
		}
		if seenURIs[r.Method+" "+u.RequestURI()] == 0 {
			t.Errorf("dicomweb-client sent %s %s, which the server did not see", r.Method, r.URL)
		}
	}
	if len(sent) != len(seen) {
		t.Errorf("dicomweb-client sent %d requests, the server saw %d", len(sent), len(seen))
	}

	studies := map[string]*e2eStudy{}
	for _, st := range m.Studies {
		studies[st.StudyUID] = st
	}
	// Events by action and resource, in the order recorded; each request
	// takes the first left for its own action and URI.
	type evKey struct {
		action dicomweb.Action
		uri    string
	}
	pending := map[evKey][]dicomweb.Event{}
	for _, ev := range events {
		k := evKey{ev.Action, ev.Resource}
		pending[k] = append(pending[k], ev)
	}
	take := func(k evKey) (dicomweb.Event, bool) {
		evs := pending[k]
		if len(evs) == 0 {
			return dicomweb.Event{}, false
		}
		pending[k] = evs[1:]
		return evs[0], true
	}
	retrievals, searches, stores, refused := 0, 0, 0, 0
	for _, s := range seen {
		action := e2eAction(s.Method, s.URI)
		switch {
		case s.Status == http.StatusUnauthorized:
			refused++ // it must leave no event: see below
			continue
		case s.Status >= 300:
			// A failure is its step's to report; an event for it (a
			// refused STOW is audited too) is allowed, not required.
			take(evKey{action, s.URI})
			continue
		}
		ev, ok := take(evKey{action, s.URI})
		if !ok {
			t.Errorf("%s %s answered %d with no %v audit event", s.Method, s.URI, s.Status, action)
			continue
		}
		if ev.Caller.User != e2eUser {
			t.Errorf("%s %s: audit caller %q, want %q", s.Method, s.URI, ev.Caller.User, e2eUser)
		}
		if ev.Client == "" {
			t.Errorf("%s %s: audit event without the client's address", s.Method, s.URI)
		}
		study, series, sop := e2eURIUIDs(s.URI)
		if ev.StudyUID != study || ev.SeriesUID != series || ev.SOPInstanceUID != sop {
			t.Errorf("%s %s: audit names study %q series %q instance %q, want %q %q %q",
				s.Method, s.URI, ev.StudyUID, ev.SeriesUID, ev.SOPInstanceUID, study, series, sop)
		}
		switch action {
		case dicomweb.ActionStore:
			stores++
		case dicomweb.ActionSearch:
			searches++
		case dicomweb.ActionRetrieve:
			retrievals++
			if st := studies[study]; st == nil {
				t.Errorf("%s %s: retrieval of an unknown study", s.Method, s.URI)
			} else if ev.AccessionNumber != st.Accession || ev.PatientID != st.PatientID {
				t.Errorf("%s %s: audit has accession number %q and patient ID %q, want %q and %q",
					s.Method, s.URI, ev.AccessionNumber, ev.PatientID, st.Accession, st.PatientID)
			}
		}
	}
	// What is left belongs to no request: a refused (401) request's, or a
	// second event for one request.
	for k, evs := range pending {
		for _, ev := range evs {
			t.Errorf("audit event that no request accounts for (a 401 must leave none): %v %s %+v", k.action, k.uri, ev)
		}
	}
	t.Logf("%d requests: %d retrievals, %d searches, %d stores audited; %d refused with 401", len(seen), retrievals, searches, stores, refused)
	if retrievals == 0 || searches == 0 || stores == 0 {
		t.Errorf("expected audited retrievals, searches and stores; got %d, %d, %d", retrievals, searches, stores)
	}
}

// e2eAction is the action a request to uri performs.
func e2eAction(method, uri string) dicomweb.Action {
	if method == http.MethodPost {
		return dicomweb.ActionStore
	}
	p, _, _ := strings.Cut(uri, "?")
	switch p[strings.LastIndex(p, "/")+1:] {
	case "studies", "series", "instances":
		return dicomweb.ActionSearch
	}
	return dicomweb.ActionRetrieve
}

// e2eURIUIDs reads the study, series and instance UIDs from a WADO-RS URI.
func e2eURIUIDs(uri string) (study, series, sop string) {
	p, _, _ := strings.Cut(uri, "?")
	parts := strings.Split(p, "/")
	for i := 0; i+1 < len(parts); i++ {
		switch parts[i] {
		case "studies":
			study = parts[i+1]
		case "series":
			series = parts[i+1]
		case "instances":
			sop = parts[i+1]
		}
	}
	return study, series, sop
}
