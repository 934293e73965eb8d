// Reports: the information analyst's dashboard. Aggregates only (GET
// /api/reports/summary), drawn as inline SVG bar charts, each with its
// numbers in a table, and the same report as CSV.
import { start, api, h, fail, fmt, param, style } from "/app/assets/common.js";
import { stackedBars, groupedBars, hBars } from "/app/assets/charts.js";

style("reports");
const { main } = await start();

// ---- words -----------------------------------------------------------

const monthFmt = new Intl.DateTimeFormat("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });

// periodLabel: "2026-11" → "Nov 2026"; "2026-W45" → "Week 45, 2026".
function periodLabel(p) {
  if (p === "all") return "All periods";
  let m = /^(\d{4})-(\d{2})$/.exec(p);
  if (m) return monthFmt.format(new Date(Date.UTC(+m[1], +m[2] - 1, 1)));
  m = /^(\d{4})-W(\d{2})$/.exec(p);
  if (m) return `Week ${+m[2]}, ${m[1]}`;
  return p;
}

function capital(t) { return t ? t[0].toUpperCase() + t.slice(1) : t; }
function words(code) { return capital(String(code).replace(/-/g, " ")); }

const tierLabel = (t) => ({ L1: "Level 1", L2: "Level 2", L3a: "Level 3a", L3b: "Level 3b" })[t] || capital(t);
const urgencyLabel = (u) => (u === "not stated" ? "Not stated" : fmt.urgency(u));

// Known values come in their natural order; others by size.
// Urgencies keep their meaning in colour too: red for suspected cancer.
const colours = { urgency: { "suspected-cancer": "#d5281b", urgent: "#8a5a00", routine: "#005eb8", "not stated": "#425563" } };

const orders = {
  urgency: ["suspected-cancer", "urgent", "routine", "not stated"],
  tier: ["L1", "L2", "L3a", "L3b", "not accepted", "untriaged"],
};

function percent(fraction) {
  if (fraction === null || fraction === undefined) return "no data";
  const p = Math.round(fraction * 1000) / 10;
  return `${p}%`;
}
function hours(v) { return v === null || v === undefined ? "none" : `${Math.round(v * 10) / 10} h`; }
function hoursLong(v) { return v === null || v === undefined ? "no decisions yet" : `${Math.round(v * 10) / 10} hours`; }
function days(v) { return v === null || v === undefined ? "none yet" : `${Math.round(v * 10) / 10} days`; }

// ---- the form ----------------------------------------------------------

const addDay = (d) => new Date(Date.parse(d + "T00:00:00Z") + 86400000).toISOString().slice(0, 10);
const subDay = (d) => new Date(Date.parse(d + "T00:00:00Z") - 86400000).toISOString().slice(0, 10);

// The API's "to" is the first day not counted; people think of the last
// day counted, so the form asks for that and adds a day.
const isDay = (v) => /^\d{4}-\d{2}-\d{2}$/.test(v || "") && !isNaN(Date.parse(v + "T00:00:00Z"));
const initial = {
  period: param("period") === "week" ? "week" : "month",
  from: isDay(param("from")) ? param("from") : "",
  to: isDay(param("to")) ? subDay(param("to")) : "",
};

const errorFor = {};
function field(id, labelText, hint, input) {
  errorFor[id] = h("span", { class: "app-error-message", id: `${id}-error`, hidden: true });
  return h("div", { class: "app-field", id: `${id}-field` },
    h("label", { for: id }, labelText), hint ? h("span", { class: "app-hint", id: `${id}-hint` }, hint) : null,
    errorFor[id], input);
}

const periodSel = h("select", { id: "period", name: "period", "aria-describedby": "period-hint" },
  h("option", { value: "month", selected: initial.period === "month" }, "Month"),
  h("option", { value: "week", selected: initial.period === "week" }, "Week"));
const fromIn = h("input", { type: "date", id: "from", name: "from", value: initial.from, "aria-describedby": "from-hint" });
const toIn = h("input", { type: "date", id: "to", name: "to", value: initial.to, "aria-describedby": "to-hint" });
const csvLink = h("a", { class: "app-button app-button--secondary", id: "csv-link", href: "/api/reports/referrals.csv", download: "molar-referrals-report.csv" }, "Download CSV");
const status = h("p", { class: "rpt-status", role: "status", "aria-live": "polite" });
const results = h("div", { id: "results", "aria-busy": "true" });

const form = h("form", { class: "app-card rpt-filters", novalidate: true, "aria-label": "Report period", onsubmit: (e) => { e.preventDefault(); load(); } },
  h("div", { class: "rpt-filters__row" },
    field("period", "Group by", "Weeks run Monday to Sunday.", periodSel),
    field("from", "From", "First day counted. Leave blank for the earliest.", fromIn),
    field("to", "To", "Last day counted. Leave blank for today.", toIn),
    h("div", { class: "rpt-filters__actions" }, h("button", { type: "submit" }, "Show report"), csvLink)),
  h("p", { class: "app-hint" }, "Referrals are counted by the day they were submitted (UTC). The CSV file has one figure a row: section, period, dimension, name and value."));

main.append(
  h("p", {}, "Counts, rates and times of the referrals submitted in the period. No patient is shown."),
  form, status, results);

function query() {
  const q = new URLSearchParams();
  q.set("period", periodSel.value);
  if (fromIn.value) q.set("from", fromIn.value);
  if (toIn.value) q.set("to", addDay(toIn.value));
  return q;
}

function showError(id, text) {
  const el = errorFor[id];
  el.textContent = text;
  el.hidden = !text;
  document.getElementById(`${id}-field`).classList.toggle("app-field--error", !!text);
  const input = document.getElementById(id);
  if (text) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", `${id}-error ${id}-hint`); }
  else { input.removeAttribute("aria-invalid"); input.setAttribute("aria-describedby", `${id}-hint`); }
}

let seq = 0;
async function load() {
  showError("to", "");
  if (fromIn.value && toIn.value && toIn.value < fromIn.value) {
    showError("to", "The last day must be the same as or after the first day.");
    toIn.focus();
    return;
  }
  const q = query();
  history.replaceState(null, "", `${location.pathname}?${q}`);
  csvLink.href = `/api/reports/referrals.csv?${q}`;
  const mine = ++seq;
  results.setAttribute("aria-busy", "true");
  status.textContent = "Loading the report…";
  try {
    const { data } = await api("GET", `/api/reports/summary?${q}`);
    if (mine !== seq) return;
    draw(data);
    status.textContent = `Report updated: ${data.total} ${data.total === 1 ? "referral" : "referrals"} in the period.`;
  } catch (err) {
    if (mine !== seq) return;
    status.textContent = "";
    results.replaceChildren();
    fail(results, err);
  } finally {
    if (mine === seq) results.setAttribute("aria-busy", "false");
  }
}

// ---- drawing -------------------------------------------------------------

function table(caption, head, rows, { numeric = [], total = false } = {}) {
  return h("div", { class: "rpt-table" },
    h("table", { class: "app-table" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, head.map((t, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, t)))),
      h("tbody", {}, rows.map((r, n) => h("tr", { class: total && n === rows.length - 1 ? "rpt-total" : null }, r.map((c, i) => (i === 0
        ? h("th", { scope: "row" }, c)
        : h("td", { class: numeric.includes(i) ? "num" : null }, c))))))));
}

function chartCard(id, heading, intro, svg, tbl) {
  return h("section", { class: "app-card rpt-chart", id, "aria-labelledby": `${id}-h` },
    h("h3", { id: `${id}-h` }, heading),
    intro ? h("p", { class: "app-caption" }, intro) : null,
    h("div", { class: "rpt-chart__svg" }, svg),
    tbl);
}

// orderKeys sorts a dimension's values: known ones in their order, the
// others by their overall count, largest first.
function orderKeys(dim, overall) {
  const keys = Object.keys(overall || {});
  const known = orders[dim];
  return keys.sort((a, b) => {
    if (known) {
      const ia = known.indexOf(a), ib = known.indexOf(b);
      if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    }
    return (overall[b] - overall[a]) || a.localeCompare(b);
  });
}

const dims = [
  { key: "urgency", title: "urgency", label: urgencyLabel, other: "Other urgencies" },
  { key: "tier", title: "tier (complexity at triage)", label: tierLabel, other: "Other tiers" },
  { key: "service", title: "treating service", label: capital, other: "Other services" },
  { key: "practice", title: "referring practice", label: (p) => p, other: "Other practices" },
];

function volumeChart(rep, dim, unit) {
  const periods = rep.volumes.map((v) => v.period);
  const labels = periods.map(periodLabel);
  const keys = orderKeys(dim.key, rep.overall[dim.key]);
  // At most 7 series in the chart (the legend must stay readable); the
  // table lists every value.
  const shown = keys.length > 7 ? keys.slice(0, 6) : keys;
  const rest = keys.slice(shown.length);
  const series = shown.map((k) => ({ name: dim.label(k), colour: colours[dim.key]?.[k], values: rep.volumes.map((v) => v[dim.key][k] || 0) }));
  if (rest.length) series.push({ name: dim.other, values: rep.volumes.map((v) => rest.reduce((t, k) => t + (v[dim.key][k] || 0), 0)) });
  const title = `Referrals by ${dim.title}, per ${unit}`;
  const desc = labels.map((l, i) => `${l}: ${rep.volumes[i].referrals} (${series.filter((se) => se.values[i]).map((se) => `${se.name} ${se.values[i]}`).join(", ")})`).join("; ") + ".";
  const svg = stackedBars({ title, desc, categories: labels, series, xLabel: capital(unit), yLabel: "Referrals" });
  const head = [capital(dim.title.replace(/ \(.*\)/, "")), ...labels, "All periods"];
  const rows = keys.map((k) => [dim.label(k), ...rep.volumes.map((v) => String(v[dim.key][k] || 0)), String(rep.overall[dim.key][k] || 0)]);
  rows.push(["All referrals", ...rep.volumes.map((v) => String(v.referrals)), String(rep.overall.referrals)]);
  const numeric = head.map((_, i) => i).slice(1);
  return chartCard(`chart-${dim.key}`, title, null, svg, table(`${title}: the numbers`, head, rows, { numeric, total: true }));
}

function triageChart(rep, unit) {
  const spreads = rep.triage_hours_by_period;
  const labels = spreads.map((sp) => periodLabel(sp.period));
  const title = `Triage turnaround per ${unit}: median and 90th percentile`;
  const desc = `Hours from reaching the triage service to the first triage decision. All periods: median ${hoursLong(rep.triage_hours.median)}, 90th percentile ${hoursLong(rep.triage_hours.p90)}. ` +
    spreads.map((sp, i) => `${labels[i]}: ${sp.count ? `median ${hoursLong(sp.median)}, 90th percentile ${hoursLong(sp.p90)}` : "no decisions"}`).join("; ") + ".";
  const svg = groupedBars({
    title, desc, categories: labels, xLabel: capital(unit), yLabel: "Hours", format: (v) => String(Math.round(v * 10) / 10),
    series: [{ name: "Median", values: spreads.map((sp) => sp.median) }, { name: "90th percentile", values: spreads.map((sp) => sp.p90) }],
  });
  const rows = spreads.map((sp, i) => [labels[i], String(sp.count), hours(sp.median), hours(sp.p90)]);
  rows.push(["All periods", String(rep.triage_hours.count), hours(rep.triage_hours.median), hours(rep.triage_hours.p90)]);
  return chartCard("chart-triage", title,
    "Hours from first reaching the triage service to its first decision (accept, return or redirect). Time waiting for the referrer's answer counts: the patient waits too.",
    svg, table(`${title}: the numbers`, ["Period", "Decisions", "Median", "90th percentile"], rows, { numeric: [1, 2, 3], total: true }));
}

function reasonsChart(rep) {
  const rows = [];
  for (const [key, name] of [["returned", "Returned"], ["redirected", "Redirected"]]) {
    const o = rep[key];
    rows.push({ label: `${name}: all reasons`, outcome: name, reason: "All reasons", rate: o, colour: key === "returned" ? 0 : 2 });
    for (const reason of Object.keys(o.by_reason || {}).sort((a, b) => o.by_reason[b].count - o.by_reason[a].count || a.localeCompare(b))) {
      rows.push({ label: `${name}: ${words(reason)}`, outcome: name, reason: words(reason), rate: o.by_reason[reason], colour: key === "returned" ? 0 : 2 });
    }
  }
  const title = "Returned and redirected referrals, by reason";
  const desc = `Share of the ${rep.returned.of} triaged referrals. ` + rows.map((r) => `${r.label} ${percent(r.rate.fraction)} (${r.rate.count})`).join("; ") + ".";
  const svg = hBars({
    title, desc, xLabel: "Per cent of triaged referrals", max: 100, format: (v) => `${Math.round(v * 10) / 10}%`,
    rows: rows.map((r) => ({ label: r.label, value: (r.rate.fraction || 0) * 100, text: `${percent(r.rate.fraction)} (${r.rate.count} of ${r.rate.of})`, colour: r.colour })),
  });
  return chartCard("chart-reasons", title,
    "Of the referrals with at least one triage decision. A referral counts once per reason it was given, so reasons can add up to more than the total.",
    svg, table(`${title}: the numbers`, ["Outcome", "Reason", "Referrals", "Triaged", "Rate"],
      rows.map((r) => [r.outcome, r.reason, String(r.rate.count), String(r.rate.of), percent(r.rate.fraction)]), { numeric: [2, 3, 4] }));
}

function ratesChart(rep) {
  const rows = [
    { label: "Did not attend (of booked referrals)", rate: rep.dna, of: "booked", colour: 4 },
    { label: "See and treat (of accepted referrals)", rate: rep.see_and_treat, of: "accepted", colour: 1 },
  ];
  const title = "Did-not-attend and see-and-treat rates";
  const desc = rows.map((r) => `${r.label}: ${percent(r.rate.fraction)}, ${r.rate.count} of ${r.rate.of}`).join("; ") + ".";
  const svg = hBars({
    title, desc, xLabel: "Per cent", max: 100, format: (v) => `${Math.round(v * 10) / 10}%`,
    rows: rows.map((r) => ({ label: r.label, value: (r.rate.fraction || 0) * 100, text: `${percent(r.rate.fraction)} (${r.rate.count} of ${r.rate.of})`, colour: r.colour })),
  });
  return chartCard("chart-rates", title,
    "Did not attend: referrals whose patient missed an appointment, of those ever booked. See and treat: accepted referrals triaged to be treated at the first visit.",
    svg, table(`${title}: the numbers`, ["Measure", "Referrals", "Of", "Rate"],
      rows.map((r) => [r.label, String(r.rate.count), String(r.rate.of), percent(r.rate.fraction)]), { numeric: [1, 2, 3] }));
}

function radiographsChart(rep) {
  const r = rep.radiographs;
  const rows = [
    { label: "With radiographs filed", value: r.with_films, colour: 1 },
    { label: "Without radiographs", value: r.without_films, colour: 3 },
    { label: "Of those without: films promised but none arrived", value: r.promised_none, colour: 4 },
  ];
  const title = "Referrals with and without radiographs";
  const desc = rows.map((x) => `${x.label}: ${x.value}`).join("; ") + ".";
  const svg = hBars({ title, desc, xLabel: "Referrals", rows, whole: true });
  return chartCard("chart-radiographs", title, null, svg,
    table(`${title}: the numbers`, ["Referrals", "Number"], rows.map((x) => [x.label, String(x.value)]), { numeric: [1] }));
}

function figure(label, value, sub) {
  return h("div", { class: "rpt-figure" }, h("dt", {}, label), h("dd", {}, h("span", { class: "rpt-figure__value" }, value), sub ? h("span", { class: "rpt-figure__sub" }, sub) : null));
}

function draw(rep) {
  const unit = rep.query.period === "week" ? "week" : "month";
  const range = rep.query.from || rep.query.to
    ? `Submitted ${rep.query.from ? `from ${fmt.date(rep.query.from.slice(0, 10))}` : ""}${rep.query.from && rep.query.to ? " " : ""}${rep.query.to ? `up to and including ${fmt.date(subDay(rep.query.to.slice(0, 10)))}` : ""}.`
    : "All referrals submitted so far.";
  const key = h("dl", { class: "rpt-figures" },
    figure("Referrals", String(rep.total)),
    figure("Triage turnaround, median", hoursLong(rep.triage_hours.median), `90th percentile ${hoursLong(rep.triage_hours.p90)}`),
    figure("Returned", percent(rep.returned.fraction), `${rep.returned.count} of ${rep.returned.of} triaged`),
    figure("Redirected", percent(rep.redirected.fraction), `${rep.redirected.count} of ${rep.redirected.of} triaged`),
    figure("Provider acceptance, median", days(rep.provider_acceptance_days.median), `90th percentile ${days(rep.provider_acceptance_days.p90)}`),
    figure("Did not attend", percent(rep.dna.fraction), `${rep.dna.count} of ${rep.dna.of} booked`),
    figure("See and treat", percent(rep.see_and_treat.fraction), `${rep.see_and_treat.count} of ${rep.see_and_treat.of} accepted`),
    figure("With radiographs", String(rep.radiographs.with_films), `${rep.radiographs.without_films} without`));
  const parts = [h("h2", {}, "Key figures"), h("p", { class: "app-caption" }, `${range} Generated ${fmt.dateTime(rep.generated)}.`), key];
  if (rep.total === 0) {
    parts.push(h("div", { class: "app-notice app-notice--warning" }, "No referrals were submitted in this period, so there is nothing to chart. Choose a wider period."));
  } else {
    parts.push(
      h("h2", {}, "Volumes"),
      h("div", { class: "rpt-grid" }, dims.map((d) => volumeChart(rep, d, unit))),
      h("h2", {}, "Triage and outcomes"),
      h("div", { class: "rpt-grid" }, triageChart(rep, unit), reasonsChart(rep), ratesChart(rep), radiographsChart(rep)));
  }
  results.replaceChildren(...parts);
}

load();
