package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// contrastJS lists the visible text on the page whose contrast with what
// is behind it is below WCAG 2.x AA: 4.5:1, or 3:1 for large text (24 px,
// or 18.66 px bold). The background is the nearest opaque one up the
// tree; text over images and canvases (the films) is left out, as are
// disabled controls, which WCAG exempts.
const contrastJS = `(() => {
  const parse = (c) => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(",").map((x) => parseFloat(x)); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const blend = (top, under) => ({r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.backgroundImage !== "none" || e.tagName === "CANVAS" || e.tagName === "IMG") return null;
      const c = parse(s.backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    let bg = {r: 255, g: 255, b: 255, a: 1};
    for (const c of layers.reverse()) bg = blend(c, bg);
    return bg;
  };
  const overFilm = (el) => !!el.closest(".film-viewer, .film-pane, [data-over-film]");
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || s.visibility === "hidden" || s.display === "none" || parseFloat(s.opacity) === 0) continue;
    if (el.closest("[disabled], [aria-disabled=true], .app-visually-hidden, .skip-link") || overFilm(el)) continue;
    const fg = parse(s.color), bg = background(el);
    if (!fg || !bg) continue;
    const c = blend(fg, bg);
    const l1 = lum(c), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) bad.push(ratio.toFixed(2) + " < " + need + ": " + el.tagName.toLowerCase() + (el.className ? "." + String(el.className).split(" ")[0] : "") + " “" + n.textContent.trim().slice(0, 40) + "” " + s.color + " on " + JSON.stringify(bg));
  }
  return bad;
})()`

// Every page's text meets WCAG AA contrast, at desktop size, as each role
// sees it with its data on it.
func TestContrast(t *testing.T) {
	srv := demo(t)
	for _, tc := range []struct {
		email string // "" for a page without sign-in
		pages []string
		ready string // an element present once the page has drawn its data
	}{
		{"", []string{"/login", "/track?urn=NQQJ39YBES"}, "body"},
		{"referrer@demo.molar.test", []string{"/app/refer", "/app/drafts", "/app/practice"}, "main h1"},
		{"clinician@demo.molar.test", []string{"/app/triage", "/app/referral?urn=CJGKBTG22K", "/app/provider"}, "main h1"},
		{"sysadmin@demo.molar.test", []string{"/app/admin#users", "/app/admin#forwarding", "/app/admin#audit"}, "main h1"},
		{"analyst@demo.molar.test", []string{"/app/reports"}, "main h1"},
		{"service-definer@demo.molar.test", []string{"/app/services"}, "main h1"},
	} {
		name := tc.email
		if name == "" {
			name = "public"
		}
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t, srv, 1366, 768)
			if tc.email != "" {
				b.signIn(tc.email, -1)
			}
			for _, p := range tc.pages {
				b.open(p)
				b.run(chromedp.WaitVisible(tc.ready, chromedp.ByQuery))
				// Let the page fetch and draw its data.
				var settled bool
				b.eval(`new Promise((r) => setTimeout(() => r(!document.querySelector(".app-loading")), 1500))`, &settled)
				// The check itself must be able to fail: a pale line it has
				// to catch, removed again.
				var caught []string
				b.eval(`(() => { const p = document.createElement("p"); p.id = "contrast-probe"; p.style.color = "#b0b0b0";
					p.style.background = "#fff"; p.textContent = "pale probe text"; document.querySelector("main, body").append(p); return true; })()`, nil)
				b.eval(contrastJS, &caught)
				b.eval(`document.getElementById("contrast-probe").remove()`, nil)
				if !strings.Contains(strings.Join(caught, "\n"), "pale probe text") {
					t.Fatalf("%s: the contrast check missed a 2.1:1 line: %v", p, caught)
				}
				var bad []string
				b.eval(contrastJS, &bad)
				if len(bad) > 0 {
					t.Errorf("%s: %d texts below WCAG AA contrast:\n  %s", p, len(bad), strings.Join(bad, "\n  "))
				}
			}
		})
	}
}
