package app

// The referrer's pages (refer, drafts, our referrals) and the public
// tracker, driven as practice staff and patients use them: typed with the
// keyboard, films chosen with the file picker, and checked through what
// the pages show and what the API then holds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/molar-pacs/molar/referral/urn"
)

// refJSErrors fails the test if a page throws: a broken script is a broken page.
func refJSErrors(b *browser) {
	var mu sync.Mutex
	var errs []string
	chromedp.ListenTarget(b.ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			errs = append(errs, msg)
			mu.Unlock()
		}
	})
	b.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			b.t.Errorf("the page threw: %s", strings.Join(errs, "\n"))
		}
	})
}

// waitFor polls a JavaScript condition until it is true.
func refWait(b *browser, what, cond string) {
	b.t.Helper()
	var ok bool
	b.run(chromedp.Poll(cond, &ok, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if !ok {
		b.t.Fatalf("waiting for %s: %s never became true", what, cond)
	}
}

func refValue(b *browser, sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Value(sel, &s, chromedp.ByQuery))
	return s
}

// clear empties a text box (as select-all and delete would).
func refClear(b *browser, sel string) {
	b.t.Helper()
	var ok bool
	b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false; el.value = ""; return true })()`, sel), &ok)
	if !ok {
		b.t.Fatalf("no %s to clear", sel)
	}
}

func refActive(b *browser) string {
	b.t.Helper()
	var id string
	b.eval(`document.activeElement ? document.activeElement.id : ""`, &id)
	return id
}

func refBody(b *browser) string {
	b.t.Helper()
	var s string
	b.eval(`document.body.innerText`, &s)
	return s
}

// type_ types text into the element with the keyboard.
func refType(b *browser, sel, text string) {
	b.t.Helper()
	b.run(chromedp.SendKeys(sel, text, chromedp.ByQuery))
}

// nhsNumber makes a valid NHS number in the never-issued 999 range and the
// same number with a wrong check digit.
func refNHS(seed int) (good, bad string) {
	for n := seed; ; n++ {
		base := fmt.Sprintf("999%06d", n)
		sum := 0
		for i, c := range base {
			sum += int(c-'0') * (10 - i)
		}
		check := 11 - sum%11
		if check == 11 {
			check = 0
		}
		if check == 10 {
			continue
		}
		good = fmt.Sprintf("%s %s %s%d", base[:3], base[3:6], base[6:], check)
		bad = fmt.Sprintf("%s %s %s%d", base[:3], base[3:6], base[6:], (check+1)%10)
		return good, bad
	}
}

// letters turns a number into capitalised letters, for unique names.
func refLetters(n int64) string {
	s := ""
	for i := 0; i < 6; i++ {
		s += string(rune('a' + n%26))
		n /= 26
	}
	return "Q" + s
}

// refJPEG writes a small greyscale "film" as a JPEG file.
func refJPEG(t *testing.T) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8((x*4 + y*2) % 256)})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "periapical-46.jpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// refPNG writes a small "OPG" as a PNG file.
func refPNG(t *testing.T) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 120, 60))
	for y := 0; y < 60; y++ {
		for x := 0; x < 120; x++ {
			img.SetGray(x, y, color.Gray{Y: uint8((x*2 + y*3) % 256)})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "opg.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var refURNPattern = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// A receptionist refers a patient with the keyboard: a wrong NHS number
// is caught as they leave the box, a missing answer when they send, the
// draft saves itself, a film uploads, and the URN comes back and is on
// the practice's list.
func TestReferrerRefersAPatient(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 1366, 768)
	refJSErrors(b)
	b.signIn("referrer@demo.molar.test", -1)
	if u := b.location(); !strings.HasSuffix(u, "/app/refer") {
		t.Fatalf("referrer starts at %s", u)
	}
	b.run(chromedp.WaitVisible("#f-patient-given", chromedp.ByQuery))

	// The dentist's details come from the account; nothing is saved yet.
	if got := refValue(b, "#f-referrer-name"); !strings.Contains(got, "Dana Dent") {
		t.Errorf("referrer name prefilled as %q", got)
	}
	if got := refValue(b, "#f-referrer-gdc_number"); got != "123456" {
		t.Errorf("GDC number prefilled as %q", got)
	}
	if got := refValue(b, "#f-referrer-practice_ods"); got != "V099001" {
		t.Errorf("practice code %q", got)
	}
	if s := b.text("#refer-save-status"); !strings.Contains(s, "Not saved yet") {
		t.Errorf("save status before typing: %q", s)
	}

	family := refLetters(time.Now().UnixNano())
	good, bad := refNHS(int(time.Now().UnixNano() % 900000))

	// Tab goes from first name to last name.
	refType(b, "#f-patient-given", "Keyboard")
	refType(b, "#f-patient-given", kb.Tab)
	if id := refActive(b); id != "f-patient-family" {
		t.Errorf("Tab from first name went to %q", id)
	}
	refType(b, "#f-patient-family", family)
	refType(b, "#f-patient-birth_date-day", "7")
	refType(b, "#f-patient-birth_date-month", "6")
	refType(b, "#f-patient-birth_date-year", "1990")
	refType(b, "#f-patient-sex-female", " ")
	refType(b, "#f-patient-address", "12 Test Street")
	refType(b, "#f-patient-address-town", "Leeds")
	refType(b, "#f-patient-postcode", "ls1 4ap")

	// A wrong NHS number is explained as soon as the box is left.
	refType(b, "#f-patient-nhs_number", bad)
	refType(b, "#f-patient-nhs_number", kb.Tab)
	if msg := b.text("#f-patient-nhs_number-error"); !strings.Contains(msg, "not a valid NHS number") {
		t.Errorf("bad NHS number message %q", msg)
	}
	// Enter in a box does not send the form.
	refType(b, "#f-patient-nhs_number", kb.Enter)
	var sent bool
	b.eval(`!!document.getElementById("refer-confirmation")`, &sent)
	if sent {
		t.Fatal("Enter in a text box sent the referral")
	}
	refClear(b, "#f-patient-nhs_number")
	refType(b, "#f-patient-nhs_number", good)
	refWait(b, "the NHS number error to go", `document.getElementById("f-patient-nhs_number-error").hidden`)

	refType(b, "#f-patient-phone", "07700 900123")
	refType(b, "#f-patient-sms_consent", " ")
	refType(b, "#f-gp-practice_name", "Demo Street Surgery")
	refType(b, "#f-medical-none_declared", " ")
	refType(b, "#f-clinical-urgency-routine", " ")
	refType(b, "#f-clinical-reason", "Retained roots 46 after a crown fracture, painful for a month.")
	refType(b, "#f-clinical-procedure", "Removal of r")
	refType(b, "#f-clinical-teeth", "46")
	refType(b, "#f-clinical-anaesthesia", "Local")
	if got := refValue(b, "#f-clinical-procedure"); got != "retained-roots" {
		t.Errorf("procedure chosen by typing: %q", got)
	}
	if got := refValue(b, "#f-clinical-anaesthesia"); got != "la" {
		t.Errorf("anaesthesia chosen by typing: %q", got)
	}

	// The draft saved itself, and is on the practice's drafts list.
	refWait(b, "the autosave", `document.getElementById("refer-save-status").textContent.startsWith("Draft saved at") && location.search.includes("id=")`)
	var id string
	b.eval(`new URLSearchParams(location.search).get("id")`, &id)
	var drafts []struct {
		ID      string `json:"id"`
		Patient string `json:"patient"`
	}
	b.eval(`fetch("/api/worklists/drafts").then(r => r.json())`, &drafts)
	found := false
	for _, d := range drafts {
		if d.ID == id {
			found = true
			if !strings.Contains(d.Patient, strings.ToUpper(family)) {
				t.Errorf("draft saved with patient %q", d.Patient)
			}
		}
	}
	if !found {
		t.Fatalf("draft %s not on the drafts list %+v", id, drafts)
	}

	// The demo's register does not know this made-up patient: the trace
	// says so plainly and changes nothing.
	b.run(chromedp.Click("#refer-trace", chromedp.ByQuery))
	refWait(b, "the trace answer", `document.getElementById("refer-trace-result").textContent.includes("No match found")`)

	// Sending without answering the radiographs question: the summary at
	// the top says what is missing and links to the question.
	refType(b, "#refer-send", kb.Enter)
	b.run(chromedp.WaitVisible("#refer-error-summary", chromedp.ByQuery))
	summary := b.text("#refer-error-summary")
	if !strings.Contains(summary, "Attach radiographs, or say why there are none.") {
		t.Errorf("error summary %q", summary)
	}
	if id := refActive(b); id != "refer-error-summary" {
		t.Errorf("focus after a refused send is on %q, not the summary", id)
	}
	b.screenshot("refer-errors")
	b.run(chromedp.Click(`#refer-error-summary a[href="#f-radiographs-attached-yes"]`, chromedp.ByQuery))
	if id := refActive(b); id != "f-radiographs-attached-yes" {
		t.Errorf("summary link focused %q", id)
	}
	// The message is also beside the question itself.
	if m := b.text("#f-radiographs-attached-wrap .app-error-message"); !strings.Contains(m, "Attach radiographs") {
		t.Errorf("message beside the radiographs question: %q", m)
	}

	// Radiographs: yes, taken yesterday, and a JPEG chosen in the file picker.
	refType(b, "#f-radiographs-attached-yes", " ")
	taken := time.Now().AddDate(0, 0, -1)
	refType(b, "#f-radiographs-exposure_date-day", fmt.Sprint(taken.Day()))
	refType(b, "#f-radiographs-exposure_date-month", fmt.Sprint(int(taken.Month())))
	refType(b, "#f-radiographs-exposure_date-year", fmt.Sprint(taken.Year()))
	refType(b, "#f-radiographs-views", "Periapical 46")
	b.run(chromedp.SetUploadFiles("#refer-file-input", []string{refJPEG(t)}, chromedp.ByQuery))
	refWait(b, "the upload", `!!document.querySelector('.ref-upload[data-state="done"]')`)
	item := b.text(".ref-upload")
	if !strings.Contains(item, "periapical-46.jpg") || !strings.Contains(item, "Uploaded") {
		t.Errorf("upload listed as %q", item)
	}
	var progress float64
	b.eval(`document.querySelector(".ref-upload progress").value`, &progress)
	if progress != 100 {
		t.Errorf("upload progress %v", progress)
	}

	// A second film, a PNG, dragged from the desktop onto the drop zone.
	var rect struct{ X, Y float64 }
	b.eval(`(() => { const z = document.getElementById("refer-drop"); z.scrollIntoView({block: "center"});
		const r = z.getBoundingClientRect(); return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`, &rect)
	dropped := refPNG(t)
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{dropped}, DragOperationsMask: 1}
		for _, typ := range []input.DispatchDragEventType{input.DragEnter, input.DragOver, input.Drop} {
			if err := input.DispatchDragEvent(typ, rect.X, rect.Y, data).Do(ctx); err != nil {
				return err
			}
		}
		return nil
	}))
	refWait(b, "the dropped film", `document.querySelectorAll('.ref-upload[data-state="done"]').length === 2`)
	if s := refBody(b); !strings.Contains(s, "opg.png") {
		t.Error("the dropped PNG is not listed")
	}
	b.screenshot("refer")

	// Send: the URN, large, and what happens next.
	refType(b, "#refer-send", kb.Enter)
	b.run(chromedp.WaitVisible("#refer-confirmation .app-urn", chromedp.ByQuery))
	u := strings.TrimSpace(b.text("#refer-confirmation .app-urn"))
	if !refURNPattern.MatchString(u) || urn.Check(u) != nil {
		t.Fatalf("URN shown %q", u)
	}
	conf := b.text("#refer-confirmation")
	for _, want := range []string{"Referral sent", "What happens next", "texted", "2 films were sent"} {
		if !strings.Contains(conf, want) {
			t.Errorf("confirmation lacks %q: %q", want, conf)
		}
	}
	b.screenshot("refer-submitted")

	// Opening the sent referral's form again shows its URN, not the form.
	b.open("/app/refer?id=" + id)
	if got := strings.TrimSpace(b.text("#refer-confirmation .app-urn")); got != u {
		t.Errorf("the sent referral reopened shows %q", got)
	}

	// Our referrals lists it, with its film, and the filter finds it.
	b.open("/app/practice")
	row := fmt.Sprintf(`#practice-table tr[data-urn="%s"]`, u)
	b.run(chromedp.WaitVisible(row, chromedp.ByQuery))
	rowText := b.text(row)
	for _, want := range []string{u, strings.ToUpper(family), "Waiting for clinical triage", "Routine"} {
		if !strings.Contains(rowText, want) {
			t.Errorf("practice row lacks %q: %q", want, rowText)
		}
	}
	// Both uploads were wrapped into the referral's one study, and the
	// worklist counts studies.
	// Two films uploaded: counted as two, though one study holds them.
	if films := b.text(row + " td.num"); !strings.HasPrefix(strings.TrimSpace(films), "2") {
		t.Errorf("films column %q", films)
	}
	var href string
	var ok bool
	b.run(chromedp.AttributeValue(row+" a", "href", &href, &ok, chromedp.ByQuery))
	if href != "/app/referral?id="+id {
		t.Errorf("row links to %q", href)
	}
	refType(b, "#practice-filter", strings.ToLower(u[:3]+" "+u[3:]))
	refWait(b, "the filter", `document.querySelectorAll("#practice-table tbody tr").length === 1`)
	if c := b.text("#practice-count"); !strings.HasPrefix(c, "Showing 1 of") {
		t.Errorf("filter count %q", c)
	}
	refClear(b, "#practice-filter")
	refType(b, "#practice-filter", "booked")
	refWait(b, "the status filter", `[...document.querySelectorAll("#practice-table tbody tr")].every(r => r.textContent.includes("Appointment booked")) && document.querySelectorAll("#practice-table tbody tr").length > 0`)
	refClear(b, "#practice-filter")
	refType(b, "#practice-filter", kb.Backspace)
	b.screenshot("practice")
}

// A draft opened from the drafts page comes back as it was left; if
// someone else changes it meanwhile, the page says so and saves nothing
// over it. On a tablet.
func TestDraftResumeRestoresFields(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 768, 1024)
	refJSErrors(b)
	b.signIn("referrer@demo.molar.test", -1)
	b.run(chromedp.WaitVisible("#f-patient-given", chromedp.ByQuery))

	family := refLetters(time.Now().UnixNano() + 7)
	refType(b, "#f-patient-given", "Resume")
	refType(b, "#f-patient-family", family)
	refType(b, "#f-patient-birth_date-day", "1")
	refType(b, "#f-patient-birth_date-month", "2")
	refType(b, "#f-patient-birth_date-year", "1975")
	refType(b, "#f-patient-sex-male", " ")
	refType(b, "#f-medical-none_declared", " ")
	refType(b, "#f-clinical-urgency-urgent", " ")
	refType(b, "#f-clinical-reason", "Draft to be finished later.")
	refType(b, "#f-clinical-procedure", "Apic")
	refType(b, "#f-radiographs-attached-no", " ")
	refType(b, "#f-radiographs-none_reason", "Not clinically indicated.")
	refWait(b, "the autosave", `document.getElementById("refer-save-status").textContent.startsWith("Draft saved at") && location.search.includes("id=")`)
	var id string
	b.eval(`new URLSearchParams(location.search).get("id")`, &id)

	b.open("/app/drafts")
	link := fmt.Sprintf(`#drafts-table tr[data-id="%s"] a.drafts-continue`, id)
	b.run(chromedp.WaitVisible(link, chromedp.ByQuery))
	if row := b.text(fmt.Sprintf(`#drafts-table tr[data-id="%s"]`, id)); !strings.Contains(row, strings.ToUpper(family)) || !strings.Contains(row, "Urgent") {
		t.Errorf("draft row %q", row)
	}
	b.screenshot("drafts")
	b.run(chromedp.Click(link, chromedp.ByQuery))
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.location(), "/app/refer?id="+id); {
		if time.Now().After(deadline) {
			t.Fatalf("Continue went to %s", b.location())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.run(chromedp.WaitVisible("#f-patient-given", chromedp.ByQuery))
	refWait(b, "the draft to load", `(document.getElementById("f-patient-given") || {}).value === "Resume"`)

	for sel, want := range map[string]string{
		"#f-patient-family": family, "#f-patient-birth_date-day": "1", "#f-patient-birth_date-month": "2",
		"#f-patient-birth_date-year": "1975", "#f-clinical-reason": "Draft to be finished later.",
		"#f-clinical-procedure": "apicectomy", "#f-radiographs-none_reason": "Not clinically indicated.",
	} {
		if got := refValue(b, sel); got != want {
			t.Errorf("%s restored as %q, want %q", sel, got, want)
		}
	}
	var checked []bool
	b.eval(`["f-patient-sex-male", "f-medical-none_declared", "f-clinical-urgency-urgent", "f-radiographs-attached-no"].map(id => document.getElementById(id).checked)`, &checked)
	for i, c := range checked {
		if !c {
			t.Errorf("choice %d not restored: %v", i, checked)
		}
	}
	var hidden bool
	b.eval(`document.getElementById("refer-no-films").hidden || document.getElementById("refer-medical-details").hidden === false`, &hidden)
	if hidden {
		t.Error("the answers shown do not follow the restored choices")
	}
	b.screenshot("refer-tablet")

	// Someone else saves the draft (here through the API).
	get := func() (map[string]any, string) {
		req, _ := http.NewRequest("GET", srv.Base+"/api/referrals/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r map[string]any
		json.NewDecoder(resp.Body).Decode(&r)
		return r, resp.Header.Get("ETag")
	}
	r, tag := get()
	r["patient"].(map[string]any)["given"] = "Changed elsewhere"
	body, _ := json.Marshal(r)
	req, _ := http.NewRequest("PUT", srv.Base+"/api/referrals/"+id, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Token)
	req.Header.Set("If-Match", tag)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT by someone else: %d %s", resp.StatusCode, msg)
	}

	refType(b, "#f-clinical-teeth", "14")
	b.run(chromedp.WaitVisible("#refer-conflict", chromedp.ByQuery))
	if c := b.text("#refer-conflict"); !strings.Contains(c, "Someone else changed this draft") {
		t.Errorf("conflict message %q", c)
	}
	if r, _ := get(); r["patient"].(map[string]any)["given"] != "Changed elsewhere" || r["clinical"].(map[string]any)["teeth"] != nil {
		t.Errorf("the other person's change was overwritten: %v", r["patient"])
	}
	b.screenshot("refer-conflict")
}

// refUnknownURN is a well-formed URN that no demo referral has.
func refUnknownURN(t *testing.T) string {
	for _, c := range "23456789ABCDEFGHJKMNPQRSTVWXY" {
		s := "BBBBBBBBB" + string(c)
		if urn.Check(s) == nil {
			return s
		}
	}
	t.Fatal("no check character fits")
	return ""
}

// The public tracker: with the URN and date of birth it shows the
// status, the steps and the treating service, never anything clinical;
// a wrong date of birth and an unknown URN get the same answer.
func TestTrackerPublic(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 1366, 768)
	refJSErrors(b)

	// Booked: status, steps, the service and the appointment.
	b.open("/track?urn=NQQJ39YBES")
	b.run(chromedp.WaitVisible("#track-urn", chromedp.ByQuery))
	if v := refValue(b, "#track-urn"); v != "NQQJ39YBES" {
		t.Errorf("URN prefilled as %q", v)
	}
	if nav := refBody(b); strings.Contains(nav, "Sign out") {
		t.Error("the tracker shows a signed-in header to a stranger")
	}
	refType(b, "#track-dob-day", "25")
	refType(b, "#track-dob-month", "4")
	refType(b, "#track-dob-year", "1979"+kb.Enter)
	b.run(chromedp.WaitVisible("#track-result", chromedp.ByQuery))
	if s := b.text("#track-status"); s != "Appointment booked" {
		t.Errorf("status %q", s)
	}
	timeline := b.text("#track-timeline")
	for _, want := range []string{"Referral received", "With the clinical triage team", "Accepted by the treating service", "Patient contacted or appointment booked"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q: %q", want, timeline)
		}
	}
	var done int
	b.eval(`document.querySelectorAll('#track-timeline li[data-done="yes"]').length`, &done)
	if done < 5 {
		t.Errorf("%d steps done on a booked referral", done)
	}
	service := b.text("#track-service")
	for _, want := range []string{"Molar Demo Community Oral Surgery (Level 2)", "12 Market Street", "0113 496 0200"} {
		if !strings.Contains(service, want) {
			t.Errorf("service lacks %q: %q", want, service)
		}
	}
	if a := b.text("#track-appointment"); !strings.Contains(a, "Your appointment") {
		t.Errorf("appointment %q", a)
	}
	page := refBody(b)
	for _, clinical := range []string{"Retained root", "retained-roots", "Noah", "Brown", "BROWN"} {
		if strings.Contains(page, clinical) {
			t.Errorf("the tracker shows %q", clinical)
		}
	}
	b.screenshot("track")

	// Wrong date of birth, and a URN that does not exist: the same words.
	tryTrack := func(ref, d, m, y string) string {
		b.run(chromedp.Click("#track-again", chromedp.ByQuery))
		b.run(chromedp.WaitVisible("#track-urn", chromedp.ByQuery))
		refType(b, "#track-urn", ref)
		refType(b, "#track-dob-day", d)
		refType(b, "#track-dob-month", m)
		refType(b, "#track-dob-year", y)
		b.run(chromedp.Click("#track-submit", chromedp.ByQuery))
		b.run(chromedp.WaitVisible("#track-problem", chromedp.ByQuery))
		return b.text("#track-problem")
	}
	wrongDOB := tryTrack("CJG KBT G22K", "1", "1", "1980")
	if !strings.HasPrefix(wrongDOB, "We could not find a referral with that reference and date of birth") {
		t.Errorf("wrong date of birth: %q", wrongDOB)
	}
	refClear(b, "#track-urn")
	for _, part := range []string{"day", "month", "year"} {
		refClear(b, "#track-dob-"+part)
	}
	refType(b, "#track-urn", refUnknownURN(t))
	refType(b, "#track-dob-day", "12")
	refType(b, "#track-dob-month", "3")
	refType(b, "#track-dob-year", "1984")
	b.run(chromedp.Click("#track-submit", chromedp.ByQuery))
	refWait(b, "the answer for an unknown URN", `document.getElementById("track-problem") && !document.querySelector("#track-outcome .app-loading")`)
	if unknown := b.text("#track-problem"); unknown != wrongDOB {
		t.Errorf("unknown URN answered %q, wrong date of birth %q", unknown, wrongDOB)
	}
	b.screenshot("track-not-found")

	// A mistyped reference is caught before asking the server.
	refClear(b, "#track-urn")
	refType(b, "#track-urn", "CJGKBTG22M")
	b.run(chromedp.Click("#track-submit", chromedp.ByQuery))
	if e := b.text("#track-urn-error"); !strings.Contains(e, "mistake") {
		t.Errorf("mistyped URN: %q", e)
	}

	// Waiting for triage: no service yet, nothing clinical.
	refClear(b, "#track-urn")
	refType(b, "#track-urn", "cjgkbtg22k")
	b.run(chromedp.Click("#track-submit", chromedp.ByQuery))
	b.run(chromedp.WaitVisible("#track-result", chromedp.ByQuery))
	if s := b.text("#track-status"); s != "Waiting for clinical triage" {
		t.Errorf("status %q", s)
	}
	b.text("#track-no-service")
	page = refBody(b)
	for _, clinical := range []string{"pericoronitis", "Olivia", "Smith", "third molar", "asthma", "Asthma"} {
		if strings.Contains(page, clinical) {
			t.Errorf("the tracker shows %q", clinical)
		}
	}
	b.screenshot("track-triage")
}
