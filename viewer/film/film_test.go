package film_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/molar-pacs/molar/dicomweb"
	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/render"
	"github.com/molar-pacs/molar/internal/synth"
	"github.com/molar-pacs/molar/store"
	"github.com/molar-pacs/molar/viewer/film"
)

// The production CSP (cmd/molar sets it on every response), so that the
// viewer is tested under the rules it will run under.
const csp = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Tags the synthetic films add through synth.Spec.Extra.
var (
	tagImagerPixelSpacing = dcm.NewTag(0x0018, 0x1164)
	tagWindowCenter       = dcm.NewTag(0x0028, 0x1050)
	tagWindowWidth        = dcm.NewTag(0x0028, 0x1051)
	tagRescaleIntercept   = dcm.NewTag(0x0028, 0x1052)
	tagRescaleSlope       = dcm.NewTag(0x0028, 0x1053)
	tagSeriesDescription  = dcm.NewTag(0x0008, 0x103E)
)

// allowAll and countRecorder are the DICOMweb Guard and Recorder: everyone
// may read, and reads are kept so the test can see the viewer went
// through DICOMweb.
type allowAll struct{}

func (allowAll) Check(*http.Request, dicomweb.Action) (dicomweb.Caller, error) {
	return dicomweb.Caller{User: "triager", Role: "clinician"}, nil
}

type countRecorder struct {
	mu     sync.Mutex
	events []dicomweb.Event
}

func (c *countRecorder) Record(_ context.Context, ev dicomweb.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return nil
}

func (c *countRecorder) count(substr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ev := range c.events {
		if strings.Contains(ev.Resource, substr) {
			n++
		}
	}
	return n
}

// testFilm is a stored film and what the test knows of its pixels.
type testFilm struct {
	spec        synth.Spec
	photometric render.Photometric
	signed      bool
	slope       float64
	intercept   float64
}

func (f testFilm) ref() map[string]string {
	return map[string]string{"study": f.spec.StudyUID, "series": f.spec.SeriesUID, "instance": f.spec.SOPInstanceUID}
}

// grey is what the server's renderer makes of one stored value with a
// window: the reference the canvas must match.
func (f testFilm) grey(t *testing.T, stored int, win window, invert bool) int {
	t.Helper()
	ts, _ := dcm.LookupTransferSyntax(dcm.ExplicitVRLittleEndian)
	pr := 0
	if f.signed {
		pr = 1
	}
	info := render.Info{Rows: 1, Columns: 1, SamplesPerPixel: 1, Photometric: f.photometric, BitsAllocated: 16,
		BitsStored: f.spec.BitsStored, HighBit: f.spec.BitsStored - 1, PixelRepresentation: pr, NumberOfFrames: 1,
		RescaleSlope: f.slope, RescaleIntercept: f.intercept, TransferSyntax: ts}
	fr, err := render.Decode(binary.LittleEndian.AppendUint16(nil, uint16(stored)), info)
	if err != nil {
		t.Fatal(err)
	}
	img, err := fr.Render(render.Options{Window: render.Window{Center: win.Center, Width: win.Width}, Function: render.Linear, Invert: invert})
	if err != nil {
		t.Fatal(err)
	}
	return int(img.(*image.Gray).Pix[0])
}

type window struct {
	Center float64 `json:"center"`
	Width  float64 `json:"width"`
}

type paneState struct {
	Film         int           `json:"film"`
	Ready        bool          `json:"ready"`
	Exact        bool          `json:"exact"`
	Note         string        `json:"note"`
	Window       window        `json:"window"`
	Invert       bool          `json:"invert"`
	Sharpen      bool          `json:"sharpen"`
	Rotation     int           `json:"rotation"`
	Flipped      bool          `json:"flipped"`
	Zoom         float64       `json:"zoom"`
	Calibrated   bool          `json:"calibrated"`
	Measurements []measurement `json:"measurements"`
}

type measurement struct {
	From       [2]float64 `json:"from"`
	To         [2]float64 `json:"to"`
	Value      float64    `json:"value"`
	Unit       string     `json:"unit"`
	Calibrated bool       `json:"calibrated"`
	Text       string     `json:"text"`
}

type viewerState struct {
	Films      int         `json:"films"`
	Compare    bool        `json:"compare"`
	Fullscreen bool        `json:"fullscreen"`
	Tool       string      `json:"tool"`
	Panes      []paneState `json:"panes"`
}

type loadEvent struct {
	Pane    int     `json:"pane"`
	Film    int     `json:"film"`
	Phase   string  `json:"phase"`
	Exact   bool    `json:"exact"`
	At      float64 `json:"at"`
	Message string  `json:"message"`
}

type point struct{ X, Y float64 }

// The films of the test referral.
type films struct {
	io, quad, opg, small testFilm
}

const (
	// The OPG's two uniform patches: 400 × 400 at x 800 and x 2800, y 600.
	opgBright, opgDark = 60000, 1000
	// The quadrant film's stored values (12-bit signed).
	quadTL, quadTR, quadBL, quadBR = -1000, 200, 1500, -2048
)

func seedFilms(t *testing.T, st *store.Store) films {
	t.Helper()
	const urn = "DEMO4K7Q2X"
	base := func(modality string, n int) synth.Spec {
		return synth.Spec{StudyUID: "2.25.1001", SeriesUID: fmt.Sprintf("2.25.2001%d", n), SOPInstanceUID: fmt.Sprintf("2.25.3001%d", n),
			Modality: modality, PatientName: "SMITH^OLIVIA", PatientID: "9990000018", AccessionNumber: urn,
			StudyDate: "20240305", InstanceNumber: n, Seed: int64(n), Extra: map[dcm.Tag]synth.Value{}}
	}
	var f films

	// A 3-megapixel 12-bit intraoral film, calibrated: columns 0.025 mm
	// apart, rows 0.020 mm, so a measurement that mixed them up is wrong.
	f.io = testFilm{spec: base("IO", 1), photometric: render.Monochrome2, slope: 1}
	f.io.spec.Rows, f.io.spec.Columns, f.io.spec.BitsStored = 1500, 2000, 12
	f.io.spec.Extra[tagImagerPixelSpacing] = synth.Value{VR: dcm.DS, Value: `0.020\0.025`}
	f.io.spec.Extra[dcm.ImageLaterality] = synth.Value{VR: dcm.CS, Value: "L"}
	f.io.spec.Extra[dcm.AcquisitionDate] = synth.Value{VR: dcm.DA, Value: "20240304"}
	f.io.spec.Extra[tagWindowCenter] = synth.Value{VR: dcm.DS, Value: "1800"}
	f.io.spec.Extra[tagWindowWidth] = synth.Value{VR: dcm.DS, Value: "3000"}

	// Four uniform quadrants, 12-bit signed, MONOCHROME1, rescaled, with a
	// window; uncalibrated.
	f.quad = testFilm{spec: base("IO", 2), photometric: render.Monochrome1, signed: true, slope: 2, intercept: -100}
	const side = 1024
	f.quad.spec.Rows, f.quad.spec.Columns, f.quad.spec.BitsStored = side, side, 12
	quad := make([]byte, 2*side*side)
	for y := range side {
		for x := range side {
			v := map[[2]bool]int{{false, false}: quadTL, {true, false}: quadTR, {false, true}: quadBL, {true, true}: quadBR}[[2]bool{x >= side/2, y >= side/2}]
			binary.LittleEndian.PutUint16(quad[2*(y*side+x):], uint16(int16(v))) // sign-extended, as devices write it
		}
	}
	for tag, v := range map[dcm.Tag]synth.Value{
		dcm.PixelData:                 {VR: dcm.OW, Value: string(quad)},
		dcm.PhotometricInterpretation: {VR: dcm.CS, Value: "MONOCHROME1"},
		dcm.PixelRepresentation:       {VR: dcm.US, Value: string(binary.LittleEndian.AppendUint16(nil, 1))},
		tagRescaleSlope:               {VR: dcm.DS, Value: "2"},
		tagRescaleIntercept:           {VR: dcm.DS, Value: "-100"},
		tagWindowCenter:               {VR: dcm.DS, Value: "500"},
		tagWindowWidth:                {VR: dcm.DS, Value: "6000"},
		dcm.ImageLaterality:           {VR: dcm.CS, Value: "R"},
		tagSeriesDescription:          {VR: dcm.LO, Value: "Bitewing"},
	} {
		f.quad.spec.Extra[tag] = v
	}

	// An 8-megapixel panoramic, 16 bits stored, with two uniform patches;
	// no window, no spacing.
	f.opg = testFilm{spec: base("PX", 3), photometric: render.Monochrome2, slope: 1}
	f.opg.spec.SOPClassUID = synth.DXForPresentation
	f.opg.spec.Rows, f.opg.spec.Columns, f.opg.spec.BitsStored = 2000, 4000, 16
	opg := synth.Pixels(2000, 4000, 16, 3)
	for _, p := range []struct{ x, v int }{{800, opgBright}, {2800, opgDark}} {
		for y := 600; y < 1000; y++ {
			for x := p.x; x < p.x+400; x++ {
				binary.LittleEndian.PutUint16(opg[2*(y*4000+x):], uint16(p.v))
			}
		}
	}
	f.opg.spec.Extra[dcm.PixelData] = synth.Value{VR: dcm.OW, Value: string(opg)}

	// A small film whose frames the server refuses, as it does for a
	// compression it cannot decode.
	f.small = testFilm{spec: base("IO", 4), photometric: render.Monochrome2, slope: 1}

	for _, tf := range []testFilm{f.io, f.quad, f.opg, f.small} {
		b, err := synth.Bytes(tf.spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Ingest(context.Background(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// refuseFrames answers 406 for one instance's frames, as the server does
// for JPEG-LS or JPEG 2000, and passes everything else on.
func refuseFrames(next http.Handler, sop string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/instances/"+sop+"/frames/") {
			http.Error(w, "frames of this instance are stored as JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91) and are not decompressed here", http.StatusNotAcceptable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func startServer(t *testing.T) (*httptest.Server, films, *countRecorder) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := seedFilms(t, st)
	rec := &countRecorder{}
	svc, err := dicomweb.New(st, dicomweb.Options{Guard: allowAll{}, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	page := func(name, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Content-Security-Policy", csp)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(b)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/dicom-web/", refuseFrames(svc, f.small.spec.SOPInstanceUID))
	mux.Handle("/assets/film/", film.Handler())
	mux.Handle("GET /{$}", page("page.html", "text/html; charset=utf-8"))
	mux.Handle("GET /test/page.js", page("page.js", "text/javascript; charset=utf-8"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, f, rec
}

// chromium finds the browser. Missing is a failure, not a skip: the
// viewer is untested without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is needed for the film viewer tests and was not found (scripts/install-deps.sh installs it)")
	return ""
}

// browser is one headless Chromium tab on the test server.
type browser struct {
	t   *testing.T
	ctx context.Context
	url string
}

func startBrowser(t *testing.T, url string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1366, 768),
		chromedp.Flag("hide-scrollbars", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp's protocol types are older than this Chromium, which sends
	// events they do not know (top-layer updates from <dialog>); those
	// reports are noise. Anything else goes to stderr, not t.Logf, which
	// must not be called once the test is over.
	quiet := func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); !strings.Contains(msg, "unhandled") {
			log.Print(msg)
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(quiet), chromedp.WithLogf(quiet))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser, which lives as long as the context
	// of that Run: this one, not a timeout's.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1366, 768)); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: ctx, url: url}
	return b
}

func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression, awaiting it if it is a promise.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// open loads the test page, opens the viewer on films and waits until the
// first film's exact pixels are drawn.
func (b *browser) open(fs []testFilm, extra map[string]any) loadEvent {
	b.t.Helper()
	cfg := map[string]any{
		"dicomweb": "/dicom-web",
		"overlay":  map[string]string{"patient": "SMITH, Olivia", "nhsNumber": "9990000018", "urn": "DEMO4K7Q2X"},
	}
	var refs []map[string]string
	for _, f := range fs {
		refs = append(refs, f.ref())
	}
	cfg["films"] = refs
	for k, v := range extra {
		cfg[k] = v
	}
	js, _ := json.Marshal(cfg)
	b.run(chromedp.Navigate(b.url), chromedp.Poll(`window.filmTest !== undefined`, nil, chromedp.WithPollingTimeout(10*time.Second)))
	var ok bool
	b.eval(fmt.Sprintf("filmTest.open(%s)", js), &ok)
	return b.loaded(0)
}

func (b *browser) loaded(pane int) loadEvent {
	b.t.Helper()
	var ev loadEvent
	b.eval(fmt.Sprintf("filmTest.loaded(%d)", pane), &ev)
	if ev.Phase == "error" {
		b.t.Fatalf("pane %d: film %d failed to load: %s", pane, ev.Film, ev.Message)
	}
	return ev
}

func (b *browser) state() viewerState {
	b.t.Helper()
	var s viewerState
	b.eval("viewer.state()", &s)
	return s
}

func (b *browser) frame() {
	b.t.Helper()
	b.eval("filmTest.frame().then(() => true)", nil)
}

// toScreen is where image point (x, y) of a pane is on the page.
func (b *browser) toScreen(pane int, x, y float64) point {
	b.t.Helper()
	var p point
	b.eval(fmt.Sprintf("viewer.toScreen(%g, %g, %d)", x, y, pane), &p)
	return p
}

func (b *browser) centre(pane int) point {
	b.t.Helper()
	var p point
	b.eval(fmt.Sprintf("filmTest.centre(%d)", pane), &p)
	return p
}

// grey is the canvas grey level under a page point.
func (b *browser) grey(pane int, p point) int {
	b.t.Helper()
	var px []int
	b.eval(fmt.Sprintf("filmTest.pixel(%d, %g, %g)", pane, p.X, p.Y), &px)
	if px[0] != px[1] || px[1] != px[2] || px[3] != 255 {
		b.t.Fatalf("pixel at %v is %v: want an opaque grey", p, px)
	}
	return px[0]
}

func (b *browser) grid(pane int) []int {
	b.t.Helper()
	var g []int
	b.eval(fmt.Sprintf("filmTest.grid(%d)", pane), &g)
	return g
}

// key presses a key with the focus on a pane, as a user would.
func (b *browser) key(pane int, keys string, mods ...input.Modifier) {
	b.t.Helper()
	b.eval(fmt.Sprintf("document.querySelectorAll('.film-pane')[%d].focus(), true", pane), nil)
	b.run(chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...)))
	b.frame()
}

// drag presses the left button at from, moves to to in steps and lets go.
func (b *browser) drag(from, to point, steps int) {
	b.t.Helper()
	held := func(p *input.DispatchMouseEventParams) *input.DispatchMouseEventParams {
		return p.WithButton(input.Left).WithButtons(1)
	}
	actions := []chromedp.Action{chromedp.MouseEvent(input.MousePressed, from.X, from.Y, held, chromedp.ClickCount(1))}
	for i := 1; i <= steps; i++ {
		f := float64(i) / float64(steps)
		actions = append(actions, chromedp.MouseEvent(input.MouseMoved, from.X+f*(to.X-from.X), from.Y+f*(to.Y-from.Y), held))
	}
	actions = append(actions, chromedp.MouseEvent(input.MouseReleased, to.X, to.Y, held, chromedp.ClickCount(1)))
	b.run(actions...)
	b.frame()
}

func (b *browser) click(selector string) {
	b.t.Helper()
	b.run(chromedp.Click(selector, chromedp.ByQuery, chromedp.NodeVisible))
	b.frame()
}

func (b *browser) text(selector string) string {
	b.t.Helper()
	var s []string
	b.eval(fmt.Sprintf("filmTest.text(%q)", selector), &s)
	return strings.Join(s, "\n")
}

// drawn fails unless a pane shows a picture: not black, not flat.
func drawn(t *testing.T, g []int, what string) {
	t.Helper()
	var sum, sq, lit float64
	for _, v := range g {
		sum += float64(v)
		sq += float64(v * v)
		if v > 8 {
			lit++
		}
	}
	n := float64(len(g))
	sd := math.Sqrt(sq/n - (sum/n)*(sum/n))
	if lit < n/10 || sd < 4 {
		t.Fatalf("%s looks blank: %.0f%% of samples lit, standard deviation %.1f", what, 100*lit/n, sd)
	}
}

func differ(a, b []int) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func near(t *testing.T, what string, got, want int) {
	t.Helper()
	if d := got - want; d < -1 || d > 1 {
		t.Errorf("%s: canvas grey %d, server's renderer %d", what, got, want)
	}
}

func artifactsDir(t *testing.T) string {
	if d := os.Getenv("MOLAR_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestFilmViewer(t *testing.T) {
	srv, f, rec := startServer(t)
	b := startBrowser(t, srv.URL+"/")

	// First, while the browser's cache is cold.
	t.Run("first view of an 8 MP panoramic, exact on 16-bit data", func(t *testing.T) {
		b.t = t
		ev := b.open([]testFilm{f.opg}, nil)
		var events []loadEvent
		b.eval("filmTest.events", &events)
		preview := -1.0
		for _, e := range events {
			if e.Phase == "preview" {
				preview = e.At
			}
		}
		if preview >= 0 {
			t.Logf("first view of a 4000×2000 16-bit OPG over loopback: server rendering on screen after %.0f ms, exact pixels after %.0f ms", preview, ev.At)
		} else {
			t.Logf("first view of a 4000×2000 16-bit OPG over loopback: exact pixels on screen after %.0f ms (quick enough that no rendering was asked for)", ev.At)
		}
		if !ev.Exact {
			t.Fatalf("OPG shown with approximate pixels: %s", ev.Message)
		}
		drawn(t, b.grid(0), "the OPG")
		s := b.state().Panes[0]
		if s.Window.Width <= 0 {
			t.Fatalf("window %+v", s.Window)
		}
		bright, dark := b.toScreen(0, 1000, 800), b.toScreen(0, 3000, 800)
		near(t, "OPG bright patch", b.grey(0, bright), f.opg.grey(t, opgBright, s.Window, false))
		near(t, "OPG dark patch", b.grey(0, dark), f.opg.grey(t, opgDark, s.Window, false))

		// A window/level drag with the mouse: narrower and brighter.
		before := b.grid(0)
		c := b.centre(0)
		b.drag(c, point{c.X - 60, c.Y - 40}, 6)
		after := b.state().Panes[0]
		if after.Window == s.Window {
			t.Fatalf("dragging did not change the window: %+v", after.Window)
		}
		if n := differ(before, b.grid(0)); n < 100 {
			t.Fatalf("a window/level drag changed %d of 1024 samples", n)
		}
		near(t, "OPG bright patch after the drag", b.grey(0, bright), f.opg.grey(t, opgBright, after.Window, false))
		near(t, "OPG dark patch after the drag", b.grey(0, dark), f.opg.grey(t, opgDark, after.Window, false))
	})

	t.Run("slow link: a quick rendering first, then the exact pixels", func(t *testing.T) {
		b.t = t
		// 20 MB/s and 20 ms each way: the OPG's 16 MB take most of a second.
		b.run(network.Enable(), network.SetCacheDisabled(true), network.EmulateNetworkConditions(false, 20, 20e6, 20e6))
		defer b.run(network.EmulateNetworkConditions(false, 0, -1, -1), network.SetCacheDisabled(false))
		ev := b.open([]testFilm{f.opg}, nil)
		var events []loadEvent
		b.eval("filmTest.events", &events)
		var preview *loadEvent
		for i := range events {
			if events[i].Phase == "preview" {
				preview = &events[i]
			}
		}
		if preview == nil || preview.At >= ev.At {
			t.Fatalf("no rendering shown before the pixels: events %+v", events)
		}
		t.Logf("first view of the OPG over a 20 MB/s link: server rendering after %.0f ms, exact pixels after %.0f ms", preview.At, ev.At)
		if !ev.Exact || !b.state().Panes[0].Exact {
			t.Fatal("the exact pixels did not replace the rendering")
		}
		drawn(t, b.grid(0), "the OPG after the swap")
	})

	t.Run("window/level exact on signed 12-bit MONOCHROME1 with rescale", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.quad}, nil)
		s := b.state().Panes[0]
		if s.Window != (window{500, 6000}) {
			t.Fatalf("window %+v: want the film's own, centre 500 width 6000", s.Window)
		}
		check := func(what string, win window, invert bool) {
			t.Helper()
			for _, q := range []struct {
				name   string
				x, y   float64
				stored int
			}{{"top left", 256, 256, quadTL}, {"top right", 768, 256, quadTR}, {"bottom left", 256, 768, quadBL}, {"bottom right", 768, 768, quadBR}} {
				near(t, what+", "+q.name, b.grey(0, b.toScreen(0, q.x, q.y)), f.quad.grey(t, q.stored, win, invert))
			}
		}
		check("film's window", s.Window, false)
		c := b.centre(0)
		b.drag(c, point{c.X + 80, c.Y + 50}, 4)
		s = b.state().Panes[0]
		if s.Window == (window{500, 6000}) {
			t.Fatal("the drag did not change the window")
		}
		check("dragged window", s.Window, false)
		b.key(0, "i")
		if !b.state().Panes[0].Invert {
			t.Fatal("I did not invert")
		}
		check("inverted", s.Window, true)
		// A narrow window through the controller: LINEAR and LINEAR_EXACT
		// (or an off-by-half) differ by whole grey levels here.
		b.eval("viewer.setWindow(300, 10), viewer.invert(false), filmTest.frame().then(() => true)", nil)
		if w := b.state().Panes[0].Window; w != (window{300, 10}) {
			t.Fatalf("setWindow(300, 10) gave %+v", w)
		}
		check("narrow window", window{300, 10}, false)
		b.key(0, "d")
		if w := b.state().Panes[0].Window; w != (window{500, 6000}) {
			t.Fatalf("D left the window at %+v", w)
		}
	})

	t.Run("rotate, flip and invert move the picture", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.quad}, nil)
		win := b.state().Panes[0].Window
		g := map[string]int{
			"TL": f.quad.grey(t, quadTL, win, false), "TR": f.quad.grey(t, quadTR, win, false),
			"BL": f.quad.grey(t, quadBL, win, false), "BR": f.quad.grey(t, quadBR, win, false),
		}
		// Screen points 100 px either side of the centre: inside one
		// quadrant of the film whichever way it is turned.
		c := b.centre(0)
		screen := map[string]point{"TL": {c.X - 100, c.Y - 100}, "TR": {c.X + 100, c.Y - 100}, "BL": {c.X - 100, c.Y + 100}, "BR": {c.X + 100, c.Y + 100}}
		expect := func(what string, shows map[string]string, invert bool) {
			t.Helper()
			for at, quadrant := range shows {
				want := g[quadrant]
				if invert {
					want = 255 - want
				}
				near(t, fmt.Sprintf("%s: screen %s shows film %s", what, at, quadrant), b.grey(0, screen[at]), want)
			}
		}
		expect("as stored", map[string]string{"TL": "TL", "TR": "TR", "BL": "BL", "BR": "BR"}, false)
		b.click(`button[data-action="rotate-right"]`)
		if s := b.state().Panes[0]; s.Rotation != 90 || s.Flipped {
			t.Fatalf("after rotating right: rotation %d flipped %v", s.Rotation, s.Flipped)
		}
		expect("rotated right", map[string]string{"TL": "BL", "TR": "TL", "BR": "TR", "BL": "BR"}, false)
		b.key(0, "R", input.ModifierShift)
		expect("rotated back left", map[string]string{"TL": "TL", "TR": "TR", "BL": "BL", "BR": "BR"}, false)
		b.key(0, "h")
		if s := b.state().Panes[0]; !s.Flipped {
			t.Fatal("H did not flip")
		}
		expect("flipped left to right", map[string]string{"TL": "TR", "TR": "TL", "BL": "BR", "BR": "BL"}, false)
		b.key(0, "v")
		if s := b.state().Panes[0]; s.Rotation != 180 || s.Flipped {
			t.Fatalf("flipped both ways: rotation %d flipped %v, want a half turn", s.Rotation, s.Flipped)
		}
		expect("flipped both ways", map[string]string{"TL": "BR", "TR": "BL", "BL": "TR", "BR": "TL"}, false)
		b.click(`button[data-action="invert"]`)
		expect("flipped and inverted", map[string]string{"TL": "BR", "TR": "BL", "BL": "TR", "BR": "TL"}, true)
		if p := b.text(`button[data-action="invert"]`); p != "Invert" {
			t.Errorf("invert button says %q", p)
		}
		var pressed string
		b.eval(`document.querySelector('button[data-action="invert"]').getAttribute("aria-pressed")`, &pressed)
		if pressed != "true" {
			t.Errorf("invert button aria-pressed=%q while inverted", pressed)
		}
	})

	t.Run("sharpen changes the picture", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.io}, nil)
		before := b.grid(0)
		b.key(0, "s")
		if !b.state().Panes[0].Sharpen {
			t.Fatal("S did not turn sharpening on")
		}
		if n := differ(before, b.grid(0)); n < 50 {
			t.Fatalf("sharpening changed %d of 1024 samples", n)
		}
	})

	t.Run("measurements in mm with spacing, uncalibrated without", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.io, f.quad}, nil)
		if ov := b.text(".film-ov-br"); !strings.Contains(ov, "Lengths in mm") {
			t.Errorf("calibrated film's overlay says %q", ov)
		}
		b.key(0, "1")
		b.key(0, "m")
		if s := b.state(); s.Tool != "measure" || math.Abs(s.Panes[0].Zoom-1) > 1e-9 {
			t.Fatalf("after 1 and M: tool %q, zoom %g", s.Tool, s.Panes[0].Zoom)
		}
		// 400 columns at 0.025 mm, then 300 rows at 0.020 mm.
		b.drag(b.toScreen(0, 800, 750), b.toScreen(0, 1200, 750), 8)
		b.drag(b.toScreen(0, 1000, 600), b.toScreen(0, 1000, 900), 8)
		ms := b.state().Panes[0].Measurements
		if len(ms) != 2 {
			t.Fatalf("%d measurements, want 2: %+v", len(ms), ms)
		}
		for i, want := range []float64{10.0, 6.0} {
			m := ms[i]
			if m.Unit != "mm" || !m.Calibrated || math.Abs(m.Value-want) > 0.06 {
				t.Errorf("measurement %d: %+v, want %.1f mm", i, m, want)
			}
		}
		labels := b.text(".film-measure-label")
		if !strings.Contains(labels, "10.0 mm") || !strings.Contains(labels, "6.0 mm") {
			t.Errorf("measurement labels %q, want 10.0 mm and 6.0 mm", labels)
		}

		b.key(0, kb.ArrowRight)
		b.loaded(0)
		if s := b.state().Panes[0]; s.Film != 1 || s.Calibrated {
			t.Fatalf("after →: film %d calibrated %v, want the uncalibrated film 1", s.Film, s.Calibrated)
		}
		if ov := b.text(".film-ov-br"); !strings.Contains(ov, "Uncalibrated") {
			t.Errorf("uncalibrated film's overlay says %q", ov)
		}
		b.drag(b.toScreen(0, 200, 200), b.toScreen(0, 800, 200), 8)
		ms = b.state().Panes[0].Measurements
		if len(ms) != 1 || ms[0].Unit != "px" || ms[0].Calibrated || math.Abs(ms[0].Value-600) > 3 {
			t.Fatalf("uncalibrated measurement %+v, want 600 px", ms)
		}
		if l := b.text(".film-measure-label"); !strings.Contains(l, "px (uncalibrated)") {
			t.Errorf("label %q does not say uncalibrated", l)
		}
		b.key(0, kb.Delete)
		if n := len(b.state().Panes[0].Measurements); n != 0 {
			t.Errorf("Delete left %d measurements", n)
		}
		// Back to the first film: its measurements are still there.
		b.key(0, kb.ArrowLeft)
		b.loaded(0)
		if n := len(b.state().Panes[0].Measurements); n != 2 {
			t.Errorf("film 0 came back with %d measurements, want 2", n)
		}
	})

	t.Run("two films side by side, overlays, thumbnails", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.opg, f.io, f.quad}, nil)
		b.key(0, "c")
		b.loaded(1)
		s := b.state()
		if !s.Compare || len(s.Panes) != 2 || s.Panes[0].Film != 0 || s.Panes[1].Film != 1 {
			t.Fatalf("side by side: %+v", s)
		}
		var canvases int
		b.eval(`document.querySelectorAll(".film-pane canvas").length`, &canvases)
		if canvases != 2 {
			t.Fatalf("%d canvases side by side", canvases)
		}
		drawn(t, b.grid(0), "left film")
		drawn(t, b.grid(1), "right film")

		tl, tr := b.text(".film-pane:nth-child(2) .film-ov-tl"), b.text(".film-pane:nth-child(2) .film-ov-tr")
		for _, want := range []string{"SMITH, Olivia", "NHS No. 999 000 0018", "URN DEMO4K7Q2X"} {
			if !strings.Contains(tl, want) {
				t.Errorf("overlay %q lacks %q", tl, want)
			}
		}
		// The intraoral film has an acquisition date (4 March) besides its
		// study date (5 March): the exposure is the acquisition.
		for _, want := range []string{"Intraoral", "Side: Left", "Taken 4 March 2024", "Film 2 of 3"} {
			if !strings.Contains(tr, want) {
				t.Errorf("overlay %q lacks %q", tr, want)
			}
		}

		var loadedThumbs int
		b.eval(`new Promise((resolve) => {
			const count = () => Array.from(document.querySelectorAll(".film-thumb img")).filter((i) => i.complete && i.naturalWidth > 0).length;
			const end = performance.now() + 10000;
			const poll = () => (count() === 3 || performance.now() > end ? resolve(count()) : setTimeout(poll, 20));
			poll();
		})`, &loadedThumbs)
		if loadedThumbs != 3 {
			t.Errorf("%d of 3 thumbnails loaded", loadedThumbs)
		}
		if caps := b.text(".film-thumb-caption"); !strings.Contains(caps, "Panoramic") || !strings.Contains(caps, "Intraoral, Right") {
			t.Errorf("thumbnail captions %q", caps)
		}
		b.click(".film-thumbs li:nth-child(3) button")
		b.loaded(1)
		if s := b.state(); s.Panes[1].Film != 2 || s.Panes[0].Film != 0 {
			t.Fatalf("thumbnail 3 went to the wrong pane: %+v", s.Panes)
		}
		b.key(1, "m")
		b.drag(b.toScreen(1, 100, 100), b.toScreen(1, 1000, 1000), 4)
		var inside bool
		b.eval(`(() => {
			const pane = document.querySelectorAll(".film-pane")[1].getBoundingClientRect();
			const label = document.querySelector(".film-pane:nth-child(2) .film-measure-label").getBoundingClientRect();
			return label.width > 0 && label.left >= pane.left && label.right <= pane.right && label.top >= pane.top && label.bottom <= pane.bottom;
		})()`, &inside)
		if !inside {
			t.Error("the measurement label of a line ending near the pane's corner is not inside the pane")
		}

		var png []byte
		b.run(chromedp.CaptureScreenshot(&png))
		path := filepath.Join(artifactsDir(t), "film-viewer.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	})

	t.Run("tablet: upright, high-density screen, pinch and one-finger window", func(t *testing.T) {
		b.t = t
		b.run(chromedp.EmulateViewport(768, 1024, chromedp.EmulateScale(2), chromedp.EmulatePortrait, chromedp.EmulateTouch))
		defer b.run(chromedp.EmulateViewport(1366, 768))
		b.open([]testFilm{f.quad, f.io}, nil)
		var layout struct{ PaneBottom, StripTop, CanvasCSS, CanvasPx float64 }
		b.eval(`(() => {
			const pane = document.querySelector(".film-pane").getBoundingClientRect();
			const c = filmTest.canvas(0);
			return {paneBottom: pane.bottom, stripTop: document.querySelector(".film-strip").getBoundingClientRect().top,
				canvasCSS: c.getBoundingClientRect().width, canvasPx: c.width};
		})()`, &layout)
		if layout.StripTop < layout.PaneBottom-1 {
			t.Errorf("upright: thumbnail strip (top %.0f) is not below the film (bottom %.0f)", layout.StripTop, layout.PaneBottom)
		}
		if math.Abs(layout.CanvasPx-2*layout.CanvasCSS) > 1 {
			t.Errorf("canvas has %.0f pixels across %.0f CSS pixels on a 2× screen", layout.CanvasPx, layout.CanvasCSS)
		}
		win := b.state().Panes[0].Window
		near(t, "2× screen, top right", b.grey(0, b.toScreen(0, 768, 256)), f.quad.grey(t, quadTR, win, false))

		c := b.centre(0)
		touch := func(typ input.TouchType, pts ...point) chromedp.Action {
			var tps []*input.TouchPoint
			for i, p := range pts {
				tps = append(tps, &input.TouchPoint{X: p.X, Y: p.Y, ID: float64(i + 1)})
			}
			return input.DispatchTouchEvent(typ, tps)
		}
		z0 := b.state().Panes[0].Zoom
		pinch := []chromedp.Action{touch(input.TouchStart, point{c.X - 50, c.Y}, point{c.X + 50, c.Y})}
		for i := 1; i <= 8; i++ {
			d := 50 + 100*float64(i)/8
			pinch = append(pinch, touch(input.TouchMove, point{c.X - d, c.Y}, point{c.X + d, c.Y}))
		}
		pinch = append(pinch, touch(input.TouchEnd))
		b.run(pinch...)
		b.frame()
		if z := b.state().Panes[0].Zoom; math.Abs(z/z0-3) > 0.3 {
			t.Errorf("spreading two fingers from 100 to 300 px apart zoomed ×%.2f, want ×3", z/z0)
		}
		b.run(touch(input.TouchStart, c), touch(input.TouchMove, point{c.X + 40, c.Y + 40}), touch(input.TouchMove, point{c.X + 80, c.Y + 80}), touch(input.TouchEnd))
		b.frame()
		if w := b.state().Panes[0].Window; w == win {
			t.Error("a one-finger drag did not change the window")
		}
		var png []byte
		b.run(chromedp.CaptureScreenshot(&png))
		path := filepath.Join(artifactsDir(t), "film-viewer-tablet.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	})

	t.Run("window/level and zoom frame rate on a 3 MP intraoral film", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.io}, nil)
		type frame struct{ T, Ms float64 }
		measure := func(what string, drive func()) {
			t.Helper()
			var mark float64
			b.eval("performance.now()", &mark)
			drive()
			var recent []frame
			b.eval(fmt.Sprintf("viewer.stats()[0].recent.filter((f) => f.t >= %f)", mark), &recent)
			if len(recent) < 2 {
				t.Fatalf("%s: %d frames drawn", what, len(recent))
			}
			var total, worst float64
			for _, f := range recent {
				total += f.Ms
				worst = max(worst, f.Ms)
			}
			span := recent[len(recent)-1].T - recent[0].T
			t.Logf("%s on a 2000×1500 12-bit film: %d frames in %.0f ms = %.0f frames/s; drawing %.1f ms a frame on average, %.1f ms at worst",
				what, len(recent), span, float64(len(recent)-1)/span*1000, total/float64(len(recent)), worst)
		}
		before := b.grid(0)
		c := b.centre(0)
		measure("window/level drag, 60 steps", func() { b.drag(c, point{c.X + 240, c.Y + 120}, 60) })
		if n := differ(before, b.grid(0)); n < 100 {
			t.Errorf("the drag changed %d of 1024 samples", n)
		}
		measure("wheel zoom, 60 steps", func() {
			var actions []chromedp.Action
			for i := range 60 {
				dy := -40.0
				if i >= 30 {
					dy = 40
				}
				actions = append(actions, chromedp.MouseEvent(input.MouseWheel, c.X+50, c.Y+30, func(p *input.DispatchMouseEventParams) *input.DispatchMouseEventParams {
					return p.WithDeltaX(0).WithDeltaY(dy)
				}))
			}
			b.run(actions...)
			b.frame()
		})
		if z := b.state().Panes[0].Zoom; z <= 0 {
			t.Errorf("zoom %g", z)
		}
		// The wheel events above come as fast as the DevTools protocol
		// delivers them; paced by the page, one a frame, they show what the
		// viewer itself keeps up with.
		measure("wheel zoom paced by the page, 60 steps", func() {
			b.eval(fmt.Sprintf(`(async () => {
				const c = filmTest.canvas(0);
				for (let i = 0; i < 60; i++) {
					c.dispatchEvent(new WheelEvent("wheel", {deltaY: i < 30 ? -40 : 40, clientX: %g, clientY: %g, bubbles: true, cancelable: true}));
					await new Promise((r) => requestAnimationFrame(r));
				}
				return true;
			})()`, c.X+50, c.Y+30), nil)
			b.frame()
		})
		if n := rec.count(f.io.spec.SOPInstanceUID + "/frames/1"); n == 0 {
			t.Error("no audited frames read: the viewer did not get its pixels through DICOMweb")
		}
	})

	t.Run("server cannot send native pixels: approximate, and says so", func(t *testing.T) {
		b.t = t
		ev := b.open([]testFilm{f.small}, nil)
		if ev.Exact {
			t.Fatal("film whose frames were refused claims exact pixels")
		}
		s := b.state().Panes[0]
		if s.Exact || !strings.Contains(s.Note, "approximate") || !strings.Contains(s.Note, "compression") {
			t.Errorf("state %+v: want a note that window/level is approximate because of the compression", s)
		}
		if ov := b.text(".film-ov-bl"); !strings.Contains(ov, "approximate") {
			t.Errorf("overlay %q does not say window/level is approximate", ov)
		}
		drawn(t, b.grid(0), "the fallback rendering")
	})

	t.Run("help, full screen and keyboard", func(t *testing.T) {
		b.t = t
		b.open([]testFilm{f.quad, f.io}, nil)
		b.key(0, "?")
		var open bool
		b.eval(`document.querySelector(".film-help").open`, &open)
		if !open {
			t.Fatal("? did not open the help")
		}
		help := b.text(".film-help")
		for _, want := range []string{"Keyboard shortcuts", "Rotate right", "Actual size", "Invert", "Next / previous film", "Measure tool", "Reset window/level"} {
			if !strings.Contains(help, want) {
				t.Errorf("help lacks %q", want)
			}
		}
		b.run(chromedp.KeyEvent(kb.Escape))
		b.frame()
		b.eval(`document.querySelector(".film-help").open`, &open)
		if open {
			t.Fatal("Esc did not close the help")
		}
		b.key(0, "f")
		b.eval(`new Promise((r) => setTimeout(() => r(viewer.state().fullscreen), 300))`, &open)
		if !open {
			t.Fatal("F did not go full screen")
		}
		b.key(0, "f")
		b.eval(`new Promise((r) => setTimeout(() => r(viewer.state().fullscreen), 300))`, &open)
		if open {
			t.Fatal("F again did not leave full screen")
		}
		// Every control has a name a screen reader can say.
		var unnamed []string
		b.eval(`Array.from(document.querySelectorAll(".film-viewer button, .film-viewer select"))
			.filter((el) => !(el.getAttribute("aria-label") || el.textContent.trim() || (el.id && document.querySelector('label[for="' + el.id + '"]'))))
			.map((el) => el.outerHTML)`, &unnamed)
		if len(unnamed) > 0 {
			t.Errorf("controls without a name: %v", unnamed)
		}
	})
}

func TestHandler(t *testing.T) {
	h := film.Handler()
	get := func(path string, hdr ...string) *http.Response {
		t.Helper()
		r := httptest.NewRequest("GET", path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result()
	}
	for _, c := range []struct{ path, ctype string }{
		{"/assets/film/film.js", "text/javascript; charset=utf-8"},
		{"/film.js", "text/javascript; charset=utf-8"}, // mounted with StripPrefix
		{"/assets/film/film.css", "text/css; charset=utf-8"},
	} {
		resp := get(c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || len(body) == 0 {
			t.Errorf("%s: %d %q, %d bytes", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q", c.path, cc)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("%s: no ETag", c.path)
		}
		if again := get(c.path, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %d, want 304", c.path, again.StatusCode)
		}
		gz := get(c.path, "Accept-Encoding", "gzip")
		if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") == etag {
			t.Errorf("%s gzipped: Content-Encoding %q, ETag %q (plain %q)", c.path, gz.Header.Get("Content-Encoding"), gz.Header.Get("ETag"), etag)
			continue
		}
		zr, err := gzip.NewReader(gz.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, _ := io.ReadAll(zr)
		if !bytes.Equal(unzipped, body) {
			t.Errorf("%s: gzipped body differs from the plain one", c.path)
		}
	}
	if resp := get("/assets/film/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown file: %d", resp.StatusCode)
	}
	if resp := get("/assets/film/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("directory: %d", resp.StatusCode)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/assets/film/film.js", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}
