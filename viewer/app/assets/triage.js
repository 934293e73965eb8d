// The triage worklist: referrals waiting for triage (most urgent, then
// longest waiting, first), those waiting for the referrer's answer, and
// the chase list of what is overdue. Each row opens the referral beside
// its films; J/K or the arrow keys move, Enter opens.

import { api, h, start, fail, param } from "/app/assets/common.js";
import { worklistTable, rowKeys, filterRows, tabs, queue, shortcutsHelp, typing } from "/app/assets/triage-lib.js";

const LISTS = [
  { id: "awaiting-triage", label: "Waiting for triage", caption: "Referrals waiting for triage, most urgent first, then longest waiting",
    columns: ["urgency", "urn", "patient", "procedure", "waiting", "films", "reminders"], empty: "No referrals are waiting for triage." },
  { id: "info-requested", label: "Information requested", caption: "Referrals waiting for the referrer's answer",
    columns: ["urgency", "urn", "patient", "procedure", "waiting", "films", "reminders"], empty: "No referral is waiting for an answer from a referrer." },
  { id: "chase", label: "Chase list", caption: "Referrals with something overdue: films not received, questions unanswered, discharge letters not sent",
    columns: ["urgency", "urn", "patient", "chase", "waiting", "films", "reminders"], empty: "Nothing is overdue." },
];

const rank = { "suspected-cancer": 0, urgent: 1 };
// order keeps the server's order (urgency, then longest waiting) and
// applies it to every list, the chase list included.
const order = (rows) => rows.map((r, i) => [r, i])
  .sort(([a, i], [b, j]) => ((rank[a.urgency] ?? 2) - (rank[b.urgency] ?? 2)) || (b.waiting_days - a.waiting_days) || (i - j))
  .map(([r]) => r);

// The lists are asked for before the session is read: the two round trips
// overlap, and the worklist is on screen sooner.
const fetchAll = () => Object.fromEntries(LISTS.map((l) => [l.id,
  api("GET", `/api/worklists/${l.id}`).then((r) => ({ rows: order(r.data || []) }), (err) => ({ err }))]));
let pending = fetchAll();

const { main } = await start();

const search = h("input", { type: "search", id: "find", autocomplete: "off", spellcheck: "false", "aria-describedby": "find-hint" });
const refresh = h("button", { type: "button", class: "app-button--secondary" }, "Refresh");
const updated = h("p", { class: "mx-updated", role: "status", "aria-live": "polite" });
const help = shortcutsHelp([
  ["J / ↓", "Next referral in the list"],
  ["K / ↑", "Previous referral in the list"],
  ["Enter", "Open the referral and its films"],
  ["Home / End", "First or last referral (in the table)"],
  ["1 / 2 / 3", "Waiting for triage, information requested, chase list"],
  ["/", "Find a referral by URN, name, NHS number or procedure"],
  ["?", "Show or hide these shortcuts"],
], "The keys work anywhere on the page except while you type in a box.");

const tl = tabs(LISTS, { label: "Worklists", selected: param("list") || "awaiting-triage", onSelect: (id, user) => show(id, user) });
main.append(
  h("div", { class: "mx-toolbar" },
    h("div", { class: "app-field" },
      h("label", { for: "find" }, "Find a referral"),
      h("span", { class: "app-hint", id: "find-hint" }, "URN, patient, NHS number or procedure"),
      search),
    refresh),
  updated,
  h("p", { class: "mx-keyhint" }, "Press J or K to move through the list, Enter to open a referral, ? for all the keys."),
  tl.el, help);

let data = {};
const keys = rowKeys(tl.panel);

function show(id, user) {
  const list = LISTS.find((l) => l.id === id);
  const d = data[id];
  if (user) history.replaceState(null, "", id === "awaiting-triage" ? location.pathname : `?list=${id}`);
  if (!d) { tl.panel.replaceChildren(h("p", { class: "mx-empty app-loading" }, "Loading…")); return; }
  if (d.err) { tl.panel.replaceChildren(); fail(tl.panel, d.err); return; }
  const table = worklistTable(d.rows, { columns: list.columns, caption: `${list.caption}: ${d.rows.length}`,
    href: (r) => `/app/referral?id=${encodeURIComponent(r.id)}`, empty: list.empty, fixed: true });
  tl.panel.replaceChildren(table);
  keys.reset();
  if (search.value) filterRows(tl.panel, search.value);
  remember();
}

// remember saves the list as shown, so the referral page can offer the
// next and previous referral of it.
function remember() {
  const list = LISTS.find((l) => l.id === tl.current);
  const ids = [...tl.panel.querySelectorAll("tbody tr:not([hidden])")].map((tr) => tr.dataset.id);
  queue.save(list.id, list.label, ids);
}

async function load() {
  const got = {};
  await Promise.all(LISTS.map(async (l) => { got[l.id] = await pending[l.id]; }));
  if (!performance.getEntriesByName("worklist-data").length) performance.mark("worklist-data");
  data = got;
  for (const l of LISTS) tl.setCount(l.id, got[l.id].rows ? got[l.id].rows.length : null);
  updated.textContent = `Updated at ${new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" }).format(new Date())}.`;
  if (tl.current) show(tl.current, false);
  else tl.init();
}

await load();
performance.mark("worklist-rendered");
document.body.dataset.rendered = "true";

// Coming back from a referral: the row last opened has the focus again.
const last = sessionStorage.getItem("molar.triage.last");
if (last) keys.focusId(last);

tl.panel.addEventListener("click", (e) => {
  const a = e.target.closest("a.mx-rowlink");
  if (a) sessionStorage.setItem("molar.triage.last", a.closest("tr").dataset.id);
});

search.addEventListener("input", () => {
  const n = filterRows(tl.panel, search.value);
  updated.textContent = search.value ? `${n} ${n === 1 ? "referral matches" : "referrals match"}.` : "";
  keys.reset();
  remember();
});
search.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { search.value = ""; search.dispatchEvent(new Event("input")); }
  if (e.key === "Enter" || e.key === "ArrowDown") { e.preventDefault(); search.blur(); keys.reset(); tl.panel.querySelector("tbody tr:not([hidden]) a")?.focus(); }
});

async function reload() {
  refresh.disabled = true;
  updated.textContent = "Refreshing…";
  pending = fetchAll();
  await load();
  refresh.disabled = false;
}
refresh.addEventListener("click", reload);
// Back from a referral through the history: the lists may have changed.
addEventListener("pageshow", (e) => { if (e.persisted) reload(); });

document.addEventListener("keydown", (e) => {
  if (typing(e) || e.defaultPrevented) return;
  const n = { 1: 0, 2: 1, 3: 2 }[e.key];
  if (n !== undefined) { e.preventDefault(); tl.select(LISTS[n].id, true); return; }
  if (e.key === "/") { e.preventDefault(); search.focus(); search.select(); return; }
  if (e.key === "?") { e.preventDefault(); help.open = !help.open; if (help.open) help.querySelector("summary").focus(); }
});

// For people and tests measuring: the rows are in the page, then painted.
requestAnimationFrame(() => setTimeout(() => performance.mark("worklist-painted"), 0));
