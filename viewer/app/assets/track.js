// Track a dental referral: the public tracker. A patient (or anyone they
// ask to help) enters the reference number from their text message and the
// patient's date of birth, and sees where the referral is, its steps so
// far, the service that will treat them and any appointment. Nothing
// clinical is ever shown (the API gives nothing clinical).

import { start, h, fmt, param, style } from "/app/assets/common.js";
import { dateFields, readDate, writeDate, parseDate, today, checkURN, urnText } from "/app/assets/referrer-lib.js";

style("track");
const { main } = await start({ requireSession: false });

const NOT_FOUND = "We could not find a referral with that reference and date of birth. Check both and try again. If it still does not work, contact the dental practice that referred you.";

const errors = new Map(); // field id -> message

const summary = h("div", { class: "trk-error-summary", id: "track-errors", tabindex: "-1", hidden: true, "aria-labelledby": "track-errors-h" },
  h("h2", { id: "track-errors-h" }, "There is a problem"), h("ul", {}));

const urnInput = h("input", {
  type: "text", id: "track-urn", name: "urn", class: "trk-urn-input", autocomplete: "off", autocapitalize: "characters",
  spellcheck: "false", "aria-describedby": "track-urn-hint", value: param("urn") || "",
});
const urnField = h("div", { class: "app-field", id: "track-urn-wrap" },
  h("label", { for: "track-urn" }, "Reference number"),
  h("span", { class: "app-hint", id: "track-urn-hint" }, "10 letters and numbers, from the text message or letter about the referral. For example CJG KBT G22K."),
  h("p", { class: "app-error-message", id: "track-urn-error", hidden: true }),
  urnInput);

const dob = dateFields("track-dob", { legend: "Patient's date of birth", hint: "For example, 12 3 1984" });
const dobField = h("div", { class: "app-field", id: "track-dob-wrap" }, dob);
dob.querySelector(".app-hint").after(h("p", { class: "app-error-message", id: "track-dob-error", hidden: true }));

const button = h("button", { type: "submit", id: "track-submit" }, "Find the referral");
const form = h("form", { id: "track-form", class: "app-card trk-form", novalidate: true, onsubmit: lookup },
  urnField, dobField, button);

const outcome = h("div", { id: "track-outcome", "aria-live": "polite" });
const problem = h("div", { id: "track-problem-box" });

main.append(
  h("p", { class: "trk-intro" }, "See where a dental referral has got to and which service will treat the patient. You need the reference number we sent by text message and the patient's date of birth."),
  h("p", { class: "trk-intro" }, "This page never shows any health details."),
  summary, problem, form, outcome);

if (urnInput.value) dob.querySelector("input").focus();

function showErrors({ focus = false } = {}) {
  const place = (id, msg) => {
    const slot = document.getElementById(`${id}-error`);
    const wrap = document.getElementById(`${id}-wrap`);
    slot.hidden = !msg;
    slot.replaceChildren(...(msg ? [h("span", { class: "app-visually-hidden" }, "Error: "), msg] : []));
    wrap.classList.toggle("app-field--error", !!msg);
    for (const input of wrap.querySelectorAll("input")) {
      if (msg) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }
  };
  place("track-urn", errors.get("track-urn"));
  place("track-dob", errors.get("track-dob"));
  const target = { "track-urn": "track-urn", "track-dob": "track-dob-day" };
  summary.querySelector("ul").replaceChildren(...[...errors].map(([id, msg]) => h("li", {}, h("a", { href: `#${target[id]}` }, msg))));
  summary.hidden = errors.size === 0;
  if (focus && !summary.hidden) summary.focus();
}

summary.addEventListener("click", (e) => {
  const a = e.target.closest("a");
  if (!a) return;
  e.preventDefault();
  document.getElementById(a.getAttribute("href").slice(1))?.focus();
});

async function lookup(e) {
  e.preventDefault();
  errors.clear();
  const u = checkURN(urnInput.value);
  if (!urnInput.value.trim()) errors.set("track-urn", "Enter the reference number.");
  else if (u.error) errors.set("track-urn", u.error);
  const d = readDate("track-dob");
  if (!d) errors.set("track-dob", "Enter the patient's date of birth.");
  else if (!parseDate(d)) errors.set("track-dob", "Enter the date of birth as a real date, for example 12 3 1984.");
  else if (parseDate(d) > today()) errors.set("track-dob", "The date of birth must be in the past.");
  showErrors({ focus: true });
  if (errors.size) { outcome.replaceChildren(); problem.replaceChildren(); return; }

  button.disabled = true;
  problem.replaceChildren();
  outcome.replaceChildren(h("p", { class: "app-loading" }, "Looking for the referral…"));
  history.replaceState(null, "", `/track?urn=${encodeURIComponent(u.urn)}`);
  let res, data = null;
  try {
    res = await fetch(`/api/track?urn=${encodeURIComponent(u.urn)}&dob=${encodeURIComponent(d)}`,
      { headers: { Accept: "application/json" }, credentials: "same-origin" });
    data = await res.json().catch(() => null);
  } catch {
    res = null;
  } finally {
    button.disabled = false;
  }
  if (res && res.ok && data) {
    showReferral(data);
    return;
  }
  let msg;
  if (res && res.status === 404) {
    msg = NOT_FOUND; // the same words whichever of the two was wrong
  } else if (res && res.status === 429) {
    const secs = Number(res.headers.get("Retry-After")) || 900;
    const mins = Math.max(1, Math.ceil(secs / 60));
    msg = `You have tried too many times. For your security, wait ${mins} minutes, then try again.`;
  } else {
    msg = "The tracker is not working at the moment. Try again later, or contact the dental practice that referred you.";
  }
  outcome.replaceChildren();
  problem.replaceChildren(h("div", { class: "app-notice app-notice--error", role: "alert", id: "track-problem" }, msg));
}

const longDate = new Intl.DateTimeFormat("en-GB", { weekday: "long", day: "numeric", month: "long", year: "numeric" });
const longTime = new Intl.DateTimeFormat("en-GB", { hour: "numeric", minute: "2-digit", hour12: true });

// What each status means for the patient, in a sentence; nothing clinical.
const MEANING = {
  SUBMITTED: "Your dentist has sent the referral. It is on its way to the team who decide where you will be treated.",
  AWAITING_TRIAGE: "A dental team is looking at the referral to decide where you should be treated. You do not need to do anything yet.",
  INFO_REQUESTED: "The team looking at the referral has asked your dentist for more information. You do not need to do anything.",
  ACCEPTED: "The referral has been accepted. It is being passed to the service that will treat you.",
  RETURNED_TO_REFERRER: "The referral has gone back to your dentist with advice. Contact your dental practice to talk about what happens next.",
  REDIRECTED: "The referral has been sent on to a more suitable service.",
  SENT_TO_PROVIDER: "The referral has been sent to the service that will treat you. They will contact you.",
  PROVIDER_ACCEPTED: "The service that will treat you has accepted the referral. They will contact you to arrange an appointment.",
  CONTACTED: "The service has been in touch with you about an appointment.",
  BOOKED: "You have an appointment.",
  TREATED: "You have been treated.",
  DISCHARGED: "Your care with the service has finished and your dentist has been told.",
  DNA: "The appointment was missed. Contact the service if you still need treatment.",
  NO_CONTACT: "The service could not reach you. Phone them to arrange your appointment.",
  CANCELLED: "The referral was cancelled. Contact your dental practice if you have questions.",
};

function showReferral(v) {
  const steps = v.timeline || [];
  const svc = v.service;
  const card = h("section", { class: "app-card trk-result", id: "track-result", "aria-labelledby": "track-result-h" },
    h("h2", { id: "track-result-h", tabindex: "-1" }, "Referral ", urnText(v.urn)),
    h("p", { class: "trk-status" }, h("span", { class: "trk-status__label", id: "track-status" }, v.label)),
    v.since ? h("p", { class: "ref-muted" }, `Since ${fmt.date(v.since)}`) : null,
    MEANING[v.status] ? h("p", {}, MEANING[v.status]) : null,
    v.appointment ? appointment(v.appointment, svc) : null,
    h("h3", {}, "Progress"),
    h("ol", { class: "trk-timeline", id: "track-timeline" }, steps.map((s) => h("li", { class: s.at ? "trk-step trk-step--done" : "trk-step", dataset: { done: s.at ? "yes" : "no" } },
      h("span", { class: "trk-step__label" }, s.label),
      h("span", { class: "trk-step__when" }, s.at ? fmt.date(s.at) : "Not yet")))),
    svc ? service(svc) : h("p", { id: "track-no-service" }, "The service that will treat you is shown here once it has been chosen."),
    h("p", {}, h("button", { type: "button", class: "app-button--secondary", id: "track-again", onclick: again }, "Check another referral")));
  outcome.replaceChildren(card);
  form.hidden = true;
  card.querySelector("h2").focus();
}

function appointment(at, svc) {
  const d = new Date(at);
  return h("div", { class: "app-notice app-notice--success trk-appointment", id: "track-appointment" },
    h("h3", {}, "Your appointment"),
    h("p", { class: "trk-appointment__when" }, `${longDate.format(d)} at ${longTime.format(d)}`),
    svc ? h("p", {}, `At ${svc.name}${svc.address ? ", " + svc.address : ""}${svc.postcode ? ", " + svc.postcode : ""}.`) : null,
    svc && svc.phone ? h("p", {}, "To change or cancel it, phone ", h("a", { href: `tel:${svc.phone.replace(/\s+/g, "")}` }, svc.phone), ".") : null);
}

function service(s) {
  const rows = [];
  const add = (term, ...value) => rows.push(h("dt", {}, term), h("dd", {}, ...value));
  if (s.organisation) add("Part of", s.organisation);
  if (s.address || s.postcode) add("Address", [s.address, s.postcode].filter(Boolean).join(", "));
  if (s.phone) add("Phone", h("a", { href: `tel:${s.phone.replace(/\s+/g, "")}` }, s.phone));
  if (s.website && /^https?:\/\//i.test(s.website)) add("Website", h("a", { href: s.website, rel: "noopener noreferrer" }, s.website));
  const booking = s.booking_model === "DBS"
    ? "Appointments with this service are booked for you, and you will be told the date and time."
    : "The service will contact you to arrange an appointment.";
  add("Appointments", booking, s.booking_instructions ? h("div", { class: "trk-instructions" }, s.booking_instructions) : null);
  return h("div", { class: "trk-service", id: "track-service" },
    h("h3", {}, "The service treating you"),
    h("p", { class: "trk-service__name" }, s.name),
    h("dl", { class: "app-summary" }, rows));
}

function again() {
  outcome.replaceChildren();
  problem.replaceChildren();
  form.hidden = false;
  urnInput.value = "";
  writeDate("track-dob", "");
  history.replaceState(null, "", "/track");
  urnInput.focus();
}
