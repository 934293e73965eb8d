// Administration: users, unmatched films, the outbox, the film forwarding
// queue and the audit log, one section at a time (in-page navigation by
// #hash). Each section shows only to a role the matrix lets use it; the
// server checks every request again.
import { start, api, h, fail, notice, fmt, style, ApiError } from "/app/assets/common.js";

style("admin");
const { main, session } = await start();
const role = session.grant.role;

// ---- talking to the server ---------------------------------------------------

// call is api() for the /admin/ endpoints, whose errors are
// {"error": "…"} (or plain text for the audit log) rather than the JSON
// API's {"message": …}: it keeps their words instead of a bare status.
async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf_token;
  let payload;
  if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : await res.text();
  if (res.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search + location.hash));
    throw new ApiError(401, "Your session has ended. Sign in again.");
  }
  if (!res.ok) {
    const raw = (data && (data.message || data.error)) || (typeof data === "string" && data.trim()) || `The server answered ${res.status}.`;
    throw new ApiError(res.status, tidy(raw), data && data.errors);
  }
  return { status: res.status, data };
}

// tidy turns a server error's wording into a sentence: "create user:
// invalid: a user needs a name" → "A user needs a name."
function tidy(msg) {
  let m = String(msg).trim();
  for (let prev = ""; prev !== m;) {
    prev = m;
    m = m.replace(/^(create user( \S+@\S+)?|grant \d+|phone \d+|invalid|outside your organisation|already exists|not found|bad filter)\s*:\s*/i, "");
  }
  if (/already exists$/.test(m) && /create user/.test(msg)) m = "An account with that email address already exists.";
  m = m.charAt(0).toUpperCase() + m.slice(1);
  return /[.!?]$/.test(m) ? m : m + ".";
}

// ---- vocabularies ------------------------------------------------------------

// The roles (internal/auth/role.go): label, and the kinds of organisation
// a grant of the role may be at (null: any).
const roles = [
  ["referrer", "Referrer (dentist)", ["dental-practice"]],
  ["referrer-admin", "Referrer admin", ["dental-practice"]],
  ["sp-clinician", "Service provider clinician (B1110)", ["provider"]],
  ["sp-clinician-admin", "Service provider clinician admin (B1115)", ["provider"]],
  ["sp-admin", "Service provider admin (B1120)", ["provider"]],
  ["service-definer", "Service definer (B1107)", ["provider"]],
  ["analyst", "Information analyst (B1130)", ["provider", "commissioner"]],
  ["booking-manager", "Booking manager (B1140)", ["provider", "commissioner"]],
  ["sysadmin", "System administrator", null],
];
const roleLabel = (r) => (roles.find((x) => x[0] === r) || [r, r])[1];

// Each section shows to a role the matrix lets do its action: the
// session lists them (internal/auth/matrix.go decides, here and again on
// every request).
const may = new Set(session.actions || []);
const sectionAction = { users: "user.admin", unmatched: "film.attach", outbox: "outbox.read", forwarding: "forward.admin", audit: "audit.read" };
const mayOrgAdmin = may.has("org.admin");

const stateWords = {
  queued: ["Queued", "blue"], sending: ["Sending", "blue"], "retry-wait": ["Waiting to retry", "amber"],
  done: ["Delivered", "green"], failed: ["Failed", "red"], cancelled: ["Cancelled", "grey"],
};
const outcomeWords = { ok: ["OK", "green"], denied: ["Denied", "red"], failed: ["Failed", "amber"] };

function tag(text, colour) { return h("span", { class: `app-tag adm-tag adm-tag--${colour}` }, text); }
const dicomDate = (d) => (d && /^\d{8}$/.test(d) ? fmt.date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`) : d || "");
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// phone writes a UK number as people read it: +447700900123 → 07700 900123.
function phone(e164) {
  const m = /^\+44(\d{9,10})$/.exec(e164 || "");
  if (!m) return e164 || "";
  const n = "0" + m[1];
  if (n.length !== 11) return n;
  if (n.startsWith("07")) return `${n.slice(0, 5)} ${n.slice(5)}`;
  if (n.startsWith("02")) return `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
  return `${n.slice(0, 4)} ${n.slice(4, 7)} ${n.slice(7)}`;
}

// soon says when a time close at hand comes: "in 25 seconds", "in 4
// minutes", else the date and time.
function soon(t) {
  const s = Math.round((Date.parse(t) - Date.now()) / 1000);
  if (isNaN(s)) return "";
  if (s <= 0) return "now";
  if (s < 90) return `in ${plural(s, "second", "seconds")}`;
  if (s < 3600) return `in ${plural(Math.round(s / 60), "minute", "minutes")}`;
  return fmt.dateTime(t);
}

// ---- helpers ---------------------------------------------------------------------

function tableOf(id, caption, head, rows, { empty = "Nothing to show." } = {}) {
  if (!rows.length) return h("p", { class: "adm-empty", id: `${id}-empty` }, empty);
  return h("div", { class: "adm-table" },
    h("table", { class: "app-table", id },
      h("caption", { class: "app-visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

// live is a section's region for the outcome of its actions: present
// (and empty) from the start, so that screen readers announce what
// appears in it.
function live(id) { return h("div", { class: "adm-live", id, "aria-live": "polite" }); }

// result shows the outcome of an action in a section's live region.
function result(region, text, kind = "success") {
  region.replaceChildren(h("div", { class: `app-notice app-notice--${kind}`, role: kind === "error" ? "alert" : null, tabindex: "-1" }, text));
  return region.firstChild;
}

// confirmInline replaces a button by a question with Yes and No.
function confirmInline(button, question, yes, onYes) {
  const cell = button.parentElement;
  const before = [...cell.childNodes];
  const box = h("div", { class: "adm-confirm", role: "group", "aria-label": question },
    h("p", {}, question),
    h("button", { type: "button", class: "app-button--warning", onclick: async (e) => { e.target.disabled = true; await onYes(); } }, yes),
    h("button", { type: "button", class: "app-button--secondary", onclick: () => { cell.replaceChildren(...before); button.focus(); } }, "No, go back"));
  cell.replaceChildren(box);
  box.querySelector("button").focus();
}

function field(id, labelText, input, hint) {
  const err = h("span", { class: "app-error-message", id: `${id}-error`, hidden: true });
  input.setAttribute("aria-describedby", [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" "));
  return h("div", { class: "app-field", id: `${id}-field` },
    h("label", { for: id }, labelText), hint ? h("span", { class: "app-hint", id: `${id}-hint` }, hint) : null, err, input);
}

// ---- users -------------------------------------------------------------------------

let usersCache = null; // id → user, for names in the audit log
async function loadUsers() {
  const { data } = await call("GET", "/admin/users");
  usersCache = new Map(data.users.map((u) => [u.id, u]));
  return data.users;
}

let orgsCache = null;
async function loadOrgs() {
  if (!mayOrgAdmin) return null;
  if (!orgsCache) orgsCache = (await call("GET", "/admin/orgs")).data.organisations;
  return orgsCache;
}

async function users(sec) {
  const out = live("users-result");
  const listBox = h("div", { id: "users-list" });
  const formBox = h("div", { id: "add-user", hidden: true });
  const toggle = h("button", { type: "button", id: "add-user-toggle", "aria-expanded": "false", "aria-controls": "add-user",
    onclick: () => {
      const open = formBox.hidden;
      formBox.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) formBox.querySelector("input").focus();
    } }, "Add a user");
  sec.append(out, h("div", { class: "adm-toolbar" }, toggle, refresh(() => draw())), formBox, listBox);

  const [list, orgs] = await Promise.all([loadUsers(), loadOrgs().catch(() => null)]);
  formBox.append(userForm(orgs));
  drawList(list, orgs);

  async function draw() {
    try { drawList(await loadUsers(), orgs); } catch (err) { fail(listBox, err); }
  }

  function drawList(list, orgs) {
    const orgName = (code) => (orgs || []).find((o) => o.code === code)?.name;
    list.sort((a, b) => Number(!!a.disabled) - Number(!!b.disabled) || a.name.localeCompare(b.name));
    const rows = list.map((u) => h("tr", { id: `user-${u.id}`, class: u.disabled ? "adm-row--off" : null },
      h("td", {}, h("strong", {}, u.name), h("span", { class: "adm-sub adm-break" }, u.email),
        u.gdc_number ? h("span", { class: "adm-sub" }, `GDC ${u.gdc_number}`) : null),
      h("td", {}, h("ul", { class: "adm-list" }, (u.grants || []).map((g) => h("li", {},
        roleLabel(g.role), " at ", h("span", { title: orgName(g.org) || null }, orgName(g.org) ? `${orgName(g.org)} (${g.org})` : g.org),
        g.on_behalf_of ? h("span", { class: "adm-sub" }, `on behalf of ${usersCache.get(g.on_behalf_of)?.name || g.on_behalf_of}`) : null)))),
      h("td", {}, h("ul", { class: "adm-list" }, (u.phones || []).map((p) => h("li", { class: "adm-nowrap" }, phone(p.number), p.label ? h("span", { class: "adm-sub" }, p.label) : null)))),
      h("td", {}, u.disabled ? tag("Disabled", "grey") : tag("Active", "green"),
        u.has_password ? null : h("span", { class: "adm-sub" }, "No password yet")),
      h("td", {}, u.disabled || u.id === session.user.id ? (u.id === session.user.id ? h("span", { class: "adm-sub" }, "You") : null)
        : h("button", { type: "button", class: "app-button--secondary adm-small", "data-user": u.id,
          onclick: (e) => confirmInline(e.currentTarget, `Disable ${u.name}'s account? They will no longer be able to sign in.`, "Yes, disable", async () => {
            let said;
            try {
              await call("POST", `/admin/users/${encodeURIComponent(u.id)}/disable`);
              said = result(out, `${u.name}'s account is disabled.`);
            } catch (err) { said = result(out, err.message, "error"); }
            await draw();
            said.focus(); // the button that was pressed is gone
          }) }, "Disable", h("span", { class: "app-visually-hidden" }, ` ${u.name}`)))));
    listBox.replaceChildren(
      h("p", { class: "app-caption" }, `${plural(list.length, "account", "accounts")}${role === "sysadmin" ? "" : " in your organisation"}.`),
      tableOf("users-table", "User accounts", ["Name and email", "Roles and organisations", "Phone numbers", "Status", h("span", { class: "app-visually-hidden" }, "Actions")], rows,
        { empty: "There are no accounts yet." }));
  }

  function userForm(orgs) {
    const summary = h("div", { class: "adm-error-summary", role: "alert", tabindex: "-1", hidden: true });
    const name = h("input", { type: "text", id: "nu-name", autocomplete: "off", class: "app-input--wide" });
    const email = h("input", { type: "email", id: "nu-email", autocomplete: "off", spellcheck: "false", class: "app-input--wide" });
    const phone = h("input", { type: "tel", id: "nu-phone", autocomplete: "off" });
    const phoneLabel = h("input", { type: "text", id: "nu-phone-label", value: "mobile" });
    const roleSel = h("select", { id: "nu-role" }, h("option", { value: "" }, "Choose a role"),
      roles.filter(([r]) => r !== "sysadmin" || role === "sysadmin").map(([r, l]) => h("option", { value: r }, l)));
    const org = orgs
      ? h("select", { id: "nu-org" }, h("option", { value: "" }, "Choose an organisation"))
      : h("input", { type: "text", id: "nu-org", value: session.grant.org, spellcheck: "false" });
    const gdc = h("input", { type: "text", id: "nu-gdc", inputmode: "numeric", autocomplete: "off" });
    const behalf = h("select", { id: "nu-behalf" });
    const password = h("input", { type: "password", id: "nu-password", autocomplete: "new-password" });
    const gdcField = field("nu-gdc", "GDC number", gdc, "The General Dental Council registration number: needed for a referrer.");
    const behalfField = field("nu-behalf", "On behalf of", behalf, "A clinician admin acts for one service provider clinician at the same organisation.");

    function fillOrgs() {
      if (!orgs) return;
      const kinds = (roles.find((x) => x[0] === roleSel.value) || [])[2];
      const keep = org.value;
      org.replaceChildren(h("option", { value: "" }, "Choose an organisation"),
        ...orgs.filter((o) => !kinds || kinds.includes(o.kind)).sort((a, b) => a.code.localeCompare(b.code))
          .map((o) => h("option", { value: o.code, selected: o.code === keep }, `${o.name} (${o.code}${o.parent ? `, site of ${o.parent}` : ""})`)));
    }
    function fillBehalf() {
      const at = org.value.trim().toUpperCase();
      const clinicians = [...usersCache.values()].filter((u) => !u.disabled && u.grants.some((g) => g.role === "sp-clinician" && g.org === at));
      behalf.replaceChildren(h("option", { value: "" }, clinicians.length ? "Choose a clinician" : "No clinician at this organisation"),
        ...clinicians.map((u) => h("option", { value: u.id }, `${u.name} (${u.email})`)));
    }
    function showRoleFields() {
      gdcField.hidden = roleSel.value !== "referrer" && !gdc.value;
      behalfField.hidden = roleSel.value !== "sp-clinician-admin";
      if (!behalfField.hidden) fillBehalf();
    }
    roleSel.addEventListener("change", () => { fillOrgs(); showRoleFields(); });
    org.addEventListener("change", () => { if (!behalfField.hidden) fillBehalf(); });
    fillOrgs();
    showRoleFields();

    const fields = { name: "nu-name", email: "nu-email", phone: "nu-phone", gdc: "nu-gdc", role: "nu-role", org: "nu-org", behalf: "nu-behalf", password: "nu-password" };
    const form = h("form", { class: "app-card adm-form", id: "user-form", novalidate: true, "aria-labelledby": "add-user-h", onsubmit: async (e) => {
      e.preventDefault();
      clear();
      const missing = [];
      if (!name.value.trim()) missing.push(["name", "Enter the person's full name."]);
      if (!email.value.trim()) missing.push(["email", "Enter their email address."]);
      if (!phone.value.trim()) missing.push(["phone", "Enter a mobile phone number for their sign-in codes."]);
      if (!roleSel.value) missing.push(["role", "Choose a role."]);
      if (!org.value.trim()) missing.push(["org", "Choose the organisation the role is held at."]);
      if (roleSel.value === "sp-clinician-admin" && !behalf.value) missing.push(["behalf", "Choose the clinician they act for."]);
      if (missing.length) return problems(missing);
      const body = {
        name: name.value.trim(), email: email.value.trim(),
        phones: [{ number: phone.value.trim(), label: phoneLabel.value.trim() }],
        grants: [{ role: roleSel.value, org: org.value.trim(), ...(behalf.value && !behalfField.hidden ? { on_behalf_of: behalf.value } : {}) }],
      };
      if (gdc.value.trim()) body.gdc_number = gdc.value.trim();
      if (password.value) body.password = password.value;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        const { data } = await call("POST", "/admin/users", body);
        form.reset();
        phoneLabel.value = "mobile";
        showRoleFields();
        result(out, [`Account created for ${data.user.name} (${data.user.email}).`,
          ...(data.warnings || []).map((w) => h("span", { class: "adm-sub" }, `Note: ${w}.`))]);
        formBox.hidden = true;
        toggle.setAttribute("aria-expanded", "false");
        await draw();
        out.querySelector(".app-notice")?.focus();
      } catch (err) {
        problems([[guess(err.message), err.message]]);
      } finally {
        button.disabled = false;
      }
    } },
    h("h3", { id: "add-user-h" }, "Add a user"),
    h("p", { class: "app-hint" }, "The account gets one role at one organisation and one phone number; sign-in codes go to that number. Without a password, the person sets one through password reset, with their phone."),
    summary,
    field("nu-name", "Full name", name),
    field("nu-email", "Email address", email, "An NHS.net address if they have one."),
    h("div", { class: "adm-row2" }, field("nu-phone", "Mobile phone number", phone, "UK number, for example 07700 900123."), field("nu-phone-label", "Label", phoneLabel)),
    h("div", { class: "adm-row2" }, field("nu-role", "Role", roleSel), field("nu-org", "Organisation", org, orgs ? null : "The ODS code of your organisation or one of its sites.")),
    gdcField, behalfField,
    field("nu-password", "Password (optional)", password, "At least 12 characters. Leave blank to let them set it."),
    h("button", { type: "submit" }, "Create account"),
    h("button", { type: "button", class: "app-button--secondary", onclick: () => { formBox.hidden = true; toggle.setAttribute("aria-expanded", "false"); toggle.focus(); } }, "Cancel"));

    // guess which field a server message is about, to show it there too.
    function guess(msg) {
      if (/email|account with that/i.test(msg)) return "email";
      if (/phone/i.test(msg)) return "phone";
      if (/GDC/i.test(msg)) return "gdc";
      if (/password/i.test(msg)) return "password";
      if (/on behalf|clinician/i.test(msg)) return "behalf";
      if (/organisation|ODS|site|not held at/i.test(msg)) return "org";
      if (/role/i.test(msg)) return "role";
      if (/name/i.test(msg)) return "name";
      return "";
    }
    function clear() {
      summary.hidden = true;
      form.querySelectorAll(".app-field--error").forEach((el) => el.classList.remove("app-field--error"));
      form.querySelectorAll(".app-error-message").forEach((el) => { el.hidden = true; el.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
    }
    function problems(list) {
      const items = list.map(([key, msg]) => {
        const id = fields[key];
        if (id) {
          const err = form.querySelector(`#${id}-error`);
          err.textContent = msg;
          err.hidden = false;
          form.querySelector(`#${id}-field`).classList.add("app-field--error");
          form.querySelector(`#${id}`).setAttribute("aria-invalid", "true");
        }
        return h("li", {}, id ? h("a", { href: `#${id}`, onclick: (e) => { e.preventDefault(); form.querySelector(`#${id}`).focus(); } }, msg) : msg);
      });
      summary.replaceChildren(h("h4", { class: "adm-error-summary__title" }, "There is a problem"), h("ul", {}, items));
      summary.hidden = false;
      summary.focus();
    }
    return form;
  }
}

// ---- unmatched films -----------------------------------------------------------------

async function unmatched(sec) {
  const out = live("unmatched-result");
  const listBox = h("div", { id: "unmatched-list" });
  sec.append(
    h("p", {}, "Studies that arrived but could not be filed against a referral. Check the identifiers against the practice's referral, then file the study with the referral's URN. The images are not shown here."),
    out, h("div", { class: "adm-toolbar" }, refresh(() => draw())), listBox);
  await draw();

  async function draw() {
    const { data } = await api("GET", "/api/films/unmatched");
    const rows = (data || []).map((f, i) => {
      const input = h("input", { type: "text", id: `urn-${i}`, class: "adm-urn-input", autocomplete: "off", spellcheck: "false", maxlength: 14,
        "aria-describedby": `urn-${i}-error` });
      const err = h("span", { class: "app-error-message", id: `urn-${i}-error`, hidden: true });
      const what = f.accession_number ? `study ${f.accession_number}` : "this study";
      const form = h("form", { class: "adm-attach", novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        err.hidden = true;
        input.removeAttribute("aria-invalid");
        if (!input.value.trim()) return bad("Enter the referral's URN: 10 letters and digits, for example CJGKBTG22K.");
        const button = form.querySelector("button");
        button.disabled = true;
        try {
          const { data: res } = await api("POST", `/api/films/unmatched/${encodeURIComponent(f.study_uid)}/attach`, { body: { urn: input.value.trim() } });
          result(out, `Filed ${what} (${f.patient_name || "no patient name"}) with referral ${res.urn}. The referral now has ${plural(res.films, "film", "films")}.`);
          await draw();
          out.querySelector(".app-notice").focus();
        } catch (e2) {
          button.disabled = false;
          bad(e2 instanceof ApiError ? (e2.fields?.[0]?.message || e2.message) : "The study could not be filed. Try again.");
        }
      } },
      h("label", { for: `urn-${i}`, class: "adm-inline-label" }, "Referral URN", h("span", { class: "app-visually-hidden" }, ` for ${what}`)),
      err,
      h("div", { class: "adm-attach__row" }, input, h("button", { type: "submit", class: "adm-small" }, "File it", h("span", { class: "app-visually-hidden" }, ` (${what})`))));
      function bad(msg) {
        err.textContent = msg;
        err.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return h("tr", { id: `unmatched-${i}`, dataset: { study: f.study_uid } },
        h("td", {}, fmt.dateTime(f.at)),
        h("td", {}, h("dl", { class: "adm-ids" },
          h("dt", {}, "Patient name"), h("dd", { class: "adm-mono" }, f.patient_name || "—"),
          h("dt", {}, "Patient ID"), h("dd", { class: "adm-mono" }, f.patient_id || "—"),
          h("dt", {}, "Birth date"), h("dd", {}, dicomDate(f.birth_date) || "—"))),
        h("td", {}, h("dl", { class: "adm-ids" },
          h("dt", {}, "Accession"), h("dd", { class: "adm-mono" }, f.accession_number || "—"),
          h("dt", {}, "Study date"), h("dd", {}, dicomDate(f.study_date) || "—"),
          h("dt", {}, "Modality"), h("dd", {}, f.modalities || "—")),
          h("span", { class: "adm-sub adm-break" }, `Study UID ${f.study_uid}`)),
        h("td", {}, f.why),
        h("td", {}, form));
    });
    listBox.replaceChildren(
      h("p", { class: "app-caption" }, `${plural(rows.length, "study", "studies")} waiting to be filed.`),
      tableOf("unmatched-table", "Unmatched studies", ["Received", "Patient as sent", "Study", "Why it was not filed", "File with a referral"], rows,
        { empty: "Every study that arrived is filed with its referral." }));
  }
}

// ---- outbox ----------------------------------------------------------------------------

async function outbox(sec) {
  const listBox = h("div", { id: "outbox-list" });
  sec.append(
    h("p", {}, "Text messages and voice calls Molar sent: sign-in codes and referral updates for patients. Messages carry no clinical content. Newest first, the last 50."),
    h("div", { class: "adm-toolbar" }, refresh(() => draw())), listBox);
  await draw();

  async function draw() {
    const { data } = await call("GET", "/admin/outbox?format=json&limit=50");
    const channel = (c) => ({ sms: "Text message", voice: "Voice call" })[c] || c;
    const rows = (data.messages || []).map((m) => h("tr", {},
      h("td", { class: "adm-nowrap" }, fmt.dateTime(m.sent_at)),
      h("td", { class: "adm-nowrap" }, phone(m.to)),
      h("td", {}, channel(m.channel)),
      h("td", { class: "adm-text" }, m.text),
      h("td", { class: "adm-break adm-sub-cell" }, m.reference || "")));
    const failed = (data.failed || []).map((d) => h("tr", {},
      h("td", { class: "adm-nowrap" }, fmt.dateTime(d.updated_at)),
      h("td", { class: "adm-nowrap" }, phone(d.message?.to)),
      h("td", {}, channel(d.message?.channel)),
      h("td", {}, String(d.attempts)),
      h("td", {}, d.status || d.state || ""),
      h("td", {}, d.last_error || "")));
    listBox.replaceChildren(
      tableOf("outbox-table", "Messages sent", ["Sent", "To", "Channel", "Text", "Reference"], rows, { empty: "No messages have been sent." }),
      h("h3", {}, "Failed deliveries"),
      tableOf("failed-table", "Failed deliveries", ["Last update", "To", "Channel", "Attempts", "Status", "Why"], failed, { empty: "No failed deliveries." }));
  }
}

// ---- forwarding queue -------------------------------------------------------------------

async function forwarding(sec) {
  const out = live("forwarding-result");
  const counts = h("div", { id: "forwarding-counts" });
  const listBox = h("div", { id: "forwarding-list" });
  const filter = h("select", { id: "fw-state", onchange: () => draw() },
    h("option", { value: "" }, "All jobs"),
    Object.entries(stateWords).map(([v, [t]]) => h("option", { value: v }, t)));
  sec.append(
    h("p", {}, "Films of referrals accepted by a provider with a PACS are sent to it by DICOM. A job that fails is retried with growing pauses until it has been failing for a week."),
    out, counts,
    h("div", { class: "adm-toolbar" }, h("div", { class: "adm-inline-field" }, h("label", { for: "fw-state" }, "Show"), filter), refresh(() => draw())),
    listBox);
  await draw();

  let timer = null;
  async function draw({ keep } = {}) {
    const q = filter.value ? `?state=${encodeURIComponent(filter.value)}` : "";
    // The counts are of the latest 1000 jobs (the API's most); the
    // table lists the latest 100 of the state chosen.
    const [{ data }, all] = await Promise.all([call("GET", `/admin/forward/jobs${q}`), call("GET", "/admin/forward/jobs?limit=1000")]);
    const jobs = data.jobs || [];
    const tally = {};
    for (const j of all.data.jobs || []) tally[j.state] = (tally[j.state] || 0) + 1;
    counts.replaceChildren(...[h("ul", { class: "adm-counts", "aria-label": "Jobs by state" },
      Object.entries(stateWords).map(([st, [t, colour]]) => h("li", { class: `adm-count adm-count--${colour}` }, h("span", { class: "adm-count__n" }, String(tally[st] || 0)), ` ${t}`))),
    all.data.jobs.length >= 1000 ? h("p", { class: "app-caption" }, "Counts of the latest 1000 jobs.") : null].filter(Boolean));
    const rows = jobs.map((j) => {
      const [word, colour] = stateWords[j.state] || [j.state, "grey"];
      const pending = ["queued", "sending", "retry-wait"].includes(j.state);
      return h("tr", { id: `job-${j.id}`, dataset: { job: j.id, state: j.state, attempts: String(j.attempts) } },
        h("td", {}, h("span", { class: "app-urn" }, j.reference), j.reason ? h("span", { class: "adm-sub" }, j.reason) : null),
        h("td", { class: "adm-mono" }, j.node.ae_title, h("span", { class: "adm-sub" }, `${j.node.host}:${j.node.port}`)),
        h("td", {}, tag(word, colour)),
        h("td", { class: "num" }, String(j.attempts)),
        h("td", { class: "num" }, `${j.instances_sent} of ${j.instances_total}`, j.instances_failed ? h("span", { class: "adm-sub" }, `${j.instances_failed} refused`) : null),
        h("td", { class: "adm-error-cell" }, j.last_error || "—"),
        h("td", {}, j.next_attempt_at && pending ? h("time", { datetime: j.next_attempt_at, title: fmt.dateTime(j.next_attempt_at) }, soon(j.next_attempt_at)) : "—",
          pending && j.give_up_at ? h("span", { class: "adm-sub" }, `gives up ${fmt.dateTime(j.give_up_at)}`) : null),
        h("td", { class: "adm-actions" },
          ["retry-wait", "failed", "cancelled"].includes(j.state)
            ? h("button", { type: "button", class: "adm-small", "data-retry": j.id, onclick: (e) => retry(j, e.currentTarget) }, "Retry", h("span", { class: "app-visually-hidden" }, ` ${j.reference}`)) : null,
          pending ? h("button", { type: "button", class: "app-button--secondary adm-small", "data-cancel": j.id,
            onclick: (e) => confirmInline(e.currentTarget, `Stop sending the films of ${j.reference}?`, "Yes, cancel", () => act(j, "cancel")) },
          "Cancel", h("span", { class: "app-visually-hidden" }, ` ${j.reference}`)) : null));
    });
    listBox.replaceChildren(tableOf("forwarding-table", "Forwarding jobs",
      ["Referral", "DICOM node", "State", "Attempts", "Films sent", "Last error", "Next attempt", h("span", { class: "app-visually-hidden" }, "Actions")], rows,
      { empty: filter.value ? "No jobs in this state." : "No films have been forwarded." }));
    if (keep) document.querySelector(`#job-${keep} button`)?.focus();
  }

  async function retry(j, button) {
    button.disabled = true;
    await act(j, "retry");
  }

  async function act(j, what) {
    try {
      const { data } = await call("POST", `/admin/forward/jobs/${encodeURIComponent(j.id)}/${what}`);
      const [word] = stateWords[data.state] || [data.state];
      result(out, what === "retry"
        ? `Retry of ${j.reference} to ${j.node.ae_title}: now ${word.toLowerCase()}; the next attempt starts at once. The list updates in a few seconds.`
        : `Forwarding of ${j.reference} to ${j.node.ae_title} is cancelled.`);
    } catch (err) {
      result(out, err.message, "error");
    }
    await draw({ keep: j.id });
    // The worker takes the job within a second or two: show its outcome.
    clearTimeout(timer);
    if (what === "retry") timer = setTimeout(() => { if (!sec.hidden) draw({ keep: sec.contains(document.activeElement) ? j.id : null }).catch(() => {}); }, 2500);
  }
}

// ---- audit ------------------------------------------------------------------------------

async function audit(sec) {
  // Only the latest search may draw: an earlier one answering late (the
  // unfiltered list the tab opened with) must not replace its rows.
  let latest = 0;
  const inputs = {
    urn: h("input", { type: "text", id: "au-urn", autocomplete: "off", spellcheck: "false", maxlength: 14 }),
    nhs: h("input", { type: "text", id: "au-nhs", inputmode: "numeric", autocomplete: "off", maxlength: 14 }),
    user: h("input", { type: "text", id: "au-user", autocomplete: "off", spellcheck: "false", class: "app-input--wide" }),
    from: h("input", { type: "date", id: "au-from" }),
    to: h("input", { type: "date", id: "au-to" }),
  };
  const exportLink = h("a", { id: "audit-export", class: "app-button app-button--secondary", href: "/admin/audit?format=jsonl", download: "audit.jsonl" }, "Export as JSON lines");
  const status = h("p", { class: "app-caption", role: "status", id: "audit-status" });
  const listBox = h("div", { id: "audit-list" });
  const form = h("form", { class: "app-card adm-form adm-audit-form", novalidate: true, "aria-label": "Search the audit log", onsubmit: (e) => { e.preventDefault(); search(); } },
    h("div", { class: "adm-filters" },
      field("au-urn", "Referral URN", inputs.urn, "10 letters and digits."),
      field("au-nhs", "NHS number", inputs.nhs, "10 digits."),
      field("au-user", "User", inputs.user, "Email address or user ID."),
      field("au-from", "From", inputs.from, "First day."),
      field("au-to", "To", inputs.to, "Last day, included.")),
    h("button", { type: "submit" }, "Search"),
    h("button", { type: "button", class: "app-button--secondary", onclick: () => { Object.values(inputs).forEach((i) => { i.value = ""; }); search(); } }, "Clear"),
    exportLink);
  sec.append(h("p", {}, "Every read of patient data, and every refusal, newest first. Search by any of these; leave them blank for the latest entries."), form, status, listBox);
  if (!usersCache && sectionsFor[role]?.includes("users")) await loadUsers().catch(() => {});
  await search();

  // params builds the query the search and the export share. Days are
  // the browser's local days.
  function params() {
    const q = new URLSearchParams();
    const urn = inputs.urn.value.trim().toUpperCase();
    if (urn) q.set("urn", urn);
    const nhs = inputs.nhs.value.replace(/[\s-]/g, "");
    if (nhs) q.set("nhs", nhs);
    let user = inputs.user.value.trim();
    if (user.includes("@") && usersCache) {
      const u = [...usersCache.values()].find((x) => x.email === user.toLowerCase());
      if (u) user = u.id;
    }
    if (user) q.set("user", user);
    const iso = (d) => new Date(`${d}T00:00:00`).toISOString().replace(/\.000Z$/, "Z");
    if (inputs.from.value) q.set("from", iso(inputs.from.value));
    if (inputs.to.value) {
      const end = new Date(`${inputs.to.value}T00:00:00`);
      end.setDate(end.getDate() + 1);
      q.set("to", end.toISOString().replace(/\.000Z$/, "Z"));
    }
    return q;
  }

  async function search(cursor) {
    const mine = ++latest;
    const q = params();
    const ex = new URLSearchParams(q);
    ex.set("format", "jsonl");
    exportLink.href = `/admin/audit?${ex}`;
    if (cursor) q.set("cursor", cursor);
    q.set("format", "json");
    status.textContent = "Searching…";
    try {
      const { data } = await call("GET", `/admin/audit?${q}`);
      if (mine !== latest) return;
      const rows = (data.entries || []).map(entryRow);
      let body = listBox.querySelector("#audit-table tbody");
      if (cursor && body) body.append(...rows);
      else {
        listBox.replaceChildren(tableOf("audit-table", "Audit log entries",
          ["Time", "User", "Role", "Organisation", "Action", "Resource", "Outcome", "Detail"], rows,
          { empty: "No entries match. Check the URN, NHS number or user, or widen the dates." }));
        body = listBox.querySelector("#audit-table tbody");
      }
      listBox.querySelector("#audit-more")?.remove();
      const shown = body ? body.rows.length : 0;
      if (data.next) listBox.append(h("button", { type: "button", class: "app-button--secondary", id: "audit-more", onclick: () => search(data.next) }, "Show older entries"));
      status.textContent = `${plural(shown, "entry", "entries")} shown${data.next ? "; there are older ones" : ""}.`;
    } catch (err) {
      if (mine !== latest) return;
      status.textContent = "";
      listBox.replaceChildren();
      fail(listBox, err);
    }
  }

  function entryRow(e) {
    const [word, colour] = outcomeWords[e.outcome] || [e.outcome, "grey"];
    const who = usersCache?.get(e.user);
    return h("tr", { class: e.outcome !== "ok" ? `adm-row--${e.outcome}` : null },
      h("td", { class: "adm-nowrap" }, fmt.dateTime(e.time)),
      h("td", { class: "adm-break" }, who ? [who.name, h("span", { class: "adm-sub" }, who.email)] : e.user || "—",
        e.on_behalf_of ? h("span", { class: "adm-sub" }, `on behalf of ${usersCache?.get(e.on_behalf_of)?.name || e.on_behalf_of}`) : null),
      h("td", {}, e.role ? roleLabel(e.role) : "—"),
      h("td", {}, e.org || "—"),
      h("td", { class: "adm-break" }, e.action),
      h("td", { class: "adm-break" }, e.resource || "—",
        e.urn ? h("span", { class: "adm-sub" }, "Referral ", h("span", { class: "adm-mono" }, e.urn)) : null,
        e.nhs_number ? h("span", { class: "adm-sub" }, `NHS number ${fmt.nhs(e.nhs_number)}`) : null,
        e.calling_ae ? h("span", { class: "adm-sub" }, `AE ${e.calling_ae}`) : null),
      h("td", {}, tag(word, colour)),
      h("td", { class: "adm-break" }, e.detail || ""));
  }
}

// ---- the sections -------------------------------------------------------------------------

function refresh(fn) {
  return h("button", { type: "button", class: "app-button--secondary adm-small", onclick: async (e) => {
    const b = e.currentTarget;
    b.disabled = true;
    try { await fn(); } catch (err) { fail(b.closest("section"), err); } finally { b.disabled = false; b.focus(); }
  } }, "Refresh");
}

const all = [
  { id: "users", title: "Users", run: users },
  { id: "unmatched", title: "Unmatched films", run: unmatched },
  { id: "outbox", title: "Outbox", run: outbox },
  { id: "forwarding", title: "Forwarding queue", run: forwarding },
  { id: "audit", title: "Audit log", run: audit },
];
const sections = all.filter((s) => may.has(sectionAction[s.id]));

if (!sections.length) {
  notice(main, "Your role has nothing to administer here.", "warning");
} else {
  const nav = h("nav", { class: "adm-tabs", "aria-label": "Administration sections" },
    h("ul", {}, sections.map((s) => h("li", {}, h("a", { href: `#${s.id}`, id: `tab-${s.id}` }, s.title)))));
  const panels = sections.map((s) => {
    const el = h("section", { id: s.id, class: "adm-section", "aria-labelledby": `${s.id}-h`, hidden: true },
      h("h2", { id: `${s.id}-h`, tabindex: "-1" }, s.title));
    s.el = el;
    return el;
  });
  main.append(nav, ...panels);

  const show = async (focus) => {
    const id = location.hash.slice(1);
    const s = sections.find((x) => x.id === id) || sections[0];
    for (const x of sections) {
      x.el.hidden = x !== s;
      document.getElementById(`tab-${x.id}`).toggleAttribute("aria-current", x === s);
      if (x === s) document.getElementById(`tab-${x.id}`).setAttribute("aria-current", "page");
    }
    document.title = `${s.title} – Administration – Molar`;
    if (focus) s.el.querySelector("h2").focus();
    if (!s.loaded) {
      s.loaded = true;
      s.el.setAttribute("aria-busy", "true");
      try { await s.run(s.el); } catch (err) { s.loaded = false; fail(s.el, err); }
      s.el.setAttribute("aria-busy", "false");
    }
  };
  window.addEventListener("hashchange", () => show(true));
  // The browser would scroll to the section on load: the tabs are above it.
  if (location.hash) window.scrollTo(0, 0);
  show(false);
}
