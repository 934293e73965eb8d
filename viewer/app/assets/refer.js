// Refer a patient: the oral-surgery referral form (the minimum dataset),
// saved as a draft while it is filled in, with films uploaded by drag and
// drop, an NHS number trace, and sending that issues the URN.
//
// /app/refer starts a new referral; /app/refer?id=… resumes a draft (or
// shows the URN and status of one already sent).

import { start, api, h, fail, fmt, param, style, ApiError } from "/app/assets/common.js";
import { PROCEDURES as VOCAB_PROCEDURES, ANAESTHESIA as VOCAB_ANAESTHESIA } from "/app/assets/vocab.js";
import { dateFields, readDate, writeDate, parseDate, today, urnText, clock, statusLabel } from "/app/assets/referrer-lib.js";

style("refer");
const { main, session } = await start({});

// ---------------------------------------------------------------------------
// What the server accepts (referral/validate.go), in the same words.

const PROCEDURES = Object.entries(VOCAB_PROCEDURES);
const ANAESTHESIA = Object.entries(VOCAB_ANAESTHESIA);
const ANTICOAGULANTS = [
  ["none", "None"],
  ["warfarin", "Warfarin"],
  ["doac", "DOAC (for example apixaban, rivaroxaban, edoxaban, dabigatran)"],
  ["antiplatelet", "Antiplatelet (for example aspirin, clopidogrel)"],
  ["other", "Other anticoagulant"],
];

const normalizePostcode = (s) => {
  const t = (s || "").replace(/\s+/g, "").toUpperCase();
  return t.length > 3 ? `${t.slice(0, -3)} ${t.slice(-3)}` : t;
};
const normalizePhone = (s) => (s || "").trim().replace(/[\s\-()]/g, "");

// nhsProblem is internal/nhsnumber's Modulus 11 check, with its messages.
function nhsProblem(s) {
  const digits = [];
  for (const c of s) {
    if (c === "-" || /\s/.test(c)) continue;
    if (c >= "0" && c <= "9") { digits.push(Number(c)); continue; }
    const hint = c === "O" || c === "o" ? " (is it a zero?)" : c === "I" || c === "l" || c === "|" ? " (is it a one?)" : "";
    return `An NHS number has only digits; this has "${c}"${hint}.`;
  }
  if (digits.length !== 10) return `An NHS number has 10 digits; this has ${digits.length}.`;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += digits[i] * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  if (check !== digits[9]) return "This is not a valid NHS number: please check the digits.";
  return "";
}

const odsLike = (s) => /^[A-Z0-9]{3,9}$/.test((s || "").trim().toUpperCase());

function dateProblem(v, { what, past = true, maxYears = 0, example }) {
  if (!v) return "";
  const d = parseDate(v);
  if (!d) return `Enter ${what} as a real date, for example ${example}.`;
  if (past && d > today()) return `${what[0].toUpperCase()}${what.slice(1)} must not be in the future.`;
  if (maxYears) {
    const limit = today();
    limit.setUTCFullYear(limit.getUTCFullYear() - maxYears);
    if (d < limit) return `Check the year of birth: the patient would be over ${maxYears}.`;
  }
  return "";
}

// ---------------------------------------------------------------------------
// The form's fields. Each field knows its JSON path, how to read and write
// its control, its format check, and the message when it is required and
// left empty.

const fields = new Map(); // path -> field
const fid = (path) => "f-" + path.replace(/\./g, "-");

function wrapper(path, ...children) {
  return h("div", { class: "app-field", id: `${fid(path)}-wrap` },
    ...children);
}

function errorSlot(path) {
  return h("p", { class: "app-error-message", id: `${fid(path)}-error`, hidden: true });
}

function hintEl(path, hint) {
  return hint ? h("span", { class: "app-hint", id: `${fid(path)}-hint` }, hint) : null;
}

// register adds a field's behaviour.
function register(path, f) {
  fields.set(path, { path, required: null, check: null, when: null, parent: null, target: fid(path), ...f });
  return fields.get(path);
}

// text: a single-line or multi-line text field.
function text(path, label, { hint, required, check, width, multiline = false, type = "text", autocomplete = "off", inputmode, when, parent, readonly = false } = {}) {
  const id = fid(path);
  const describedBy = [hint ? `${id}-hint` : null].filter(Boolean).join(" ") || null;
  const input = multiline
    ? h("textarea", { id, name: path, rows: 3, "aria-describedby": describedBy, dataset: { path }, spellcheck: "true" })
    : h("input", { id, name: path, type, class: width ? `ref-width-${width}` : "app-input--wide", autocomplete, inputmode,
      spellcheck: "false", "aria-describedby": describedBy, readonly, dataset: { path } });
  if (required) input.setAttribute("aria-required", "true");
  const el = wrapper(path, h("label", { for: id }, label), hintEl(path, hint), errorSlot(path), input);
  register(path, { el, required, check, when, parent, get: () => input.value, set: (v) => { input.value = v ?? ""; } });
  return el;
}

// select: a native drop-down list with a "Choose" first option.
function select(path, label, options, { hint, required, when, parent } = {}) {
  const id = fid(path);
  const sel = h("select", { id, name: path, "aria-describedby": hint ? `${id}-hint` : null, dataset: { path } },
    h("option", { value: "" }, "Choose…"),
    options.map(([v, t]) => h("option", { value: v }, t)));
  if (required) sel.setAttribute("aria-required", "true");
  const el = wrapper(path, h("label", { for: id }, label), hintEl(path, hint), errorSlot(path), sel);
  register(path, { el, required, when, parent, get: () => sel.value, set: (v) => { sel.value = v ?? ""; } });
  return el;
}

// radios: a group of radio buttons, with an optional hint per option.
function radios(path, legend, options, { hint, required, when, parent, inline = false } = {}) {
  const id = fid(path);
  const inputs = [];
  const items = options.map(([v, t, optHint], i) => {
    const rid = `${id}-${v}`;
    const input = h("input", { type: "radio", id: rid, name: path, value: v, dataset: { path },
      "aria-describedby": optHint ? `${rid}-hint` : null });
    inputs.push(input);
    return h("div", { class: "ref-radio" },
      h("label", { class: "app-radio", for: rid }, input, h("span", {}, t)),
      optHint ? h("span", { class: "app-hint ref-radio__hint", id: `${rid}-hint` }, optHint) : null);
  });
  const el = h("fieldset", { class: "app-field", id: `${id}-wrap`, "aria-describedby": hint ? `${id}-hint` : null },
    h("legend", {}, legend), hintEl(path, hint), errorSlot(path),
    h("div", { class: inline ? "ref-radios ref-radios--inline" : "ref-radios" }, items));
  register(path, {
    el, required, when, parent, target: inputs[0].id,
    get: () => (inputs.find((r) => r.checked) || {}).value || "",
    set: (v) => { for (const r of inputs) r.checked = r.value === v; },
  });
  return el;
}

// checkbox: one tick box.
function checkbox(path, label, { hint, when, parent } = {}) {
  const id = fid(path);
  const input = h("input", { type: "checkbox", id, name: path, dataset: { path }, "aria-describedby": hint ? `${id}-hint` : null });
  const el = h("div", { class: "app-field", id: `${id}-wrap` }, errorSlot(path),
    h("label", { class: "app-checkbox", for: id }, input, h("span", {}, label)), hintEl(path, hint));
  register(path, { el, when, parent, get: () => input.checked, set: (v) => { input.checked = !!v; } });
  return el;
}

// date: three boxes, day, month and year.
function date(path, legend, { hint, required, check, when, parent } = {}) {
  const id = fid(path);
  const group = dateFields(id, { legend, hint, required, onblur: () => blurField(path) });
  for (const input of group.querySelectorAll("input")) input.dataset.path = path;
  const el = h("div", { class: "app-field", id: `${id}-wrap` }, group);
  group.querySelector("legend").after(errorSlot(path));
  // The error message belongs after the hint, as in NHS.UK forms.
  const hintNode = group.querySelector(".app-hint");
  if (hintNode) hintNode.after(group.querySelector(".app-error-message"));
  register(path, { el, required, check, when, parent, target: `${id}-day`, get: () => readDate(id), set: (v) => writeDate(id, v) });
  return el;
}

// address: three lines kept as the patient's address lines.
function address(path) {
  const id = fid(path);
  const line = (suffix, label, extra = {}) => {
    const lid = suffix ? `${id}-${suffix}` : id;
    return [h("label", { for: lid, class: "ref-address__label" }, label),
      h("input", { type: "text", id: lid, class: "app-input--wide", autocomplete: "off", dataset: { path }, ...extra })];
  };
  const l1 = line("", "Address line 1", { "aria-required": "true" });
  const l2 = line("2", "Address line 2 (optional)");
  const town = line("town", "Town or city (optional)", { class: "ref-width-20" });
  const el = h("fieldset", { class: "app-field", id: `${id}-wrap` }, h("legend", {}, "Address"), errorSlot(path), l1, l2, town);
  const [i1, i2, i3] = [l1[1], l2[1], town[1]];
  register(path, {
    el, required: "Enter the first line of the patient's address.",
    get: () => [i1.value, i2.value, i3.value].map((s) => s.trim()).filter(Boolean),
    set: (lines) => {
      const a = (lines || []).slice();
      i1.value = a.length ? a.shift() : "";
      i3.value = a.length ? a.pop() : "";
      i2.value = a.join(", ");
    },
    empty: () => !i1.value.trim() && !i2.value.trim() && !i3.value.trim(),
  });
  return el;
}

const v = (path) => fields.get(path)?.get();

// ---------------------------------------------------------------------------
// The page.

const state = {
  id: param("id") || null,
  version: null,
  server: null, // the referral as the server last returned it
  dirty: false,
  timer: null,
  inflight: null,
  conflict: false,
  submitted: false,
  touched: new Set(),
  clientErrors: new Map(),
  submitErrors: new Map(),
  saveProblems: new Map(),
  lastSaved: null,
};

const remembered = `molar.referrer.${session.user.id}`;

// ---------------------------------------------------------------------------

function buildForm() {
  const section = (id, title, intro, ...children) => h("section", { class: "app-card ref-section", id, "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, title), intro ? h("p", { class: "app-hint" }, intro) : null, ...children);

  const summary = h("div", { class: "ref-error-summary", id: "refer-error-summary", tabindex: "-1", hidden: true, "aria-labelledby": "refer-error-summary-h" },
    h("h2", { id: "refer-error-summary-h" }, "There is a problem"),
    h("ul", { class: "ref-error-summary__list" }));

  const patient = section("sec-patient", "1. Patient", null,
    h("div", { class: "ref-row" },
      text("patient.given", "First name", { required: "Enter the patient's first name.", width: 20 }),
      text("patient.family", "Last name", { required: "Enter the patient's last name.", width: 20 })),
    date("patient.birth_date", "Date of birth", {
      hint: "For example, 12 3 1984", required: "Enter the patient's date of birth.",
      check: (d) => dateProblem(d, { what: "the date of birth", maxYears: 125, example: "12 3 1984" })
        .replace("The date of birth must not be in the future.", "The date of birth must be in the past."),
    }),
    radios("patient.sex", "Sex", [["female", "Female"], ["male", "Male"], ["other", "Other"], ["unknown", "Not known"]],
      { required: "Choose the patient's sex.", inline: true }),
    address("patient.address"),
    text("patient.postcode", "Postcode", {
      width: 10, required: "Enter the patient's postcode.",
      check: (s) => s.trim() && !/^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$/.test(normalizePostcode(s)) ? "Enter a real postcode, for example LS1 4AP." : "",
    }),
    h("div", { class: "ref-nhs" },
      text("patient.nhs_number", "NHS number (if known)", {
        width: 12, inputmode: "numeric", hint: "10 digits, for example 943 476 5919. If you do not know it, leave it blank and press Find NHS number.",
        check: (s) => (s.trim() ? nhsProblem(s) : ""),
      }),
      h("div", { class: "ref-trace" },
        h("button", { type: "button", class: "app-button--secondary", id: "refer-trace", onclick: trace }, "Find NHS number"),
        h("div", { id: "refer-trace-result", "aria-live": "polite" }))),
    text("patient.phone", "Mobile phone number", {
      type: "tel", width: 15, hint: "For text messages about the referral, for example 07700 900123.",
      check: (s) => {
        const p = normalizePhone(s);
        if (!p) return "";
        if (!/^(\+44|0)[0-9]{9,10}$/.test(p)) return "Enter a UK phone number, for example 07700 900123.";
        return "";
      },
    }),
    checkbox("patient.sms_consent", "The patient agrees to get text messages about this referral",
      { hint: "They will be texted the reference number and a link to follow the referral. Texts never say anything about their health." }),
    text("patient.interpreter", "Interpreter needed (optional)", { width: 20, hint: "Write the language, for example Polish or British Sign Language." }));

  const referrer = section("sec-referrer", "2. Referring dentist", "We fill these in from your account; change them if you refer for someone else.",
    h("div", { class: "ref-row" },
      text("referrer.name", "Dentist's name", { required: "Enter the referring dentist's name.", width: 30, autocomplete: "name" }),
      text("referrer.gdc_number", "GDC number", {
        width: 8, inputmode: "numeric", required: "Enter the referring dentist's GDC number.",
        check: (s) => (s.trim() && !/^[0-9]{4,6}$/.test(s.trim()) ? "A GDC number is 4 to 6 digits: check the dentist's registration." : ""),
      })),
    h("div", { class: "ref-row" },
      text("referrer.practice_name", "Practice name", { width: 30, autocomplete: "organization" }),
      text("referrer.practice_ods", "Practice code (ODS)", { width: 10, readonly: true, hint: "The practice you are signed in for." }),
      text("referrer.practice_phone", "Practice phone number", { type: "tel", width: 15 })));

  const gp = section("sec-gp", "3. Patient's GP", null,
    h("div", { class: "ref-row" },
      text("gp.practice_name", "GP practice name", { width: 30, hint: "Write \"none\" if the patient has no GP." }),
      text("gp.practice_ods", "GP practice code (ODS), if you know it", {
        width: 10, hint: "For example B82005.",
        check: (s) => (s.trim() && !odsLike(s) ? "Enter the GP practice's ODS code, for example B82005." : ""),
      })));

  const medical = section("sec-medical", "4. Medical history", null,
    checkbox("medical.none_declared", "The patient has no relevant medical history",
      { hint: "Tick this only if you have asked the patient. Otherwise fill in what applies below." }),
    h("div", { id: "refer-medical-details", class: "ref-conditional" },
      text("medical.bleeding_disorder", "Bleeding disorder", { hint: "For example haemophilia A or von Willebrand disease. Leave blank if none.", when: noMedicalDeclared, parent: "medical.none_declared" }),
      select("medical.anticoagulant", "Anticoagulants or antiplatelets", ANTICOAGULANTS,
        { hint: "Choose \"None\" if the patient takes none.", when: noMedicalDeclared, parent: "medical.none_declared" }),
      h("div", { id: "refer-inr", class: "ref-conditional ref-row" },
        text("medical.inr", "Latest INR", { width: 6, hint: "For example 2.5", when: () => v("medical.anticoagulant") === "warfarin", parent: "medical.anticoagulant" }),
        date("medical.inr_date", "Date of the INR test", {
          hint: "For example, 2 11 2026", when: () => v("medical.anticoagulant") === "warfarin", parent: "medical.anticoagulant",
          check: (d) => (d && (!parseDate(d) || parseDate(d) > today()) ? "Enter the date of the INR test, not in the future." : ""),
        })),
      text("medical.cardiac", "Heart conditions", { hint: "For example a replaced heart valve, angina, a pacemaker.", when: noMedicalDeclared, parent: "medical.none_declared" }),
      text("medical.respiratory", "Breathing conditions", { hint: "For example asthma or COPD.", when: noMedicalDeclared, parent: "medical.none_declared" }),
      text("medical.allergies", "Allergies", { hint: "For example penicillin, latex. Write \"none known\" if none.", when: noMedicalDeclared, parent: "medical.none_declared" }),
      text("medical.medications", "Medicines", { multiline: true, when: noMedicalDeclared, parent: "medical.none_declared" }),
      text("medical.other", "Anything else", {
        multiline: true, hint: "For example bisphosphonates, radiotherapy to the head or neck, diabetes, pregnancy.",
        when: noMedicalDeclared, parent: "medical.none_declared",
      })));

  const social = section("sec-social", "5. Social history", null,
    h("div", { class: "ref-row" },
      select("social.smoking", "Smoking", [["never", "Never smoked"], ["former", "Used to smoke"], ["current", "Smokes now"]]),
      text("social.alcohol", "Alcohol (units a week)", { width: 10 })),
    text("social.other", "Anything else about the patient's circumstances", {
      multiline: true, hint: "For example has a carer, uses a wheelchair, needs step-free access.",
    }));

  const clinical = section("sec-clinical", "6. The referral", null,
    radios("clinical.urgency", "How urgent is it?", [
      ["routine", "Routine"],
      ["urgent", "Urgent", "For example pain or infection that is not settling."],
      ["suspected-cancer", "Suspected cancer (2-week wait)", "The patient will be seen within 2 weeks."],
    ], { required: "Choose how urgent the referral is." }),
    text("clinical.reason", "Reason for referral", { multiline: true, required: "Say why you are referring the patient." }),
    text("clinical.diagnosis", "Diagnosis (optional)", { multiline: true, hint: "Your working diagnosis." }),
    select("clinical.procedure", "Type of procedure", PROCEDURES, { required: "Choose the type of procedure." }),
    text("clinical.teeth", "Teeth", { width: 20, hint: "FDI notation, for example 38, 48." }),
    radios("clinical.complexity", "Complexity (your view)", [
      ["L1", "Level 1", "Within a general dentist's skills."],
      ["L2", "Level 2", "Needs a dentist with enhanced skills."],
      ["L3a", "Level 3a", "Needs a specialist in oral surgery."],
      ["L3b", "Level 3b", "Needs a consultant-led hospital team."],
    ], { hint: "The triage team makes the final decision." }),
    select("clinical.anaesthesia", "Anaesthesia you are asking for", ANAESTHESIA, { required: "Choose the anaesthesia you are asking for." }),
    h("div", { id: "refer-anaesthesia-reason", class: "ref-conditional" },
      text("clinical.anaesthesia_reason", "Why does the patient need more than local anaesthesia?", {
        multiline: true, required: "Say why the patient needs more than local anaesthesia.",
        when: () => v("clinical.anaesthesia") && v("clinical.anaesthesia") !== "la", parent: "clinical.anaesthesia",
      })));

  const isAttached = () => v("radiographs.attached") === "yes";
  const radiographs = section("sec-radiographs", "7. Radiographs (X-rays)", null,
    radios("radiographs.attached", "Are you sending radiographs with this referral?", [
      ["yes", "Yes"], ["no", "No"],
    ], { inline: true }),
    h("div", { id: "refer-films", class: "ref-conditional" },
      date("radiographs.exposure_date", "Date the radiographs were taken", {
        hint: "For example, 2 11 2026", required: "Enter the date the radiographs were taken.", when: isAttached, parent: "radiographs.attached",
        check: (d) => {
          if (!d) return "";
          if (!parseDate(d)) return "Enter the date the radiographs were taken, for example 2 11 2026.";
          if (parseDate(d) > today()) return "The radiographs cannot have been taken in the future.";
          return "";
        },
      }),
      text("radiographs.views", "Views", { width: 30, hint: "For example OPG, periapical 48.", when: isAttached, parent: "radiographs.attached" }),
      uploader()),
    h("div", { id: "refer-no-films", class: "ref-conditional" },
      text("radiographs.none_reason", "Why are there no radiographs?", {
        multiline: true, hint: "For example the patient is pregnant, or they are not clinically indicated.",
        required: "Attach radiographs, or say why there are none.", when: () => v("radiographs.attached") === "no", parent: "radiographs.attached",
      })));

  const send = section("sec-send", "8. Send the referral", null,
    h("p", {}, "When you send it, the referral gets a reference number (URN) and goes to the clinical triage team. You cannot change it after that unless they ask you to."),
    h("div", { class: "ref-send" },
      h("button", { type: "button", id: "refer-send", onclick: submit }, "Send referral"),
      h("p", { class: "ref-send__note" }, "Not ready? Your draft is saved as you type. Find it later under ", h("a", { href: "/app/drafts" }, "Drafts"), ".")));

  const form = h("form", { id: "refer-form", class: "ref-form", novalidate: true, autocomplete: "off", onsubmit: (e) => e.preventDefault() },
    patient, referrer, gp, medical, social, clinical, radiographs, send);

  const nav = h("nav", { class: "ref-sidebar", "aria-label": "Form sections" },
    h("ol", { class: "ref-sidebar__list" },
      [["sec-patient", "Patient"], ["sec-referrer", "Referring dentist"], ["sec-gp", "GP"], ["sec-medical", "Medical history"],
        ["sec-social", "Social history"], ["sec-clinical", "The referral"], ["sec-radiographs", "Radiographs"], ["sec-send", "Send"]]
        .map(([id, t]) => h("li", {}, h("a", { href: `#${id}` }, t)))));

  const status = h("div", { class: "ref-savebar" },
    h("p", { id: "refer-save-status", class: "ref-savebar__status", role: "status", "aria-live": "polite" }),
    h("div", { id: "refer-conflict", hidden: true }));

  main.append(
    h("p", { class: "app-caption", id: "refer-caption" }, "Fill in what you know: everything is saved as a draft as you go. Questions marked optional can be left blank."),
    summary,
    h("div", { class: "ref-layout" }, nav, h("div", { class: "ref-main" }, form, status)));

  form.addEventListener("input", onInput);
  form.addEventListener("change", onInput);
  form.addEventListener("focusout", (e) => {
    const path = e.target?.dataset?.path;
    if (!path) return;
    const f = fields.get(path);
    if (f && !e.target.closest(".ref-date")) blurField(path);
  });
  // Enter in a box must never send the form by accident.
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") && e.target.type !== "file") e.preventDefault();
  });
  summary.addEventListener("click", (e) => {
    const a = e.target.closest("a[href^='#']");
    if (!a) return;
    e.preventDefault();
    const el = document.getElementById(a.getAttribute("href").slice(1));
    if (el) {
      (el.closest(".app-field") || el).scrollIntoView({ block: "center" });
      el.focus();
    }
  });
  addEventListener("pagehide", saveOnLeave);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") saveOnLeave(); });
  addEventListener("beforeunload", (e) => {
    if (state.dirty && !state.conflict && state.failing) { e.preventDefault(); e.returnValue = ""; }
  });
}

function noMedicalDeclared() { return !v("medical.none_declared"); }

// ---------------------------------------------------------------------------
// Filling in and reading the form.

const SECTIONS = ["patient", "referrer", "gp", "medical", "social", "clinical", "radiographs"];

function getPath(obj, path) { return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj); }
function setPath(obj, path, value) {
  const keys = path.split(".");
  let o = obj;
  for (const k of keys.slice(0, -1)) o = o[k] ??= {};
  o[keys.at(-1)] = value;
}

function fillForm(r) {
  for (const [path, f] of fields) {
    if (path === "radiographs.attached") continue;
    f.set(getPath(r, path));
  }
  const rg = r.radiographs || {};
  fields.get("radiographs.attached").set(rg.attached ? "yes" : rg.none_reason ? "no" : "");
  if (!v("referrer.practice_ods")) fields.get("referrer.practice_ods").set(session.grant.org);
}

function prefillReferrer() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(remembered) || "{}"); } catch { saved = {}; }
  fields.get("referrer.name").set(saved.name || session.user.name || "");
  fields.get("referrer.gdc_number").set(saved.gdc_number || session.user.gdc_number || "");
  fields.get("referrer.practice_name").set(saved.practice_name || "");
  fields.get("referrer.practice_phone").set(saved.practice_phone || "");
  fields.get("referrer.practice_ods").set(session.grant.org);
}

function rememberReferrer() {
  const r = {
    name: v("referrer.name"), gdc_number: v("referrer.gdc_number"),
    practice_name: v("referrer.practice_name"), practice_phone: v("referrer.practice_phone"),
  };
  try { localStorage.setItem(remembered, JSON.stringify(r)); } catch { /* private browsing: no memory */ }
}

// visible reports whether a field is shown (its conditions, and its
// parents' conditions, hold).
function visible(f) {
  for (let g = f; g; g = g.parent ? fields.get(g.parent) : null) {
    if (g.when && !g.when()) return false;
  }
  return true;
}

// payload is the form as the API takes it: the sections of the last
// saved referral (keeping fields this page does not show, such as the
// referrer's email) overwritten with what the form holds. Answers hidden
// by another answer are sent empty.
function payload() {
  const base = state.server || {};
  const out = { specialty: base.specialty || "oral-surgery" };
  for (const s of SECTIONS) out[s] = { ...(base[s] || {}) };
  for (const [path, f] of fields) {
    if (path === "radiographs.attached") continue;
    let value = f.get();
    if (!visible(f)) value = typeof value === "boolean" ? false : Array.isArray(value) ? [] : "";
    setPath(out, path, value);
  }
  out.radiographs.attached = v("radiographs.attached") === "yes";
  out.referrer.practice_ods = out.referrer.practice_ods || session.grant.org;
  return out;
}

// formKey is what of a referral the form edits, to tell whether someone
// else changed it.
function formKey(r) {
  return JSON.stringify(SECTIONS.map((s) => r?.[s] ?? null));
}

function updateConditions() {
  const show = (id, on) => { const el = document.getElementById(id); if (el) el.hidden = !on; };
  show("refer-medical-details", !v("medical.none_declared"));
  show("refer-inr", !v("medical.none_declared") && v("medical.anticoagulant") === "warfarin");
  show("refer-anaesthesia-reason", v("clinical.anaesthesia") && v("clinical.anaesthesia") !== "la");
  show("refer-films", v("radiographs.attached") === "yes");
  show("refer-no-films", v("radiographs.attached") === "no");
}

// ---------------------------------------------------------------------------
// Errors: the field's own message beside it, and every message in the
// summary at the top, each linking to its field.

function isEmpty(f) {
  if (f.empty) return f.empty();
  const value = f.get();
  return value === "" || value === false || (Array.isArray(value) && value.length === 0);
}

// clientProblem is the field's message as this page sees it now.
function clientProblem(f, { requireTouched = true } = {}) {
  if (!visible(f)) return "";
  if (isEmpty(f)) {
    if (f.required && (!requireTouched || state.touched.has(f.path))) return f.required;
    return "";
  }
  return f.check ? f.check(f.get()) : "";
}

function blurField(path) {
  const f = fields.get(path);
  if (!f) return;
  const msg = clientProblem(f);
  if (msg) state.clientErrors.set(path, msg);
  else state.clientErrors.delete(path);
  renderErrors();
}

// targetOf is the field a server message is shown at: the field itself,
// or the nearest shown field above it.
function targetOf(path) {
  if (path === "medical") path = "medical.none_declared";
  if (path === "exposure_date") path = "radiographs.exposure_date";
  let f = fields.get(path);
  while (f && !visible(f) && f.parent) f = fields.get(f.parent);
  return f || null;
}

function currentErrors() {
  const out = new Map(); // target path -> message
  const extra = [];
  const add = (path, msg) => {
    const f = targetOf(path);
    if (!f) { extra.push(msg); return; }
    if (!out.has(f.path)) out.set(f.path, msg);
  };
  for (const [p, m] of state.clientErrors) if (fields.get(p) && visible(fields.get(p))) add(p, m);
  for (const [p, m] of state.submitErrors) add(p, m);
  for (const [p, m] of state.saveProblems) add(p, m);
  return { out, extra };
}

function renderErrors({ focusSummary = false } = {}) {
  const { out, extra } = currentErrors();
  for (const [path, f] of fields) {
    const slot = document.getElementById(`${fid(path)}-error`);
    const wrap = document.getElementById(`${fid(path)}-wrap`);
    if (!slot || !wrap) continue;
    const msg = out.get(path);
    const controls = wrap.querySelectorAll("input, select, textarea");
    if (msg) {
      slot.replaceChildren(h("span", { class: "app-visually-hidden" }, "Error: "), msg);
      slot.hidden = false;
      wrap.classList.add("app-field--error");
    } else {
      slot.replaceChildren();
      slot.hidden = true;
      wrap.classList.remove("app-field--error");
    }
    for (const c of controls) {
      if (c.readOnly) continue;
      const ids = (c.getAttribute("aria-describedby") || "").split(" ").filter((x) => x && x !== slot.id);
      if (msg) { c.setAttribute("aria-invalid", "true"); ids.push(slot.id); } else c.removeAttribute("aria-invalid");
      if (ids.length) c.setAttribute("aria-describedby", ids.join(" ")); else c.removeAttribute("aria-describedby");
    }
  }
  const summary = document.getElementById("refer-error-summary");
  if (!summary) return;
  const list = summary.querySelector("ul");
  const order = [...fields.keys()];
  const items = [...out.entries()].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  list.replaceChildren(
    ...items.map(([path, msg]) => h("li", {}, h("a", { href: `#${fields.get(path).target}` }, msg))),
    ...extra.map((msg) => h("li", {}, msg)));
  summary.hidden = items.length + extra.length === 0;
  if (focusSummary && !summary.hidden) {
    summary.setAttribute("role", "alert");
    summary.scrollIntoView({ block: "start" });
    summary.focus();
  } else if (summary.hidden) {
    summary.removeAttribute("role");
  }
}

function setProblems(list) {
  state.saveProblems = new Map((list || []).map((e) => [e.field, e.message]));
  renderErrors();
}

// ---------------------------------------------------------------------------
// Autosave: the draft is created on the first answer, then saved a second
// after each change (and when the page is left), sending the version it
// last saw in If-Match.

function onInput(e) {
  const path = e.target?.dataset?.path;
  if (!path || e.target.type === "file" || e.target.readOnly) return;
  const f = fields.get(path);
  if (!f) return;
  state.touched.add(path);
  // Messages shown at this field (its own, and those of answers it hides)
  // are answered by changing it.
  for (const p of [...state.submitErrors.keys()]) if (targetOf(p)?.path === path) state.submitErrors.delete(p);
  state.submitErrors.delete(path);
  state.saveProblems.delete(path);
  if (path === "medical.none_declared" || path.startsWith("medical.")) state.submitErrors.delete("medical");
  // An error the person is fixing goes as soon as the answer is right;
  // a new one waits until they leave the field.
  if (state.clientErrors.has(path) && !clientProblem(f)) state.clientErrors.delete(path);
  if (e.type === "change") updateConditions();
  renderErrors();
  if (path.startsWith("referrer.")) rememberReferrer();
  if (path === "patient.nhs_number") traceLabel();
  markDirty();
}

function markDirty() {
  if (state.conflict || state.submitted) return;
  state.dirty = true;
  setStatus("saving");
  clearTimeout(state.timer);
  state.timer = setTimeout(() => saveNow().catch(() => {}), 1000);
}

async function saveNow() {
  clearTimeout(state.timer);
  while (state.inflight) {
    try { await state.inflight; } catch { /* reported by its owner */ }
  }
  if (!state.dirty || state.conflict || state.submitted) return;
  const p = doSave();
  state.inflight = p;
  try { await p; } finally { state.inflight = null; }
  if (state.dirty && !state.conflict) return saveNow();
}

async function doSave() {
  state.dirty = false;
  const body = payload();
  setStatus("saving");
  try {
    let res;
    if (!state.id) {
      res = await api("POST", "/api/referrals", { body });
      state.id = res.data.id;
      history.replaceState(null, "", `/app/refer?id=${encodeURIComponent(state.id)}`);
    } else {
      res = await withVersion((version) => api("PUT", `/api/referrals/${encodeURIComponent(state.id)}`, { body, version }));
    }
    adopt(res.data);
    setProblems(res.data.problems);
    state.failing = false;
    setStatus("saved", res.data.updated);
  } catch (err) {
    state.dirty = true;
    if (err.status === 412 || err.conflict) {
      showConflict(err);
    } else if (err.status === 409 || err.status === 403 || err.status === 404) {
      state.conflict = true;
      setStatus("error", err.message);
    } else {
      state.failing = true;
      setStatus("error", `${err instanceof ApiError ? err.message : "The connection failed."} We will try again in a few seconds.`);
      clearTimeout(state.timer);
      state.timer = setTimeout(() => saveNow().catch(() => {}), 5000);
    }
    throw err;
  }
}

// adopt takes the server's referral as the one this page edits.
function adopt(r) {
  state.server = r;
  state.version = r.version;
}

// withVersion runs call with the version last seen. When the server says
// the referral changed meanwhile, it looks: if only the server's own
// bookkeeping moved on (a film upload, a trace) the form is as we left it
// and the call is tried again at the new version; if someone else changed
// the form, it is a real conflict.
async function withVersion(call) {
  try {
    return await call(state.version);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 412) throw err;
    const fresh = await api("GET", `/api/referrals/${encodeURIComponent(state.id)}`);
    if (fresh.data.status !== "DRAFT") {
      const e = new ApiError(412, "This referral has already been sent, from another page or by someone else.");
      e.conflict = true; e.sent = fresh.data;
      throw e;
    }
    if (formKey(fresh.data) !== formKey(state.server)) {
      const e = new ApiError(412, err.message);
      e.conflict = true;
      throw e;
    }
    adopt(fresh.data);
    return await call(state.version);
  }
}

function showConflict(err) {
  state.conflict = true;
  clearTimeout(state.timer);
  setStatus("error", "Not saved: this draft was changed somewhere else.");
  const box = document.getElementById("refer-conflict");
  if (!box) return;
  const sent = err && err.sent;
  box.replaceChildren(h("div", { class: "app-notice app-notice--error", role: "alert" },
    h("h2", { class: "ref-conflict__title" }, sent ? "This referral has already been sent" : "Someone else changed this draft"),
    sent
      ? h("p", {}, "It was sent with the reference ", urnText(sent.urn), ". Your latest changes here were not saved.")
      : h("p", {}, "This draft was changed in another window or by someone else in your practice since you opened it. Your latest changes on this page have not been saved, so that theirs are not overwritten."),
    h("p", {}, "Copy anything you need from this page, then reload the draft to see the saved version."),
    h("button", { type: "button", class: "app-button--secondary", id: "refer-reload", onclick: () => location.assign(`/app/refer?id=${encodeURIComponent(state.id)}`) },
      sent ? "Show the sent referral" : "Reload the draft")));
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

// saveOnLeave sends unsaved changes as the page goes away (a request that
// outlives the page).
function saveOnLeave() {
  if (!state.dirty || state.conflict || state.submitted || state.inflight) return;
  clearTimeout(state.timer);
  const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": session.csrf_token };
  let url = "/api/referrals", method = "POST";
  if (state.id) {
    url = `/api/referrals/${encodeURIComponent(state.id)}`;
    method = "PUT";
    headers["If-Match"] = `"${state.version}"`;
  }
  state.dirty = false;
  const req = fetch(url, { method, headers, body: JSON.stringify(payload()), keepalive: true, credentials: "same-origin" })
    .then(async (res) => {
      if (!res.ok) { state.dirty = true; return; }
      const data = await res.json();
      if (!state.id) { state.id = data.id; history.replaceState(null, "", `/app/refer?id=${encodeURIComponent(state.id)}`); }
      adopt(data);
      setProblems(data.problems);
      setStatus("saved", data.updated);
    })
    .catch(() => { state.dirty = true; });
  state.inflight = req;
  req.finally(() => { if (state.inflight === req) state.inflight = null; });
}

function setStatus(kind, detail) {
  const el = document.getElementById("refer-save-status");
  if (!el) return;
  el.dataset.state = kind;
  switch (kind) {
    case "new":
      el.textContent = "Not saved yet: the draft is saved as soon as you start typing.";
      break;
    case "saving":
      el.textContent = "Saving…";
      break;
    case "saved": {
      const at = detail ? new Date(detail) : new Date();
      state.lastSaved = at;
      const sameDay = at.toDateString() === new Date().toDateString();
      el.textContent = `Draft saved at ${clock(at)}${sameDay ? "" : " on " + fmt.date(at.toISOString())}`;
      break;
    }
    case "error":
      el.textContent = detail || "Not saved.";
      break;
  }
}

// ---------------------------------------------------------------------------
// Films: drag and drop or choose, each uploaded with its own progress.

const uploads = { queue: [], busy: false, list: null };

function uploader() {
  const input = h("input", { type: "file", id: "refer-file-input", multiple: true, class: "ref-drop__input",
    "aria-describedby": "refer-drop-hint" });
  const desc = h("input", { type: "text", id: "refer-film-description", class: "ref-width-30", autocomplete: "off" });
  const zone = h("div", { class: "ref-drop", id: "refer-drop" },
    h("p", { class: "ref-drop__title" }, "Drag and drop X-ray files here"),
    h("p", { class: "app-hint", id: "refer-drop-hint" }, "DICOM files from your X-ray software, or JPEG or PNG images. Each file uploads on its own; you can keep filling in the form."),
    h("label", { for: "refer-file-input", class: "ref-drop__label" }, "Or choose files"),
    input);
  uploads.list = h("ul", { class: "ref-uploads", id: "refer-uploads" });
  // One announcement per film when it is done, not one per percent.
  uploads.announce = h("p", { class: "app-visually-hidden", id: "refer-upload-status", role: "status" });
  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = "";
    addFiles(files);
  });
  for (const ev of ["dragenter", "dragover"]) {
    zone.addEventListener(ev, (e) => { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; zone.classList.add("ref-drop--over"); });
  }
  zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove("ref-drop--over"); });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("ref-drop--over");
    addFiles([...(e.dataTransfer?.files || [])]);
  });
  return h("div", { class: "ref-films" },
    h("h3", {}, "Upload the films"),
    h("div", { class: "app-field" },
      h("label", { for: "refer-film-description" }, "What the next files show (optional)"),
      h("span", { class: "app-hint" }, "For example OPG or periapical 48. Leave blank to use the file name."),
      desc),
    zone,
    h("h3", { class: "ref-uploads__title" }, "Films with this referral"),
    uploads.list, uploads.announce);
}

function sizeText(n) {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

const KIND = { jpeg: "JPEG image", png: "PNG image", dicom: "DICOM" };

// uploadItem draws one film in the list and returns its updaters.
function uploadItem(name, size, { announce = false } = {}) {
  const say = (text) => { if (announce && uploads.announce) uploads.announce.textContent = text; };
  const bar = h("progress", { max: 100, value: 0, "aria-label": `Upload of ${name}` });
  const pct = h("span", { class: "ref-upload__pct" }, "Waiting");
  const note = h("p", { class: "ref-upload__note" });
  const li = h("li", { class: "ref-upload", dataset: { state: "queued" } },
    h("div", { class: "ref-upload__head" }, h("span", { class: "ref-upload__name" }, name), h("span", { class: "ref-upload__size" }, size != null ? sizeText(size) : "")),
    h("div", { class: "ref-upload__bar" }, bar, pct), note);
  uploads.list.append(li);
  return {
    li,
    progress(p) { li.dataset.state = "uploading"; bar.value = p; pct.textContent = `${p}%`; },
    done(up) {
      li.dataset.state = "done";
      bar.value = 100;
      pct.textContent = "Uploaded";
      const what = [KIND[up.kind] || up.kind, up.description, up.exposure_date ? `taken ${fmt.date(up.exposure_date)}` : ""].filter(Boolean).join(", ");
      note.textContent = up.state === "stored"
        ? `${what}. Stored in the archive with the referral.`
        : `${what}. Kept with the draft; it is stored with the referral when you send it.`;
      say(`${name} uploaded.`);
    },
    failed(msg) {
      li.dataset.state = "failed";
      pct.textContent = "Not uploaded";
      note.replaceChildren(h("span", { class: "app-error-message" }, msg));
      say(`${name} was not uploaded. ${msg}`);
    },
  };
}

function renderUploads(list) {
  if (!uploads.list) return;
  uploads.list.replaceChildren();
  for (const up of list) {
    const item = uploadItem(up.name, up.size);
    if (up.state === "failed") item.failed(up.error || "This film could not be stored.");
    else item.done(up);
  }
}

function addFiles(files) {
  if (!files.length) return;
  if (v("radiographs.attached") !== "yes") {
    fields.get("radiographs.attached").set("yes");
    updateConditions();
    markDirty();
  }
  const desc = document.getElementById("refer-film-description");
  for (const file of files) uploads.queue.push({ file, description: desc.value.trim(), item: uploadItem(file.name, file.size, { announce: true }) });
  pump();
}

async function pump() {
  if (uploads.busy) return;
  uploads.busy = true;
  try {
    while (uploads.queue.length) await uploadOne(uploads.queue.shift());
  } finally {
    uploads.busy = false;
  }
}

async function ensureDraft() {
  if (!state.id) {
    state.dirty = true;
    await saveNow();
  }
  if (!state.id) throw new Error("The draft could not be saved.");
}

async function uploadOne({ file, description, item }) {
  if (state.conflict) { item.failed("Not uploaded: reload the draft first."); return; }
  try {
    await ensureDraft();
  } catch (err) {
    item.failed(`Not uploaded: the draft could not be saved (${err.message}).`);
    return;
  }
  const exposure = v("radiographs.exposure_date");
  const fd = new FormData();
  fd.append("description", description || file.name.replace(/\.[^.]+$/, ""));
  fd.append("exposure_date", parseDate(exposure) && parseDate(exposure) <= today() ? exposure : "");
  fd.append("file", file, file.name);
  item.progress(0);
  await new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/referrals/${encodeURIComponent(state.id)}/uploads`);
    xhr.setRequestHeader("Accept", "application/json");
    if (session.csrf_token) xhr.setRequestHeader("X-CSRF-Token", session.csrf_token);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) item.progress(Math.min(99, Math.floor((e.loaded / e.total) * 100)));
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status === 201) {
        item.done(body);
      } else if (xhr.status === 401) {
        item.failed("Your session has ended: sign in again, then add the film again.");
      } else {
        const msg = (body.errors && body.errors.map((e) => e.message).join(" ")) || body.message || `The server answered ${xhr.status}.`;
        item.failed(msg);
      }
      resolve();
    });
    xhr.addEventListener("error", () => { item.failed("The upload failed: check the connection and add the file again."); resolve(); });
    xhr.addEventListener("abort", () => { item.failed("The upload was stopped."); resolve(); });
    xhr.send(fd);
  });
}

// ---------------------------------------------------------------------------
// NHS number trace.

const TRACE = {
  matched: ["success", "NHS number checked", "The NHS number matches this patient."],
  added: ["success", "NHS number found", "We found the patient's NHS number and added it."],
  mismatch: ["warning", "Check the NHS number", ""],
  "not-found": ["warning", "No match found", ""],
  ambiguous: ["warning", "More than one patient matches", ""],
  unavailable: ["warning", "The check did not work", ""],
};

// traceLabel says what the trace will do: find a missing number, or
// check the one given.
function traceLabel() {
  const btn = document.getElementById("refer-trace");
  if (btn) btn.textContent = v("patient.nhs_number").trim() ? "Check NHS number" : "Find NHS number";
}

function showTrace(t) {
  const el = document.getElementById("refer-trace-result");
  if (!el) return;
  const [kind, title, text] = TRACE[t.outcome] || ["warning", "NHS number check", ""];
  el.replaceChildren(h("div", { class: `app-notice app-notice--${kind} ref-trace__result`, dataset: { outcome: t.outcome } },
    h("strong", {}, title), " ",
    text || t.detail || "",
    t.outcome === "mismatch" && t.nhs_number ? h("span", {}, ` The number on record is ${fmt.nhs(t.nhs_number)}.`) : null,
    t.outcome === "added" ? h("span", {}, ` ${fmt.nhs(t.nhs_number)}.`) : null));
}

async function trace() {
  const btn = document.getElementById("refer-trace");
  const out = document.getElementById("refer-trace-result");
  const nhs = v("patient.nhs_number");
  if (nhs.trim() && nhsProblem(nhs)) {
    state.clientErrors.set("patient.nhs_number", nhsProblem(nhs));
    renderErrors();
    document.getElementById(fid("patient.nhs_number")).focus();
    return;
  }
  if (!nhs.trim() && (!v("patient.family").trim() || !parseDate(v("patient.birth_date")))) {
    out.replaceChildren(h("div", { class: "app-notice app-notice--warning" }, "To find the NHS number, first enter the patient's last name and date of birth (and their first name, sex and postcode if you can)."));
    return;
  }
  btn.disabled = true;
  out.replaceChildren(h("p", { class: "app-loading" }, "Checking…"));
  try {
    state.dirty = true;
    await saveNow();
    if (state.conflict) { out.replaceChildren(); return; }
    const res = await withVersion((version) => api("POST", `/api/referrals/${encodeURIComponent(state.id)}/trace`, { version }));
    adopt(res.data);
    if (res.data.trace?.outcome === "added") fields.get("patient.nhs_number").set(res.data.patient.nhs_number);
    showTrace(res.data.trace || {});
  } catch (err) {
    if (err.conflict) { showConflict(err); out.replaceChildren(); }
    else if (err.status === 409) out.replaceChildren(h("div", { class: "app-notice app-notice--warning" }, "NHS number checks are not available on this system. Check the number with the patient or their GP instead."));
    else out.replaceChildren(h("div", { class: "app-notice app-notice--error" }, err instanceof ApiError ? err.message : "The check failed. Try again."));
  } finally {
    btn.disabled = false;
    traceLabel();
  }
}

// ---------------------------------------------------------------------------
// Sending.

async function submit() {
  const btn = document.getElementById("refer-send");
  if (state.conflict) { showConflict(); return; }
  btn.disabled = true;
  btn.textContent = "Sending…";
  // What this page can already tell is wrong, it shows with the server's.
  for (const f of fields.values()) {
    const msg = f.check && visible(f) && !isEmpty(f) ? f.check(f.get()) : "";
    if (msg) state.clientErrors.set(f.path, msg);
  }
  try {
    if (!state.id || state.dirty || state.inflight) {
      state.dirty = true;
      await saveNow();
    }
    if (state.conflict) return;
    const res = await withVersion((version) => api("POST", `/api/referrals/${encodeURIComponent(state.id)}/steps`, { body: { step: "submit" }, version }));
    state.submitted = true;
    clearTimeout(state.timer);
    showSent(res.data, true);
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) {
      state.submitErrors = new Map(err.fields.map((e) => [e.field, e.message]));
      renderErrors({ focusSummary: true });
    } else if (err.conflict) {
      showConflict(err);
    } else if (!(err instanceof ApiError && (err.status === 412))) {
      const box = document.getElementById("refer-send-error") || h("div", { id: "refer-send-error" });
      document.querySelector(".ref-send")?.before(box);
      box.replaceChildren(h("div", { class: "app-notice app-notice--error", role: "alert" },
        "The referral was not sent: ", err instanceof ApiError ? err.message : "the connection failed. Try again."));
    }
  } finally {
    btn.disabled = false;
    btn.textContent = "Send referral";
  }
}

// showSent replaces the form with the referral's URN and what happens
// next (just sent), or with its URN and status (opened later).
function showSent(r, justSent) {
  const p = r.patient || {};
  const name = [p.given, p.family].filter(Boolean).join(" ") || "the patient";
  const texted = p.sms_consent && p.phone;
  const stored = (r.uploads || []).filter((u) => u.state === "stored").length;
  const pending = (r.uploads || []).filter((u) => u.state === "pending").length;
  const rg = r.radiographs || {};
  const track = `${location.origin}/track?urn=${encodeURIComponent(r.urn)}`;

  const next = [];
  if (justSent) {
    next.push("It has gone to the clinical triage team. They decide where the patient is treated, usually within a few working days; you can follow it under Our referrals.");
    next.push(texted
      ? `We have texted ${name} the reference number and a link to follow the referral.`
      : `${name} did not agree to text messages, so give them the reference number. They can follow the referral at ${location.origin}/track with it and their date of birth.`);
    if (stored + pending > 0) next.push(`${stored + pending} ${stored + pending === 1 ? "film was" : "films were"} sent with the referral.`);
    else if (rg.attached) next.push("Send the radiographs from your X-ray software with the reference number as the accession number, or add them on the referral's page. The triage team will remind you if they have not arrived in 3 days.");
  }

  const panel = h("div", { class: "app-card ref-confirmation", id: "refer-confirmation" },
    h("h2", { tabindex: "-1", id: "refer-confirmation-h" }, justSent ? "Referral sent" : "This referral has been sent"),
    h("p", { class: "ref-confirmation__label" }, "Reference number (URN)"),
    h("p", { class: "ref-confirmation__urn" }, urnText(r.urn, { large: true })),
    h("p", {}, "Quote it when you call about the referral, and write it on anything you send for this patient."),
    h("dl", { class: "app-summary ref-confirmation__facts" },
      h("dt", {}, "Patient"), h("dd", {}, name, p.birth_date ? `, born ${fmt.date(p.birth_date)}` : ""),
      h("dt", {}, "Status"), h("dd", {}, statusLabel(r.status)),
      r.submitted ? [h("dt", {}, "Sent"), h("dd", {}, fmt.dateTime(r.submitted))] : null),
    next.length ? [h("h3", {}, "What happens next"), h("ul", {}, next.map((t) => h("li", {}, t)))] : null,
    h("ul", { class: "ref-confirmation__links" },
      h("li", {}, h("a", { href: `/app/referral?id=${encodeURIComponent(r.id)}`, id: "refer-view" }, "View the referral")),
      h("li", {}, h("a", { href: "/app/refer" }, "Refer another patient")),
      h("li", {}, h("a", { href: "/app/practice" }, "Our referrals")),
      h("li", {}, h("a", { href: track }, "The patient's tracking page"))));

  main.replaceChildren(main.querySelector("h1") || h("h1", {}, "Refer a patient"), panel);
  history.replaceState(null, "", `/app/refer?id=${encodeURIComponent(r.id)}`);
  document.title = `${justSent ? "Referral sent" : "Referral " + r.urn} – Molar`;
  if (justSent) document.getElementById("refer-confirmation-h").focus();
}

// ---------------------------------------------------------------------------
// Start: resume the draft named in the address, or begin a new one.

async function begin() {
  if (state.id) {
    let r;
    try {
      r = await api("GET", `/api/referrals/${encodeURIComponent(state.id)}`);
    } catch (err) {
      main.append(h("p", {}, h("a", { href: "/app/refer" }, "Start a new referral"), " or ", h("a", { href: "/app/drafts" }, "go to your drafts"), "."));
      fail(main, err.status === 404 ? new ApiError(404, "We could not find this draft. It may have been deleted, or it belongs to another practice.") : err);
      return;
    }
    if (r.data.status !== "DRAFT") {
      showSent(r.data, false);
    } else {
      buildForm();
      adopt(r.data);
      fillForm(r.data);
      updateConditions();
      traceLabel();
      setStatus("saved", r.data.updated);
      renderUploads(r.data.uploads || []);
      if (r.data.trace) showTrace(r.data.trace);
    }
  } else {
    buildForm();
    prefillReferrer();
    updateConditions();
    setStatus("new");
  }
}

await begin();
