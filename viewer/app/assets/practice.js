// Our referrals: everything the practice has sent, newest change first,
// with where each one is, its films and any reminders, and a filter.

import { start, api, h, fail, fmt, style, urgencyTag, param } from "/app/assets/common.js";
import { patientName, ago } from "/app/assets/referrer-lib.js";

style("practice");
const { main } = await start({});

const loading = h("p", { class: "app-loading", "aria-live": "polite" }, "Loading your referrals…");
main.append(loading);

let all = null;
let overdue = new Map();
try {
  const [list, chase] = await Promise.all([
    api("GET", "/api/worklists/practice"),
    // The chase list says what is overdue, in words; the page works without it.
    api("GET", "/api/worklists/chase").catch(() => ({ data: [] })),
  ]);
  all = list.data || [];
  overdue = new Map((chase.data || []).filter((c) => c.chase).map((c) => [c.id, c.chase]));
} catch (err) {
  fail(main, err);
}
loading.remove();
if (all) page(all, overdue);

function page(all, overdue) {
  const drafts = all.filter((r) => r.status === "DRAFT").length;
  const rows = all.filter((r) => r.status !== "DRAFT");

  // What the practice itself has to act on.
  const ACTION = {
    INFO_REQUESTED: "The triage team asked you for more information",
    RETURNED_TO_REFERRER: "Returned to you with advice",
  };
  const CLOSED = new Set(["DISCHARGED", "CANCELLED", "RETURNED_TO_REFERRER", "DNA", "NO_CONTACT"]);
  const needsAction = (r) => ACTION[r.status] || (overdue.has(r.id) && r.status !== "TREATED");

  const intro = h("p", {},
    "Every referral your practice has sent, the most recent change first. Open one to see its details, films and history.",
    drafts ? [" You also have ", h("a", { href: "/app/drafts" }, drafts === 1 ? "1 draft" : `${drafts} drafts`), " not yet sent."] : null);

  const filter = h("input", { type: "search", id: "practice-filter", class: "prac-filter", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "practice-filter-hint", value: param("q") || "" });
  const show = h("select", { id: "practice-show" },
    h("option", { value: "all" }, "All referrals"),
    h("option", { value: "action" }, "Needing your practice to act"),
    h("option", { value: "open" }, "Still in progress"),
    h("option", { value: "closed" }, "Finished"));
  if (["all", "action", "open", "closed"].includes(param("show"))) show.value = param("show");

  const count = h("p", { id: "practice-count", role: "status", "aria-live": "polite" });
  const controls = h("div", { class: "prac-controls" },
    h("div", { class: "app-field" },
      h("label", { for: "practice-filter" }, "Find a referral"),
      h("span", { class: "app-hint", id: "practice-filter-hint" }, "Type a patient's name, a reference number (URN) or a status, for example \"booked\"."),
      filter),
    h("div", { class: "app-field" }, h("label", { for: "practice-show" }, "Show"), show));

  const tbody = h("tbody", {});
  const table = h("div", { class: "prac-table-wrap", role: "region", "aria-labelledby": "practice-caption", tabindex: "0" },
    h("table", { class: "app-table", id: "practice-table" },
      h("caption", { class: "app-visually-hidden", id: "practice-caption" }, "Our referrals, most recent change first"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Reference (URN)"),
        h("th", { scope: "col" }, "Patient"),
        h("th", { scope: "col" }, "Urgency"),
        h("th", { scope: "col" }, "Status"),
        h("th", { scope: "col", class: "num" }, "Films"),
        h("th", { scope: "col" }, "Reminders"))),
      tbody));
  const none = h("p", { id: "practice-none", class: "app-card", hidden: true });

  main.append(intro, controls, count, table, none);

  function row(r) {
    const name = patientName(r.patient);
    const chase = overdue.get(r.id);
    const statusCell = h("td", {},
      h("span", { class: "prac-status" }, r.status_label),
      ACTION[r.status] ? h("div", {}, h("span", { class: "app-tag app-tag--urgent prac-action" }, ACTION[r.status])) : null,
      h("div", { class: "prac-sub" }, `Since ${fmt.date(r.status_since)} (${ago(r.status_since)})`),
      r.appointment ? h("div", { class: "prac-sub" }, `Appointment ${fmt.dateTime(r.appointment.start)}`) : null);
    const films = h("td", { class: "num" }, String(r.images ?? r.films ?? 0),
      r.films_due ? h("div", { class: "prac-warn" }, "Promised, none received yet") : null);
    const reminders = h("td", {},
      chase ? h("div", { class: "prac-warn" }, `Overdue: ${chase}`) : null,
      r.reminders ? h("div", {}, `${r.reminders === 1 ? "1 reminder" : `${r.reminders} reminders`}${r.last_reminded ? `, last ${fmt.date(r.last_reminded)}` : ""}`) : null,
      !chase && !r.reminders ? h("span", { class: "prac-sub" }, "None") : null);
    return h("tr", { dataset: { id: r.id, urn: r.urn || "" }, class: needsAction(r) ? "prac-row--action" : null },
      h("td", {}, r.urn
        ? h("a", { href: `/app/referral?id=${encodeURIComponent(r.id)}`, class: "app-urn prac-urn" }, r.urn,
          h("span", { class: "app-visually-hidden" }, ` (${name})`))
        : h("a", { href: `/app/referral?id=${encodeURIComponent(r.id)}` }, "Open")),
      h("td", {}, h("strong", {}, name),
        r.birth_date ? h("div", { class: "prac-sub" }, `Born ${fmt.date(r.birth_date)}`) : null,
        r.submitted ? h("div", { class: "prac-sub" }, `Sent ${fmt.date(r.submitted)}`) : null),
      h("td", {}, r.urgency ? urgencyTag(r.urgency) : ""),
      statusCell, films, reminders);
  }

  const compact = (s) => s.toLowerCase().replace(/[^a-z0-9]/g, "");
  const haystacks = new Map(rows.map((r) => {
    const text = [r.patient, patientName(r.patient), r.urn, r.status_label, fmt.urgency(r.urgency), r.nhs_number, r.procedure,
      ACTION[r.status], overdue.get(r.id)].filter(Boolean).join(" ");
    return [r.id, { text: text.toLowerCase(), compact: compact(text) }];
  }));

  function matches(r, q) {
    const want = show.value;
    if (want === "action" && !needsAction(r)) return false;
    if (want === "open" && CLOSED.has(r.status)) return false;
    if (want === "closed" && !CLOSED.has(r.status)) return false;
    if (!q) return true;
    const hay = haystacks.get(r.id);
    return q.split(/\s+/).filter(Boolean).every((w) => hay.text.includes(w) || (compact(w) && hay.compact.includes(compact(w))));
  }

  function render() {
    const q = filter.value.trim().toLowerCase();
    const shown = rows.filter((r) => matches(r, q));
    tbody.replaceChildren(...shown.map(row));
    table.hidden = shown.length === 0;
    none.hidden = shown.length !== 0;
    if (!rows.length) none.textContent = "Your practice has not sent any referrals yet.";
    else none.textContent = "No referrals match. Check the spelling, or clear the search box to see them all.";
    count.textContent = shown.length === rows.length
      ? `${rows.length} ${rows.length === 1 ? "referral" : "referrals"}.`
      : `Showing ${shown.length} of ${rows.length} referrals.`;
    const u = new URL(location.href);
    if (filter.value.trim()) u.searchParams.set("q", filter.value.trim()); else u.searchParams.delete("q");
    if (show.value !== "all") u.searchParams.set("show", show.value); else u.searchParams.delete("show");
    history.replaceState(null, "", u.pathname + u.search);
  }

  filter.addEventListener("input", render);
  show.addEventListener("change", render);
  // Enter in the search box must not reload the page: the list filters as you type.
  filter.addEventListener("keydown", (e) => { if (e.key === "Enter") e.preventDefault(); });
  render();
}
