// Shared by the triage, referral and provider pages: the words for codes,
// the advice templates, the worklist table with its keyboard, the step
// forms (If-Match, 412, 422), tabs, and the queue that lets a triager go
// from one referral to the next without returning to the list.

import { api, h, fmt, urgencyTag, style, ApiError } from "/app/assets/common.js";

style("triage");

// The words for codes live in vocab.js; the pages import them from here.
export { STATUS, PROCEDURES, ANAESTHESIA, ANTICOAGULANTS, TIERS, tierLabel, PRIORITIES, priorityLabel, REASONS, reasonLabel } from "/app/assets/vocab.js";

// Advice templates for returning a referral: the words triagers write
// most, with the referral's teeth and URN filled in. Square brackets mark
// what to complete.
export const RETURN_TEMPLATES = [
  { id: "non-diagnostic", label: "Radiograph not diagnostic", reason: "radiograph-non-diagnostic",
    text: "Thank you for your referral. The radiograph we received is not diagnostic: [the apex is cut off / it is blurred / it is under- or over-exposed]. Please take a new periapical radiograph of {teeth} showing the whole root and at least 2 mm of bone beyond the apex, and refer again with it." },
  { id: "wrong-view", label: "Wrong view", reason: "radiograph-wrong-view",
    text: "Thank you for your referral. The view we received does not show what we need to triage it. For {teeth}, please send a periapical radiograph showing the whole root and its relation to the inferior dental canal (or an OPG for lower third molars), and refer again." },
  { id: "missing", label: "No radiograph", reason: "radiograph-missing",
    text: "Thank you for your referral. We have not received any radiographs with it. Please take a radiograph of {teeth} showing the whole tooth and the surrounding bone, send it with the reference {urn}, and refer again." },
  { id: "treat-in-practice", label: "Treat in practice", reason: "treat-in-practice",
    text: "Thank you for your referral. Removing {teeth} is a Level 1 procedure that can be carried out in general practice, so we are returning the referral for treatment in the practice. If it proves more difficult than expected, please refer again with the new findings and radiographs." },
  { id: "outside-criteria", label: "Outside criteria", reason: "outside-criteria",
    text: "Thank you for your referral. It does not meet the referral criteria of the services we triage for: [explain]. The criteria are in the Directory of Services; please call the triage hub if you would like to discuss the patient." },
  { id: "insufficient", label: "Not enough information", reason: "insufficient-information",
    text: "Thank you for your referral. We do not have enough information to triage it: [say what is missing]. Please add it and refer again." },
  { id: "duplicate", label: "Duplicate", reason: "duplicate",
    text: "Thank you for your referral. We already have a referral for this patient for the same treatment, so we have returned this copy. You do not need to do anything." },
];

// Question templates for asking the referrer for more.
export const INFO_TEMPLATES = [
  { id: "non-diagnostic", label: "Radiograph not diagnostic", reason: "radiograph-non-diagnostic",
    text: "The radiograph of {teeth} is not diagnostic: [the apex is cut off / it is blurred / it is under- or over-exposed]. Please send a new periapical radiograph showing the whole root and the surrounding bone, with the reference {urn}." },
  { id: "wrong-view", label: "Wrong view", reason: "radiograph-wrong-view",
    text: "Please send a periapical radiograph of {teeth} showing the whole root and its relation to the inferior dental canal, with the reference {urn}." },
  { id: "missing", label: "Radiograph missing", reason: "radiograph-missing",
    text: "We have not received the radiographs the referral mentions. Please send them with the reference {urn}." },
  { id: "medical", label: "Medical history", reason: "medical-history",
    text: "Please confirm the patient's medical history: their current medicines, any anticoagulant (with the latest INR and its date if they take warfarin) and any bleeding disorder." },
  { id: "clinical", label: "Clinical detail", reason: "clinical-detail",
    text: "Please tell us more about [what]: [your question]." },
];

// fill puts the referral's teeth and URN into a template.
export function fill(text, ref) {
  const teeth = (ref.clinical && ref.clinical.teeth || "").trim();
  return text.replaceAll("{teeth}", teeth ? teeth : "the tooth concerned").replaceAll("{urn}", ref.urn || "the URN");
}

export const ROLE_LABEL = {
  referrer: "Referring dentist", "referrer-admin": "Practice administrator", "sp-clinician": "Clinician",
  "sp-clinician-admin": "Clinician's administrator", "sp-admin": "Provider administrator", "booking-manager": "Booking manager",
  "service-definer": "Service definer", analyst: "Analyst", sysadmin: "System administrator",
};

export const ACTION_LABEL = {
  draft: "Draft started", edit: "Form changed", submit: "Submitted", system: "Moved on by Molar", "film-filed": "Films filed",
  "request-info": "Information asked for", "provide-info": "Information given", accept: "Accepted at triage",
  return: "Returned to the referrer", redirect: "Redirected", resubmit: "Sent again", "provider-accept": "Accepted by the treating service",
  contact: "Patient contacted", book: "Appointment booked", rearrange: "Appointment rearranged",
  "cancel-appointment": "Appointment cancelled", treat: "Treated", discharge: "Discharged", dna: "Did not attend",
  "no-contact": "Could not contact the patient", cancel: "Cancelled", remind: "Reminder", trace: "NHS number traced",
  upload: "Film uploaded",
};

const CLINICAL_ROLES = ["sp-clinician", "sp-clinician-admin"];
const BOOKING_ROLES = ["booking-manager", "sp-admin"];
export const isClinician = (role) => CLINICAL_ROLES.includes(role);
export const isBooker = (role) => BOOKING_ROLES.includes(role);

// patientName is "SMITH, Olivia" from a referral's patient.
export function patientName(p) {
  if (!p) return "";
  return [p.family ? p.family.toUpperCase() : "", p.given || ""].filter(Boolean).join(", ");
}

// age in whole years on today from "YYYY-MM-DD".
export function age(dob) {
  if (!dob) return null;
  const d = new Date(dob + "T00:00:00");
  if (isNaN(d)) return null;
  const now = new Date();
  let a = now.getFullYear() - d.getFullYear();
  if (now.getMonth() < d.getMonth() || (now.getMonth() === d.getMonth() && now.getDate() < d.getDate())) a--;
  return a;
}

export function daysSince(t) {
  if (!t) return 0;
  return Math.floor((Date.now() - new Date(t).getTime()) / 86400000);
}

// overdue says what the chase list would say of a referral, as the
// server decides it (referral/lists.go chase), or "".
export function overdue(ref) {
  const st = ref.status;
  if (st === "INFO_REQUESTED" && daysSince(ref.status_since) >= 7) return `The question to the referrer has been unanswered for ${fmt.days(daysSince(ref.status_since))}.`;
  if (st === "TREATED" && daysSince(ref.status_since) >= 14) return `Treated ${fmt.days(daysSince(ref.status_since))} ago; the discharge letter is not yet sent.`;
  if ((st === "AWAITING_TRIAGE" || st === "INFO_REQUESTED") && ref.radiographs && ref.radiographs.attached &&
    !(ref.films && ref.films.length) && ref.submitted && daysSince(ref.submitted) >= 3) {
    return `Radiographs were promised and none has arrived after ${fmt.days(daysSince(ref.submitted))}.`;
  }
  return "";
}

// --- keyboard --------------------------------------------------------------

// typing reports whether a key event belongs to a form control (or the
// person holds a modifier): page shortcuts leave those alone.
export function typing(e) {
  if (e.ctrlKey || e.metaKey || e.altKey) return true;
  const t = e.target;
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(t.tagName);
}

// shortcutsHelp documents a page's keys: [[keys, what]].
export function shortcutsHelp(keys, intro) {
  return h("details", { class: "mx-keys" },
    h("summary", {}, "Keyboard shortcuts"),
    intro ? h("p", {}, intro) : null,
    h("table", { class: "mx-keys__table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "What it does"))),
      h("tbody", {}, keys.map(([k, what]) => h("tr", {},
        h("td", {}, k.split(" / ").map((x, i) => [i ? " or " : "", h("kbd", { class: "app-kbd" }, x)])), h("td", {}, what))))));
}

// --- the queue: the list a referral was opened from -------------------------

const QUEUE = "molar.queue";

export const queue = {
  save(name, label, ids) {
    try { sessionStorage.setItem(QUEUE, JSON.stringify({ name, label, ids, back: location.pathname + location.search })); } catch { /* private mode */ }
  },
  get() {
    try { return JSON.parse(sessionStorage.getItem(QUEUE) || "null"); } catch { return null; }
  },
  // around returns {index, total, prev, next, label, back} for id, or null.
  around(id) {
    const q = this.get();
    if (!q || !Array.isArray(q.ids)) return null;
    const i = q.ids.indexOf(id);
    if (i < 0) return null;
    return { index: i, total: q.ids.length, prev: q.ids[i - 1] || null, next: q.ids[i + 1] || null, label: q.label, back: q.back };
  },
};

// --- tabs --------------------------------------------------------------------

// tabs builds a tab list (arrow keys move between tabs, as ARIA's tabs
// pattern) over one panel element whose content the caller fills.
// items: [{id, label}]. Returns {el, panel, select(id), setCount(id, n)}.
export function tabs(items, { label, selected, onSelect }) {
  const list = h("div", { class: "mx-tabs__list", role: "tablist", "aria-label": label });
  const panel = h("div", { class: "mx-tabs__panel", role: "tabpanel", tabindex: "-1" });
  const buttons = new Map();
  let current = null;
  for (const it of items) {
    const count = h("span", { class: "mx-tabs__count" });
    const b = h("button", { type: "button", role: "tab", class: "mx-tabs__tab", id: `tab-${it.id}`, "aria-controls": "mx-tabpanel",
      "aria-selected": "false", tabindex: "-1" }, h("span", {}, it.label), " ", count);
    b.addEventListener("click", () => select(it.id, true));
    b.addEventListener("keydown", (e) => {
      const ids = items.map((x) => x.id);
      let i = ids.indexOf(it.id);
      if (e.key === "ArrowRight") i = (i + 1) % ids.length;
      else if (e.key === "ArrowLeft") i = (i - 1 + ids.length) % ids.length;
      else if (e.key === "Home") i = 0;
      else if (e.key === "End") i = ids.length - 1;
      else return;
      e.preventDefault();
      select(ids[i], true);
      buttons.get(ids[i]).button.focus();
    });
    buttons.set(it.id, { button: b, count });
    list.append(b);
  }
  panel.id = "mx-tabpanel";
  function select(id, user) {
    if (!buttons.has(id)) return;
    current = id;
    for (const [k, v] of buttons) {
      v.button.setAttribute("aria-selected", String(k === id));
      v.button.tabIndex = k === id ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${id}`);
    onSelect(id, user);
  }
  return {
    el: h("div", { class: "mx-tabs" }, list, panel),
    panel,
    select,
    get current() { return current; },
    setCount(id, n) { const v = buttons.get(id); if (v) v.count.textContent = n === null ? "" : `(${n})`; },
    init() { select(selected && buttons.has(selected) ? selected : items[0].id, false); },
  };
}

// --- worklist tables -------------------------------------------------------

// Columns a worklist can show, by key: header, class, and a cell builder
// writing into td from a Summary row.
const text = (td, s) => { td.textContent = s; };
export const COLUMNS = {
  urgency: { head: "Urgency", cell: (td, r) => td.append(urgencyTag(r.urgency)) },
  urn: { head: "URN", cell: () => {} }, // the link, written by worklistTable
  patient: {
    head: "Patient", cell: (td, r) => {
      const name = document.createElement("span");
      name.className = "mx-patient";
      name.textContent = r.patient;
      const sub = document.createElement("span");
      sub.className = "mx-sub";
      const part = (t) => { const x = document.createElement("span"); x.className = "mx-nowrap"; x.textContent = t; return x; };
      if (r.birth_date) sub.append(part("Born " + fmt.date(r.birth_date)));
      if (r.nhs_number) sub.append(r.birth_date ? " · " : "", part("NHS " + fmt.nhs(r.nhs_number)));
      td.append(name, sub);
    },
  },
  procedure: { head: "Procedure", cell: (td, r) => text(td, r.procedure || "") },
  waiting: { head: "Waiting", cls: "num", cell: (td, r) => text(td, fmt.days(r.waiting_days)) },
  films: {
    head: "Films", cell: (td, r) => {
      if (r.films > 0) text(td, r.images > 0 ? `Received (${r.images} ${r.images === 1 ? "film" : "films"})` : "Received");
      else if (r.films_due) td.append(h("span", { class: "app-tag app-tag--urgent" }, "Awaited"));
      else { td.className += " mx-muted"; text(td, "None sent"); }
    },
  },
  reminders: {
    head: "Reminders", cls: "num", cell: (td, r) => {
      if (!r.reminders) { text(td, "None"); td.className += " mx-muted"; return; }
      td.textContent = String(r.reminders);
      if (r.last_reminded) {
        const s = document.createElement("span");
        s.className = "mx-sub";
        s.textContent = "last " + fmt.date(r.last_reminded);
        td.append(s);
      }
    },
  },
  chase: { head: "Overdue", cell: (td, r) => text(td, r.chase ? r.chase[0].toUpperCase() + r.chase.slice(1) : "") },
  status: { head: "Status", cell: (td, r) => text(td, r.status_label || STATUS[r.status] || r.status) },
  service: { head: "Service", cell: (td, r, ctx) => text(td, (ctx.services && ctx.services.get(r.service) || {}).name || "") },
  appointment: {
    head: "Appointment", cell: (td, r) => {
      if (!r.appointment) { text(td, "None"); td.className += " mx-muted"; return; }
      td.textContent = fmt.dateTime(r.appointment.start);
    },
  },
};

// worklistTable renders rows (Summary list) as one table built in a
// DocumentFragment: 500 rows is one layout. href(row) is where the URN
// link goes. Returns the table.
export function worklistTable(rows, { columns, caption, href, ctx = {}, empty, fixed }) {
  if (!rows.length) return h("p", { class: "mx-empty" }, empty || "There are no referrals on this list.");
  const table = document.createElement("table");
  table.className = "app-table mx-worklist" + (fixed ? " mx-worklist--fixed" : "");
  const cap = document.createElement("caption");
  cap.className = "app-visually-hidden";
  cap.textContent = caption;
  const thead = document.createElement("thead");
  const hr = document.createElement("tr");
  for (const key of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = COLUMNS[key].head;
    th.className = `mx-c-${key}${COLUMNS[key].cls ? " " + COLUMNS[key].cls : ""}`;
    hr.append(th);
  }
  thead.append(hr);
  const tbody = document.createElement("tbody");
  const frag = document.createDocumentFragment();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    tr.dataset.search = `${r.urn || ""} ${r.patient || ""} ${r.nhs_number || ""} ${r.procedure || ""}`.toLowerCase();
    for (const key of columns) {
      const c = COLUMNS[key];
      const td = document.createElement(key === "urn" ? "th" : "td");
      if (key === "urn") {
        td.scope = "row";
        const a = document.createElement("a");
        a.className = "app-urn mx-rowlink";
        a.href = href(r);
        a.textContent = r.urn || "(no URN)";
        td.append(a);
      } else {
        c.cell(td, r, ctx);
      }
      if (c.cls) td.className = (td.className ? td.className + " " : "") + c.cls;
      tr.append(td);
    }
    frag.append(tr);
  }
  tbody.append(frag);
  table.append(cap, thead, tbody);
  // A click anywhere on a row follows its link (the link itself is what
  // keyboards and screen readers use).
  tbody.addEventListener("click", (e) => {
    if (e.target.closest("a, button, input, select, textarea")) return;
    const tr = e.target.closest("tr");
    const a = tr && tr.querySelector("a.mx-rowlink");
    if (!a || (window.getSelection && String(window.getSelection()).length)) return;
    if (e.ctrlKey || e.metaKey || e.shiftKey) window.open(a.href, "_blank");
    else a.click();
  });
  return table;
}

// rowKeys moves through the rows of the table in container with J/K and
// the arrow keys; Enter opens the row (its link). It returns a remover.
export function rowKeys(container, { onMove } = {}) {
  let last = -1;
  const rows = () => [...container.querySelectorAll("tbody tr:not([hidden])")];
  const move = (delta, to) => {
    const list = rows();
    if (!list.length) return;
    const at = list.findIndex((tr) => tr.contains(document.activeElement));
    let i = at >= 0 ? at : Math.min(last, list.length - 1);
    i = to !== undefined ? (to < 0 ? list.length - 1 : to) : i < 0 ? (delta > 0 ? 0 : list.length - 1) : Math.max(0, Math.min(list.length - 1, i + delta));
    last = i;
    const a = list[i].querySelector("a.mx-rowlink");
    if (a) {
      a.focus({ preventScroll: true });
      list[i].scrollIntoView({ block: "nearest" });
      if (onMove) onMove(list[i]);
    }
  };
  const onKey = (e) => {
    if (typing(e) || e.defaultPrevented) return;
    const inTable = container.contains(document.activeElement);
    const free = document.activeElement === document.body || document.activeElement === null || document.activeElement.id === "main";
    const k = e.key;
    if (k === "j" || (k === "ArrowDown" && (inTable || free))) { e.preventDefault(); move(1); }
    else if (k === "k" || (k === "ArrowUp" && (inTable || free))) { e.preventDefault(); move(-1); }
    else if ((k === "Home" || k === "End") && inTable) { e.preventDefault(); move(0, k === "Home" ? 0 : -1); }
    else if (k === "Enter" && free && last >= 0) {
      const tr = rows()[last];
      const a = tr && tr.querySelector("a.mx-rowlink");
      if (a) { e.preventDefault(); a.click(); }
    }
  };
  document.addEventListener("keydown", onKey);
  return {
    remove: () => document.removeEventListener("keydown", onKey),
    focusId(id) {
      const list = rows();
      const i = list.findIndex((tr) => tr.dataset.id === id);
      if (i >= 0) { last = i - 1; move(1); }
    },
    reset() { last = -1; },
  };
}

// filterRows hides the rows whose text does not contain every word of q.
export function filterRows(container, q) {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const tr of container.querySelectorAll("tbody tr")) {
    const hit = words.every((w) => tr.dataset.search.includes(w));
    tr.hidden = !hit;
    if (hit) shown++;
  }
  return shown;
}

// --- forms -----------------------------------------------------------------

let formSeq = 0;

// Form is one step's form: fields registered by name (the API's field
// names, so 422 messages land on them), an error summary as the NHS
// pattern has it, and a submit that is disabled while it runs.
export class Form {
  constructor({ title, intro, submitLabel, danger, secondary, onSubmit, onCancel, cancelLabel = "Cancel" }) {
    this.id = `mxf${++formSeq}`;
    this.fields = new Map();
    this.onSubmit = onSubmit;
    this.summary = h("div", { class: "mx-error-summary", role: "alert", tabindex: "-1", "aria-labelledby": `${this.id}-errt`, hidden: true });
    this.status = h("p", { class: "mx-form__status", role: "status", "aria-live": "polite" });
    this.submit = h("button", { type: "submit", class: danger ? "app-button--warning" : secondary ? "app-button--secondary" : null }, submitLabel);
    this.body = h("div", { class: "mx-form__body" });
    const cancel = onCancel ? h("button", { type: "button", class: "app-button--link mx-form__cancel", onclick: () => onCancel() }, cancelLabel) : null;
    this.el = h("form", { class: "mx-form", novalidate: true, "aria-labelledby": `${this.id}-title` },
      h("h3", { id: `${this.id}-title`, class: "mx-form__title" }, title),
      intro ? h("p", { class: "mx-form__intro" }, intro) : null,
      this.summary, this.body,
      h("div", { class: "mx-form__actions" }, this.submit, cancel), this.status);
    this.el.addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    this.el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.run(); }
      if (e.key === "Escape" && onCancel) { e.preventDefault(); onCancel(); }
    });
  }

  // add registers a field and appends its element. f: {name, el, control,
  // error, get, required?: message}.
  add(f) {
    this.fields.set(f.name, f);
    this.body.append(f.el);
    return f;
  }

  append(...els) { this.body.append(...els); }

  values() {
    const v = {};
    for (const [name, f] of this.fields) v[name] = f.get();
    return v;
  }

  focusFirst() {
    const f = this.fields.values().next().value;
    const c = f && (f.focusTarget ? f.focusTarget() : f.control);
    if (c) c.focus();
    else this.submit.focus();
  }

  clearErrors() {
    this.summary.hidden = true;
    this.summary.replaceChildren();
    for (const f of this.fields.values()) {
      f.el.classList.remove("app-field--error");
      f.error.textContent = "";
      f.error.hidden = true;
    }
  }

  // showErrors shows [{field, message}] beside their fields and in the
  // summary, which takes focus.
  showErrors(list, heading = "There is a problem") {
    this.clearErrors();
    const items = [];
    for (const { field, message } of list) {
      const f = this.fields.get(field) || this.fields.get(String(field).split(".").pop()) ||
        [...this.fields.values()].find((x) => x.aliases && x.aliases.includes(field));
      if (f) {
        f.el.classList.add("app-field--error");
        f.error.textContent = (f.error.textContent ? f.error.textContent + " " : "") + message;
        f.error.hidden = false;
        const target = f.focusTarget ? f.focusTarget() : f.control;
        items.push(h("li", {}, h("a", { href: `#${target ? target.id : ""}`, onclick: (e) => { e.preventDefault(); target && target.focus(); } }, message)));
      } else {
        items.push(h("li", {}, message));
      }
    }
    this.summary.append(h("h4", { id: `${this.id}-errt`, class: "mx-error-summary__title" }, heading), h("ul", {}, items));
    this.summary.hidden = false;
    this.summary.focus();
  }

  async run() {
    if (this.busy) return;
    this.clearErrors();
    const v = this.values();
    const missing = [];
    for (const [name, f] of this.fields) {
      const val = v[name];
      if (f.required && (val === "" || val === null || val === undefined)) missing.push({ field: name, message: f.required });
    }
    if (missing.length) { this.showErrors(missing); return; }
    this.busy = true;
    this.submit.disabled = true;
    this.status.textContent = "Saving…";
    try {
      await this.onSubmit(v, this);
      this.status.textContent = "";
    } catch (err) {
      this.status.textContent = "";
      this.showApiError(err);
    } finally {
      this.busy = false;
      this.submit.disabled = false;
    }
  }

  // showApiError explains a refused step: 412 someone else changed it,
  // 422 field messages, anything else in words.
  showApiError(err) {
    if (!(err instanceof ApiError)) {
      console.error(err);
      this.showErrors([{ field: "", message: "Something went wrong: nothing was changed. Try again." }]);
      return;
    }
    if (err.status === 412) {
      this.showErrors([{ field: "", message: "Someone else changed this referral since you opened it, so nothing was saved. Reload it to see what changed, then try again." }],
        "Someone else changed it");
      this.summary.append(h("button", { type: "button", class: "app-button--secondary", onclick: () => location.reload() }, "Reload the referral"));
      return;
    }
    if (err.status === 422 && err.fields && err.fields.length) {
      this.showErrors(err.fields.map((f) => ({ field: f.field, message: f.message })));
      return;
    }
    this.showErrors([{ field: "", message: err.message }], err.status === 409 ? "This cannot be done now" : "There is a problem");
    if (err.status === 409) this.summary.append(h("button", { type: "button", class: "app-button--secondary", onclick: () => location.reload() }, "Reload the referral"));
  }
}

// Field builders. Each returns {name, el, control, error, get}; ids are
// unique per form.
function wrap(form, name, labelEl, hint, ...controls) {
  const error = h("span", { class: "app-error-message", id: `${form.id}-${name}-err`, hidden: true });
  const hintEl = hint ? h("span", { class: "app-hint", id: `${form.id}-${name}-hint` }, hint) : null;
  const el = h("div", { class: "app-field", "data-field": name }, labelEl, hintEl, error, ...controls);
  return { el, error, hintEl };
}

function described(control, form, name, hint) {
  control.setAttribute("aria-describedby", [hint ? `${form.id}-${name}-hint` : "", `${form.id}-${name}-err`].filter(Boolean).join(" "));
}

export function selectField(form, { name, label, hint, options, value = "", placeholder = "Choose…", required, aliases }) {
  const id = `${form.id}-${name}`;
  const control = h("select", { id, name, class: "app-input--wide" },
    placeholder !== null ? h("option", { value: "" }, placeholder) : null,
    options.map(([v, l]) => h("option", { value: v, selected: v === value }, l)));
  described(control, form, name, hint);
  const { el, error, hintEl } = wrap(form, name, h("label", { for: id }, label), hint, control);
  return form.add({ name, el, control, error, hintEl, required, aliases, get: () => control.value });
}

export function textareaField(form, { name, label, hint, value = "", required, rows = 5, aliases }) {
  const id = `${form.id}-${name}`;
  const control = h("textarea", { id, name, rows: String(rows), spellcheck: "true" }, value);
  described(control, form, name, hint);
  const { el, error, hintEl } = wrap(form, name, h("label", { for: id }, label), hint, control);
  return form.add({ name, el, control, error, hintEl, required, aliases, get: () => control.value.trim() });
}

export function inputField(form, { name, label, hint, type = "text", value = "", required, attrs = {}, aliases }) {
  const id = `${form.id}-${name}`;
  const control = h("input", { id, name, type, value, ...attrs });
  described(control, form, name, hint);
  const { el, error, hintEl } = wrap(form, name, h("label", { for: id }, label), hint, control);
  return form.add({ name, el, control, error, hintEl, required, aliases, get: () => control.value.trim() });
}

// radioField: options [[value, label, hint?]].
export function radioField(form, { name, legend, hint, options, value = "", required, inline, aliases }) {
  const error = h("span", { class: "app-error-message", id: `${form.id}-${name}-err`, hidden: true });
  const inputs = [];
  const items = options.map(([v, l, sub], i) => {
    const id = `${form.id}-${name}-${i}`;
    const input = h("input", { type: "radio", id, name: `${form.id}-${name}`, value: v, checked: v === value });
    inputs.push(input);
    return h("div", { class: "app-radio" + (sub ? " mx-radio--hint" : "") }, input,
      h("label", { for: id }, l, sub ? h("span", { class: "app-hint" }, sub) : null));
  });
  const hintEl = hint ? h("span", { class: "app-hint", id: `${form.id}-${name}-hint` }, hint) : null;
  const fs = h("fieldset", { class: inline ? "mx-radios--inline" : null, "aria-describedby": [hint ? `${form.id}-${name}-hint` : "", `${form.id}-${name}-err`].filter(Boolean).join(" ") },
    h("legend", {}, legend), hintEl, error, h("div", { class: "mx-radios" }, items));
  const el = h("div", { class: "app-field", "data-field": name }, fs);
  const get = () => (inputs.find((x) => x.checked) || {}).value || "";
  return form.add({ name, el, control: inputs[0], error, hintEl, inputs, required, aliases, get,
    focusTarget: () => inputs.find((x) => x.checked) || inputs[0] });
}

// --- steps -----------------------------------------------------------------

// takeStep posts a workflow step with the version seen; it resolves to
// {referral, version}.
export async function takeStep(ref, body) {
  const res = await api("POST", `/api/referrals/${encodeURIComponent(ref.id)}/steps`, { body, version: ref.version });
  return { referral: res.data, version: res.version || (res.data && res.data.version) };
}

export async function remind(ref, comment) {
  const res = await api("POST", `/api/referrals/${encodeURIComponent(ref.id)}/reminders`, { body: { comment }, version: ref.version });
  return { referral: res.data, version: res.version || (res.data && res.data.version) };
}

// receiving lists the services that can receive a referral at tier
// ("" any tier): commissioned, not a triage service; those listing the
// procedure first.
export function receiving(services, tier, procedure, except) {
  const fits = (s) => !s.procedures || !s.procedures.length || s.procedures.includes(procedure);
  return services
    .filter((s) => s.commissioned && s.specialty !== "triage" && (!tier || (s.tiers || []).includes(tier)) && s.id !== except)
    .sort((a, b) => (fits(b) - fits(a)) || a.name.localeCompare(b.name))
    .map((s) => ({ ...s, fits: fits(s) }));
}

export const bookingModel = (m) => (m === "DBS" ? "directly bookable" : "the service arranges the appointment");

// --- provider actions --------------------------------------------------------

// DONE says what a provider step did, once done.
const DONE = {
  "provider-accept": "Accepted for treatment.", redirect: "Redirected.", contact: "Contact recorded.",
  "no-contact": "Recorded that the patient could not be contacted.", book: "Booked.", "cancel-appointment": "Appointment cancelled.",
  dna: "Recorded that the patient did not attend.", treat: "Treatment recorded.", discharge: "Discharged.", cancel: "Referral cancelled.",
};

// providerActions are the steps the treating service may take in a
// status, for a role: [{step, label, done, danger?}].
export function providerActions(status, role) {
  const clin = isClinician(role);
  const out = [];
  const add = (step, label, opts = {}) => out.push({ step, label, done: DONE[step], ...opts });
  switch (status) {
    case "SENT_TO_PROVIDER":
      if (clin) add("provider-accept", "Accept for treatment");
      if (clin) add("redirect", "Redirect");
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "PROVIDER_ACCEPTED":
      add("book", "Book an appointment");
      add("contact", "Record contact");
      add("no-contact", "Could not contact");
      add("discharge", "Discharge", { danger: true });
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "CONTACTED":
      add("book", "Book an appointment");
      add("no-contact", "Could not contact");
      add("discharge", "Discharge", { danger: true });
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "NO_CONTACT":
      add("contact", "Record contact");
      add("discharge", "Discharge", { danger: true });
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "BOOKED":
      if (clin) add("treat", "Record treatment");
      add("dna", "Did not attend");
      add("book", "Rearrange", { done: "Appointment moved." });
      add("cancel-appointment", "Cancel the appointment", { danger: true });
      add("discharge", "Discharge", { danger: true });
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "DNA":
      add("book", "Book again");
      add("discharge", "Discharge", { danger: true });
      add("cancel", "Cancel the referral", { danger: true });
      break;
    case "TREATED":
      add("discharge", "Discharge");
      break;
  }
  return out;
}

const dayFmt = new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

export function appointmentText(a) {
  if (!a) return "";
  const d = new Date(a.start);
  return `${dayFmt.format(d)} at ${timeFmt.format(d)}${a.minutes ? ` (${a.minutes} minutes)` : ""}${a.location ? `, ${a.location}` : ""}`;
}

// providerForm builds the form of one provider step on ref. service is
// the treating service's Directory entry (booking model), services the
// directory. done(result) is called with the step's answer.
export function providerForm(action, ref, { service, services, onCancel, done }) {
  const send = async (body) => done(await takeStep(ref, body), action);
  const f = (opts) => new Form({ onCancel, ...opts });
  let form;
  switch (action.step) {
    case "provider-accept":
      form = f({ title: "Accept for treatment", intro: "The service takes the patient on: the films are sent to its PACS and the patient is told.",
        submitLabel: "Accept for treatment", onSubmit: (v) => send({ step: "provider-accept", comment: v.comment }) });
      textareaField(form, { name: "comment", label: "Note (optional)", rows: 3 });
      break;
    case "redirect": {
      form = f({ title: "Redirect the referral", submitLabel: "Redirect", onSubmit: (v) => send({ step: "redirect", reason: v.reason,
        service_id: v.reason === "another-provider" ? v.service_id : undefined, comment: v.comment }) });
      const reason = radioField(form, { name: "reason", legend: "Where to", options: REASONS.redirect, required: "Choose where the referral goes." });
      const svc = selectField(form, { name: "service_id", label: "Service", hint: "Commissioned services that treat patients.",
        options: receiving(services || [], "", ref.clinical && ref.clinical.procedure, ref.provider_service).map((s) => [s.id, s.name]) });
      const sync = () => { svc.el.hidden = reason.get() !== "another-provider"; };
      reason.inputs.forEach((i) => i.addEventListener("change", sync));
      sync();
      textareaField(form, { name: "comment", label: "Why", hint: "The referrer and the next service read this.", required: "Explain why the referral is redirected." });
      break;
    }
    case "contact":
      form = f({ title: "Record contact with the patient", submitLabel: "Record contact", onSubmit: (v) => send({ step: "contact", comment: v.comment }) });
      textareaField(form, { name: "comment", label: "What was agreed", hint: "For example: prefers Friday mornings; needs an interpreter.", rows: 3 });
      break;
    case "no-contact":
      form = f({ title: "Could not contact the patient", submitLabel: "Record no contact", secondary: true, onSubmit: (v) => send({ step: "no-contact", comment: v.comment }) });
      textareaField(form, { name: "comment", label: "What was tried", hint: "For example: three calls and a letter.", rows: 3 });
      break;
    case "dna":
      form = f({ title: "The patient did not attend", intro: ref.appointment ? `Appointment: ${appointmentText(ref.appointment)}.` : null,
        submitLabel: "Record did not attend", secondary: true, onSubmit: (v) => send({ step: "dna", comment: v.comment }) });
      textareaField(form, { name: "comment", label: "Note (optional)", rows: 2 });
      break;
    case "treat":
      form = f({ title: "Record treatment", submitLabel: "Record treatment", onSubmit: (v) => send({ step: "treat", comment: v.comment }) });
      textareaField(form, { name: "comment", label: "What was done (optional)", hint: "For example: 38 removed under local anaesthesia, sutured.", rows: 3 });
      break;
    case "discharge":
      form = f({ title: "Discharge the patient", submitLabel: "Discharge", danger: true,
        onSubmit: (v) => send({ step: "discharge", reason: v.reason, comment: v.comment }) });
      selectField(form, { name: "reason", label: "Reason", options: REASONS.discharge, value: ref.status === "TREATED" ? "treated" : "", required: "Choose the reason for discharge." });
      textareaField(form, { name: "comment", label: "Note to the practice (optional)", rows: 3 });
      break;
    case "cancel":
      form = f({ title: "Cancel the referral", intro: "The referral ends: the practice and the patient are told.", submitLabel: "Cancel the referral", danger: true,
        cancelLabel: "Keep the referral", onSubmit: (v) => send({ step: "cancel", reason: v.reason, comment: v.comment }) });
      selectField(form, { name: "reason", label: "Reason", options: REASONS.cancel, required: "Choose why the referral is cancelled." });
      textareaField(form, { name: "comment", label: "Note (optional)", rows: 2 });
      break;
    case "cancel-appointment":
      form = f({ title: "Cancel the appointment", intro: ref.appointment ? `Appointment: ${appointmentText(ref.appointment)}. The referral stays open to book again.` : null,
        submitLabel: "Cancel the appointment", danger: true, cancelLabel: "Keep the appointment",
        onSubmit: (v) => send({ step: "cancel-appointment", reason: v.reason, comment: v.comment }) });
      selectField(form, { name: "reason", label: "Reason", options: REASONS.cancelAppointment, required: "Choose why the appointment is cancelled." });
      textareaField(form, { name: "comment", label: "Note (optional)", rows: 2 });
      break;
    case "book":
      form = bookingForm(ref, service, { onCancel, send, rearrange: ref.status === "BOOKED" });
      break;
  }
  return form;
}

// bookingForm: a free slot of a directly bookable service, or the
// appointment an indirectly bookable one made.
function bookingForm(ref, service, { onCancel, send, rearrange }) {
  const title = rearrange ? "Rearrange the appointment" : "Book an appointment";
  const current = rearrange && ref.appointment ? `Now: ${appointmentText(ref.appointment)}.` : null;
  if (service && service.booking_model === "DBS") {
    const form = new Form({ title, intro: [current, `${service.name} is directly bookable: choose one of its free slots.`].filter(Boolean).join(" "),
      submitLabel: rearrange ? "Move to this slot" : "Book this slot", onCancel,
      onSubmit: (v) => send({ step: "book", appointment: { slot_id: v.slot } }) });
    const error = h("span", { class: "app-error-message", id: `${form.id}-slot-err`, hidden: true });
    const box = h("div", { class: "mx-slots" }, h("p", { class: "app-loading" }, "Finding free slots…"));
    const fs = h("fieldset", { "aria-describedby": `${form.id}-slot-err` }, h("legend", {}, "Free slots"), error, box);
    let inputs = [];
    const field = form.add({ name: "slot", aliases: ["appointment.slot_id", "appointment.start", "appointment"], el: h("div", { class: "app-field" }, fs),
      control: null, error, required: "Choose a slot.", get: () => (inputs.find((i) => i.checked) || {}).value || "",
      focusTarget: () => inputs.find((i) => i.checked) || inputs[0] });
    form.ready = api("GET", `/api/services/${encodeURIComponent(service.id)}/slots?free=true`).then(({ data }) => {
      const slots = (data || []).slice().sort((a, b) => a.start.localeCompare(b.start));
      if (!slots.length) { box.replaceChildren(h("p", {}, "There are no free slots. Publish more clinics, or contact the service.")); return; }
      // One place for all: said once, not on every slot.
      const places = new Set(slots.map((s) => s.location || ""));
      const common = places.size === 1 ? [...places][0] : "";
      if (common) box.before(h("p", { class: "mx-slots__where" }, `All at ${common}.`));
      const byDay = new Map();
      for (const s of slots) {
        const d = dayFmt.format(new Date(s.start));
        if (!byDay.has(d)) byDay.set(d, []);
        byDay.get(d).push(s);
      }
      const groups = [];
      for (const [d, list] of byDay) {
        groups.push(h("div", { class: "mx-slots__day" }, h("h4", {}, d), h("div", { class: "mx-slots__list" }, list.map((s) => {
          const id = `${form.id}-slot-${s.id}`;
          const input = h("input", { type: "radio", name: `${form.id}-slot`, id, value: s.id });
          inputs.push(input);
          return h("div", { class: "app-radio mx-slot" }, input, h("label", { for: id }, timeFmt.format(new Date(s.start)),
            h("span", { class: "mx-sub" }, `${s.minutes} min${s.location && s.location !== common ? " · " + s.location : ""}`)));
        }))));
      }
      box.replaceChildren(...groups);
      field.control = inputs[0];
    }, (err) => box.replaceChildren(h("p", { class: "app-error-message" }, err.message || "The slots could not be read.")));
    return form;
  }
  const form = new Form({ title, intro: [current, service ? `${service.name} arranges its own appointments: record the one it made.` : null].filter(Boolean).join(" "),
    submitLabel: rearrange ? "Save the new appointment" : "Record the appointment", onCancel,
    onSubmit: (v) => {
      const start = new Date(v.start);
      if (isNaN(start)) throw new ApiError(422, "Check the date and time.", [{ field: "appointment.start", message: "Enter the date and time of the appointment." }]);
      return send({ step: "book", appointment: { start: start.toISOString(), minutes: v.minutes ? Number(v.minutes) : undefined, location: v.location || undefined, note: v.note || undefined } });
    } });
  inputField(form, { name: "start", label: "Date and time", type: "datetime-local", aliases: ["appointment.start", "appointment"], required: "Enter the date and time of the appointment." });
  inputField(form, { name: "minutes", label: "Length in minutes", type: "number", value: "30", attrs: { min: "5", max: "480", step: "5", class: "mx-input--short" } });
  inputField(form, { name: "location", label: "Where", hint: "The clinic and room the patient goes to.", value: service && service.address || "", attrs: { class: "app-input--wide" } });
  textareaField(form, { name: "note", label: "Note (optional)", rows: 2 });
  return form;
}
