// Directory of Services: the service definer's list and editor of the
// HealthcareService entries (GET/POST /api/services, GET/PUT
// /api/services/{id} with If-Match). The API decides who may change what:
// a definer maintains their own organisation's services only, and its
// answer is shown as it comes.
//
// Publishing free slots of a directly bookable service (POST
// /api/services/{id}/slots) is for the service's booking staff
// (referral.book); the matrix does not give it to service definers, who
// are the only ones who open this page, so it is not offered here.
import { start, api, h, fail, fmt, param, style, ApiError } from "/app/assets/common.js";
import { PROCEDURES, ANAESTHESIA } from "/app/assets/vocab.js";

style("services");
const { main, session } = await start();
const myOrg = session.grant.org;

// ---- vocabularies (referral/directory.go, referral/validate.go) -----------

const specialties = [
  ["oral-surgery", "Oral surgery"], ["orthodontics", "Orthodontics"], ["endodontics", "Endodontics"],
  ["sedation", "Sedation"], ["oral-medicine", "Oral medicine"], ["triage", "Triage (clinical assessment service)"],
];
const tiers = [
  ["L1", "Level 1", "routine care a practice can give"], ["L2", "Level 2", "needs a practitioner with enhanced skills"],
  ["L3a", "Level 3a", "consultant-led, in primary or secondary care"], ["L3b", "Level 3b", "consultant-led, in hospital"],
];
const procedures = Object.entries(PROCEDURES);
const anaesthesia = Object.entries(ANAESTHESIA);
const bookingModels = [
  ["DBS", "Directly bookable (DBS)", "the referral books one of the service's free slots"],
  ["IBS", "Indirectly bookable (IBS)", "the service contacts the patient to arrange an appointment"],
];
const label = (list, v) => (list.find((x) => x[0] === v) || [v, v])[1];

// ---- navigation within the page ------------------------------------------

// The view follows the URL: /app/services (the list), ?new=1 (add),
// ?id=… (edit), so that reload, Back and bookmarks work.
let flash = null; // {text, id}: what the list says after a save
const body = h("div", { id: "services-view" });
main.append(body);

function go(search, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", location.pathname + search);
  render();
}
window.addEventListener("popstate", render);

function link(search, text, attrs = {}) {
  return h("a", { href: location.pathname + search, ...attrs, onclick: (e) => {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    go(search);
  } }, text);
}

async function render() {
  const id = param("id");
  try {
    if (id) await editor(id);
    else if (param("new")) await editor(null);
    else await list();
  } catch (err) {
    body.replaceChildren(h("p", {}, link("", "Back to the Directory of Services")));
    fail(body, err);
  }
}

// ---- the list ----------------------------------------------------------------

function tag(text, kind) { return h("span", { class: `app-tag svc-tag--${kind}` }, text); }

async function list() {
  body.setAttribute("aria-busy", "true");
  const { data } = await api("GET", "/api/services");
  const services = (data || []).slice().sort((a, b) => (a.org_ods === myOrg ? 0 : 1) - (b.org_ods === myOrg ? 0 : 1) || a.name.localeCompare(b.name));
  const mine = services.filter((s) => s.org_ods === myOrg).length;
  const parts = [];
  if (flash) {
    parts.push(h("div", { class: "app-notice app-notice--success", role: "status", tabindex: "-1", id: "saved" }, flash.text));
  }
  parts.push(
    h("p", {}, `You maintain the services of ${myOrg}: ${mine} of the ${services.length} services listed. Services of other organisations are shown for reference; only their own service definers can change them.`),
    link("?new=1", "Add a service", { class: "app-button", id: "add-service" }),
    h("div", { class: "svc-table" },
      h("table", { class: "app-table", id: "services" },
        h("caption", { class: "app-visually-hidden" }, "Services in the Directory of Services"),
        h("thead", {}, h("tr", {},
          ["Service", "Specialty", "Tiers", "Booking", "Commissioned", "DICOM node", h("span", { class: "app-visually-hidden" }, "Actions")]
            .map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, services.map((s) => row(s, flash && flash.id === s.id))))));
  body.replaceChildren(...parts);
  body.setAttribute("aria-busy", "false");
  if (flash) { document.getElementById("saved").focus(); flash = null; }
}

function row(s, just) {
  const own = s.org_ods === myOrg;
  const where = [s.org_name, s.org_ods, s.location_ods && s.location_ods !== s.org_ods ? `site ${s.location_ods}` : null].filter(Boolean).join(" · ");
  const node = s.dicom ? `${s.dicom.ae_title} at ${s.dicom.host}:${s.dicom.port}` : "None";
  return h("tr", { id: `svc-${s.id}`, class: just ? "svc-row--saved" : null, dataset: { id: s.id } },
    h("td", {}, h("strong", { class: "svc-name" }, s.name), h("span", { class: "svc-sub" }, where),
      s.phone ? h("span", { class: "svc-sub" }, s.phone) : null),
    h("td", {}, label(specialties, s.specialty).replace(/ \(.*\)$/, "")),
    h("td", {}, (s.tiers || []).length ? s.tiers.join(", ") : "—"),
    h("td", {}, h("abbr", { title: label(bookingModels, s.booking_model) }, s.booking_model)),
    h("td", {}, s.commissioned ? tag("Commissioned", "yes") : tag("Not commissioned", "no")),
    h("td", { class: "svc-node" }, node),
    h("td", {}, link(`?id=${encodeURIComponent(s.id)}`, [own ? "Edit" : "View", h("span", { class: "app-visually-hidden" }, ` ${s.name}`)], { class: "svc-edit" }),
      own ? null : h("span", { class: "svc-sub" }, "Another organisation's")));
}

// ---- the editor ----------------------------------------------------------------

const fieldId = (key) => "f-" + key.replace(/\./g, "-");
const errId = (key) => "err-" + key.replace(/\./g, "-");

function wrap(key, content, { group = false } = {}) {
  return h(group ? "fieldset" : "div", { class: "app-field", id: `fld-${key.replace(/\./g, "-")}`, "aria-describedby": group ? `${fieldId(key)}-hint ${errId(key)}` : null }, content);
}
function errorSpan(key) { return h("span", { class: "app-error-message", id: errId(key), hidden: true }); }

function text(key, labelText, value, { hint, type = "text", wide = false, autocomplete, inputmode, spellcheck } = {}) {
  const described = [hint ? `${fieldId(key)}-hint` : null, errId(key)].filter(Boolean).join(" ");
  return wrap(key, [
    h("label", { for: fieldId(key) }, labelText),
    hint ? h("span", { class: "app-hint", id: `${fieldId(key)}-hint` }, hint) : null,
    errorSpan(key),
    h("input", { type, id: fieldId(key), name: key, value: value ?? "", class: wide ? "app-input--wide" : "svc-input", autocomplete: autocomplete || "off",
      inputmode, spellcheck, "aria-describedby": described }),
  ]);
}

function area(key, labelText, value, hint) {
  return wrap(key, [
    h("label", { for: fieldId(key) }, labelText),
    hint ? h("span", { class: "app-hint", id: `${fieldId(key)}-hint` }, hint) : null,
    errorSpan(key),
    h("textarea", { id: fieldId(key), name: key, rows: 3, "aria-describedby": [hint ? `${fieldId(key)}-hint` : null, errId(key)].filter(Boolean).join(" ") }, value || ""),
  ]);
}

function checks(key, legend, options, selected, hint) {
  const set = new Set(selected || []);
  return wrap(key, [
    h("legend", {}, legend),
    h("span", { class: "app-hint", id: `${fieldId(key)}-hint` }, hint || ""),
    errorSpan(key),
    h("div", { class: "svc-checks" }, options.map(([v, text, more], i) => h("label", { class: "app-checkbox" },
      h("input", { type: "checkbox", name: key, value: v, id: i === 0 ? fieldId(key) : `${fieldId(key)}-${i}`, checked: set.has(v) }),
      h("span", {}, text, more ? h("span", { class: "svc-more" }, ` – ${more}`) : null)))),
  ], { group: true });
}

function radios(key, legend, options, value) {
  return wrap(key, [
    h("legend", {}, legend),
    h("span", { class: "app-hint", id: `${fieldId(key)}-hint` }, ""),
    errorSpan(key),
    options.map(([v, text, more], i) => h("label", { class: "app-radio" },
      h("input", { type: "radio", name: key, value: v, id: i === 0 ? fieldId(key) : `${fieldId(key)}-${i}`, checked: value === v }),
      h("span", {}, text, more ? h("span", { class: "svc-more" }, ` – ${more}`) : null))),
  ], { group: true });
}

function select(key, labelText, options, value) {
  return wrap(key, [
    h("label", { for: fieldId(key) }, labelText),
    errorSpan(key),
    h("select", { id: fieldId(key), name: key, "aria-describedby": errId(key) },
      h("option", { value: "", selected: !value }, "Choose a specialty"),
      options.map(([v, t]) => h("option", { value: v, selected: value === v }, t))),
  ]);
}

async function editor(id) {
  let svc = { org_ods: myOrg, booking_model: "IBS", commissioned: false, tiers: [], procedures: [], triage_for: [], anaesthesia: [] };
  let version;
  if (id) {
    const res = await api("GET", `/api/services/${encodeURIComponent(id)}`);
    svc = res.data;
    version = res.version ?? svc.version;
  }
  const own = svc.org_ods === myOrg;
  const summary = h("div", { class: "svc-error-summary", id: "error-summary", role: "alert", tabindex: "-1", hidden: true, "aria-labelledby": "error-summary-title" });
  const note = h("div", { id: "editor-note" });
  const triageFor = checks("triage_for", "Triages referrals for", specialties.filter(([v]) => v !== "triage"), svc.triage_for,
    "Tick none to triage referrals of every specialty.");
  const form = h("form", { id: "service-form", novalidate: true, class: "svc-form", onsubmit: (e) => { e.preventDefault(); save(); } },
    h("fieldset", { class: "app-card" }, h("legend", { class: "svc-legend" }, h("h3", {}, "The service")),
      text("name", "Service name", svc.name, { wide: true, hint: "As referrers and patients will see it." }),
      select("specialty", "Specialty", specialties, svc.specialty),
      h("div", { class: "app-field" }, h("label", { class: "app-checkbox" },
        h("input", { type: "checkbox", id: fieldId("commissioned"), name: "commissioned", checked: !!svc.commissioned }),
        h("span", {}, "Commissioned: the service receives referrals"))),
      area("criteria", "Referral criteria", svc.criteria, "Shown to referrers: who the service is for.")),
    h("fieldset", { class: "app-card" }, h("legend", { class: "svc-legend" }, h("h3", {}, "Organisation and site")),
      text("org_ods", "Organisation ODS code", svc.org_ods, { hint: `The provider organisation, for example RZZ01. You maintain the services of ${myOrg}.`, spellcheck: "false" }),
      text("org_name", "Organisation name", svc.org_name, { wide: true, hint: "Shown to patients on the tracker." }),
      text("location_ods", "Site ODS code", svc.location_ods, { hint: "Where patients are seen, for example RZZ0101. Leave blank to use the organisation's code.", spellcheck: "false" }),
      text("address", "Address", svc.address, { wide: true, autocomplete: "street-address" }),
      text("postcode", "Postcode", svc.postcode, { autocomplete: "postal-code" }),
      text("phone", "Phone number", svc.phone, { type: "tel", autocomplete: "tel" }),
      text("email", "Email address", svc.email, { type: "email", autocomplete: "email" }),
      text("website", "Website", svc.website, { wide: true, autocomplete: "url", inputmode: "url", spellcheck: "false" })),
    h("fieldset", { class: "app-card" }, h("legend", { class: "svc-legend" }, h("h3", {}, "What the service offers")),
      checks("tiers", "Tiers", tiers, svc.tiers, "Choose at least one, except for a triage service."),
      checks("procedures", "Procedures", procedures, svc.procedures, "Tick none if the service takes every procedure."),
      triageFor,
      checks("anaesthesia", "Anaesthesia offered", anaesthesia, svc.anaesthesia, "")),
    h("fieldset", { class: "app-card" }, h("legend", { class: "svc-legend" }, h("h3", {}, "Booking")),
      radios("booking_model", "How patients get an appointment", bookingModels, svc.booking_model || "IBS"),
      area("booking_instructions", "Booking instructions", svc.booking_instructions,
        "Shown to the patient on the tracker: how the appointment will be made (indirectly bookable) or what to bring (directly bookable)."),
      h("p", { class: "app-hint", id: "slots-note", hidden: svc.booking_model !== "DBS" },
        "The free slots of a directly bookable service are published by the service's booking staff (booking manager or provider admin), not here.")),
    h("fieldset", { class: "app-card" }, h("legend", { class: "svc-legend" }, h("h3", {}, "DICOM node for films")),
      h("p", { class: "app-hint" }, "Where the films of accepted referrals are sent by DICOM (the provider's PACS). Leave all three blank if there is none."),
      h("div", { class: "svc-row3" },
        text("dicom.ae_title", "AE title", svc.dicom?.ae_title, { hint: "1 to 16 characters.", spellcheck: "false" }),
        text("dicom.host", "Host name or address", svc.dicom?.host, { hint: "For example pacs.trust.nhs.uk.", spellcheck: "false" }),
        text("dicom.port", "Port", svc.dicom?.port ? String(svc.dicom.port) : "", { inputmode: "numeric", hint: "1 to 65535." }))),
    h("div", { class: "svc-actions" },
      h("button", { type: "submit", id: "save" }, id ? "Save changes" : "Add service"),
      link("", "Cancel", { class: "app-button app-button--secondary" })));

  const spec = form.querySelector(`#${fieldId("specialty")}`);
  const showTriage = () => { triageFor.hidden = spec.value !== "triage"; };
  spec.addEventListener("change", showTriage);
  showTriage();
  form.querySelectorAll('input[name="booking_model"]').forEach((r) => r.addEventListener("change", () => {
    form.querySelector("#slots-note").hidden = form.querySelector('input[name="booking_model"]:checked')?.value !== "DBS";
  }));

  const heading = h("h2", { id: "editor-title", tabindex: "-1" }, id ? `Edit ${svc.name}` : "Add a service");
  body.replaceChildren(...[
    h("p", {}, link("", "Back to the Directory of Services", { class: "svc-back" })),
    heading,
    id ? h("p", { class: "app-caption", id: "version" }, `Version ${version}, last changed ${fmt.dateTime(svc.updated)}.`) : null,
    !own ? h("div", { class: "app-notice app-notice--warning" },
      `This service belongs to ${svc.org_ods}. You maintain the services of ${myOrg} only, so changes to it will be refused.`) : null,
    note, summary, form].filter(Boolean));
  heading.focus();

  let saving = false;
  async function save() {
    if (saving) return;
    saving = true;
    const button = form.querySelector("#save");
    button.disabled = true;
    clearErrors();
    note.replaceChildren();
    try {
      const payload = collect(svc);
      const res = id
        ? await api("PUT", `/api/services/${encodeURIComponent(id)}`, { body: payload, version })
        : await api("POST", "/api/services", { body: payload });
      const saved = res.data;
      flash = { id: saved.id, text: `${id ? "Saved" : "Added"} “${saved.name}” (version ${saved.version}).` };
      go("");
    } catch (err) {
      if (!(err instanceof ApiError)) { fail(note, err); return; }
      switch (err.status) {
        case 422:
          showErrors(err.fields.length ? err.fields : [{ field: "", message: err.message }]);
          break;
        case 403:
          showErrors([{ field: "org_ods", message: err.message }]);
          break;
        case 412:
          note.replaceChildren(h("div", { class: "app-notice app-notice--error", role: "alert", id: "conflict" },
            h("p", { class: "svc-p" }, h("strong", {}, "Someone else changed this service since you opened it. "), err.message),
            h("p", { class: "svc-p" }, "Your changes are still in the form but have not been saved. Load the latest version to see theirs (your changes will be lost), then make yours again."),
            h("button", { type: "button", class: "app-button--secondary", id: "reload-latest", onclick: () => render() }, "Load the latest version")));
          note.querySelector("#conflict").scrollIntoView({ block: "nearest" });
          note.querySelector("#reload-latest").focus();
          break;
        default:
          fail(note, err);
      }
    } finally {
      saving = false;
      button.disabled = false;
    }
  }

  function clearErrors() {
    summary.hidden = true;
    summary.replaceChildren();
    form.querySelectorAll(".app-field--error").forEach((el) => el.classList.remove("app-field--error"));
    form.querySelectorAll(".app-error-message").forEach((el) => { el.hidden = true; el.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  // showErrors puts each message next to its field and lists them all in
  // the summary at the top, each a link to its field.
  function showErrors(errors) {
    const items = [];
    for (const e of errors) {
      const key = e.field || "";
      const span = key && form.querySelector(`#${errId(key)}`);
      const input = key && form.querySelector(`#${fieldId(key)}`);
      if (span) {
        span.textContent = span.textContent ? `${span.textContent} ${e.message}` : e.message;
        span.hidden = false;
        span.closest(".app-field").classList.add("app-field--error");
      }
      if (input) input.setAttribute("aria-invalid", "true");
      items.push(h("li", {}, input
        ? h("a", { href: `#${fieldId(key)}`, onclick: (ev) => { ev.preventDefault(); input.focus(); input.scrollIntoView({ block: "center" }); } }, e.message)
        : e.message));
    }
    summary.replaceChildren(h("h2", { id: "error-summary-title", class: "svc-error-summary__title" }, "There is a problem"), h("ul", {}, items));
    summary.hidden = false;
    summary.focus();
    summary.scrollIntoView({ block: "start" });
  }

  function collect(base) {
    const v = (k) => form.querySelector(`#${fieldId(k)}`).value.trim();
    const all = (k) => [...form.querySelectorAll(`input[name="${k}"]:checked`)].map((i) => i.value);
    const port = v("dicom.port");
    const out = { ...base };
    delete out.id; delete out.version; delete out.updated;
    Object.assign(out, {
      name: v("name"), specialty: form.querySelector(`#${fieldId("specialty")}`).value,
      commissioned: form.querySelector(`#${fieldId("commissioned")}`).checked,
      criteria: v("criteria"),
      org_ods: v("org_ods"), org_name: v("org_name"), location_ods: v("location_ods"), address: v("address"),
      postcode: v("postcode"), phone: v("phone"), email: v("email"), website: v("website"),
      tiers: all("tiers"), procedures: all("procedures"), anaesthesia: all("anaesthesia"),
      triage_for: spec.value === "triage" ? all("triage_for") : [],
      booking_model: form.querySelector('input[name="booking_model"]:checked')?.value || "",
      booking_instructions: v("booking_instructions"),
      // A port that is not a number goes as -1, for the server's message.
      dicom: { ae_title: v("dicom.ae_title"), host: v("dicom.host"), port: port === "" ? 0 : /^\d+$/.test(port) ? Number(port) : -1 },
    });
    return out;
  }
}

render();
