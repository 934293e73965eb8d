// Molar film viewer: intraoral and panoramic X-rays for clinical triage.
//
// Everything comes from DICOMweb in the browser: metadata, thumbnails, a
// quick server rendering for the first look, then the native pixels from
// WADO-RS frames so that window/level is exact on 12- and 16-bit data. No
// dependencies and no build step: NHS networks are closed, and this file
// is served as it is written.
//
//   import { openFilms } from "/assets/film/film.js";
//   const viewer = openFilms(element, {
//     dicomweb: "/dicom-web",
//     films: [{ study, series, instance }, ...],
//     overlay: { patient: "SMITH, Olivia", nhsNumber: "9990000018", urn: "DEMO4K7Q2X" },
//   });
//
// See openFilms for the options and the controller.

const TAG = {
  patientName: "00100010",
  patientID: "00100020",
  patientBirthDate: "00100030",
  accession: "00080050",
  sopClass: "00080016",
  modality: "00080060",
  studyDate: "00080020",
  acquisitionDate: "00080022",
  contentDate: "00080023",
  seriesDescription: "0008103E",
  imageLaterality: "00200062",
  laterality: "00200060",
  samplesPerPixel: "00280002",
  photometric: "00280004",
  numberOfFrames: "00280008",
  rows: "00280010",
  columns: "00280011",
  pixelSpacing: "00280030",
  bitsAllocated: "00280100",
  bitsStored: "00280101",
  highBit: "00280102",
  pixelRepresentation: "00280103",
  windowCenter: "00281050",
  windowWidth: "00281051",
  rescaleIntercept: "00281052",
  rescaleSlope: "00281053",
  voiFunction: "00281056",
  imagerPixelSpacing: "00181164",
  magnification: "00181114",
};

const EXPLICIT_LE = "1.2.840.10008.1.2.1";
const INTRAORAL_CLASSES = ["1.2.840.10008.5.1.4.1.1.1.3", "1.2.840.10008.5.1.4.1.1.1.3.1"];

// A film above this many pixels whose native pixels have not come within
// PREVIEW_AFTER ms gets a quick server rendering meanwhile. On a fast
// link the pixels win and asking for the rendering would only take server
// CPU from them; over a slow one (16 MB of OPG at 20 Mbit/s is 6 s) it is
// what the triager sees first.
const PREVIEW_ABOVE = 2e6;
const PREVIEW_AFTER = 250;
// Thumbnails wait for the first film, whose pixels matter more, unless it
// takes longer than this.
const THUMBS_AFTER = 1500;
// How many films keep their unpacked pixels while not on screen. An OPG
// is about 20 MB unpacked.
const KEEP_PIXELS = 4;
const MAX_ZOOM = 32; // device pixels per image pixel

const PRESETS = [
  { id: "default", label: "From film" },
  { id: "full", label: "Full range" },
  { id: "auto", label: "Auto" },
  { id: "contrast", label: "High contrast" },
];

const SHORTCUTS = [
  ["W", "Window/level tool: drag left or right for contrast, up or down for brightness"],
  ["P", "Pan tool (right- or middle-drag pans with any tool)"],
  ["M", "Measure tool: drag from one point to another"],
  ["D", "Reset window/level to the film's own"],
  ["L / Shift+L", "Next / previous window preset"],
  ["I", "Invert black and white"],
  ["S", "Sharpen on or off"],
  ["R / Shift+R", "Rotate right / left by 90°"],
  ["H", "Flip left to right"],
  ["V", "Flip top to bottom"],
  ["0", "Fit the film to the window"],
  ["1", "Actual size (1 film pixel to 1 screen pixel)"],
  ["+ / −", "Zoom in / out (or mouse wheel, or pinch)"],
  ["Shift+arrows", "Pan"],
  ["→ / ←", "Next / previous film"],
  ["C", "Two films side by side"],
  ["F", "Full screen"],
  ["O", "Hide or show the text over the film"],
  ["Delete", "Remove the last measurement"],
  ["Home", "Reset everything for this film"],
  ["?", "Show this help"],
  ["Esc", "Stop measuring, or close this help"],
];

/**
 * openFilms shows a referral's films in container and returns the
 * controller.
 *
 * options:
 *   dicomweb  DICOMweb root, default "/dicom-web"
 *   films     [{study, series, instance, label?}] in the order shown
 *   overlay   {patient, nhsNumber, urn, dateOfBirth}: the referral's
 *             patient, shown over the film; each falls back to the film's
 *             own attributes
 *   start     index of the film shown first (default 0)
 *   compare   start with two films side by side (default false)
 *   preview   show a quick server rendering of a large film while its
 *             native pixels load (default true)
 *   headers   extra request headers, e.g. {Authorization: "Bearer …"};
 *             cookies are sent anyway (same origin)
 *
 * The controller is an EventTarget. Events: "load" with detail
 * {pane, film, phase: "preview" | "pixels" | "error", exact, ms, message}.
 * Its ready promise settles with the first film's "pixels" (or "error")
 * detail. Methods act on the active pane (the one last clicked or
 * focused):
 *
 *   show(index, {pane}?)  next()  previous()
 *   compare(on?)          two films side by side; toggles without on
 *   setTool("window" | "pan" | "measure")
 *   setWindow(centre, width)  window()  preset("default" | "full" | "auto" | "contrast")
 *   resetWindow()  invert(on?)  sharpen(on?)
 *   rotate(±90)  flip("horizontal" | "vertical")
 *   fit()  actualSize()  zoom(factor)  reset()
 *   fullscreen(on?)  overlay(on?)  help(open?)
 *   measurements(pane?)  clearMeasurements()
 *   state()               what is shown: films, panes, windows, orientation, zoom…
 *   toScreen(x, y, pane?) / toImage(clientX, clientY, pane?)
 *   stats()               frames drawn and their cost, per pane
 *   destroy()
 *
 * Windows are in modality values (after Rescale Slope and Intercept), as
 * Window Center and Width are; zoom in state() is device pixels per film
 * pixel. The keyboard shortcuts are in SHORTCUTS, shown by the help.
 */
export function openFilms(container, options = {}) {
  return new FilmViewer(container, options);
}

class FilmViewer extends EventTarget {
  constructor(container, options) {
    super();
    if (!container || !container.ownerDocument) throw new TypeError("openFilms: container must be an element");
    this.doc = container.ownerDocument;
    this.win = this.doc.defaultView;
    this.opts = {
      dicomweb: "/dicom-web",
      films: [],
      overlay: {},
      start: 0,
      compare: false,
      preview: true,
      headers: {},
      ...options,
    };
    this.root = this.opts.dicomweb.replace(/\/+$/, "");
    this.abort = new AbortController();
    this.entries = this.opts.films.map((ref, index) => new FilmEntry(this, ref, index));
    this.tool = "window";
    this.overlays = true;
    this.urls = [];
    let settle;
    this.ready = new Promise((resolve) => (settle = resolve));
    this.settleReady = settle;

    ensureStylesheet(this.doc);
    this.build(container);
    this.panes = [new Pane(this, 0)];
    this.paneBox.append(this.panes[0].el);
    this.active = 0;
    this.onFullscreen = () => this.syncButtons();
    this.doc.addEventListener("fullscreenchange", this.onFullscreen);
    this.doc.addEventListener("webkitfullscreenchange", this.onFullscreen);

    if (this.entries.length === 0) {
      this.panes[0].message("There are no films for this referral.");
      this.settleReady({ film: -1, exact: false });
    } else {
      for (const e of this.entries) e.meta.catch(() => {}); // shown per pane
      this.buildStrip();
      this.show(clampIndex(this.opts.start, this.entries.length));
      if (this.opts.compare) this.compare(true);
    }
    this.syncButtons();
  }

  // --- public API -------------------------------------------------------

  /** Shows film index in the active pane (or in options.pane). */
  show(index, { pane } = {}) {
    const p = this.panes[pane ?? this.active];
    if (!p || !this.entries[index]) return;
    p.load(this.entries[index]);
    this.syncStrip();
  }
  next() { this.step(1); }
  previous() { this.step(-1); }

  /** Two films side by side (on true), one (false), or toggles. */
  compare(on) {
    on = on ?? this.panes.length === 1;
    if (on && this.panes.length === 1) {
      const p = new Pane(this, 1);
      this.panes.push(p);
      this.paneBox.append(p.el);
      const shown = this.panes[0].entry?.index ?? 0;
      const other = this.lastSecond ?? (shown + 1) % Math.max(1, this.entries.length);
      if (this.entries[other]) p.load(this.entries[other]);
      this.setActive(1);
    } else if (!on && this.panes.length === 2) {
      const p = this.panes.pop();
      this.lastSecond = p.entry?.index;
      p.destroy();
      this.setActive(0);
    }
    this.paneBox.classList.toggle("film-compare", this.panes.length === 2);
    for (const p of this.panes) p.resize();
    this.syncButtons();
    this.syncStrip();
    this.announce(this.panes.length === 2 ? "Two films side by side" : "One film");
  }

  /** "window", "pan" or "measure". */
  setTool(tool) {
    if (!["window", "pan", "measure"].includes(tool)) throw new RangeError(`unknown tool ${tool}`);
    this.tool = tool;
    for (const p of this.panes) p.el.dataset.tool = tool;
    this.syncButtons();
    this.announce(`${TOOL_NAMES[tool]} tool`);
  }

  setWindow(center, width) { this.pane.setWindow(center, width, "custom"); }
  window() { return { ...this.pane.look.win }; }
  preset(id) { this.pane.preset(id); }
  resetWindow() { this.pane.preset("default"); }
  invert(on) { this.pane.toggle("invert", on); }
  sharpen(on) { this.pane.toggle("sharpen", on); }
  rotate(degrees = 90) { this.pane.rotate(degrees); }
  flip(axis = "horizontal") { this.pane.flip(axis); }
  fit() { this.pane.fit(); }
  actualSize() { this.pane.actualSize(); }
  zoom(factor) { this.pane.zoomBy(factor); }
  reset() { this.pane.resetAll(); }
  clearMeasurements() { this.pane.clearMeasurements(); }
  measurements(pane) { return (this.panes[pane ?? this.active] ?? this.pane).measurementList(); }
  overlay(on) {
    this.overlays = on ?? !this.overlays;
    for (const p of this.panes) p.el.classList.toggle("film-no-overlay", !this.overlays);
    this.syncButtons();
  }

  /** Full screen on true, off on false, toggles otherwise. */
  async fullscreen(on) {
    const current = this.doc.fullscreenElement ?? this.doc.webkitFullscreenElement;
    on = on ?? current !== this.el;
    try {
      if (on && current !== this.el) {
        await (this.el.requestFullscreen?.() ?? this.el.webkitRequestFullscreen?.());
      } else if (!on && current) {
        await (this.doc.exitFullscreen?.() ?? this.doc.webkitExitFullscreen?.());
      }
    } catch {
      this.announce("Full screen is not available here");
    }
    this.syncButtons();
  }

  help(open) {
    const d = this.helpDialog;
    open = open ?? !d.open;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }

  /** A snapshot of what is shown, for the page around and for tests. */
  state() {
    return {
      films: this.entries.length,
      active: this.active,
      compare: this.panes.length === 2,
      fullscreen: (this.doc.fullscreenElement ?? this.doc.webkitFullscreenElement) === this.el,
      tool: this.tool,
      overlays: this.overlays,
      panes: this.panes.map((p) => p.snapshot()),
    };
  }

  /** Client (page) coordinates of image point (x, y) in a pane. */
  toScreen(x, y, pane) {
    const p = this.panes[pane ?? this.active];
    const r = p.canvas.getBoundingClientRect();
    const q = p.imageToCanvas(x, y);
    return { x: r.left + q.x, y: r.top + q.y };
  }
  /** Image coordinates under client point (x, y) in a pane. */
  toImage(x, y, pane) {
    const p = this.panes[pane ?? this.active];
    const r = p.canvas.getBoundingClientRect();
    const q = p.canvasToImage(x - r.left, y - r.top);
    return { x: q.x, y: q.y };
  }

  /** Drawing statistics per pane: frames drawn, their cost, recent frame times. */
  stats() {
    return this.panes.map((p) => ({ draws: p.stats.draws, totalMs: p.stats.totalMs, recent: p.stats.recent.slice() }));
  }

  destroy() {
    this.abort.abort();
    this.doc.removeEventListener("fullscreenchange", this.onFullscreen);
    this.doc.removeEventListener("webkitfullscreenchange", this.onFullscreen);
    for (const p of this.panes) p.destroy();
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.el.remove();
  }

  // --- internals --------------------------------------------------------

  get pane() { return this.panes[this.active]; }

  step(delta) {
    const n = this.entries.length;
    if (n === 0) return;
    const cur = this.pane.entry?.index ?? 0;
    this.show((cur + delta + n) % n);
  }

  setActive(i) {
    this.active = i;
    this.panes.forEach((p, j) => p.el.classList.toggle("film-active", j === i && this.panes.length > 1));
    this.syncButtons();
    this.syncStrip();
  }

  async fetch(url, accept, signal) {
    const headers = { ...this.opts.headers, Accept: accept };
    const signals = [this.abort.signal, signal].filter(Boolean);
    const any = signals.length > 1 && AbortSignal.any ? AbortSignal.any(signals) : signals[0];
    const res = await fetch(url, { headers, credentials: "same-origin", signal: any });
    if (!res.ok) {
      const text = (await res.text().catch(() => "")).trim().slice(0, 300);
      const err = new Error(text || `${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return res;
  }

  instanceURL(ref) {
    const e = encodeURIComponent;
    return `${this.root}/studies/${e(ref.study)}/series/${e(ref.series)}/instances/${e(ref.instance)}`;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  announce(text) {
    // Clear first so that the same words said twice are read twice.
    this.live.textContent = "";
    this.win.setTimeout(() => (this.live.textContent = text), 50);
  }

  /** Keeps only KEEP_PIXELS films' pixels besides those on screen. */
  trimPixels() {
    const shown = new Set(this.panes.map((p) => p.entry));
    const held = this.entries.filter((e) => e.pixels && !shown.has(e)).sort((a, b) => a.used - b.used);
    for (const e of held.slice(0, Math.max(0, held.length - KEEP_PIXELS))) e.dropPixels();
  }

  build(container) {
    const b = (label, action, key, opts = {}) => {
      const btn = h("button", {
        type: "button",
        class: "film-button",
        title: key ? `${opts.title ?? label} (${key})` : opts.title ?? label,
        "aria-keyshortcuts": opts.aria ?? key,
        "aria-label": opts.title,
        "data-action": action,
      }, label);
      btn.addEventListener("click", () => this.command(action));
      return btn;
    };
    this.buttons = {
      window: b("Window/level", "tool-window", "W", { title: "Window/level tool" }),
      pan: b("Pan", "tool-pan", "P", { title: "Pan tool" }),
      measure: b("Measure", "tool-measure", "M", { title: "Measure tool" }),
      reset: b("Reset", "reset-window", "D", { title: "Reset window/level" }),
      invert: b("Invert", "invert", "I"),
      sharpen: b("Sharpen", "sharpen", "S"),
      left: b("↺", "rotate-left", "Shift+R", { title: "Rotate left", aria: "Shift+R" }),
      right: b("↻", "rotate-right", "R", { title: "Rotate right" }),
      flipH: b("⇆", "flip-h", "H", { title: "Flip left to right" }),
      flipV: b("⇅", "flip-v", "V", { title: "Flip top to bottom" }),
      fit: b("Fit", "fit", "0", { title: "Fit to window" }),
      actual: b("1:1", "actual", "1", { title: "Actual size" }),
      compare: b("Side by side", "compare", "C", { title: "Two films side by side" }),
      full: b("Full screen", "fullscreen", "F"),
      clear: b("Clear", "clear", undefined, { title: "Remove all measurements" }),
      help: b("Help", "help", "?", { title: "Keyboard shortcuts" }),
    };
    for (const k of ["window", "pan", "measure", "invert", "sharpen", "compare", "full"]) {
      this.buttons[k].setAttribute("aria-pressed", "false");
    }
    const selectId = uid("film-preset");
    this.presetSelect = h("select", { id: selectId, class: "film-select" },
      ...PRESETS.map((p) => h("option", { value: p.id }, p.label)),
      h("option", { value: "custom", disabled: "" }, "Custom"));
    this.presetSelect.addEventListener("change", () => this.pane.preset(this.presetSelect.value));

    const group = (label, ...kids) => h("div", { class: "film-group", role: "group", "aria-label": label }, ...kids);
    const bt = this.buttons;
    this.toolbar = h("div", { class: "film-toolbar", role: "toolbar", "aria-label": "Film tools" },
      group("Tools", bt.window, bt.pan, bt.measure),
      group("Window", h("label", { for: selectId, class: "film-label" }, "Preset"), this.presetSelect, bt.reset),
      group("Image", bt.invert, bt.sharpen),
      group("Orientation", bt.left, bt.right, bt.flipH, bt.flipV),
      group("Size", bt.fit, bt.actual),
      group("Layout", bt.compare, bt.full),
      group("Measurements and help", bt.clear, bt.help));

    this.strip = h("nav", { class: "film-strip", "aria-label": "Films in this referral" });
    this.paneBox = h("div", { class: "film-panes" });
    this.live = h("div", { class: "film-visually-hidden", role: "status", "aria-live": "polite" });
    this.helpDialog = this.buildHelp();
    this.el = h("section", { class: "film-viewer", "aria-label": "Film viewer" },
      this.toolbar, this.strip, this.paneBox, this.live, this.helpDialog);
    this.el.addEventListener("keydown", (e) => this.onKey(e));
    container.append(this.el);
  }

  buildHelp() {
    const headingId = uid("film-help");
    const close = h("button", { type: "button", class: "film-button film-button-primary" }, "Close");
    const d = h("dialog", { class: "film-help", "aria-labelledby": headingId },
      h("h2", { id: headingId }, "Keyboard shortcuts"),
      h("p", {}, "Click a film, or move to it with Tab, then press a key."),
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "What it does"))),
        h("tbody", {}, ...SHORTCUTS.map(([k, what]) => h("tr", {}, h("td", {}, h("kbd", {}, k)), h("td", {}, what))))),
      h("p", {}, "On a tablet: drag with one finger to use the tool, pinch to zoom, drag with two fingers to pan."),
      close);
    close.addEventListener("click", () => d.close());
    // Keys pressed inside the dialog are not shortcuts for the film.
    d.addEventListener("keydown", (e) => e.stopPropagation());
    return d;
  }

  buildStrip() {
    const list = h("ol", { class: "film-thumbs" });
    for (const e of this.entries) {
      const img = h("img", { alt: "", class: "film-thumb-img", width: "128", height: "128" });
      const caption = h("span", { class: "film-thumb-caption" }, `Film ${e.index + 1}`);
      const btn = h("button", { type: "button", class: "film-thumb", "aria-label": `Film ${e.index + 1}` }, img, caption);
      btn.addEventListener("click", () => this.show(e.index));
      list.append(h("li", {}, btn));
      e.thumb = btn;
      const size = Math.round(128 * (this.win.devicePixelRatio || 1));
      const firstFilm = new Promise((r) => this.win.setTimeout(r, THUMBS_AFTER));
      Promise.race([this.ready, firstFilm])
        .then(() => this.fetch(`${this.instanceURL(e.ref)}/thumbnail?viewport=${size},${size}`, "image/jpeg"))
        .then((r) => r.blob())
        .then((blob) => {
          const u = URL.createObjectURL(blob);
          this.urls.push(u);
          img.src = u;
        })
        .catch(() => img.classList.add("film-thumb-missing"));
      e.meta.then((m) => {
        const text = [m.type, m.lateralityText].filter(Boolean).join(", ");
        caption.textContent = `${e.index + 1}. ${e.ref.label ?? text}`;
        btn.setAttribute("aria-label", `Film ${e.index + 1}: ${describe(m)}`);
      }, () => {});
    }
    this.strip.append(list);
  }

  syncStrip() {
    const shown = new Map(this.panes.map((p, i) => [p.entry, i]));
    for (const e of this.entries) {
      if (!e.thumb) continue;
      const i = shown.get(e);
      if (i === this.active) e.thumb.setAttribute("aria-current", "true");
      else e.thumb.removeAttribute("aria-current");
      e.thumb.classList.toggle("film-thumb-shown", i !== undefined);
    }
  }

  syncButtons() {
    const p = this.pane;
    const pressed = (btn, on) => btn.setAttribute("aria-pressed", on ? "true" : "false");
    const bt = this.buttons;
    pressed(bt.window, this.tool === "window");
    pressed(bt.pan, this.tool === "pan");
    pressed(bt.measure, this.tool === "measure");
    pressed(bt.invert, !!p?.look.invert);
    pressed(bt.sharpen, !!p?.look.sharpen);
    pressed(bt.compare, this.panes.length === 2);
    pressed(bt.full, (this.doc.fullscreenElement ?? this.doc.webkitFullscreenElement) === this.el);
    if (p) this.presetSelect.value = p.look.preset;
  }

  command(action) {
    const p = this.pane;
    switch (action) {
      case "tool-window": return this.setTool("window");
      case "tool-pan": return this.setTool("pan");
      case "tool-measure": return this.setTool("measure");
      case "reset-window": return this.resetWindow();
      case "invert": return this.invert();
      case "sharpen": return this.sharpen();
      case "rotate-left": return this.rotate(-90);
      case "rotate-right": return this.rotate(90);
      case "flip-h": return this.flip("horizontal");
      case "flip-v": return this.flip("vertical");
      case "fit": return this.fit();
      case "actual": return this.actualSize();
      case "compare": return this.compare();
      case "fullscreen": return this.fullscreen();
      case "clear": return this.clearMeasurements();
      case "help": return this.help(true);
      case "next": return this.next();
      case "previous": return this.previous();
      case "next-preset": return p.cyclePreset(1);
      case "previous-preset": return p.cyclePreset(-1);
      case "zoom-in": return this.zoom(1.25);
      case "zoom-out": return this.zoom(0.8);
      case "overlay": return this.overlay();
      case "undo-measure": return p.removeLastMeasurement();
      case "cancel": return p.cancelGesture();
      case "reset-all": return this.reset();
    }
  }

  onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const t = e.target;
    if (t instanceof this.win.HTMLElement && (t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName))) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const shift = e.shiftKey;
    const map = {
      w: "tool-window", p: "tool-pan", m: "tool-measure", d: "reset-window",
      l: shift ? "previous-preset" : "next-preset", i: "invert", s: "sharpen",
      r: shift ? "rotate-left" : "rotate-right", h: "flip-h", v: "flip-v",
      0: "fit", 1: "actual", "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", _: "zoom-out",
      c: "compare", f: "fullscreen", o: "overlay", "?": "help",
      Delete: "undo-measure", Backspace: "undo-measure", Escape: "cancel", Home: "reset-all",
    };
    let action = map[key];
    if (!shift && key === "ArrowRight") action = "next";
    if (!shift && key === "ArrowLeft") action = "previous";
    if (shift && key.startsWith("Arrow")) {
      const d = 60;
      const [dx, dy] = { ArrowLeft: [d, 0], ArrowRight: [-d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] }[key] ?? [0, 0];
      this.pane.panBy(dx, dy);
      e.preventDefault();
      return;
    }
    if (!action) return;
    e.preventDefault();
    this.command(action);
  }
}

const TOOL_NAMES = { window: "Window/level", pan: "Pan", measure: "Measure" };

/**
 * FilmEntry is one film of the referral: its metadata, pixels once
 * fetched, and the way it was last looked at, so that coming back to it
 * shows it as it was left.
 */
class FilmEntry {
  constructor(viewer, ref, index) {
    this.viewer = viewer;
    this.ref = ref;
    this.index = index;
    this.url = viewer.instanceURL(ref);
    this.meta = viewer.fetch(`${this.url}/metadata`, "application/dicom+json")
      .then((r) => r.json())
      .then((json) => parseMeta(Array.isArray(json) ? json[0] : json));
    this.pixels = null; // Promise<Pixels>
    this.saved = null; // {view, look}
    this.measurements = [];
    this.used = 0;
  }

  loadPixels() {
    this.used = performance.now();
    this.pixels ??= fetchPixels(this.viewer, this.url, this.meta);
    this.pixels.catch(() => (this.pixels = null));
    return this.pixels;
  }

  dropPixels() {
    this.pixels = null;
    this.pixelsReady = false;
  }

  preview(width, height) {
    const v = this.viewer;
    return v.fetch(`${this.url}/rendered?viewport=${width},${height}`, "image/jpeg")
      .then((r) => r.blob())
      .then((b) => v.win.createImageBitmap(b));
  }
}

/** parseMeta reads what the viewer needs from an instance's DICOM JSON. */
function parseMeta(ds) {
  const vals = (tag) => ds?.[tag]?.Value ?? [];
  const str = (tag) => {
    const v = vals(tag)[0];
    if (v == null) return "";
    if (typeof v === "object") return v.Alphabetic ?? ""; // PN
    return String(v).trim();
  };
  const num = (tag, def) => {
    const v = Number(vals(tag)[0]);
    return Number.isFinite(v) ? v : def;
  };
  const pair = (tag) => {
    const v = vals(tag).map(Number);
    return v.length >= 2 && v[0] > 0 && v[1] > 0 ? [v[0], v[1]] : null;
  };
  const m = {
    rows: num(TAG.rows, 0),
    cols: num(TAG.columns, 0),
    samples: num(TAG.samplesPerPixel, 1),
    photometric: str(TAG.photometric) || "MONOCHROME2",
    bitsAllocated: num(TAG.bitsAllocated, 16),
    bitsStored: num(TAG.bitsStored, 0),
    highBit: num(TAG.highBit, -1),
    signed: num(TAG.pixelRepresentation, 0) === 1,
    slope: num(TAG.rescaleSlope, 1) || 1,
    intercept: num(TAG.rescaleIntercept, 0),
    voi: (str(TAG.voiFunction) || "LINEAR").toUpperCase(),
    window: null,
    patient: formatName(str(TAG.patientName)),
    nhsNumber: str(TAG.patientID),
    birthDate: str(TAG.patientBirthDate),
    urn: str(TAG.accession),
    modality: str(TAG.modality),
    description: str(TAG.seriesDescription),
  };
  if (!["LINEAR", "LINEAR_EXACT", "SIGMOID"].includes(m.voi)) m.voi = "LINEAR";
  if (!m.bitsStored) m.bitsStored = m.bitsAllocated;
  if (m.highBit < 0) m.highBit = m.bitsStored - 1;
  const wc = num(TAG.windowCenter, NaN);
  const ww = num(TAG.windowWidth, NaN);
  if (Number.isFinite(wc) && Number.isFinite(ww) && (m.voi === "LINEAR" ? ww >= 1 : ww > 0)) m.window = { center: wc, width: ww };

  const sop = str(TAG.sopClass);
  m.type = m.modality === "PX" ? "Panoramic (OPG)"
    : m.modality === "IO" || INTRAORAL_CLASSES.includes(sop) ? "Intraoral"
      : m.modality === "DX" || m.modality === "CR" ? "Radiograph"
        : m.modality || "Image";
  const lat = (str(TAG.imageLaterality) || str(TAG.laterality)).toUpperCase();
  m.lateralityText = { L: "Left", R: "Right", B: "Both sides", U: "Unpaired" }[lat] ?? "";
  const taken = str(TAG.acquisitionDate) || str(TAG.contentDate) || str(TAG.studyDate);
  m.taken = formatDate(taken);

  // PS3.3 C.8.11.7: in DX, Pixel Spacing is present only when calibrated
  // to the patient, so it wins; Imager Pixel Spacing is at the detector
  // and needs the estimated magnification to describe the patient (an OPG
  // magnifies by about a quarter; an intraoral sensor sits on the teeth).
  const ps = pair(TAG.pixelSpacing);
  const ips = pair(TAG.imagerPixelSpacing);
  const mag = num(TAG.magnification, 0);
  if (ps) {
    m.spacing = { row: ps[0], col: ps[1], note: "calibrated pixel spacing" };
  } else if (ips && mag > 0) {
    m.spacing = { row: ips[0] / mag, col: ips[1] / mag, note: `detector spacing ÷ magnification ${mag}` };
  } else if (ips) {
    m.spacing = { row: ips[0], col: ips[1], note: "at the detector" };
  } else {
    m.spacing = null;
  }
  return m;
}

/**
 * fetchPixels fetches frame 1 as native pixels and unpacks them for the
 * lookup table. When the server cannot send native pixels (a compressed
 * syntax it does not decode) or they cannot be read, it falls back to the
 * server's 8-bit rendering, on which window/level is only approximate.
 */
async function fetchPixels(viewer, url, metaP) {
  const t0 = performance.now();
  // The frame is asked for at once, beside the metadata rather than after
  // it: dental films are almost all native greys, and the metadata's round
  // trip is then not on the way to the first view.
  const stop = new AbortController();
  const frame = viewer.fetch(`${url}/frames/1`,
    `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}`, stop.signal)
    .then(async (res) => ({ buf: await res.arrayBuffer(), type: res.headers.get("Content-Type") ?? "" }));
  frame.catch(() => {}); // read below, or abandoned
  const m = await metaP;
  if (m.samples === 1 && m.rows > 0 && m.cols > 0 && (m.bitsAllocated === 8 || m.bitsAllocated === 16) &&
      m.bitsStored >= 1 && m.bitsStored <= 16 && m.highBit < m.bitsAllocated) {
    try {
      const { buf, type } = await frame;
      const part = firstPart(buf, type);
      const px = unpack(part, m);
      px.ms = performance.now() - t0;
      return px;
    } catch (err) {
      if (err.name === "AbortError") throw err;
      // Not native: fall through to the rendering, and say why.
      return withNote(await fetchRendered(viewer, url, m), err.status === 406
        ? "this film's compression cannot be decoded here"
        : `its pixels could not be read (${err.message})`, t0);
    }
  }
  stop.abort();
  const why = m.samples !== 1 ? "it is in colour" : "its pixel format is not supported here";
  return withNote(await fetchRendered(viewer, url, m), why, t0);
}

function withNote(px, why, t0) {
  px.note = `Window/level is approximate: ${why}, so this is the server's 8-bit image.`;
  px.ms = performance.now() - t0;
  return px;
}

async function fetchRendered(viewer, url, m) {
  const res = await viewer.fetch(`${url}/rendered`, "image/png");
  const bmp = await viewer.win.createImageBitmap(await res.blob(), { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const c = viewer.doc.createElement("canvas");
  c.width = bmp.width;
  c.height = bmp.height;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
  const n = c.width * c.height;
  const data = new Uint16Array(n);
  let lo = 255, hi = 0;
  for (let i = 0; i < n; i++) {
    const v = rgba[i * 4];
    data[i] = v;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return {
    exact: false,
    bits: 8, offset: 0, slope: 1, intercept: 0, voi: "LINEAR", mono1: false,
    // The rendering already has the film's window; as a default, show it
    // as the server drew it.
    window: { center: 128, width: 256 },
    min: lo, max: hi,
    unit: m.cols > 0 ? m.cols / c.width : 1,
    levels: [{ w: c.width, h: c.height, data }],
  };
}

/** firstPart returns the body and headers of the first part of a multipart response. */
function firstPart(buf, contentType) {
  const b = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!/^multipart\/related/i.test(contentType) || !b) throw new Error(`not multipart/related: ${contentType}`);
  const delim = ascii(`--${b[1] ?? b[2]}`);
  const bytes = new Uint8Array(buf);
  const start = indexOf(bytes, delim, 0);
  if (start < 0) throw new Error("no multipart boundary in the response");
  const headStart = indexOf(bytes, ascii("\r\n"), start) + 2;
  const headEnd = indexOf(bytes, ascii("\r\n\r\n"), headStart - 2);
  if (headStart < 2 || headEnd < 0) throw new Error("malformed multipart part");
  const headers = {};
  for (const line of new TextDecoder().decode(bytes.subarray(headStart, headEnd)).split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  // One frame was asked for, so the part ends at the last delimiter; a
  // frame is megabytes, so search from the end rather than through it.
  const end = lastIndexOf(bytes, ascii(`\r\n--${b[1] ?? b[2]}`));
  if (end < headEnd + 4) throw new Error("multipart body has no closing boundary");
  return { headers, body: bytes.subarray(headEnd + 4, end) };
}

/** unpack turns native little-endian samples into lookup-table indices. */
function unpack({ headers, body }, m) {
  const type = headers["content-type"] ?? "";
  if (!/^application\/octet-stream/i.test(type)) throw new Error(`frame came as ${type}`);
  const ts = /transfer-syntax=([0-9.]+)/i.exec(type)?.[1];
  if (ts && ts !== EXPLICIT_LE) throw new Error(`frame came in transfer syntax ${ts}`);
  const n = m.rows * m.cols;
  const bytesPer = m.bitsAllocated / 8;
  if (body.length < n * bytesPer) throw new Error(`frame has ${body.length} bytes, expected ${n * bytesPer}`);
  let raw;
  if (bytesPer === 1) {
    raw = body;
  } else if (body.byteOffset % 2 === 0) {
    raw = new Uint16Array(body.buffer, body.byteOffset, n); // browsers are little endian
  } else {
    raw = new Uint16Array(body.slice(0, 2 * n).buffer);
  }
  // Index = stored value masked to Bits Stored, shifted to start at 0 for
  // signed data (two's complement: flipping the sign bit adds 2^(bits-1)),
  // so one table of 2^bits entries covers every value.
  const bits = m.bitsStored;
  const shift = m.highBit + 1 - bits;
  const mask = (1 << bits) - 1;
  const flip = m.signed ? 1 << (bits - 1) : 0;
  let data = null;
  let lo = mask, hi = 0;
  if (!flip && !shift && bytesPer === 2) {
    // The usual film: unsigned, low bits. When nothing is set above Bits
    // Stored the samples are already indices and need no copy.
    let l0 = 0xffff, h0 = 0, l1 = 0xffff, h1 = 0, i = 0;
    for (; i + 1 < n; i += 2) {
      const a = raw[i], b = raw[i + 1];
      if (a < l0) l0 = a;
      if (a > h0) h0 = a;
      if (b < l1) l1 = b;
      if (b > h1) h1 = b;
    }
    if (i < n) { l0 = Math.min(l0, raw[i]); h0 = Math.max(h0, raw[i]); }
    if (Math.max(h0, h1) <= mask) {
      data = raw;
      lo = Math.min(l0, l1);
      hi = Math.max(h0, h1);
    }
  }
  if (!data) {
    data = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const v = ((raw[i] >> shift) & mask) ^ flip;
      data[i] = v;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return {
    exact: true,
    bits,
    offset: m.signed ? -(1 << (bits - 1)) : 0,
    slope: m.slope,
    intercept: m.intercept,
    voi: m.voi,
    mono1: m.photometric === "MONOCHROME1",
    window: m.window,
    min: lo, max: hi,
    unit: 1,
    levels: [{ w: m.cols, h: m.rows, data }],
  };
}

/** level returns the image shrunk by 2^k, averaging blocks (an area filter, so noise does not alias). */
function level(px, k) {
  while (px.levels.length <= k) {
    const src = px.levels[px.levels.length - 1];
    const w = src.w >> 1, h = src.h >> 1;
    const d = new Uint16Array(w * h);
    const s = src.data, sw = src.w;
    for (let y = 0; y < h; y++) {
      let i = 2 * y * sw, o = y * w;
      for (let x = 0; x < w; x++, i += 2) d[o + x] = (s[i] + s[i + 1] + s[i + sw] + s[i + sw + 1] + 2) >> 2;
    }
    px.levels.push({ w, h, data: d });
  }
  return px.levels[k];
}

function maxLevel(px) {
  const l0 = px.levels[0];
  let k = 0;
  while ((l0.w >> (k + 1)) >= 32 && (l0.h >> (k + 1)) >= 32) k++;
  return k;
}

/** modality turns a table index into a modality value (after rescale). */
function modality(px, idx) { return (idx + px.offset) * px.slope + px.intercept; }

/** rangeWindow spans the modality values, as the server's renderer does. */
function rangeWindow(px, lo = px.min, hi = px.max) {
  let a = modality(px, lo), b = modality(px, hi);
  if (a > b) [a, b] = [b, a];
  if (px.voi === "LINEAR") return { center: (a + b + 1) / 2, width: b - a + 1 };
  return { center: (a + b) / 2, width: Math.max(b - a, 1) };
}

/** percentileWindow spans the middle 99 % of the pixels. */
function percentileWindow(px) {
  px.hist ??= (() => {
    const k = Math.min(maxLevel(px), Math.max(0, Math.ceil(Math.log2(Math.sqrt(px.levels[0].w * px.levels[0].h / 1e6)))));
    const l = level(px, k);
    const hist = new Uint32Array(1 << px.bits);
    for (let i = 0; i < l.data.length; i++) hist[l.data[i]]++;
    return { hist, n: l.data.length };
  })();
  const { hist, n } = px.hist;
  let lo = 0, hi = hist.length - 1, acc = 0;
  for (; lo < hist.length; lo++) if ((acc += hist[lo]) > n * 0.005) break;
  acc = 0;
  for (; hi > 0; hi--) if ((acc += hist[hi]) > n * 0.005) break;
  return rangeWindow(px, Math.min(lo, hi), Math.max(lo, hi));
}

/**
 * buildLUT maps every table index to a packed RGBA grey: modality rescale,
 * VOI function (PS3.3 C.11.2.1.2), polarity. The server's renderer
 * follows the same steps, so the two agree to the grey level.
 */
function buildLUT(px, win, invert, out) {
  const n = 1 << px.bits;
  if (!out || out.length !== n) out = new Uint32Array(n);
  const { center: c, width: w } = win;
  const inv = px.mono1 !== invert;
  for (let i = 0; i < n; i++) {
    const x = (i + px.offset) * px.slope + px.intercept;
    let y;
    if (px.voi === "LINEAR_EXACT") {
      y = x <= c - w / 2 ? 0 : x > c + w / 2 ? 255 : ((x - c) / w + 0.5) * 255;
    } else if (px.voi === "SIGMOID") {
      y = 255 / (1 + Math.exp((-4 * (x - c)) / w));
    } else {
      y = x <= c - 0.5 - (w - 1) / 2 ? 0 : x > c - 0.5 + (w - 1) / 2 ? 255 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255;
    }
    let v = Math.round(Math.min(255, Math.max(0, y)));
    if (inv) v = 255 - v;
    out[i] = 0xff000000 | (v * 0x010101);
  }
  return out;
}

/**
 * Pane is one viewport: a canvas, the text over it and the measurement
 * layer, and how its film is looked at.
 */
class Pane {
  constructor(viewer, slot) {
    this.viewer = viewer;
    this.slot = slot;
    this.entry = null;
    this.meta = null;
    this.px = null;
    this.previewBmp = null;
    this.token = 0;
    this.view = { s: 1, cx: 0, cy: 0, o: [1, 0, 0, 1], fitted: true };
    this.look = { win: { center: 0, width: 1 }, preset: "default", invert: false, sharpen: false };
    this.lut = null;
    this.lutKey = "";
    this.cache = null;
    this.pointers = new Map();
    this.gesture = null;
    this.drawPending = 0;
    this.stats = { draws: 0, totalMs: 0, recent: [] };
    this.W = 0;
    this.H = 0;
    this.dpr = 1;

    const doc = viewer.doc;
    this.canvas = h("canvas", { class: "film-canvas", role: "img", "aria-label": "Film" });
    this.ctx = this.canvas.getContext("2d", { alpha: false });
    this.svg = doc.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "film-marks");
    this.svg.setAttribute("aria-hidden", "true");
    this.ov = {
      tl: h("div", { class: "film-ov film-ov-tl" }),
      tr: h("div", { class: "film-ov film-ov-tr" }),
      bl: h("div", { class: "film-ov film-ov-bl" }),
      br: h("div", { class: "film-ov film-ov-br" }),
    };
    this.msg = h("div", { class: "film-message", role: "status" });
    this.el = h("div", {
      class: "film-pane",
      tabindex: "0",
      role: "group",
      "data-tool": viewer.tool,
      "aria-label": "Film",
    }, this.canvas, this.svg, this.ov.tl, this.ov.tr, this.ov.bl, this.ov.br, this.msg);
    if (!viewer.overlays) this.el.classList.add("film-no-overlay");

    this.el.addEventListener("focus", () => viewer.active !== slot && viewer.setActive(this.slot));
    this.canvas.addEventListener("pointerdown", (e) => this.onDown(e));
    this.canvas.addEventListener("pointermove", (e) => this.onMove(e));
    this.canvas.addEventListener("pointerup", (e) => this.onUp(e));
    this.canvas.addEventListener("pointercancel", (e) => this.onUp(e, true));
    this.canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    this.canvas.addEventListener("dblclick", () => this.fit());
    this.resizer = new viewer.win.ResizeObserver(() => this.resize());
    this.resizer.observe(this.el);
  }

  destroy() {
    this.resizer.disconnect();
    if (this.drawPending) this.viewer.win.cancelAnimationFrame(this.drawPending);
    this.save();
    this.previewBmp?.close?.();
    this.el.remove();
  }

  message(text) {
    this.msg.textContent = text;
    this.msg.hidden = !text;
  }

  // --- loading ----------------------------------------------------------

  async load(entry) {
    const v = this.viewer;
    if (this.entry === entry && !this.failed) return;
    this.save();
    this.failed = false;
    const token = ++this.token;
    const t0 = performance.now();
    this.entry = entry;
    this.meta = null;
    this.px = null;
    this.previewBmp?.close?.();
    this.previewBmp = null;
    this.cache = null;
    this.lutKey = "";
    this.gesture = null;
    this.message("Loading film…");
    this.requestDraw();
    const fail = (err) => {
      if (token !== this.token || err.name === "AbortError") return;
      this.failed = true;
      this.message(`This film could not be shown. ${err.message}`);
      v.emit("load", { pane: this.slot, film: entry.index, phase: "error", exact: false, message: err.message, ms: performance.now() - t0 });
      v.settleReady({ film: entry.index, exact: false, error: err.message });
    };
    const pixels = entry.loadPixels(); // at once, beside the metadata
    let meta;
    try {
      meta = await entry.meta;
    } catch (err) {
      return fail(err);
    }
    if (token !== this.token) return;
    this.meta = meta;
    const label = `Film ${entry.index + 1} of ${v.entries.length}: ${describe(meta)}`;
    this.el.setAttribute("aria-label", label);
    this.canvas.setAttribute("aria-label", label);
    if (!this.W) this.resize(); // a pane just added has not been measured yet
    this.restore();
    if (v.opts.preview !== false && !entry.pixelsReady && meta.rows * meta.cols > PREVIEW_ABOVE && this.W > 0) {
      const dpr = this.dpr;
      const slow = await Promise.race([pixels.then(() => false, () => false), sleep(v.win, PREVIEW_AFTER - (performance.now() - t0)).then(() => true)]);
      if (token !== this.token) return;
      if (slow) entry.preview(Math.round(this.W * dpr), Math.round(this.H * dpr)).then((bmp) => {
        if (token !== this.token || this.px) return bmp.close();
        this.previewBmp = bmp;
        this.message("");
        this.requestDraw();
        v.win.requestAnimationFrame(() => {
          if (token === this.token && !this.px) v.emit("load", { pane: this.slot, film: entry.index, phase: "preview", exact: false, ms: performance.now() - t0 });
        });
      }, () => {}); // the pixels will say what went wrong
    }
    let px;
    try {
      px = await pixels;
    } catch (err) {
      return fail(err);
    }
    if (token !== this.token) return;
    entry.pixelsReady = true;
    this.px = px;
    this.previewBmp?.close?.();
    this.previewBmp = null;
    if (!this.look.set) this.applyPreset("default");
    this.message("");
    this.requestDraw();
    v.trimPixels();
    v.syncButtons();
    v.announce(`Film ${entry.index + 1} of ${v.entries.length}: ${describe(meta)}`);
    // Report once the pixels are on the canvas, not merely in memory.
    v.win.requestAnimationFrame(() => {
      if (token !== this.token) return;
      const detail = { pane: this.slot, film: entry.index, phase: "pixels", exact: px.exact, ms: performance.now() - t0, message: px.note ?? "" };
      v.emit("load", detail);
      v.settleReady(detail);
    });
  }

  /** save keeps how the film was looked at, for when it comes back. */
  save() {
    if (!this.entry || !this.meta) return;
    this.entry.saved = { view: { ...this.view, o: [...this.view.o] }, look: { ...this.look, win: { ...this.look.win } } };
  }

  restore() {
    const s = this.entry.saved;
    if (s) {
      this.view = { ...s.view, o: [...s.view.o] };
      this.look = { ...s.look, win: { ...s.look.win } };
      if (this.view.fitted) this.fit(false);
    } else {
      this.view = { s: 1, cx: this.meta.cols / 2, cy: this.meta.rows / 2, o: [1, 0, 0, 1], fitted: true };
      this.look = { win: { center: 0, width: 1 }, preset: "default", invert: false, sharpen: false, set: false };
      this.fit(false);
    }
  }

  /** orientation reads O as a clockwise rotation after an optional left–right flip of the film. */
  orientation() {
    const o = this.view.o;
    const flipped = o[0] * o[3] - o[1] * o[2] < 0;
    const r = flipped ? [-o[0], o[1], -o[2], o[3]] : o;
    return { rotation: (Math.round((Math.atan2(r[2], r[0]) * 180) / Math.PI) + 360) % 360, flipped };
  }

  snapshot() {
    const m = this.meta;
    const o = this.view.o;
    const { rotation, flipped } = this.orientation();
    return {
      film: this.entry?.index ?? -1,
      ready: !!this.px,
      exact: this.px ? this.px.exact : null,
      note: this.px?.note ?? "",
      rows: m?.rows ?? 0,
      columns: m?.cols ?? 0,
      window: { ...this.look.win },
      preset: this.look.preset,
      invert: this.look.invert,
      sharpen: this.look.sharpen,
      rotation,
      flipped,
      orientation: [...o],
      zoom: this.view.s * this.dpr,
      fitted: this.view.fitted,
      center: [this.view.cx, this.view.cy],
      calibrated: !!m?.spacing,
      spacing: m?.spacing ? [m.spacing.row, m.spacing.col] : null,
      measurements: this.measurementList(),
    };
  }

  // --- window/level and look ---------------------------------------------

  setWindow(center, width, preset = "custom") {
    if (!Number.isFinite(center) || !Number.isFinite(width)) return;
    const min = this.px?.voi === "LINEAR" || !this.px ? 1 : 1e-6;
    this.look.win = { center, width: Math.max(min, width) };
    this.look.preset = preset;
    this.look.set = true;
    this.viewer.syncButtons();
    this.requestDraw();
  }

  applyPreset(id) {
    const px = this.px;
    if (!px) return;
    let w;
    switch (id) {
      case "full": w = rangeWindow(px); break;
      case "auto": w = percentileWindow(px); break;
      case "contrast": {
        const a = percentileWindow(px);
        w = { center: a.center, width: Math.max(1, a.width / 2) };
        break;
      }
      default: id = "default"; w = px.window ?? rangeWindow(px);
    }
    this.setWindow(w.center, w.width, id);
  }

  preset(id) {
    this.applyPreset(id);
    const p = PRESETS.find((p) => p.id === this.look.preset);
    if (p && this.px) this.viewer.announce(`Window: ${p.label}`);
  }

  cyclePreset(d) {
    const i = PRESETS.findIndex((p) => p.id === this.look.preset);
    this.preset(PRESETS[(i + d + PRESETS.length) % PRESETS.length].id);
  }

  toggle(what, on) {
    this.look[what] = on ?? !this.look[what];
    this.viewer.syncButtons();
    this.viewer.announce(`${what === "invert" ? "Inverted" : "Sharpen"} ${this.look[what] ? "on" : "off"}`);
    this.requestDraw();
  }

  resetAll() {
    if (!this.meta) return;
    this.view.o = [1, 0, 0, 1];
    this.look.invert = false;
    this.look.sharpen = false;
    this.applyPreset("default");
    this.fit();
    this.viewer.announce("Film reset");
  }

  // --- geometry ---------------------------------------------------------
  //
  // Image coordinates are the film's pixels (x right, y down, pixel (i, j)
  // covering [i, i+1) × [j, j+1)). A canvas point q (CSS pixels) shows
  // image point p where q = C + s·O·(p − c): C is the canvas centre, s the
  // zoom, O an orientation matrix of 0 and ±1 (rotations and flips in
  // screen terms), c the image point at the centre.

  imageToCanvas(x, y) {
    const { s, cx, cy, o } = this.view;
    const dx = x - cx, dy = y - cy;
    return { x: this.W / 2 + s * (o[0] * dx + o[1] * dy), y: this.H / 2 + s * (o[2] * dx + o[3] * dy) };
  }

  canvasToImage(qx, qy) {
    const { s, cx, cy, o } = this.view;
    const dx = (qx - this.W / 2) / s, dy = (qy - this.H / 2) / s;
    // O is orthogonal: its inverse is its transpose.
    return { x: cx + o[0] * dx + o[2] * dy, y: cy + o[1] * dx + o[3] * dy };
  }

  fit(announce = true) {
    const m = this.meta;
    if (!m || !this.W || !this.H) {
      this.view.fitted = true;
      return;
    }
    const swapped = this.view.o[0] === 0;
    const w = swapped ? m.rows : m.cols, hgt = swapped ? m.cols : m.rows;
    const margin = 8;
    this.view.s = Math.max(1e-3, Math.min((this.W - margin) / w, (this.H - margin) / hgt));
    this.view.cx = m.cols / 2;
    this.view.cy = m.rows / 2;
    this.view.fitted = true;
    this.requestDraw();
    if (announce) this.viewer.announce("Fitted to the window");
  }

  actualSize() {
    if (!this.meta) return;
    this.zoomTo(1 / this.dpr);
    this.viewer.announce("Actual size");
  }

  zoomBy(f, qx = this.W / 2, qy = this.H / 2) { this.zoomTo(this.view.s * f, qx, qy); }

  /** zoomTo sets the zoom, keeping the image point under canvas point q where it is. */
  zoomTo(s, qx = this.W / 2, qy = this.H / 2) {
    if (!this.meta) return;
    const fitS = Math.min(this.W / this.meta.cols, this.H / this.meta.rows);
    s = Math.min(MAX_ZOOM / this.dpr, Math.max(Math.min(fitS / 4, 1 / this.dpr), s));
    const p = this.canvasToImage(qx, qy);
    this.view.s = s;
    this.view.fitted = false;
    const after = this.canvasToImage(qx, qy);
    this.view.cx += p.x - after.x;
    this.view.cy += p.y - after.y;
    this.requestDraw();
  }

  panBy(dx, dy) {
    const { s, o } = this.view;
    this.view.cx -= (o[0] * dx + o[2] * dy) / s;
    this.view.cy -= (o[1] * dx + o[3] * dy) / s;
    this.view.fitted = false;
    this.requestDraw();
  }

  rotate(deg) {
    const o = this.view.o;
    const q = (((Math.round(deg / 90) % 4) + 4) % 4);
    for (let i = 0; i < q; i++) {
      // Clockwise on screen (y down): (x, y) → (−y, x).
      const [a, b, c, d] = o;
      o[0] = -c; o[1] = -d; o[2] = a; o[3] = b;
    }
    if (this.view.fitted) this.fit(false);
    this.requestDraw();
    this.viewer.announce(`Rotated ${deg > 0 ? "right" : "left"}`);
  }

  flip(axis) {
    const o = this.view.o;
    if (axis === "vertical") { o[2] = -o[2]; o[3] = -o[3]; } else { o[0] = -o[0]; o[1] = -o[1]; }
    this.requestDraw();
    this.viewer.announce(axis === "vertical" ? "Flipped top to bottom" : "Flipped left to right");
  }

  resize() {
    // The canvas's own box: the pane's includes its border, and a backing
    // store sized to that would be scaled into the canvas, a little blurred.
    const r = this.canvas.getBoundingClientRect();
    const dpr = this.viewer.win.devicePixelRatio || 1;
    if (r.width === this.W && r.height === this.H && dpr === this.dpr) return;
    this.W = r.width;
    this.H = r.height;
    this.dpr = dpr;
    this.canvas.width = Math.max(1, Math.round(r.width * dpr));
    this.canvas.height = Math.max(1, Math.round(r.height * dpr));
    this.svg.setAttribute("viewBox", `0 0 ${r.width} ${r.height}`);
    if (this.view.fitted) this.fit(false);
    this.drawNow();
  }

  // --- drawing ----------------------------------------------------------

  requestDraw() {
    // One draw per display frame however many events arrive between.
    if (this.drawPending) return;
    this.drawPending = this.viewer.win.requestAnimationFrame(() => {
      this.drawPending = 0;
      this.drawNow();
    });
  }

  drawNow() {
    const t0 = performance.now();
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const m = this.meta;
    if (m && this.W > 0) {
      const { s, cx, cy, o } = this.view;
      const k = this.dpr * s;
      const a = k * o[0], c = k * o[1], b = k * o[2], d = k * o[3];
      let e = (this.dpr * this.W) / 2 - (a * cx + c * cy);
      let f = (this.dpr * this.H) / 2 - (b * cx + d * cy);
      if (Math.abs(k - Math.round(k)) < 1e-9) {
        // Whole zoom: land pixels on pixels, or 1:1 is blurred by half a pixel.
        e = Math.round(e);
        f = Math.round(f);
      }
      if (this.px) {
        this.drawPixels(a, b, c, d, e, f, k);
      } else if (this.previewBmp) {
        ctx.setTransform(a, b, c, d, e, f);
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(this.previewBmp, 0, 0, m.cols, m.rows);
      }
    }
    this.drawMarks();
    this.drawText();
    const ms = performance.now() - t0;
    const st = this.stats;
    st.draws++;
    st.totalMs += ms;
    st.recent.push({ t: t0, ms });
    if (st.recent.length > 240) st.recent.splice(0, st.recent.length - 240);
  }

  drawPixels(a, b, c, d, e, f, k) {
    const px = this.px;
    const key = `${this.look.win.center}|${this.look.win.width}|${this.look.invert}`;
    let lutChanged = false;
    if (key !== this.lutKey) {
      this.lut = buildLUT(px, this.look.win, this.look.invert, this.lut);
      this.lutKey = key;
      lutChanged = true;
    }
    // The level whose pixels are about the size of the screen's: work per
    // frame follows the canvas, not the film.
    const devPerLevel0 = k * px.unit;
    const lv = Math.max(0, Math.min(maxLevel(px), Math.floor(Math.log2(1 / devPerLevel0))));
    const L = level(px, lv);
    const g = px.unit * (1 << lv); // image pixels per level pixel
    // Visible part of the image, in level pixels.
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [qx, qy] of [[0, 0], [this.W, 0], [0, this.H], [this.W, this.H]]) {
      const p = this.canvasToImage(qx, qy);
      x0 = Math.min(x0, p.x); x1 = Math.max(x1, p.x);
      y0 = Math.min(y0, p.y); y1 = Math.max(y1, p.y);
    }
    const need = clipRect(Math.floor(x0 / g) - 1, Math.floor(y0 / g) - 1, Math.ceil(x1 / g) + 1, Math.ceil(y1 / g) + 1, L.w, L.h);
    if (need.w <= 0 || need.h <= 0) return;
    const sharpen = this.look.sharpen;
    const cache = this.cache;
    const valid = cache && !lutChanged && cache.lv === lv && cache.sharpen === sharpen && cache.px === px &&
      need.x >= cache.x && need.y >= cache.y && need.x + need.w <= cache.x + cache.w && need.y + need.h <= cache.y + cache.h;
    if (!valid) {
      // When only the view moved, render a margin too, so that panning
      // does not redo the lookup every frame; when the window moved, the
      // lookup is redone anyway, so do no more than is seen.
      let r = need;
      if (!lutChanged) {
        const mx = need.w >> 2, my = need.h >> 2;
        r = clipRect(need.x - mx, need.y - my, need.x + need.w + mx, need.y + need.h + my, L.w, L.h);
      }
      this.renderRect(L, r, lv, sharpen);
    }
    const ch = this.cache;
    const ctx = this.ctx;
    ctx.setTransform(a, b, c, d, e, f);
    // Magnified twice or more, show the film's own pixels rather than a blur.
    ctx.imageSmoothingEnabled = k * g < 2;
    ctx.imageSmoothingQuality = "low";
    ctx.drawImage(ch.canvas, 0, 0, ch.w, ch.h, ch.x * g, ch.y * g, ch.w * g, ch.h * g);
  }

  renderRect(L, r, lv, sharpen) {
    let ch = this.cache;
    if (!ch) {
      const canvas = this.viewer.doc.createElement("canvas");
      ch = { canvas, ctx: canvas.getContext("2d"), img: null };
    }
    if (!ch.img || ch.img.width !== r.w || ch.img.height !== r.h) {
      ch.img = new ImageData(r.w, r.h);
      ch.canvas.width = r.w;
      ch.canvas.height = r.h;
      ch.grey = null;
    }
    const out = new Uint32Array(ch.img.data.buffer);
    const lut = this.lut, src = L.data, lw = L.w;
    for (let j = 0; j < r.h; j++) {
      let si = (r.y + j) * lw + r.x;
      const o = j * r.w, end = o + r.w;
      for (let i = o; i < end; i++) out[i] = lut[src[si++]];
    }
    if (sharpen) {
      ch.grey ??= new Uint8Array(r.w * r.h);
      sharpenGrey(out, ch.grey, r.w, r.h);
    }
    ch.ctx.putImageData(ch.img, 0, 0);
    Object.assign(ch, { x: r.x, y: r.y, w: r.w, h: r.h, lv, sharpen, px: this.px });
    this.cache = ch;
  }

  drawText() {
    const m = this.meta;
    const v = this.viewer;
    const o = v.opts.overlay ?? {};
    if (!m) {
      for (const el of Object.values(this.ov)) setLines(el, []);
      return;
    }
    setLines(this.ov.tl, [
      o.patient || m.patient,
      nhsNumber(o.nhsNumber || m.nhsNumber),
      (o.urn || m.urn) && `URN ${o.urn || m.urn}`,
      (o.dateOfBirth || m.birthDate) && `Born ${formatDate(o.dateOfBirth || m.birthDate)}`,
    ]);
    setLines(this.ov.tr, [
      [m.type, m.description].filter(Boolean).join(" · "),
      m.lateralityText && `Side: ${m.lateralityText}`,
      m.taken && `Taken ${m.taken}`,
      `Film ${this.entry.index + 1} of ${v.entries.length}`,
    ]);
    const snap = this.snapshotLook();
    setLines(this.ov.bl, [
      this.px ? `Window centre ${fmtNum(this.look.win.center)}, width ${fmtNum(this.look.win.width)}` : "Loading full detail…",
      `Zoom ${Math.round(this.view.s * this.dpr * 100)}%${snap ? ` · ${snap}` : ""}`,
      this.px && !this.px.exact ? this.px.note : "",
    ], this.px && !this.px.exact);
    setLines(this.ov.br, [
      m.spacing ? `Lengths in mm (${fmtNum(m.spacing.col, 4)} × ${fmtNum(m.spacing.row, 4)} mm pixels, ${m.spacing.note})`
        : "Uncalibrated: lengths in pixels",
    ]);
  }

  snapshotLook() {
    const s = this.orientation();
    return [
      s.rotation ? `rotated ${s.rotation}°` : "",
      s.flipped ? "flipped" : "",
      this.look.invert ? "inverted" : "",
      this.look.sharpen ? "sharpened" : "",
    ].filter(Boolean).join(", ");
  }

  // --- measurements -----------------------------------------------------

  measure(a, b) {
    const m = this.meta;
    const dx = b.x - a.x, dy = b.y - a.y;
    if (m?.spacing) {
      const mm = Math.hypot(dx * m.spacing.col, dy * m.spacing.row);
      return { value: mm, unit: "mm", calibrated: true, text: `${mm.toFixed(1)} mm` };
    }
    const p = Math.hypot(dx, dy);
    return { value: p, unit: "px", calibrated: false, text: `${p.toFixed(0)} px (uncalibrated)` };
  }

  measurementList() {
    if (!this.entry) return [];
    return this.entry.measurements.map((l) => ({ from: [l.a.x, l.a.y], to: [l.b.x, l.b.y], ...this.measure(l.a, l.b) }));
  }

  clearMeasurements() {
    if (!this.entry) return;
    this.entry.measurements.length = 0;
    this.requestDraw();
    this.viewer.announce("Measurements removed");
  }

  removeLastMeasurement() {
    if (!this.entry?.measurements.length) return;
    this.entry.measurements.pop();
    this.requestDraw();
    this.viewer.announce("Last measurement removed");
  }

  drawMarks() {
    const lines = this.entry && this.meta ? [...this.entry.measurements] : [];
    if (this.gesture?.kind === "measure" && this.gesture.b) lines.push({ ...this.gesture, live: true });
    const svg = this.svg;
    while (svg.childNodes.length > lines.length) svg.lastChild.remove();
    lines.forEach((l, i) => {
      let g = svg.childNodes[i];
      if (!g) {
        g = svgEl("g", { class: "film-measure" });
        g.append(svgEl("line", { class: "film-measure-halo" }), svgEl("line", { class: "film-measure-line" }),
          svgEl("text", { class: "film-measure-label" }));
        svg.append(g);
      }
      const p = this.imageToCanvas(l.a.x, l.a.y), q = this.imageToCanvas(l.b.x, l.b.y);
      for (const line of g.querySelectorAll("line")) {
        line.setAttribute("x1", p.x); line.setAttribute("y1", p.y);
        line.setAttribute("x2", q.x); line.setAttribute("y2", q.y);
      }
      g.classList.toggle("film-measure-live", !!l.live);
      const label = g.querySelector("text");
      const text = this.measure(l.a, l.b).text;
      if (label.textContent !== text) {
        label.textContent = text;
        // Measured once per text: asking every frame would force a layout.
        label.dataset.width = label.getComputedTextLength?.() || text.length * 9;
      }
      // Beside the line's end, and inside the pane whichever way the line goes.
      const wd = Number(label.dataset.width);
      let x = q.x + 8, y = q.y - 8;
      if (x + wd > this.W - 4) x = q.x - 8 - wd;
      x = Math.max(4, Math.min(x, this.W - 4 - wd));
      if (y < 20) y = q.y + 24;
      label.setAttribute("x", x);
      label.setAttribute("y", Math.min(y, this.H - 6));
    });
  }

  // --- input ------------------------------------------------------------

  local(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  onDown(e) {
    const v = this.viewer;
    if (v.active !== this.slot) v.setActive(this.slot);
    this.el.focus({ preventScroll: true });
    if (!this.meta) return;
    this.canvas.setPointerCapture(e.pointerId);
    const q = this.local(e);
    this.pointers.set(e.pointerId, q);
    e.preventDefault();
    if (this.pointers.size === 2) {
      // A second finger turns whatever the first was doing into a pinch.
      const [p1, p2] = [...this.pointers.values()];
      const mid = { x: (p1.x + p2.x) / 2, y: (p1.y + p2.y) / 2 };
      this.gesture = { kind: "pinch", d0: Math.hypot(p1.x - p2.x, p1.y - p2.y) || 1, s0: this.view.s, anchor: this.canvasToImage(mid.x, mid.y) };
      this.requestDraw();
      return;
    }
    if (this.pointers.size > 2) return;
    let kind = v.tool;
    if (e.pointerType === "mouse" && (e.button === 1 || e.button === 2)) kind = "pan";
    if (kind === "window" && !this.px) kind = "pan";
    const g = { kind, id: e.pointerId, q0: q, last: q };
    if (kind === "window") {
      const span = rangeWindow(this.px).width;
      g.win0 = { ...this.look.win };
      g.perPixel = Math.max(span / 800, this.px.slope === 1 && this.px.bits > 8 ? 1 : 0.1);
    } else if (kind === "measure") {
      g.a = clampPoint(this.canvasToImage(q.x, q.y), this.meta);
    }
    this.gesture = g;
  }

  onMove(e) {
    if (!this.pointers.has(e.pointerId)) return;
    const q = this.local(e);
    this.pointers.set(e.pointerId, q);
    const g = this.gesture;
    if (!g) return;
    if (g.kind === "pinch") {
      const [p1, p2] = [...this.pointers.values()];
      const mid = { x: (p1.x + p2.x) / 2, y: (p1.y + p2.y) / 2 };
      const s = g.s0 * (Math.hypot(p1.x - p2.x, p1.y - p2.y) / g.d0);
      this.zoomTo(s, mid.x, mid.y);
      // Keep the point first pinched under the fingers: zoom and pan at once.
      const now = this.imageToCanvas(g.anchor.x, g.anchor.y);
      this.panBy(mid.x - now.x, mid.y - now.y);
      return;
    }
    if (e.pointerId !== g.id) return;
    if (g.kind === "window") {
      const dx = q.x - g.q0.x, dy = q.y - g.q0.y;
      this.setWindow(g.win0.center + dy * g.perPixel, g.win0.width + dx * g.perPixel, "custom");
    } else if (g.kind === "pan") {
      this.panBy(q.x - g.last.x, q.y - g.last.y);
    } else if (g.kind === "measure") {
      g.b = clampPoint(this.canvasToImage(q.x, q.y), this.meta);
      this.requestDraw();
    }
    g.last = q;
  }

  onUp(e, cancelled = false) {
    if (!this.pointers.delete(e.pointerId)) return;
    const g = this.gesture;
    if (!g) return;
    if (g.kind === "pinch") {
      if (this.pointers.size === 0) this.gesture = null;
      return;
    }
    if (e.pointerId !== g.id) return;
    this.gesture = null;
    if (g.kind === "measure" && g.b && !cancelled) {
      const p = this.imageToCanvas(g.a.x, g.a.y), q = this.imageToCanvas(g.b.x, g.b.y);
      if (Math.hypot(p.x - q.x, p.y - q.y) >= 3) {
        this.entry.measurements.push({ a: g.a, b: g.b });
        this.viewer.announce(`Measured ${this.measure(g.a, g.b).text}`);
      }
    }
    if (g.kind === "window") this.viewer.announce(`Window centre ${fmtNum(this.look.win.center)}, width ${fmtNum(this.look.win.width)}`);
    this.requestDraw();
  }

  cancelGesture() {
    if (this.gesture?.kind === "measure") {
      this.gesture = null;
      this.requestDraw();
    }
  }

  onWheel(e) {
    if (!this.meta) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.H : 1;
    // Trackpad pinches arrive as wheel events with ctrlKey and small deltas.
    const rate = e.ctrlKey ? 0.01 : 0.0015;
    const q = this.local(e);
    this.zoomBy(Math.exp(-e.deltaY * unit * rate), q.x, q.y);
  }
}

// --- small helpers ---------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  el.append(...kids);
  return el;
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

/** setLines writes an overlay's lines, touching the DOM only when they change. */
function setLines(el, lines, warn = false) {
  const text = lines.filter(Boolean);
  const key = text.join("\n");
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.replaceChildren(...text.map((t) => h("div", {}, t)));
  el.classList.toggle("film-warn", warn);
}

function ensureStylesheet(doc) {
  const href = new URL("./film.css", import.meta.url).href;
  for (const l of doc.querySelectorAll('link[rel="stylesheet"]')) if (l.href === href) return;
  const link = doc.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  doc.head.append(link);
}

function uid(prefix) { return `${prefix}-${Math.random().toString(36).slice(2, 10)}`; }

function sleep(win, ms) { return new Promise((r) => win.setTimeout(r, Math.max(0, ms))); }

function clampIndex(i, n) { return Math.min(Math.max(0, i | 0), n - 1); }

function clipRect(x0, y0, x1, y1, w, h) {
  x0 = Math.max(0, x0); y0 = Math.max(0, y0);
  x1 = Math.min(w, x1); y1 = Math.min(h, y1);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

function clampPoint(p, m) {
  return { x: Math.min(m.cols, Math.max(0, p.x)), y: Math.min(m.rows, Math.max(0, p.y)) };
}

/** sharpenGrey is an unsharp mask on the displayed greys: v + (4v − neighbours) / 2. */
function sharpenGrey(out, grey, w, h) {
  for (let i = 0; i < out.length; i++) grey[i] = out[i] & 255;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1, i = y * w + 1; x < w - 1; x++, i++) {
      const v = grey[i];
      let n = v + ((4 * v - grey[i - 1] - grey[i + 1] - grey[i - w] - grey[i + w]) >> 1);
      n = n < 0 ? 0 : n > 255 ? 255 : n;
      out[i] = 0xff000000 | (n * 0x010101);
    }
  }
}

function ascii(s) { return new TextEncoder().encode(s); }

function indexOf(hay, needle, from) {
  const n = needle.length, first = needle[0];
  for (let i = hay.indexOf(first, from); i >= 0 && i + n <= hay.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < n && hay[i + j] === needle[j]) j++;
    if (j === n) return i;
  }
  return -1;
}

function lastIndexOf(hay, needle) {
  const n = needle.length, first = needle[0];
  for (let i = hay.lastIndexOf(first, hay.length - n); i >= 0; i = hay.lastIndexOf(first, i - 1)) {
    let j = 1;
    while (j < n && hay[i + j] === needle[j]) j++;
    if (j === n) return i;
    if (i === 0) break;
  }
  return -1;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/** formatDate writes a DICOM date (YYYYMMDD) the NHS way: 5 March 2024. */
function formatDate(da) {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(da ?? "");
  if (!m) return da ?? "";
  const month = MONTHS[Number(m[2]) - 1];
  return month ? `${Number(m[3])} ${month} ${m[1]}` : da;
}

/** formatName writes a DICOM person name as NHS screens do: SMITH, Olivia. */
function formatName(pn) {
  if (!pn) return "";
  const [family = "", given = "", middle = "", prefix = ""] = pn.split("=")[0].split("^");
  const cap = (s) => s.toLowerCase().replace(/(^|[\s'-])\p{L}/gu, (c) => c.toUpperCase());
  const rest = [prefix && cap(prefix), cap(given), cap(middle)].filter(Boolean).join(" ");
  return rest ? `${family.toUpperCase()}, ${rest}` : family.toUpperCase();
}

function nhsNumber(n) {
  const d = String(n ?? "").replace(/\s/g, "");
  if (!d) return "";
  return /^\d{10}$/.test(d) ? `NHS No. ${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}` : `ID ${d}`;
}

function describe(m) {
  return [m.type, m.lateralityText && m.lateralityText.toLowerCase(), m.taken && `taken ${m.taken}`].filter(Boolean).join(", ");
}

function fmtNum(x, digits = 1) {
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toFixed(Math.abs(x) >= 100 ? 0 : digits)));
}
