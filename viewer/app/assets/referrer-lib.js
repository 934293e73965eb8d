// Helpers shared by the referrer pages (refer, drafts, practice) and the
// public tracker: date entry in three boxes, plain-English dates, URNs.

import { h, style } from "/app/assets/common.js";
import { STATUS } from "/app/assets/vocab.js";

style("referrer-lib");

// dateFields is the NHS.UK date input: day, month and year boxes in one
// group. id is the group's id; the boxes are id-day, id-month, id-year.
// oninput is called on every change of any box, onblur when focus leaves
// the group.
export function dateFields(id, { legend, hint, oninput, onblur, required = false } = {}) {
  const hintId = hint ? `${id}-hint` : null;
  const box = (part, label, width, max) => h("div", { class: "ref-date__item" },
    h("label", { for: `${id}-${part}`, class: "ref-date__label" }, label),
    h("input", {
      type: "text", id: `${id}-${part}`, name: `${id}-${part}`, class: `ref-date__input ref-date__input--${width}`,
      inputmode: "numeric", autocomplete: "off", maxlength: max, "aria-describedby": hintId,
      "aria-required": required ? "true" : null, oninput,
    }));
  const group = h("fieldset", { class: "ref-date", id, "aria-describedby": hintId },
    h("legend", {}, legend),
    hint ? h("span", { class: "app-hint", id: hintId }, hint) : null,
    h("div", { class: "ref-date__row" }, box("day", "Day", 2, 2), box("month", "Month", 2, 2), box("year", "Year", 4, 4)));
  if (onblur) {
    group.addEventListener("focusout", (e) => {
      if (!group.contains(e.relatedTarget)) onblur();
    });
  }
  return group;
}

// readDate joins the three boxes as YYYY-MM-DD, "" when all are empty.
// A half-filled date is kept as typed (for example "1984--12"), so that
// nothing the person typed is lost; validDate says whether it is a date.
export function readDate(id) {
  const v = (part) => (document.getElementById(`${id}-${part}`)?.value || "").trim();
  const d = v("day"), m = v("month"), y = v("year");
  if (!d && !m && !y) return "";
  const pad = (s) => (/^\d$/.test(s) ? "0" + s : s);
  return `${y}-${pad(m)}-${pad(d)}`;
}

// writeDate fills the three boxes from YYYY-MM-DD (or a half date).
export function writeDate(id, value) {
  const [y = "", m = "", d = ""] = (value || "").split("-");
  const set = (part, s) => { const el = document.getElementById(`${id}-${part}`); if (el) el.value = s; };
  set("year", y);
  set("month", m.replace(/^0(?=\d)/, ""));
  set("day", d.replace(/^0(?=\d)/, ""));
}

// parseDate returns the Date (UTC midnight) of a YYYY-MM-DD string that
// names a real day, or null.
export function parseDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return t;
}

// today is today's date as UTC midnight (the server compares dates so).
export function today() {
  const n = new Date();
  return new Date(Date.UTC(n.getFullYear(), n.getMonth(), n.getDate()));
}

// URN alphabet: no 0/O, 1/I/L, U or Z (referral/urn).
const URN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXY";

// checkURN mirrors referral/urn.Normalize: it returns {urn} or {error}
// with the same plain words. It says only whether the reference is well
// formed, never whether it exists.
export function checkURN(s) {
  const chars = [...(s || "")].filter((c) => !/[\s\-\u2010-\u2015]/.test(c)).map((c) => c.toUpperCase());
  if (chars.length !== 10) {
    return { error: `A reference has 10 characters; this has ${chars.length} ${chars.length === 1 ? "character" : "characters"}.` };
  }
  if (/[0-9]/.test(chars[0])) return { error: `A reference starts with a letter; this one starts with the number ${chars[0]}.` };
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    const c = chars[i];
    const v = URN_ALPHABET.indexOf(c);
    if (v < 0) {
      const ord = ["1st", "2nd", "3rd"][i] || `${i + 1}th`;
      const what = /[0-9]/.test(c) ? `the number ${c}` : /[A-Z]/.test(c) ? `the letter ${c}` : `"${c}"`;
      let msg = `The ${ord} character, ${what}, is never used in a reference.`;
      if (c === "O" || c === "0") msg += " References leave out O and 0 because they look alike: please look at the text message again. It may be a D or a Q.";
      else if (c === "I" || c === "L" || c === "1") msg += " References leave out 1, I and L because they look alike: please look at the text message again. It may be a J, a T or a 7.";
      else if (c === "U") msg += " References leave out U because it looks like V: it may be a V.";
      else if (c === "Z") msg += " References leave out Z because it looks like 2: it may be a 2.";
      return { error: msg };
    }
    sum += (i + 1) * v;
  }
  if (sum % 29 !== 0) return { error: "This reference has a mistake in it: please check it against the text message." };
  return { urn: chars.join("") };
}

// urnText is a URN as its own element, large where it matters.
export function urnText(urn, { large = false } = {}) {
  return h("span", { class: large ? "app-urn ref-urn--large" : "app-urn" }, urn);
}

// ago says how long ago a timestamp was, in words: "today", "yesterday",
// "3 days ago".
export function ago(v) {
  if (!v) return "";
  const t = new Date(v);
  if (isNaN(t)) return "";
  const start = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((start(new Date()) - start(t)) / 86400000);
  if (days <= 0) return "today";
  if (days === 1) return "yesterday";
  return `${days} days ago`;
}

const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });

// clock is "10:42" for a time today, else the date and time.
export function clock(v) {
  const t = v instanceof Date ? v : new Date(v);
  if (isNaN(t)) return "";
  return timeFmt.format(t);
}

// patientName turns the worklists' "FAMILY, Given" into words, or says
// there is no name yet.
export function patientName(s) {
  const t = (s || "").trim();
  if (!t || t === ",") return "No name yet";
  return t.replace(/^,\s*/, "").replace(/,\s*$/, "");
}

// statusLabel is a status in plain English (referral.Status.Label), for
// pages that have the status code alone.
export function statusLabel(s) {
  return STATUS[s] || s || "";
}
