package app

// The triage, referral and provider pages, driven as triagers, referrers
// and booking staff use them. The shared demo server's Olivia Smith is
// only read; Harry Jones is the one these tests move on (accepted to the
// community service, accepted for treatment, booked). Anything bulkier
// (500 referrals, answering a question, recording a hospital appointment)
// happens on a private demo server, so that no other page's tests see it.

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// triWait polls a JavaScript condition until it is true. A click that
// navigates may land while a poll is running, which ends that page's
// JavaScript: the poll starts again on the new page.
func triWait(b *browser, cond string) {
	b.t.Helper()
	poll := fmt.Sprintf(`new Promise((resolve) => { const t0 = Date.now(); const tick = () => { let v = false; try { v = !!(%s); } catch (e) {} if (v || Date.now() - t0 > 2000) resolve(v); else setTimeout(tick, 25); }; tick(); })`, cond)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		var ok bool
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(poll, &ok, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
			return p.WithAwaitPromise(true)
		}))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil && !navigated(err) {
			b.t.Fatalf("waiting for %s: %v (at %s)", cond, err, b.location())
		}
		if err != nil {
			time.Sleep(50 * time.Millisecond) // let the new page start
		}
	}
	b.t.Fatalf("waited 20 s for %s (at %s)", cond, b.location())
}

// navigated reports an evaluation cut short by the page going away.
func navigated(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") ||
		strings.Contains(msg, "Cannot find context")
}

// triKey presses a key on whatever has the focus.
func triKey(b *browser, k string) {
	b.t.Helper()
	b.run(chromedp.KeyEvent(k))
}

// triDrag drags the left mouse button from (x0, y0) to (x1, y1) in steps.
func triDrag(b *browser, x0, y0, x1, y1 float64) {
	b.t.Helper()
	b.run(chromedp.ActionFunc(func(ctx context.Context) error {
		if err := input.DispatchMouseEvent(input.MouseMoved, x0, y0).Do(ctx); err != nil {
			return err
		}
		if err := input.DispatchMouseEvent(input.MousePressed, x0, y0).WithButton(input.Left).WithButtons(1).WithClickCount(1).Do(ctx); err != nil {
			return err
		}
		for i := 1; i <= 12; i++ {
			x, y := x0+(x1-x0)*float64(i)/12, y0+(y1-y0)*float64(i)/12
			if err := input.DispatchMouseEvent(input.MouseMoved, x, y).WithButton(input.Left).WithButtons(1).Do(ctx); err != nil {
				return err
			}
		}
		return input.DispatchMouseEvent(input.MouseReleased, x1, y1).WithButton(input.Left).WithButtons(0).WithClickCount(1).Do(ctx)
	}))
}

// triWatch collects the page's uncaught exceptions and console errors;
// the test ends by checking there were none.
func triWatch(b *browser) {
	var mu sync.Mutex
	var errs []string
	chromedp.ListenTarget(b.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			errs = append(errs, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				errs = append(errs, "console.error: "+strings.Join(parts, " "))
			}
		}
	})
	b.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			b.t.Errorf("page error: %s", e)
		}
	})
}

type triRow struct {
	ID      string `json:"id"`
	URN     string `json:"urn"`
	Urgency string `json:"urgency"`
	Patient string `json:"patient"`
	Films   string `json:"films"`
}

const triRowsJS = `[...document.querySelectorAll("table.mx-worklist tbody tr")].map((tr) => ({id: tr.dataset.id,
  urn: tr.querySelector("a.mx-rowlink").textContent, urgency: tr.cells[0].textContent, patient: tr.cells[2].textContent,
  films: tr.cells[5].textContent}))`

// triCanvasJS sums a sample of the first film pane's pixels.
const triCanvasJS = `(() => {
  const c = document.querySelector(".film-pane canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let sum = 0, lit = 0; const seen = new Set();
  for (let i = 0; i < d.length; i += 4 * 31) { sum += d[i] + d[i + 1] + d[i + 2]; if (d[i] > 16) lit++; seen.add(d[i]); }
  return {sum, lit, levels: seen.size, width: c.width, height: c.height};
})()`

type triCanvas struct {
	Sum, Lit, Levels, Width, Height float64
}

// frames waits for the viewer to draw what it was asked to.
const triFramesJS = `new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => r(true), 30))))`

// The clinician's worklist is ordered by urgency, opens by keyboard, and
// the referral shows its films: drawn, windowed by a drag, measured in
// mm. A return template fills the advice; Harry Jones is accepted to the
// community Level 2 service with the decision panel's keys.
func TestTriageWorklistAndReferral(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 1366, 768)
	triWatch(b)
	b.signIn("clinician@demo.molar.test", -1)

	b.open("/app/triage")
	triWait(b, `document.body.dataset.rendered && document.querySelector("table.mx-worklist tbody tr")`)
	var rows []triRow
	b.eval(triRowsJS, &rows)
	rank := map[string]int{"Suspected cancer (2WW)": 0, "Urgent": 1, "Routine": 2}
	olivia, aisha := -1, -1
	for i, r := range rows {
		if i > 0 && rank[r.Urgency] < rank[rows[i-1].Urgency] {
			t.Errorf("row %d (%s, %s) is more urgent than the row before it", i, r.URN, r.Urgency)
		}
		switch r.URN {
		case "CJGKBTG22K":
			olivia = i
			if !strings.Contains(r.Patient, "SMITH, Olivia") || r.Urgency != "Urgent" || !strings.HasPrefix(r.Films, "Received") {
				t.Errorf("Olivia's row: %+v", r)
			}
		case "DXT7QJH7QE":
			aisha = i
		}
	}
	if olivia < 0 || aisha != 0 || olivia < aisha {
		t.Fatalf("the suspected cancer referral first, then Olivia: aisha %d olivia %d in %+v", aisha, olivia, rows)
	}
	b.screenshot("triage-worklist")

	// J moves down the list; Enter opens the focused referral.
	for i := 0; i <= olivia; i++ {
		triKey(b, "j")
	}
	var focused string
	b.eval(`document.activeElement.textContent`, &focused)
	if focused != "CJGKBTG22K" {
		t.Fatalf("after %d × J the focus is on %q", olivia+1, focused)
	}
	triKey(b, "\r")
	triWait(b, `location.pathname === "/app/referral" && window.molarReferral && window.molarReferral.viewer`)
	var ready struct {
		Film  int  `json:"film"`
		Exact bool `json:"exact"`
	}
	b.eval(`window.molarReferral.viewer.ready`, &ready)
	if ready.Film != 0 || !ready.Exact {
		t.Fatalf("first film: %+v", ready)
	}
	var firstFilm float64
	b.eval(triFramesJS, nil)
	b.eval(`window.molarReferral.timings.firstFilmMs`, &firstFilm)
	t.Logf("first film drawn %.0f ms after navigation to the referral", firstFilm)
	page := b.text(".ref-side")
	for _, want := range []string{"SMITH, Olivia", "999 000 0018", "Allergies: Penicillin (rash)", "38, 48", "Waiting for clinical triage", "Your triage decision", "History"} {
		if !strings.Contains(page, want) {
			t.Errorf("the referral's summary lacks %q", want)
		}
	}
	var films int
	b.eval(`window.molarReferral.viewer.state().films`, &films)
	if films != 4 {
		t.Errorf("the viewer has %d films, want Olivia's OPG and three periapicals", films)
	}

	// The film is drawn: not blank.
	var before, after triCanvas
	b.eval(triCanvasJS, &before)
	if before.Lit < 100 || before.Levels < 8 {
		t.Fatalf("the film looks blank: %+v", before)
	}
	// A window/level drag changes the pixels.
	var rect struct{ X, Y, W, H float64 }
	b.eval(`(() => { const r = document.querySelector(".film-pane canvas").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`, &rect)
	cx, cy := rect.X+rect.W/2, rect.Y+rect.H/2
	triDrag(b, cx, cy, cx+160, cy+90)
	b.eval(triFramesJS, nil)
	b.eval(triCanvasJS, &after)
	if after.Sum == before.Sum {
		t.Errorf("a window/level drag left the pixels as they were: %+v", after)
	}
	var win struct{ Center, Width float64 }
	b.eval(`window.molarReferral.viewer.window()`, &win)
	t.Logf("window after the drag: centre %.0f, width %.0f", win.Center, win.Width)

	// M (the film has the focus after the drag) measures in mm.
	triKey(b, "m")
	triDrag(b, cx-150, cy-40, cx+150, cy+60)
	b.eval(triFramesJS, nil)
	var label string
	b.eval(`(document.querySelector(".film-measure-label") || {}).textContent || ""`, &label)
	if !regexp.MustCompile(`^\d+(\.\d)? mm$`).MatchString(label) {
		t.Errorf("measurement %q, want a length in mm", label)
	}
	t.Logf("measured %s", label)
	b.screenshot("referral-films")

	// B opens the return form even while the film has the focus; a
	// template fills the advice and the reason. Nothing is sent.
	triKey(b, "b")
	triWait(b, `document.querySelector("#ref-panel form [data-template]")`)
	b.run(chromedp.Click(`#ref-panel form button[data-template="non-diagnostic"]`, chromedp.ByQuery))
	var ret struct{ Reason, Advice string }
	b.eval(`(() => { const f = document.querySelector("#ref-panel form"); return {reason: f.querySelector("select").value, advice: f.querySelector("textarea").value}; })()`, &ret)
	if ret.Reason != "radiograph-non-diagnostic" || !strings.Contains(ret.Advice, "not diagnostic") || !strings.Contains(ret.Advice, "38, 48") {
		t.Errorf("the template filled reason %q, advice %q", ret.Reason, ret.Advice)
	}
	triKey(b, "\x1b") // Esc closes the form
	triWait(b, `!document.querySelector("#ref-panel form")`)

	// Harry Jones: A opens the accept form; his referrer's Level 2 picks
	// the community service, which lists his procedure.
	b.open("/app/referral?urn=PHE9WDMEGX")
	triWait(b, `document.querySelector("#ref-panel .ref-panel")`)
	triKey(b, "a")
	triWait(b, `document.querySelector("#ref-panel form select")`)
	var chosen struct{ Tier, Service, Priority string }
	b.eval(`(() => { const f = document.querySelector("#ref-panel form"); return {tier: (f.querySelector("input[value=L2]:checked") || {}).value || "",
	  service: f.querySelector("select").selectedOptions[0].textContent, priority: (f.querySelector("input[value=routine]:checked") || {}).value || ""}; })()`, &chosen)
	if chosen.Tier != "L2" || !strings.Contains(chosen.Service, "Community Oral Surgery") || chosen.Priority != "routine" {
		t.Errorf("the accept form starts with %+v", chosen)
	}
	// Sending without the see-and-treat answer is refused in words.
	b.run(chromedp.Click(`#ref-panel form button[type=submit]`, chromedp.ByQuery))
	if msg := b.text("#ref-panel .mx-error-summary"); !strings.Contains(msg, "first appointment") {
		t.Errorf("error summary %q", msg)
	}
	b.run(chromedp.Click(`#ref-panel form input[value=yes]`, chromedp.ByQuery))
	var unnamed []string
	b.eval(`[...document.querySelectorAll("#ref-panel input, #ref-panel select, #ref-panel textarea, #ref-panel button")]
	  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.textContent.trim())
	  .map((el) => el.outerHTML.slice(0, 80))`, &unnamed)
	if len(unnamed) > 0 {
		t.Errorf("controls without a name: %v", unnamed)
	}
	b.screenshot("decision-panel")
	b.run(chromedp.Click(`#ref-panel form button[type=submit]`, chromedp.ByQuery))
	done := b.text("#ref-panel .ref-done")
	if !strings.Contains(done, "Accepted at Level 2 and sent to Molar Demo Community Oral Surgery (Level 2)") {
		t.Errorf("after accepting: %q", done)
	}
	if st := b.text(".ref-status"); !strings.Contains(st, "Sent to the treating service") {
		t.Errorf("status after accepting: %q", st)
	}
	var now struct {
		Status   string `json:"status"`
		Decision struct {
			Tier        string `json:"tier"`
			SeeAndTreat bool   `json:"see_and_treat"`
		} `json:"decision"`
	}
	b.eval(`fetch("/api/referrals?urn=PHE9WDMEGX").then((r) => r.json())`, &now)
	if now.Status != "SENT_TO_PROVIDER" || now.Decision.Tier != "L2" || !now.Decision.SeeAndTreat {
		t.Errorf("Harry's referral after accepting: %+v", now)
	}
}

// A stale version is refused with words, not overwritten. On a tablet
// held upright, the summary comes first and the films below it.
func TestReferralStaleVersion(t *testing.T) {
	srv := demo(t)
	b := newBrowser(t, srv, 820, 1180)
	triWatch(b)
	b.signIn("clinician@demo.molar.test", -1)
	b.open("/app/referral?urn=CJGKBTG22K")
	triWait(b, `document.querySelector("#ref-panel .ref-panel")`)
	// Pretend the page saw an older version: the step must be refused.
	b.eval(`window.molarReferral.referral.version -= 1`, nil)
	triKey(b, "q")
	triWait(b, `document.querySelector("#ref-panel form [data-template]")`)
	b.run(chromedp.Click(`#ref-panel form button[data-template="medical"]`, chromedp.ByQuery))
	b.eval(`document.querySelector("#ref-panel form").requestSubmit(); true`, nil)
	if msg := b.text("#ref-panel .mx-error-summary"); !strings.Contains(msg, "Someone else changed") || !strings.Contains(msg, "Reload") {
		t.Errorf("a stale version answered %q", msg)
	}
	b.screenshot("referral-tablet")
	var layout struct{ SideBottom, FilmsTop, FilmsHeight, Width float64 }
	b.eval(`(() => { const s = document.querySelector(".ref-side").getBoundingClientRect(), f = document.querySelector(".ref-films").getBoundingClientRect();
	  return {sideBottom: s.bottom, filmsTop: f.top, filmsHeight: f.height, width: document.documentElement.scrollWidth}; })()`, &layout)
	if layout.FilmsTop < layout.SideBottom || layout.FilmsHeight < 400 || layout.Width > 820 {
		t.Errorf("upright tablet layout: %+v", layout)
	}
	var status string
	b.eval(`fetch("/api/referrals?urn=CJGKBTG22K").then((r) => r.json()).then((r) => r.status)`, &status)
	if status != "AWAITING_TRIAGE" {
		t.Errorf("Olivia's referral is %s after a refused step", status)
	}
	// A booked referral of the clinician's own service shows the treating
	// service's steps instead of the triage decision.
	b.open("/app/referral?urn=NQQJ39YBES")
	triWait(b, `document.querySelector("#ref-panel .ref-panel")`)
	panel := b.text("#ref-panel")
	for _, want := range []string{"The treating service", "Record treatment", "Did not attend", "Rearrange"} {
		if !strings.Contains(panel, want) {
			t.Errorf("Noah's panel lacks %q: %q", want, panel)
		}
	}
	if strings.Contains(panel, "Your triage decision") {
		t.Errorf("a booked referral offers the triage decision")
	}
}

// harryAtCommunity takes Harry Jones to the community service if the
// triage test has not (this test run alone).
const triHarryJS = `(async () => {
  const s = await (await fetch("/auth/session")).json();
  let r = await fetch("/api/referrals?urn=PHE9WDMEGX");
  const ref = await r.json();
  if (ref.status !== "AWAITING_TRIAGE") return ref.status;
  const services = await (await fetch("/api/services")).json();
  const community = services.find((x) => x.name.includes("Community Oral Surgery"));
  r = await fetch("/api/referrals/" + ref.id + "/steps", {method: "POST", headers: {"Content-Type": "application/json",
    "X-CSRF-Token": s.csrf_token, "If-Match": '"' + ref.version + '"'},
    body: JSON.stringify({step: "accept", decision: {tier: "L2", service_id: community.id, priority: "routine", see_and_treat: true}})});
  return (await r.json()).status;
})()`

// The clinician accepts Harry for treatment at the community service;
// the booking manager books him into a free slot and sees the
// appointment, and nothing clinical.
func TestProviderAcceptAndBook(t *testing.T) {
	srv := demo(t)
	c := newBrowser(t, srv, 1366, 768)
	triWatch(c)
	c.signIn("clinician@demo.molar.test", -1)
	c.open("/app/provider")
	var status string
	c.eval(triHarryJS, &status)
	if status != "SENT_TO_PROVIDER" {
		t.Fatalf("Harry's referral is %s, want SENT_TO_PROVIDER", status)
	}
	c.open("/app/provider")
	triWait(c, `document.body.dataset.rendered && [...document.querySelectorAll("a.mx-rowlink")].some((a) => a.textContent === "PHE9WDMEGX")`)
	c.run(chromedp.Click(`//a[contains(@class,"mx-rowlink")][text()="PHE9WDMEGX"]`, chromedp.BySearch))
	triWait(c, `document.querySelector(".pv-card button[data-step=provider-accept]")`)
	if card := c.text(".pv-card"); !strings.Contains(card, "Removal of retained roots: 36") || !strings.Contains(card, "Open the full referral") {
		t.Errorf("the clinician's view lacks the clinical summary: %q", card)
	}
	c.run(chromedp.Click(`.pv-card button[data-step=provider-accept]`, chromedp.ByQuery),
		chromedp.WaitVisible(`.pv-card form button[type=submit]`, chromedp.ByQuery),
		chromedp.Click(`.pv-card form button[type=submit]`, chromedp.ByQuery))
	if msg := c.text(".pv-detail .app-notice--success"); !strings.Contains(msg, "To contact or book") {
		t.Errorf("after accepting for treatment: %q", msg)
	}
	c.screenshot("provider")

	k := newBrowser(t, srv, 1366, 768)
	triWatch(k)
	k.signIn("booking@demo.molar.test", -1)
	k.open("/app/provider?list=provider-accepted")
	triWait(k, `document.body.dataset.rendered && [...document.querySelectorAll("a.mx-rowlink")].some((a) => a.textContent === "PHE9WDMEGX")`)
	// Keyboard: J to the row, Enter opens it beside the list.
	var rows []triRow
	k.eval(`[...document.querySelectorAll("table.mx-worklist tbody tr")].map((tr) => ({urn: tr.querySelector("a.mx-rowlink").textContent}))`, &rows)
	for i := range rows {
		triKey(k, "j")
		if rows[i].URN == "PHE9WDMEGX" {
			break
		}
	}
	triKey(k, "\r")
	triWait(k, `document.querySelector(".pv-card button[data-step=book]")`)
	card := k.text(".pv-card")
	for _, clinical := range []string{"Clinical", "Procedure", "retained roots", "See and treat", "full referral"} {
		if strings.Contains(card, clinical) {
			t.Errorf("the booking manager sees %q: %q", clinical, card)
		}
	}
	if !strings.Contains(card, "JONES, Harry") || !strings.Contains(card, "None booked") {
		t.Errorf("the booking view: %q", card)
	}
	k.run(chromedp.Click(`.pv-card button[data-step=book]`, chromedp.ByQuery))
	triWait(k, `document.querySelector(".pv-card .mx-slot input")`)
	var slot string
	k.eval(`(() => { const i = document.querySelector(".pv-card .mx-slot input"); i.click(); return i.labels[0].textContent; })()`, &slot)
	k.screenshot("booking")
	k.run(chromedp.Click(`.pv-card form button[type=submit]`, chromedp.ByQuery))
	msg := k.text(".pv-detail .app-notice--success")
	if !strings.Contains(msg, "Appointment: ") || !strings.Contains(msg, "Booked") {
		t.Errorf("after booking: %q", msg)
	}
	if appt := k.text(".pv-appointment"); !strings.Contains(appt, "Health Centre") {
		t.Errorf("the appointment shown: %q (slot %q)", appt, slot)
	}
	// It is on the booked list, with its appointment.
	k.run(chromedp.Click(`#tab-provider-booked`, chromedp.ByQuery))
	var booked string
	k.eval(`(() => { const a = [...document.querySelectorAll("a.mx-rowlink")].find((a) => a.textContent === "PHE9WDMEGX"); return a ? a.closest("tr").lastElementChild.textContent : ""; })()`, &booked)
	if booked == "" || booked == "None" {
		t.Errorf("Harry on the booked list: appointment %q", booked)
	}
	var now struct {
		Status      string `json:"status"`
		Appointment *struct {
			SlotID string `json:"slot_id"`
		} `json:"appointment"`
	}
	k.eval(`fetch("/api/referrals?urn=PHE9WDMEGX").then((r) => r.json())`, &now)
	if now.Status != "BOOKED" || now.Appointment == nil || now.Appointment.SlotID == "" {
		t.Errorf("Harry's referral after booking: %+v", now)
	}
}

// triCreateJS makes n submitted referrals as the signed-in referrer, 16 at a
// time; one in seven promises radiographs that never come.
const triCreateJS = `(async (n) => {
  const s = await (await fetch("/auth/session")).json();
  const H = {"Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": s.csrf_token};
  const urgency = ["routine", "routine", "routine", "urgent", "suspected-cancer"];
  const one = async (i) => {
    const films = i % 7 === 0;
    const form = {patient: {given: "Test" + i, family: "Load" + String(i).padStart(3, "0"), birth_date: "1980-01-01", sex: "female",
        address: ["1 Test Street", "Leeds"], postcode: "LS1 4AP", sms_consent: false},
      referrer: {name: "Dr Load Test", gdc_number: "123456"}, gp: {practice_name: "Demo Street Surgery"},
      medical: {none_declared: true},
      clinical: {reason: "Retained roots 36.", procedure: "retained-roots", teeth: "36", complexity: "L2", anaesthesia: "la", urgency: urgency[i % 5]},
      radiographs: films ? {attached: true, exposure_date: "2026-01-02", views: "Periapical 36"} : {attached: false, none_reason: "Not clinically indicated"}};
    let r = await fetch("/api/referrals", {method: "POST", headers: H, body: JSON.stringify(form)});
    if (r.status !== 201) throw new Error("draft: " + r.status + " " + await r.text());
    const d = await r.json();
    r = await fetch("/api/referrals/" + d.id + "/steps", {method: "POST", headers: {...H, "If-Match": '"' + d.version + '"'}, body: JSON.stringify({step: "submit"})});
    if (r.status !== 200) throw new Error("submit: " + r.status + " " + await r.text());
  };
  let next = 0, made = 0;
  const worker = async () => { while (next < n) { const i = next++; await one(i); made++; } };
  await Promise.all(Array.from({length: 16}, worker));
  return made;
})(COUNT)`

// On a private demo server: what changes much, or changes demo
// referrals other pages' tests read.
func TestTriagePrivateServer(t *testing.T) {
	srv, err := startDemo()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	t.Run("Worklist500", func(t *testing.T) { triWorklist500(t, srv) })
	t.Run("ReferralReferrerAnswers", func(t *testing.T) { triReferrerAnswers(t, srv) })
	t.Run("ProviderHospitalAppointment", func(t *testing.T) { triHospitalAppointment(t, srv) })
	t.Run("TriageChaseReminder", func(t *testing.T) { triChaseReminder(t, srv) })
}

// 500 referrals waiting for triage: the worklist opens with all of them,
// and its keys and search still work. The time from navigation to the
// rows is logged, not asserted.
func triWorklist500(t *testing.T, srv *demoServer) {
	r := newBrowser(t, srv, 1366, 768)
	triWatch(r)
	r.signIn("referrer@demo.molar.test", -1)
	r.open("/app/assets/app.css") // a page that stays put, for fetch()
	const n = 500
	t0 := time.Now()
	var made int
	ctx, cancel := context.WithTimeout(r.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Evaluate(strings.Replace(triCreateJS, "COUNT", fmt.Sprint(n), 1), &made, triAwait)); err != nil || made != n {
		t.Fatalf("made %d of %d referrals: %v", made, n, err)
	}
	t.Logf("%d referrals drafted and submitted through the API in %s", n, time.Since(t0).Round(time.Millisecond))

	b := newBrowser(t, srv, 1366, 768)
	triWatch(b)
	b.signIn("clinician@demo.molar.test", -1)
	var timing struct {
		Rows     int     `json:"rows"`
		Data     float64 `json:"data"`
		Rendered float64 `json:"rendered"`
		Painted  float64 `json:"painted"`
		Fetch    float64 `json:"fetch"`
	}
	for i := 0; i < 2; i++ { // the first load warms the server's and the browser's caches
		b.open("/app/triage")
		triWait(b, `document.body.dataset.rendered && performance.getEntriesByName("worklist-painted").length`)
		b.eval(`({rows: document.querySelectorAll("table.mx-worklist tbody tr").length,
		  data: performance.getEntriesByName("worklist-data")[0].startTime,
		  rendered: performance.getEntriesByName("worklist-rendered")[0].startTime,
		  painted: performance.getEntriesByName("worklist-painted")[0].startTime,
		  fetch: performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/worklists/awaiting-triage"))[0].duration})`, &timing)
		t.Logf("load %d: %d rows; from navigation: lists fetched %.0f ms (awaiting-triage request %.0f ms), rows in the page %.0f ms, painted %.0f ms; building the rows took %.0f ms",
			i+1, timing.Rows, timing.Data, timing.Fetch, timing.Rendered, timing.Painted, timing.Rendered-timing.Data)
	}
	if timing.Rows < n {
		t.Fatalf("%d rows, want at least %d", timing.Rows, n)
	}
	// J/K still move, and search narrows to one referral.
	triKey(b, "j")
	triKey(b, "j")
	triKey(b, "k")
	var at int
	b.eval(`[...document.querySelectorAll("table.mx-worklist tbody tr")].findIndex((tr) => tr.contains(document.activeElement))`, &at)
	if at != 0 {
		t.Errorf("J, J, K: on row %d, want 0", at)
	}
	triKey(b, "/")
	var focus string
	b.eval(`document.activeElement.id`, &focus)
	if focus != "find" {
		t.Errorf("/ put the focus on %q, want the search box", focus)
	}
	// CDP sends the "/" as its own character event, which a person's
	// browser does not type once keydown is handled: start afresh.
	b.eval(`document.getElementById("find").value = ""`, nil)
	b.run(chromedp.SendKeys("#find", "LOAD123", chromedp.ByQuery))
	var shown int
	b.eval(`document.querySelectorAll("table.mx-worklist tbody tr:not([hidden])").length`, &shown)
	if shown != 1 {
		t.Errorf("search for LOAD123 shows %d rows", shown)
	}
	b.screenshot("triage-worklist-500")
}

var triAwait = func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

// A referrer opening their own referral sees it and its films, not the
// triage decision; they answer the triager's question and it goes back
// to triage.
func triReferrerAnswers(t *testing.T, srv *demoServer) {
	b := newBrowser(t, srv, 1366, 768)
	triWatch(b)
	b.signIn("referrer@demo.molar.test", -1)
	b.open("/app/referral?urn=KC8QCSFB5H")
	triWait(b, `document.querySelector("#ref-panel .ref-panel") && document.querySelector(".ref-asked")`)
	side := b.text(".ref-side")
	if strings.Contains(side, "Your triage decision") {
		t.Errorf("the referrer is offered the triage decision")
	}
	for _, want := range []string{"The triage service asks", "cut off at the apex", "Anticoagulant: Warfarin, INR 2.6", "Answer the question"} {
		if !strings.Contains(side, want) {
			t.Errorf("the referrer's view lacks %q", want)
		}
	}
	b.run(chromedp.Click(`//button[contains(., "Answer the question")]`, chromedp.BySearch),
		chromedp.WaitVisible(`#ref-panel form textarea`, chromedp.ByQuery),
		chromedp.SendKeys(`#ref-panel form textarea`, "New periapical of 17 sent today; INR 2.4 on Monday.", chromedp.ByQuery),
		chromedp.Click(`#ref-panel form button[type=submit]`, chromedp.ByQuery))
	if msg := b.text("#ref-panel .ref-done"); !strings.Contains(msg, "back with the triage service") {
		t.Errorf("after answering: %q", msg)
	}
	if st := b.text(".ref-status"); !strings.Contains(st, "Waiting for clinical triage") {
		t.Errorf("status after answering: %q", st)
	}
	b.screenshot("referral-referrer")
}

// The provider administrator records the appointment the hospital (an
// indirectly bookable service) made for Thomas Evans.
func triHospitalAppointment(t *testing.T, srv *demoServer) {
	b := newBrowser(t, srv, 1024, 768) // a tablet on its side
	triWatch(b)
	b.signIn("provider-admin@demo.molar.test", -1)
	b.open("/app/provider?list=provider-accepted")
	triWait(b, `document.body.dataset.rendered && [...document.querySelectorAll("a.mx-rowlink")].some((a) => a.textContent === "NXAP7MRQEF")`)
	b.run(chromedp.Click(`//a[contains(@class,"mx-rowlink")][text()="NXAP7MRQEF"]`, chromedp.BySearch))
	triWait(b, `document.querySelector(".pv-card button[data-step=book]")`)
	if card := b.text(".pv-card"); strings.Contains(card, "Treat") || strings.Contains(card, "Accept for treatment") {
		t.Errorf("a provider administrator is offered a clinician's step: %q", card)
	}
	b.run(chromedp.Click(`.pv-card button[data-step=book]`, chromedp.ByQuery))
	triWait(b, `document.querySelector(".pv-card form input[type=datetime-local]")`)
	// Without a date the form says what is missing.
	b.run(chromedp.Click(`.pv-card form button[type=submit]`, chromedp.ByQuery))
	if msg := b.text(".pv-card .mx-error-summary"); !strings.Contains(msg, "date and time") {
		t.Errorf("error summary %q", msg)
	}
	when := time.Now().AddDate(0, 0, 10).Format("2006-01-02") + "T14:30"
	b.eval(fmt.Sprintf(`(() => { const f = document.querySelector(".pv-card form"); f.querySelector("input[type=datetime-local]").value = %q;
	  f.querySelector("input[name=location]").value = "Maxillofacial clinic, level 2"; return true; })()`, when), nil)
	b.run(chromedp.SendKeys(`.pv-card form textarea`, "Interpreter booked (Polish).", chromedp.ByQuery),
		chromedp.Click(`.pv-card form button[type=submit]`, chromedp.ByQuery))
	if msg := b.text(".pv-detail .app-notice--success"); !strings.Contains(msg, "14:30") || !strings.Contains(msg, "Maxillofacial clinic, level 2") {
		t.Errorf("after recording the appointment: %q", msg)
	}
	var now struct {
		Status      string `json:"status"`
		Appointment struct {
			Location string `json:"location"`
			Minutes  int    `json:"minutes"`
			Note     string `json:"note"`
		} `json:"appointment"`
	}
	b.eval(`fetch("/api/referrals?urn=NXAP7MRQEF").then((r) => r.json())`, &now)
	if now.Status != "BOOKED" || now.Appointment.Location != "Maxillofacial clinic, level 2" || now.Appointment.Minutes != 30 || now.Appointment.Note == "" {
		t.Errorf("Thomas's referral after booking: %+v", now)
	}
	b.screenshot("provider-tablet")
}

// The chase list shows Freddie Green's promised films; from his referral
// N sends the practice a reminder, counted on the list.
func triChaseReminder(t *testing.T, srv *demoServer) {
	b := newBrowser(t, srv, 1366, 768)
	triWatch(b)
	b.signIn("clinician@demo.molar.test", -1)
	b.open("/app/triage")
	triWait(b, `document.body.dataset.rendered`)
	triKey(b, "3")
	triWait(b, `document.querySelector("#tab-chase[aria-selected=true]") && document.querySelector("table.mx-worklist tbody tr")`)
	var row string
	b.eval(`(() => { const a = [...document.querySelectorAll("a.mx-rowlink")].find((a) => a.textContent === "YMKTEVDBH4"); return a ? a.closest("tr").innerText : ""; })()`, &row)
	if !strings.Contains(row, "Radiographs promised, none received") || !strings.Contains(row, "Awaited") {
		t.Fatalf("Freddie on the chase list: %q", row)
	}
	b.run(chromedp.Click(`//a[contains(@class,"mx-rowlink")][text()="YMKTEVDBH4"]`, chromedp.BySearch))
	triWait(b, `document.querySelector("#ref-panel .ref-overdue")`)
	if films := b.text(".ref-films"); !strings.Contains(films, "awaited") {
		t.Errorf("the films area: %q", films)
	}
	var before int
	b.eval(`window.molarReferral.referral.reminders || 0`, &before)
	triKey(b, "n")
	triWait(b, `document.querySelector("#ref-panel form textarea")`)
	b.run(chromedp.Click(`#ref-panel form button[type=submit]`, chromedp.ByQuery))
	msg := b.text("#ref-panel .ref-done")
	if want := fmt.Sprintf("Reminder sent (%d so far)", before+1); !strings.Contains(msg, want) {
		t.Errorf("after reminding: %q, want %q", msg, want)
	}
	triWait(b, `[...document.querySelectorAll(".ref-history__list li")].some((li) => li.innerText.includes("Reminder: radiographs promised"))`)
}
