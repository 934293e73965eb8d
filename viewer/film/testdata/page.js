// The test page's side of film_test.go: opens the viewer with what the
// test asks for and reads back what it drew.
import { openFilms } from "/assets/film/film.js";

const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));

window.filmTest = {
  events: [],

  open(cfg) {
    window.viewer?.destroy();
    this.events = [];
    const t0 = performance.now();
    const v = openFilms(document.getElementById("v"), cfg);
    v.addEventListener("load", (e) => this.events.push({ ...e.detail, at: performance.now() - t0 }));
    window.viewer = v;
    return true;
  },

  // loaded waits until the film now in a pane reaches a phase (or fails).
  async loaded(pane = 0, phase = "pixels", timeout = 20000) {
    const end = performance.now() + timeout;
    for (;;) {
      const film = window.viewer.state().panes[pane]?.film;
      const ev = this.events.find((e) => e.pane === pane && e.film === film && (e.phase === phase || e.phase === "error"));
      if (ev) {
        await frame();
        return ev;
      }
      if (performance.now() > end) throw new Error(`pane ${pane}, film ${film}: no ${phase} in ${timeout} ms; events ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  },

  frame,

  canvas(pane = 0) { return document.querySelectorAll(".film-pane canvas")[pane]; },

  // pixel reads the canvas under a client point.
  pixel(pane, x, y) {
    const c = this.canvas(pane);
    const r = c.getBoundingClientRect();
    const px = Math.floor(((x - r.left) * c.width) / r.width);
    const py = Math.floor(((y - r.top) * c.height) / r.height);
    return Array.from(c.getContext("2d").getImageData(px, py, 1, 1).data);
  },

  // centre of a pane's canvas, in client coordinates.
  centre(pane = 0) {
    const r = this.canvas(pane).getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  },

  // grid samples the canvas's greys on a 32 × 32 grid.
  grid(pane = 0) {
    const c = this.canvas(pane);
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const out = [];
    for (let j = 0; j < 32; j++) {
      for (let i = 0; i < 32; i++) {
        const x = Math.floor(((i + 0.5) * c.width) / 32), y = Math.floor(((j + 0.5) * c.height) / 32);
        out.push(d[(y * c.width + x) * 4]);
      }
    }
    return out;
  },

  text(selector) { return Array.from(document.querySelectorAll(selector), (e) => e.textContent); },
};
document.body.dataset.ready = "1";
