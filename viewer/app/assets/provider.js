// Provider worklists: the treating service's referrals, from received to
// booked, for the caller's organisation. Choosing a row opens it beside
// the list with the steps the caller may take: accept for treatment
// (clinicians), record contact, book a free slot of a directly bookable
// service or record an indirectly bookable one's appointment, rearrange,
// cancel the appointment, did not attend, no contact, treat (clinicians),
// discharge and cancel. Booking roles see demographics, status and the
// appointment: the API sends them nothing clinical, and nothing clinical
// is shown as empty.

import { api, h, fmt, start, fail, param, style, urgencyTag } from "/app/assets/common.js";
import {
  STATUS, PROCEDURES, tierLabel, priorityLabel, patientName, age, typing, tabs, worklistTable, rowKeys, filterRows,
  shortcutsHelp, queue, isClinician, providerActions, providerForm, appointmentText, bookingModel,
} from "/app/assets/triage-lib.js";

style("provider");

const LISTS = [
  { id: "provider-received", label: "New referrals", caption: "Referrals sent to your services, not yet accepted for treatment", empty: "No new referrals." },
  { id: "provider-accepted", label: "To contact or book", caption: "Referrals accepted for treatment: contact the patient or book", empty: "No accepted referral is waiting to be booked." },
  { id: "provider-contacted", label: "Contacted", caption: "Patients contacted, or who could not be contacted", empty: "No referral is at this stage." },
  { id: "provider-booked", label: "Booked", caption: "Booked appointments, and patients who did not attend", empty: "No appointments are booked." },
  { id: "provider-treated", label: "Treated", caption: "Patients treated: discharge them with a letter to the practice", empty: "No treated patient is waiting to be discharged." },
];
// Lists holding one status need no status column.
const COLS = { "provider-received": ["urgency", "urn", "patient", "service", "waiting"], "provider-accepted": ["urgency", "urn", "patient", "service", "waiting"],
  "provider-contacted": ["urgency", "urn", "patient", "service", "status", "waiting"], "provider-booked": ["urgency", "urn", "patient", "service", "status", "appointment"],
  "provider-treated": ["urgency", "urn", "patient", "service", "waiting"] };

const fetchAll = () => Object.fromEntries(LISTS.map((l) => [l.id,
  api("GET", `/api/worklists/${l.id}`).then((r) => ({ rows: r.data || [] }), (err) => ({ err }))]));
let pending = fetchAll();
const servicesP = api("GET", "/api/services").then((r) => r.data || [], () => []);

const { main, session } = await start();
const role = session.grant.role;
const clinician = isClinician(role);
const services = await servicesP;
const serviceById = new Map(services.map((s) => [s.id, s]));

const search = h("input", { type: "search", id: "find", autocomplete: "off", spellcheck: "false", "aria-describedby": "find-hint" });
const refresh = h("button", { type: "button", class: "app-button--secondary" }, "Refresh");
const updated = h("p", { class: "mx-updated", role: "status", "aria-live": "polite" });
const help = shortcutsHelp([
  ["J / ↓", "Next referral in the list"],
  ["K / ↑", "Previous referral in the list"],
  ["Enter", "Open the referral beside the list, with what you can do"],
  ["Esc", "Back from the referral to its row"],
  ["1 / 2 / 3 / 4", "New, to contact or book, contacted, booked"],
  ["/", "Find a referral by URN, name or NHS number"],
  ["?", "Show or hide these shortcuts"],
], "The keys work anywhere on the page except while you type in a box.");

const detail = h("aside", { class: "pv-detail", "aria-label": "The chosen referral", tabindex: "-1" },
  h("p", { class: "pv-detail__empty" }, "Choose a referral from the list to see it and book, record contact or take the next step."));
const tl = tabs(LISTS, { label: "Provider worklists", selected: param("list") || "provider-received", onSelect: (id, user) => showList(id, user) });
main.append(
  h("div", { class: "mx-toolbar" },
    h("div", { class: "app-field" }, h("label", { for: "find" }, "Find a referral"),
      h("span", { class: "app-hint", id: "find-hint" }, "URN, patient or NHS number"), search),
    refresh),
  updated,
  h("p", { class: "mx-keyhint" }, "Press J or K to move through the list, Enter to open a referral, ? for all the keys."),
  h("div", { class: "pv-layout" }, h("div", { class: "pv-lists" }, tl.el), detail),
  help);

let data = {};
let selected = param("id");
const keys = rowKeys(tl.panel);

function showList(id, user) {
  const list = LISTS.find((l) => l.id === id);
  const d = data[id];
  if (user) setURL();
  if (!d) { tl.panel.replaceChildren(h("p", { class: "mx-empty app-loading" }, "Loading…")); return; }
  if (d.err) { tl.panel.replaceChildren(); fail(tl.panel, d.err); return; }
  tl.panel.replaceChildren(worklistTable(d.rows, { columns: COLS[list.id], caption: `${list.caption}: ${d.rows.length}`, ctx: { services: serviceById },
    href: (r) => `/app/provider?list=${list.id}&id=${encodeURIComponent(r.id)}`, empty: list.empty }));
  keys.reset();
  if (search.value) filterRows(tl.panel, search.value);
  markSelected();
  if (clinician) queue.save(list.id, list.label, [...tl.panel.querySelectorAll("tbody tr")].map((tr) => tr.dataset.id));
}

function setURL() {
  const p = new URLSearchParams();
  if (tl.current && tl.current !== "provider-received") p.set("list", tl.current);
  if (selected) p.set("id", selected);
  history.replaceState(null, "", location.pathname + (p.toString() ? `?${p}` : ""));
}

function markSelected() {
  for (const tr of tl.panel.querySelectorAll("tbody tr")) {
    const on = tr.dataset.id === selected;
    tr.classList.toggle("pv-selected", on);
    const a = tr.querySelector("a.mx-rowlink");
    if (a) { if (on) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current"); }
  }
}

async function load() {
  const got = {};
  await Promise.all(LISTS.map(async (l) => { got[l.id] = await pending[l.id]; }));
  data = got;
  for (const l of LISTS) tl.setCount(l.id, got[l.id].rows ? got[l.id].rows.length : null);
  updated.textContent = `Updated at ${new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" }).format(new Date())}.`;
  if (tl.current) showList(tl.current, false);
  else tl.init();
}

async function reload() {
  refresh.disabled = true;
  pending = fetchAll();
  await load();
  refresh.disabled = false;
}

// listOf says which list a referral is on now.
function listOf(id) {
  for (const l of LISTS) if (data[l.id] && data[l.id].rows && data[l.id].rows.some((r) => r.id === id)) return l;
  return null;
}

// --- the chosen referral -----------------------------------------------------

let openStep = null;

async function select(id, { focus = true } = {}) {
  selected = id;
  setURL();
  markSelected();
  detail.replaceChildren(h("p", { class: "app-loading" }, "Loading the referral…"));
  let ref;
  try {
    const r = await api("GET", `/api/referrals/${encodeURIComponent(id)}`);
    ref = { ...r.data, version: r.version || r.data.version };
  } catch (err) {
    detail.replaceChildren();
    fail(detail, err);
    return;
  }
  if (selected !== id) return;
  renderDetail(ref, null, focus);
}

function renderDetail(ref, message, focus) {
  openStep = null;
  const p = ref.patient || {};
  const service = serviceById.get(ref.provider_service);
  const a = age(p.birth_date);
  const d = ref.decision || {};
  const c = ref.clinical || {};
  const title = h("h2", { id: "pv-title", tabindex: "-1" }, patientName(p));
  const area = h("div", { class: "pv-form" });
  const buttons = [];
  for (const action of providerActions(ref.status, role)) {
    const b = h("button", { type: "button", class: `pv-action${action.danger ? " app-button--secondary" : ""}`, "aria-pressed": "false", "data-step": action.step }, action.label);
    b.addEventListener("click", () => {
      if (openStep === action.step) { close(); return; }
      openStep = action.step;
      for (const x of buttons) x.setAttribute("aria-pressed", String(x === b));
      const form = providerForm(action, ref, { service, services, onCancel: close, done: (res) => after(res, action) });
      area.replaceChildren(form.el);
      form.focusFirst();
      if (form.ready) form.ready.then(() => { if (!area.contains(document.activeElement) || document.activeElement === form.submit) form.focusFirst(); });
      form.el.scrollIntoView({ block: "nearest" });
    });
    buttons.push(b);
  }
  const close = () => {
    const back = buttons.find((x) => x.getAttribute("aria-pressed") === "true");
    openStep = null;
    for (const x of buttons) x.setAttribute("aria-pressed", "false");
    area.replaceChildren();
    if (back) back.focus();
  };
  const after = async (res, action) => {
    const now = { ...res.referral, version: res.version || res.referral.version };
    pending = fetchAll();
    await load();
    const on = listOf(now.id);
    const msg = h("div", { class: "app-notice app-notice--success", role: "status", tabindex: "-1" },
      h("p", {}, h("strong", {}, action.done || `${action.label}: done.`), ` The referral is now “${STATUS[now.status] || now.status}”.`),
      now.status === "BOOKED" && now.appointment ? h("p", {}, h("strong", {}, "Appointment: "), appointmentText(now.appointment)) : null,
      on ? h("p", {}, `It is now on the list “${on.label}”.`) : h("p", {}, "It has left your worklists."));
    renderDetail(now, msg, false);
    msg.focus();
  };

  const rows = (list) => {
    const kids = [];
    for (const [k, v] of list) if (v !== undefined && v !== null && v !== "") kids.push(h("dt", {}, k), h("dd", {}, v));
    return kids.length ? h("dl", { class: "app-summary" }, kids) : null;
  };
  const clinical = clinician && (c.procedure || c.reason);
  detail.replaceChildren(...[
    message,
    h("section", { class: "app-card pv-card", "aria-labelledby": "pv-title" },
      h("p", { class: "app-caption" }, "Referral ", h("span", { class: "app-urn" }, ref.urn || "")),
      title,
      rows([
        ["Born", p.birth_date ? `${fmt.date(p.birth_date)}${a !== null ? ` (${a} years)` : ""}` : ""],
        ["NHS number", p.nhs_number ? fmt.nhs(p.nhs_number) : ""],
        ["Phone", p.phone],
        ["Texts", p.phone ? (p.sms_consent ? "Agreed to texts" : "Not to be texted") : ""],
        ["Address", [...(p.address || []), p.postcode].filter(Boolean).join(", ")],
        ["Interpreter", p.interpreter],
      ]),
      h("h3", {}, "Where it is"),
      rows([
        ["Status", h("span", {}, STATUS[ref.status] || ref.status, ref.status_since ? h("span", { class: "mx-sub" }, `since ${fmt.date(ref.status_since)}`) : null)],
        ["Urgency", c.urgency ? urgencyTag(c.urgency) : ""],
        ["Priority", d.priority ? priorityLabel(d.priority) : ""],
        ["Service", service ? h("span", {}, service.name, h("span", { class: "mx-sub" }, bookingModel(service.booking_model))) : ""],
        ["Appointment", ref.appointment ? h("span", { class: "pv-appointment" }, appointmentText(ref.appointment),
          ref.appointment.note ? h("span", { class: "mx-sub" }, ref.appointment.note) : null) : "None booked"],
      ]),
      clinical ? h("h3", {}, "Clinical") : null,
      clinical ? rows([
        ["Procedure", c.procedure ? `${PROCEDURES[c.procedure] || c.procedure}${c.teeth ? `: ${c.teeth}` : ""}` : ""],
        ["Tier", d.tier ? tierLabel(d.tier) : ""],
        ["See and treat", d.tier ? (d.see_and_treat ? "Yes: may be treated at the first appointment" : "No: assessment first") : ""],
        ["Advice", d.advice],
      ]) : null,
      clinician ? h("p", {}, h("a", { href: `/app/referral?id=${encodeURIComponent(ref.id)}` }, "Open the full referral and its films")) : null,
      buttons.length ? h("div", { class: "pv-actions" }, h("h3", {}, "What you can do"), h("div", { class: "pv-buttons" }, buttons)) : h("p", {}, "There is nothing to do on this referral now."),
      area),
  ].filter(Boolean));
  if (focus) title.focus();
}

tl.panel.addEventListener("click", (e) => {
  const a = e.target.closest("a.mx-rowlink");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button) return;
  e.preventDefault();
  select(a.closest("tr").dataset.id);
});

detail.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || e.defaultPrevented || typing(e)) return;
  const a = tl.panel.querySelector(`tbody tr.pv-selected a.mx-rowlink`);
  if (a) { e.preventDefault(); a.focus(); }
});

search.addEventListener("input", () => {
  const n = filterRows(tl.panel, search.value);
  updated.textContent = search.value ? `${n} ${n === 1 ? "referral matches" : "referrals match"}.` : "";
  keys.reset();
});
search.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { search.value = ""; search.dispatchEvent(new Event("input")); }
  if (e.key === "Enter" || e.key === "ArrowDown") { e.preventDefault(); tl.panel.querySelector("tbody tr:not([hidden]) a")?.focus(); }
});
refresh.addEventListener("click", reload);

document.addEventListener("keydown", (e) => {
  if (typing(e) || e.defaultPrevented) return;
  const n = { 1: 0, 2: 1, 3: 2, 4: 3 }[e.key];
  if (n !== undefined) { e.preventDefault(); tl.select(LISTS[n].id, true); return; }
  if (e.key === "/") { e.preventDefault(); search.focus(); search.select(); return; }
  if (e.key === "?") { e.preventDefault(); help.open = !help.open; if (help.open) help.querySelector("summary").focus(); }
});

await load();
if (selected) {
  // Opened with ?id=: show its list and the referral.
  const on = listOf(selected);
  if (on && on.id !== tl.current) tl.select(on.id, false);
  select(selected, { focus: false });
}
document.body.dataset.rendered = "true";
