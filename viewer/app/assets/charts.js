// Small inline-SVG bar charts for the reports page. Each chart is an
// <svg role="img"> with a <title> and <desc> (its accessible name and a
// summary in words), axis labels, and a <title> on every bar for pointer
// users. The numbers are always also given in a table next to the chart:
// the chart is a picture of the table, never the only place a figure is.

const NS = "http://www.w3.org/2000/svg";

// Bar colours: each has at least 3:1 contrast against white (WCAG 1.4.11)
// and differs from its neighbours in lightness as well as hue.
export const palette = ["#005eb8", "#007f3b", "#7c2855", "#425563", "#d5281b", "#330072", "#8a5a00", "#006075"];

let uid = 0;

// colourOf is a series' own colour, or the palette's next.
const colourOf = (se, i) => se.colour || palette[i % palette.length];

// s builds an SVG element: s("rect", {x: 1}, child…). Text is text.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// niceScale returns a maximum and a tick step that read well (1, 2, 2.5,
// 5 × a power of ten) for values up to max; whole steps for counts.
export function niceScale(max, ticks = 5, whole = false) {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / ticks;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = (whole ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).map((m) => m * mag).find((st) => st >= raw);
  if (whole) step = Math.max(1, Math.round(step));
  return { max: Math.ceil(max / step) * step, step };
}

function num(v) {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}

// frame is the <svg> with its accessible name and description.
function frame(width, height, title, desc) {
  const id = `chart-${++uid}`;
  return s("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-desc`,
    class: "chart", preserveAspectRatio: "xMidYMid meet", focusable: "false",
  }, s("title", { id: `${id}-title` }, title), s("desc", { id: `${id}-desc` }, desc));
}

// yAxis draws the gridlines, tick labels and the rotated axis label of a
// vertical bar chart; it returns y(value).
function yAxis(svg, { left, top, plotW, plotH, max, step, label, tick = num }) {
  const y = (v) => top + plotH - (v / max) * plotH;
  const g = s("g", { class: "chart__axis", "aria-hidden": "true" });
  for (let v = 0; v <= max + step / 1e6; v += step) {
    g.append(s("line", { x1: left, x2: left + plotW, y1: y(v), y2: y(v), class: v === 0 ? "chart__baseline" : "chart__grid" }));
    g.append(s("text", { x: left - 8, y: y(v) + 4, "text-anchor": "end" }, tick(v)));
  }
  g.append(s("text", { x: 16, y: top + plotH / 2, transform: `rotate(-90 16 ${top + plotH / 2})`, "text-anchor": "middle", class: "chart__label" }, label));
  svg.append(g);
  return y;
}

// xLabels writes category labels under the bars, slanted when crowded.
function xLabels(svg, { labels, centre, base, slant, label, width, height }) {
  const g = s("g", { class: "chart__axis", "aria-hidden": "true" });
  labels.forEach((text, i) => {
    const x = centre(i);
    g.append(slant
      ? s("text", { x, y: base + 14, "text-anchor": "end", transform: `rotate(-35 ${x} ${base + 14})` }, text)
      : s("text", { x, y: base + 18, "text-anchor": "middle" }, text));
  });
  g.append(s("text", { x: width / 2, y: height - 6, "text-anchor": "middle", class: "chart__label" }, label));
  svg.append(g);
}

// legend lists the series with their colour swatches, above the plot.
function legend(svg, series, { left, y, width }) {
  const g = s("g", { class: "chart__legend", "aria-hidden": "true" });
  let x = left, row = 0;
  for (const [i, se] of series.entries()) {
    const name = se.name;
    const w = 22 + Math.min(name.length, 40) * 7 + 16;
    if (x + w > width && x > left) { x = left; row++; }
    const text = name.length > 40 ? name.slice(0, 39) + "…" : name;
    g.append(s("rect", { x, y: y + row * 20, width: 14, height: 14, fill: colourOf(se, i) }));
    g.append(s("text", { x: x + 20, y: y + row * 20 + 12 }, text));
    x += w;
  }
  svg.append(g);
  return row + 1;
}

function legendRows(series, left, width) {
  let x = left, rows = 1;
  for (const name of series) {
    const w = 22 + Math.min(name.length, 40) * 7 + 16;
    if (x + w > width && x > left) { x = left; rows++; }
    x += w;
  }
  return rows;
}

// stackedBars draws one bar per category (a period), each split into the
// series' values, with a legend. series: [{name, values: [n per category]}].
export function stackedBars({ title, desc, categories, series, xLabel, yLabel }) {
  const width = 640, left = 60, right = 16;
  const slant = categories.length > 6;
  const names = series.map((se) => se.name);
  const legendTop = 8;
  const top = legendTop + legendRows(names, left, width - right) * 20 + 10;
  const bottom = slant ? 84 : 52;
  const plotH = 200, height = top + plotH + bottom, plotW = width - left - right;
  const svg = frame(width, height, title, desc);
  const totals = categories.map((_, i) => series.reduce((t, se) => t + (se.values[i] || 0), 0));
  const { max, step } = niceScale(Math.max(...totals, 1), 5, true);
  const y = yAxis(svg, { left, top, plotW, plotH, max, step, label: yLabel, tick: (v) => num(v) });
  const band = plotW / Math.max(categories.length, 1);
  const barW = Math.min(64, band * 0.6);
  const centre = (i) => left + band * i + band / 2;
  const bars = s("g", { class: "chart__bars" });
  categories.forEach((cat, i) => {
    let acc = 0;
    series.forEach((se, j) => {
      const v = se.values[i] || 0;
      if (v <= 0) return;
      const y0 = y(acc), y1 = y(acc + v);
      bars.append(s("rect", { x: centre(i) - barW / 2, y: y1, width: barW, height: Math.max(y0 - y1, 1), fill: colourOf(se, j), class: "chart__bar" },
        s("title", {}, `${cat}, ${se.name}: ${num(v)}`)));
      acc += v;
    });
    bars.append(s("text", { x: centre(i), y: y(totals[i]) - 6, "text-anchor": "middle", class: "chart__value", "aria-hidden": "true" }, num(totals[i])));
  });
  svg.append(bars);
  legend(svg, series, { left, y: legendTop, width: width - right });
  xLabels(svg, { labels: categories, centre, base: top + plotH, slant, label: xLabel, width, height });
  return svg;
}

// groupedBars draws, per category, one bar for each series side by side,
// each with its value written above it; a missing value (null) is marked
// "none". series: [{name, values: [number|null per category]}].
export function groupedBars({ title, desc, categories, series, xLabel, yLabel, format = num }) {
  const width = 640, left = 60, right = 16;
  const slant = categories.length > 6;
  const top = 8 + legendRows(series.map((se) => se.name), left, width - right) * 20 + 14;
  const bottom = slant ? 84 : 52;
  const plotH = 200, height = top + plotH + bottom, plotW = width - left - right;
  const svg = frame(width, height, title, desc);
  const all = series.flatMap((se) => se.values).filter((v) => v !== null && v !== undefined);
  const { max, step } = niceScale(Math.max(...all, 1));
  const y = yAxis(svg, { left, top, plotW, plotH, max, step, label: yLabel });
  const band = plotW / Math.max(categories.length, 1);
  const groupW = Math.min(120, band * 0.8);
  const barW = groupW / series.length;
  const centre = (i) => left + band * i + band / 2;
  const bars = s("g", { class: "chart__bars" });
  categories.forEach((cat, i) => {
    series.forEach((se, j) => {
      const v = se.values[i];
      const x = centre(i) - groupW / 2 + j * barW;
      if (v === null || v === undefined) {
        bars.append(s("text", { x: x + barW / 2, y: y(0) - 6, "text-anchor": "middle", class: "chart__value chart__value--none", "aria-hidden": "true" }, "none"));
        return;
      }
      bars.append(s("rect", { x: x + 1, y: y(v), width: Math.max(barW - 2, 1), height: Math.max(y(0) - y(v), 1), fill: colourOf(se, j), class: "chart__bar" },
        s("title", {}, `${cat}, ${se.name}: ${format(v)}`)));
      if (!slant || series.length * categories.length <= 16) {
        bars.append(s("text", { x: x + barW / 2, y: y(v) - 5, "text-anchor": "middle", class: "chart__value", "aria-hidden": "true" }, format(v)));
      }
    });
  });
  svg.append(bars);
  legend(svg, series, { left, y: 8, width: width - right });
  xLabels(svg, { labels: categories, centre, base: top + plotH, slant, label: xLabel, width, height });
  return svg;
}

// hBars draws one horizontal bar per row, its label above it and its
// value written at its end: long names (services, reasons) stay legible.
// rows: [{label, value, text?}]; max: the scale's end (e.g. 100 for %).
export function hBars({ title, desc, rows, xLabel, max, format = num, whole = false }) {
  const width = 640, left = 16, right = 150, rowH = 46, top = 8;
  const plotW = width - left - right;
  const height = top + rows.length * rowH + 44;
  const svg = frame(width, height, title, desc);
  const scale = niceScale(max ?? Math.max(...rows.map((r) => r.value), 1), 4, whole);
  const end = max ?? scale.max;
  const x = (v) => left + (Math.min(v, end) / end) * plotW;
  const axis = s("g", { class: "chart__axis", "aria-hidden": "true" });
  const step = max ? end / 4 : scale.step;
  const base = top + rows.length * rowH;
  for (let v = 0; v <= end + step / 1e6; v += step) {
    axis.append(s("line", { x1: x(v), x2: x(v), y1: top, y2: base, class: v === 0 ? "chart__baseline" : "chart__grid" }));
    axis.append(s("text", { x: x(v), y: base + 16, "text-anchor": "middle" }, format(v)));
  }
  axis.append(s("text", { x: left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "chart__label" }, xLabel));
  svg.append(axis);
  const bars = s("g", { class: "chart__bars" });
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    const label = r.label.length > 70 ? r.label.slice(0, 69) + "…" : r.label;
    bars.append(s("text", { x: left, y: y0 + 14, class: "chart__rowlabel", "aria-hidden": "true" }, label));
    const w = Math.max(x(r.value) - left, r.value > 0 ? 2 : 0);
    bars.append(s("rect", { x: left, y: y0 + 20, width: w, height: 18, fill: palette[(r.colour ?? 0) % palette.length], class: "chart__bar" },
      s("title", {}, `${r.label}: ${r.text ?? format(r.value)}`)));
    bars.append(s("text", { x: left + w + 6, y: y0 + 34, class: "chart__value", "aria-hidden": "true" }, r.text ?? format(r.value)));
  });
  svg.append(bars);
  return svg;
}
