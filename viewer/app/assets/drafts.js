// Drafts: the practice's unsent referrals, newest first, each with a link
// to carry on filling it in.

import { start, api, h, fail, fmt, style, urgencyTag } from "/app/assets/common.js";
import { patientName, ago, clock } from "/app/assets/referrer-lib.js";

style("practice");
const { main } = await start({});

main.append(
  h("p", {}, "Referrals you have started but not sent. Everything typed into the form is kept here until you send it."),
  h("p", {}, h("a", { class: "app-button", href: "/app/refer", id: "drafts-new" }, "Start a new referral")));

const loading = h("p", { class: "app-loading", "aria-live": "polite" }, "Loading your drafts…");
main.append(loading);

let list = null;
try {
  list = (await api("GET", "/api/worklists/drafts")).data || [];
} catch (err) {
  fail(main, err);
}
loading.remove();
if (list) show(list);

function show(list) {
  // The worklist says when each draft was started; when it also says when it
  // was last saved, that is what counts.
  const savedAt = (d) => d.updated || d.status_since || d.submitted || "";
  const hasUpdated = list.some((d) => d.updated);
  list.sort((a, b) => (Date.parse(savedAt(b)) || 0) - (Date.parse(savedAt(a)) || 0));

  if (!list.length) {
    main.append(h("div", { class: "app-card", id: "drafts-empty" }, h("p", {}, "You have no drafts. New referrals are saved here as you fill them in.")));
  } else {
    const when = (v) => {
      if (!v) return "";
      const d = new Date(v);
      const isToday = d.toDateString() === new Date().toDateString();
      return isToday ? `Today at ${clock(d)}` : `${fmt.dateTime(v)} (${ago(v)})`;
    };
    main.append(
      h("p", { id: "drafts-count" }, list.length === 1 ? "1 draft, newest first." : `${list.length} drafts, newest first.`),
      h("div", { class: "prac-table-wrap", role: "region", "aria-labelledby": "drafts-caption", tabindex: "0" },
        h("table", { class: "app-table", id: "drafts-table" },
          h("caption", { class: "app-visually-hidden", id: "drafts-caption" }, "Draft referrals, newest first"),
          h("thead", {}, h("tr", {},
            h("th", { scope: "col" }, "Patient"),
            h("th", { scope: "col" }, "Urgency"),
            h("th", { scope: "col" }, "Procedure"),
            h("th", { scope: "col" }, hasUpdated ? "Last saved" : "Started"),
            h("th", { scope: "col" }, h("span", { class: "app-visually-hidden" }, "Action")))),
          h("tbody", {}, list.map((d) => {
            const name = patientName(d.patient);
            return h("tr", { dataset: { id: d.id } },
              h("td", {},
                h("strong", {}, name),
                d.birth_date ? h("div", { class: "prac-sub" }, `Born ${fmt.date(d.birth_date)}`) : null,
                d.nhs_number ? h("div", { class: "prac-sub" }, `NHS ${fmt.nhs(d.nhs_number)}`) : null),
              h("td", {}, d.urgency ? urgencyTag(d.urgency) : h("span", { class: "prac-sub" }, "Not chosen")),
              h("td", {}, d.procedure || h("span", { class: "prac-sub" }, "Not chosen")),
              h("td", {}, when(savedAt(d))),
              h("td", {}, h("a", { href: `/app/refer?id=${encodeURIComponent(d.id)}`, class: "drafts-continue" },
                "Continue", h("span", { class: "app-visually-hidden" }, ` the referral for ${name}`))));
          })))));
  }
}
