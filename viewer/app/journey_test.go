package app

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/molar-pacs/molar/internal/dcm"
	"github.com/molar-pacs/molar/internal/synth"
)

// TestJourney follows one referral the whole way, as the people of a
// region would: the practice refers with a JPEG film, its imaging software
// sends DICOM films with the URN by storescu, a triager reads the films
// beside the referral, measures, and accepts to a service, the patient
// tracks it, and the analyst sees it counted.
func TestJourney(t *testing.T) {
	srv := demo(t)
	storescu, err := exec.LookPath("storescu")
	if err != nil {
		t.Fatal("storescu not found: install DCMTK (scripts/install-deps.sh)")
	}

	// The analyst's count before.
	analyst := newBrowser(t, srv, 1366, 768)
	analyst.signIn("analyst@demo.molar.test", -1)
	before := reportTotal(analyst)

	// 1. The practice refers, with a JPEG film, and gets the URN.
	ref := newBrowser(t, srv, 1366, 768)
	refJSErrors(ref)
	ref.signIn("referrer@demo.molar.test", -1)
	ref.run(chromedp.WaitVisible("#f-patient-given", chromedp.ByQuery))
	family := refLetters(time.Now().UnixNano() + 99)
	nhs, _ := refNHS(int(time.Now().UnixNano()%900000) + 1)
	for _, f := range []struct{ sel, keys string }{
		{"#f-patient-given", "Jenny"}, {"#f-patient-family", family},
		{"#f-patient-birth_date-day", "3"}, {"#f-patient-birth_date-month", "9"}, {"#f-patient-birth_date-year", "1987"},
		{"#f-patient-sex-female", " "}, {"#f-patient-address", "4 Journey Road"}, {"#f-patient-address-town", "Leeds"},
		{"#f-patient-postcode", "ls2 9jt"}, {"#f-patient-nhs_number", nhs}, {"#f-patient-phone", "07700 900777"},
		{"#f-patient-sms_consent", " "}, {"#f-gp-practice_name", "Demo Street Surgery"}, {"#f-medical-none_declared", " "},
		{"#f-clinical-urgency-urgent", " "}, {"#f-clinical-reason", "Painful partially erupted 48, two episodes of pericoronitis."},
		{"#f-clinical-procedure", "Removal of t"}, {"#f-clinical-teeth", "48"}, {"#f-clinical-anaesthesia", "Local"},
		{"#f-radiographs-attached-yes", " "}, {"#f-radiographs-views", "Periapical 48"},
	} {
		refType(ref, f.sel, f.keys)
	}
	taken := time.Now().AddDate(0, 0, -3)
	refType(ref, "#f-radiographs-exposure_date-day", fmt.Sprint(taken.Day()))
	refType(ref, "#f-radiographs-exposure_date-month", fmt.Sprint(int(taken.Month())))
	refType(ref, "#f-radiographs-exposure_date-year", fmt.Sprint(taken.Year()))
	ref.run(chromedp.SetUploadFiles("#refer-file-input", []string{refJPEG(t)}, chromedp.ByQuery))
	refWait(ref, "the upload", `!!document.querySelector('.ref-upload[data-state="done"]')`)
	refType(ref, "#refer-send", kb.Enter)
	ref.run(chromedp.WaitVisible("#refer-confirmation .app-urn", chromedp.ByQuery))
	urn := strings.TrimSpace(ref.text("#refer-confirmation .app-urn"))
	if !regexp.MustCompile(`^[A-Z][A-Z0-9]{9}$`).MatchString(urn) {
		t.Fatalf("the confirmation shows %q, not a URN", urn)
	}
	ref.screenshot("journey-1-submitted")

	// 2. The practice's imaging software sends two periapicals with the
	// URN as AccessionNumber.
	dir := t.TempDir()
	study := dcm.NewUID()
	var files []string
	for i := 1; i <= 2; i++ {
		b, err := synth.Bytes(synth.Spec{StudyUID: study, SeriesUID: study + ".1", InstanceNumber: i, Rows: 1300, Columns: 1000,
			Picture: synth.Periapical, Seed: int64(i), AccessionNumber: urn, PatientID: nhs, PatientName: strings.ToUpper(family) + "^JENNY",
			PatientBirthDate: "19870903", PatientSex: "F", StudyDate: taken.Format("20060102"),
			Extra: map[dcm.Tag]synth.Value{dcm.ImagerPixelSpacing: {VR: dcm.DS, Value: `0.02\0.02`}}})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, fmt.Sprintf("pa%d.dcm", i))
		os.WriteFile(f, b, 0o644)
		files = append(files, f)
	}
	if out, err := exec.Command(storescu, append([]string{"-aet", "STORESCU", "-aec", "MOLAR", "127.0.0.1", strconv.Itoa(srv.DICOMPort)}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("storescu: %v\n%s", err, out)
	}

	// 3. The triager finds it on the worklist with its films, reads them,
	// measures, and accepts it to the community Level 2 service.
	tri := newBrowser(t, srv, 1366, 768)
	triWatch(tri)
	tri.signIn("clinician@demo.molar.test", -1)
	row := `table.mx-worklist tbody tr a.mx-rowlink`
	triWait(tri, fmt.Sprintf(`[...document.querySelectorAll(%q)].some((a) => a.textContent === %q)`, row, urn))
	tri.screenshot("journey-2-worklist")
	tri.run(chromedp.Click(fmt.Sprintf(`//table[contains(@class,"mx-worklist")]//a[text()=%q]`, urn), chromedp.BySearch))
	triWait(tri, `location.pathname === "/app/referral" && window.molarReferral && window.molarReferral.viewer`)
	// Two DICOM studies' films, and the uploaded JPEG: three films.
	triWait(tri, `window.molarReferral.viewer.state().films >= 3`)
	tri.eval(`window.molarReferral.viewer.ready`, nil)
	tri.eval(triFramesJS, nil)
	var first, dragged triCanvas
	tri.eval(triCanvasJS, &first)
	if first.Lit < 100 || first.Levels < 8 {
		t.Fatalf("the film is not drawn: %+v", first)
	}
	var rect struct{ X, Y, W, H float64 }
	tri.eval(`(() => { const r = document.querySelector(".film-pane canvas").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`, &rect)
	cx, cy := rect.X+rect.W/2, rect.Y+rect.H/2
	triDrag(tri, cx, cy, cx+120, cy+70)
	tri.eval(triFramesJS, nil)
	tri.eval(triCanvasJS, &dragged)
	if dragged.Sum == first.Sum {
		t.Error("a window/level drag did not change the film")
	}
	// Measure on the practice's DICOM films, which are calibrated (the
	// uploaded photograph of a film is not, and says so).
	triKey(tri, "m")
	var calibrated bool
	for i := 0; i < 3 && !calibrated; i++ {
		tri.eval(fmt.Sprintf(`window.molarReferral.viewer.show(%d)`, i), nil)
		triWait(tri, fmt.Sprintf(`(() => { const p = window.molarReferral.viewer.state().panes[0]; return p.film === %d && p.ready; })()`, i))
		tri.eval(`window.molarReferral.viewer.state().panes[0].calibrated`, &calibrated)
	}
	if !calibrated {
		t.Fatal("none of the films is calibrated: the DICOM films carry Imager Pixel Spacing")
	}
	tri.eval(`window.molarReferral.viewer.setTool("measure")`, nil)
	tri.eval(triFramesJS, nil)
	triDrag(tri, cx-100, cy, cx+100, cy)
	tri.eval(triFramesJS, nil)
	var length string
	tri.eval(`(document.querySelector(".film-measure-label") || {}).textContent || ""`, &length)
	if !regexp.MustCompile(`^\d+(\.\d)? mm$`).MatchString(length) {
		t.Errorf("measurement %q, want millimetres", length)
	}
	t.Logf("the triager measured %s", length)
	tri.screenshot("journey-3-films")
	triKey(tri, "a")
	triWait(tri, `document.querySelector("#ref-panel form select")`)
	tri.run(
		chromedp.Click(`#ref-panel form input[value=L2]`, chromedp.ByQuery),
		chromedp.Click(`#ref-panel form input[value=yes]`, chromedp.ByQuery),
	)
	tri.run(chromedp.Click(`#ref-panel form button[type=submit]`, chromedp.ByQuery))
	if done := tri.text("#ref-panel .ref-done"); !strings.Contains(done, "Accepted at Level 2") {
		t.Fatalf("after accepting: %q", done)
	}
	tri.screenshot("journey-4-accepted")

	// 4. The patient tracks it with the URN and date of birth.
	pub := newBrowser(t, srv, 768, 1024)
	pub.open("/track?urn=" + urn)
	pub.run(chromedp.WaitVisible("#track-urn", chromedp.ByQuery))
	refType(pub, "#track-dob-day", "3")
	refType(pub, "#track-dob-month", "9")
	refType(pub, "#track-dob-year", "1987"+kb.Enter)
	pub.run(chromedp.WaitVisible("#track-result", chromedp.ByQuery))
	if s := pub.text("#track-status"); s != "Sent to the treating service" {
		t.Errorf("the tracker says %q", s)
	}
	if body := refBody(pub); strings.Contains(body, "pericoronitis") || strings.Contains(body, family) {
		t.Error("the tracker shows clinical or identifying detail")
	}
	pub.screenshot("journey-5-tracker")

	// 5. The analyst sees one more referral.
	analyst.open("/app/reports")
	if after := reportTotal(analyst); after != before+1 {
		t.Errorf("the analyst counts %d referrals, %d before: want one more", after, before)
	}
	analyst.screenshot("journey-6-reports")
}

// reportTotal is the referral count the analyst's dashboard shows for its
// default period.
func reportTotal(b *browser) int {
	b.t.Helper()
	var total string
	b.run(chromedp.WaitVisible(".rpt-figure dd .rpt-figure__value", chromedp.ByQuery),
		chromedp.Text(".rpt-figure dd .rpt-figure__value", &total, chromedp.ByQuery, chromedp.NodeVisible))
	n, err := strconv.Atoi(strings.TrimSpace(total))
	if err != nil {
		b.t.Fatalf("the dashboard's total %q", total)
	}
	return n
}
