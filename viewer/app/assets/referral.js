// The referral beside its films. The summary (who, why, medical alerts,
// radiographs, referrer, history) is on the left; the film viewer on the
// right. Above the details sits what the reader may do now: the triage
// decision (accept, return, redirect, ask, remind), the treating
// service's steps, or the referrer's (answer, send again, cancel).
// Triage keys: A, B, E, Q, N; J/K next and previous referral of the list
// it was opened from; G to the films. None of them is a film viewer key,
// so they work while the film has the focus too.

import { api, h, fmt, start, fail, notice, param, style, urgencyTag, ApiError } from "/app/assets/common.js";
import { openFilms } from "/assets/film/film.js";
import {
  STATUS, PROCEDURES, ANAESTHESIA, ANTICOAGULANTS, TIERS, PRIORITIES, REASONS, RETURN_TEMPLATES, INFO_TEMPLATES,
  ROLE_LABEL, ACTION_LABEL, tierLabel, priorityLabel, reasonLabel, fill, patientName, age, daysSince, overdue, typing,
  shortcutsHelp, queue, Form, selectField, textareaField, radioField, takeStep, remind, receiving, isClinician,
  providerActions, providerForm, appointmentText, bookingModel,
} from "/app/assets/triage-lib.js";

style("referral");

const timings = { firstFilmMs: null, filmsListedMs: null };
const page = { viewer: null, timings, referral: null };
window.molarReferral = page; // for people debugging and for the page tests

const idParam = param("id");
const urnParam = param("urn");
// The referral and the directory are asked for while the session is read.
const refP = (idParam ? api("GET", `/api/referrals/${encodeURIComponent(idParam)}`)
  : urnParam ? api("GET", `/api/referrals?urn=${encodeURIComponent(urnParam.trim())}`)
    : Promise.reject(new ApiError(400, "Open a referral from a worklist: this address names none.")))
  .then((r) => ({ ref: { ...r.data, version: r.version || r.data.version } }), (err) => ({ err }));
const servicesP = api("GET", "/api/services").then((r) => r.data || [], () => []);

const { main, session } = await start({ title: "Referral" });
const role = session.grant.role;
const org = session.grant.org;

const got = await refP;
if (got.err) {
  const err = got.err;
  if (err.status === 404) notice(main, "We cannot find this referral, or it is not one you can see. Check the URN, or open it from your worklist.");
  else fail(main, err);
  main.append(h("p", {}, h("a", { href: isClinician(role) ? "/app/triage" : "/app/" }, "Go back to your worklist")));
} else {
  await show(got.ref);
}

async function show(first) {
  let ref = first;
  page.referral = ref;
  const filmList = listFilms(ref); // at once: the films matter most
  const services = await servicesP;
  const serviceById = new Map(services.map((s) => [s.id, s]));
  let events = null;

  // --- layout --------------------------------------------------------------
  const h1 = main.querySelector("h1");
  const urnEl = h("span", { class: "app-urn ref-urn" }, ref.urn || "Draft");
  h1.replaceChildren("Referral ", urnEl);
  document.title = `${ref.urn || "Draft"} ${patientName(ref.patient)} – Molar`;

  const side = h("div", { class: "ref-side", role: "region", "aria-label": "The referral", tabindex: "0" });
  const filmsBox = h("div", { class: "ref-films__viewer" });
  const films = h("div", { class: "ref-films", role: "region", "aria-label": "Films" }, filmsBox);
  const layout = h("div", { class: "ref-layout" }, side, films);
  main.append(layout);
  fitHeight(layout);

  const q = queue.around(ref.id);
  const nav = queueNav(q);
  nav.append(h("a", { href: "#films", class: "ref-queue__films", "aria-keyshortcuts": "G", onclick: (e) => { e.preventDefault(); goToFilms(); } },
    "Films ", h("kbd", { class: "app-kbd", "aria-hidden": "true" }, "G")));
  films.id = "films";
  const goToFilms = () => {
    const pane = films.querySelector(".film-pane");
    films.scrollIntoView({ block: "nearest" });
    if (pane) pane.focus({ preventScroll: true });
  };
  const identity = h("section", { class: "app-card ref-identity", "aria-labelledby": "ref-patient" });
  const alerts = h("div", { class: "ref-alerts-box" });
  const panelBox = h("div", { id: "ref-panel" });
  const details = h("div", { class: "ref-details" });
  const historyBox = h("section", { class: "app-card ref-history", "aria-labelledby": "ref-history-title" },
    h("h2", { id: "ref-history-title" }, "History"), h("p", { class: "app-loading" }, "Loading the history…"));
  side.append(nav, identity, alerts, panelBox, details, historyBox);

  const render = () => {
    page.referral = ref;
    identity.replaceChildren(...identityCard(ref));
    alerts.replaceChildren(...medicalAlerts(ref));
    details.replaceChildren(...detailSections(ref, serviceById));
    renderPanel();
  };

  // --- history -------------------------------------------------------------
  const loadHistory = async () => {
    try {
      const r = await api("GET", `/api/referrals/${encodeURIComponent(ref.id)}/history`);
      events = r.data || [];
    } catch (err) {
      events = null;
      historyBox.replaceChildren(h("h2", { id: "ref-history-title" }, "History"), h("p", {}, err.message || "The history could not be read."));
      return;
    }
    historyBox.replaceChildren(h("h2", { id: "ref-history-title" }, "History"), historyList(events));
    if (panelNeedsHistory) renderPanel(panelBox.querySelector(".ref-done"));
  };
  let panelNeedsHistory = false;

  // --- the panel: what the reader may do -------------------------------------
  let openKind = null;
  const shortcutButtons = new Map(); // key → button

  function renderPanel(message) {
    shortcutButtons.clear();
    panelNeedsHistory = false;
    const triage = isClinician(role) && org === ref.triage_org && ["AWAITING_TRIAGE", "INFO_REQUESTED"].includes(ref.status);
    const provider = isClinician(role) && org === ref.provider_org && providerActions(ref.status, role).length > 0;
    const referrer = role === "referrer" && org === (ref.referrer && ref.referrer.practice_ods);
    let card = null;
    if (triage) card = triagePanel();
    else if (provider) card = providerPanel();
    else if (referrer) card = referrerPanel();
    panelBox.replaceChildren(...[message, card].filter(Boolean));
  }

  function panelCard(title, intro, buttons, extra) {
    const area = h("div", { class: "ref-panel__form" });
    const card = h("section", { class: "app-card ref-panel", "aria-labelledby": "ref-panel-title" },
      h("h2", { id: "ref-panel-title" }, title), intro ? h("p", { class: "ref-panel__intro" }, intro) : null,
      h("div", { class: "ref-panel__buttons" }, buttons), area, extra);
    return { card, area };
  }

  function actionButton(label, key, onClick, cls) {
    const b = h("button", { type: "button", class: `ref-action ${cls || ""}`, "aria-keyshortcuts": key || null, "aria-pressed": "false" },
      label, key ? h("kbd", { class: "ref-kbd", "aria-hidden": "true" }, key) : null);
    b.addEventListener("click", onClick);
    if (key) shortcutButtons.set(key.toLowerCase(), b);
    return b;
  }

  function openForm(area, buttons, button, kind, form) {
    // Words written in another form are not thrown away unasked.
    if (written(area) && !confirm("Discard what you have written in the open form?")) return;
    openKind = kind;
    for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
    area.replaceChildren(form.el);
    form.closeTo = button;
    form.focusFirst();
    form.el.scrollIntoView({ block: "nearest" });
    if (form.ready) form.ready.then(() => { if (!area.contains(document.activeElement) || document.activeElement === form.submit) form.focusFirst(); });
  }

  function written(area) {
    return [...area.querySelectorAll("textarea")].some((t) => t.value.trim() && t.value !== t.defaultValue && t.value !== t.dataset.filled);
  }

  function closeForm(area, buttons) {
    if (written(area) && !confirm("Discard what you have written?")) return;
    const back = buttons.find((b) => b.getAttribute("aria-pressed") === "true");
    openKind = null;
    for (const b of buttons) b.setAttribute("aria-pressed", "false");
    area.replaceChildren();
    if (back) back.focus();
  }

  // done is every step's ending: the referral as it is now, a message,
  // the history again, and the way to the next referral.
  async function done(result, message) {
    ref = { ...result.referral, version: result.version || result.referral.version };
    render();
    const next = q && q.next;
    const msg = h("div", { class: "app-notice app-notice--success ref-done", role: "status", tabindex: "-1" },
      h("p", {}, message),
      next ? h("p", {}, h("a", { href: `/app/referral?id=${encodeURIComponent(next)}`, class: "ref-next" }, "Open the next referral"), " ",
        h("kbd", { class: "app-kbd" }, "J")) : q ? h("p", {}, h("a", { href: q.back }, `That was the last one: back to ${q.label}`)) : null);
    renderPanel(msg);
    msg.focus();
    msg.scrollIntoView({ block: "nearest" });
    loadHistory();
  }

  function triagePanel() {
    const st = ref.status;
    const buttons = [];
    const { card, area } = panelCard("Your triage decision", null, buttons, panelHelp());
    const add = (label, key, kind, build, cls) => {
      const b = actionButton(label, key, () => {
        if (openKind === kind) return closeForm(area, buttons);
        openForm(area, buttons, b, kind, build());
      }, cls);
      buttons.push(b);
    };
    const cancel = () => closeForm(area, buttons);
    add("Accept", "A", "accept", () => acceptForm(cancel));
    add("Return to referrer", "B", "return", () => adviceForm("return", cancel));
    add("Redirect", "E", "redirect", () => redirectForm(cancel));
    if (st === "AWAITING_TRIAGE") add("Ask for information", "Q", "info", () => adviceForm("info", cancel));
    const due = overdue(ref);
    if (due) add("Send a reminder", "N", "remind", () => remindForm(due, cancel), "app-button--secondary");
    add("Cancel referral", null, "cancel", () => cancelForm(cancel), "app-button--secondary");
    card.querySelector(".ref-panel__buttons").append(...buttons);
    if (due) card.insertBefore(h("p", { class: "ref-overdue" }, h("strong", {}, "Overdue: "), due,
      ref.reminders ? ` The practice has been reminded ${ref.reminders === 1 ? "once" : `${ref.reminders} times`}, last on ${fmt.date(ref.last_reminded)}.` : ""),
    card.querySelector(".ref-panel__buttons"));
    return card;
  }

  function panelHelp() {
    return shortcutsHelp([
      ["A", "Accept: tier, service, priority, see and treat"],
      ["B", "Return to the referrer with advice (templates)"],
      ["E", "Redirect to another service or to secondary care"],
      ["Q", "Ask the referrer for information"],
      ["N", "Send a reminder, when something is overdue"],
      ["Esc", "Close the form (from inside it)"],
      ["Ctrl+Enter", "Send the form (from inside it)"],
      ["J / K", "Next or previous referral of your list"],
      ["G", "Go to the films (then ? for the film keys)"],
    ], "These keys work anywhere on this page except while you type, including while a film has the focus. The film keys (W, P, M, D, L, I, S, R, H, V, C, F, O, 0, 1, + and −) work while the film has the focus.");
  }

  const send = (body, message) => async () => done(await takeStep(ref, body), message);

  function acceptForm(onCancel) {
    const procedure = ref.clinical && ref.clinical.procedure;
    const priority = { "suspected-cancer": "two-week-wait", urgent: "urgent" }[ref.clinical && ref.clinical.urgency] || "routine";
    const form = new Form({ title: "Accept the referral", submitLabel: "Accept and send to the service", onCancel,
      onSubmit: (v) => send({ step: "accept", decision: { tier: v.tier, service_id: v.service_id, priority: v.priority,
        see_and_treat: v.see_and_treat === "yes", advice: v.advice || undefined } },
      `Accepted at ${tierLabel(v.tier)} and sent to ${(serviceById.get(v.service_id) || {}).name || "the service"}.`)() });
    const suggested = ref.clinical && ref.clinical.complexity;
    const tier = radioField(form, { name: "tier", aliases: ["decision.tier", "decision"], legend: "Tier", inline: true,
      hint: `Level 1: general practice. Level 2: enhanced skills. Level 3a: specialist. Level 3b: consultant-led.${suggested ? ` The referrer suggested ${tierLabel(suggested)}.` : ""}`,
      options: TIERS.map(([v, l]) => [v, l]), value: suggested || "", required: "Choose the tier." });
    const svc = selectField(form, { name: "service_id", aliases: ["decision.service_id"], label: "Service", hint: "Commissioned services that treat at the chosen tier.",
      options: [], required: "Choose the service the referral goes to." });
    const syncServices = () => {
      const list = receiving(services, tier.get(), procedure);
      const keep = svc.control.value;
      svc.control.replaceChildren(h("option", { value: "" }, !tier.get() ? "Choose the tier first" : list.length ? "Choose…" : "No commissioned service treats at this level"),
        ...list.map((s) => h("option", { value: s.id }, `${s.name}${s.fits ? "" : " (does not list this procedure)"}`)));
      const pick = list.find((s) => s.id === keep) || list.find((s) => s.fits);
      svc.control.value = pick ? pick.id : "";
      syncHint();
    };
    const syncHint = () => {
      const s = serviceById.get(svc.control.value);
      svc.hintEl.textContent = s ? [s.criteria, s.booking_model === "DBS" ? "Directly bookable." : "Arranges its own appointments."].filter(Boolean).join(" ")
        : "Commissioned services that treat at the chosen tier.";
    };
    tier.inputs.forEach((i) => i.addEventListener("change", syncServices));
    svc.control.addEventListener("change", syncHint);
    radioField(form, { name: "priority", aliases: ["decision.priority"], legend: "Priority", inline: true, options: PRIORITIES, value: priority, required: "Choose the priority." });
    radioField(form, { name: "see_and_treat", legend: "See and treat?", required: "Say whether the patient can be treated at their first appointment.",
      options: [
        ["yes", "Yes, see and treat", "The films and this referral are enough: the service may treat the patient at the first appointment."],
        ["no", "No, assess first", "The service sees the patient for an assessment first, and treats at a later appointment."],
      ] });
    textareaField(form, { name: "advice", label: "Advice for the treating service (optional)", rows: 3 });
    syncServices();
    return form;
  }

  // adviceForm: return (advice to the referrer) or info (a question),
  // with templates that fill the text and the reason.
  function adviceForm(kind, onCancel) {
    const ret = kind === "return";
    const templates = ret ? RETURN_TEMPLATES : INFO_TEMPLATES;
    const form = new Form({
      title: ret ? "Return to the referrer" : "Ask the referrer for information",
      intro: ret ? "The referral goes back to the practice with your advice, and the patient is told." : "The referral waits for the practice's answer and comes back to the triage list.",
      submitLabel: ret ? "Return to the referrer" : "Send the question", danger: ret, onCancel,
      onSubmit: (v) => send({ step: ret ? "return" : "request-info", reason: v.reason, comment: v.comment },
        ret ? "Returned to the referrer with your advice." : "Your question was sent to the referrer.")(),
    });
    let filled = "";
    const group = h("div", { class: "mx-templates", role: "group", "aria-label": "Templates" },
      h("span", { class: "ref-templates__label", id: `${form.id}-tpl` }, "Templates:"));
    form.append(group);
    const reason = selectField(form, { name: "reason", label: "Reason", options: ret ? REASONS.return : REASONS.info, required: "Choose a reason." });
    const comment = textareaField(form, { name: "comment", label: ret ? "Advice to the referrer" : "Your question to the referrer",
      hint: "The practice reads this. A template fills it in; change what you need.", rows: 7,
      required: ret ? "Give the referrer your advice." : "Say what information you need from the referrer." });
    const apply = (t) => {
      reason.control.value = t.reason;
      comment.control.value = comment.control.dataset.filled = filled = fill(t.text, ref);
      comment.control.focus();
      // Select the first part to complete, so typing replaces it.
      const a = filled.indexOf("["), b = filled.indexOf("]", a);
      if (a >= 0 && b > a) comment.control.setSelectionRange(a, b + 1);
      else comment.control.setSelectionRange(filled.length, filled.length);
    };
    for (const t of templates) {
      group.append(h("button", { type: "button", class: "app-button--secondary", "data-template": t.id, "aria-describedby": `${form.id}-tpl`, onclick: () => apply(t) }, t.label));
    }
    reason.control.addEventListener("change", () => {
      const t = templates.find((x) => x.reason === reason.control.value);
      const text = comment.control.value.trim();
      if (t && (!text || text === filled.trim())) {
        comment.control.value = comment.control.dataset.filled = filled = fill(t.text, ref);
      }
    });
    // The templates come first: Enter on the first fills the commonest.
    form.focusFirst = () => group.querySelector("button").focus();
    return form;
  }

  function redirectForm(onCancel) {
    const form = new Form({ title: "Redirect the referral", submitLabel: "Redirect", onCancel,
      onSubmit: (v) => send({ step: "redirect", reason: v.reason, service_id: v.reason === "another-provider" ? v.service_id : undefined, comment: v.comment },
        v.reason === "another-provider" ? `Redirected to ${(serviceById.get(v.service_id) || {}).name || "the service"}.` : "Redirected to secondary care.")() });
    const reason = radioField(form, { name: "reason", legend: "Where to", required: "Choose where the referral goes.",
      options: [["another-provider", "Another service in Molar", "Another commissioned service that treats patients takes it."],
        ["secondary-care", "Secondary care, outside Molar", "For example the maxillofacial urgent clinic: send it there by your usual route too."]] });
    const svc = selectField(form, { name: "service_id", label: "Service", hint: "Commissioned services that treat patients.",
      options: receiving(services, "", ref.clinical && ref.clinical.procedure, ref.provider_service).map((s) => [s.id, `${s.name} (${(s.tiers || []).join(", ")})`]) });
    const sync = () => { svc.el.hidden = reason.get() !== "another-provider"; };
    reason.inputs.forEach((i) => i.addEventListener("change", sync));
    sync();
    textareaField(form, { name: "comment", label: "Why", hint: "The referrer and the next service read this.", rows: 4, required: "Explain why the referral is redirected." });
    const check = form.onSubmit;
    form.onSubmit = (v, f) => {
      if (v.reason === "another-provider" && !v.service_id) throw new ApiError(422, "", [{ field: "service_id", message: "Choose the service the referral goes to." }]);
      return check(v, f);
    };
    return form;
  }

  function remindForm(due, onCancel) {
    const form = new Form({ title: "Send a reminder", intro: `${due} The practice is sent a reminder, and it shows in the history and on both chase lists.`,
      submitLabel: "Send the reminder", secondary: true, onCancel,
      onSubmit: async (v) => { const r = await remind(ref, v.comment); await done(r, `Reminder sent (${r.referral.reminders || 1} so far).`); } });
    textareaField(form, { name: "comment", label: "Message (optional)", hint: "Added to the reminder.", rows: 3 });
    return form;
  }

  function cancelForm(onCancel) {
    const form = new Form({ title: "Cancel the referral", intro: "The referral ends, and the practice and the patient are told.",
      submitLabel: "Cancel the referral", danger: true, onCancel, cancelLabel: "Keep the referral",
      onSubmit: (v) => send({ step: "cancel", reason: v.reason, comment: v.comment }, "The referral was cancelled.")() });
    selectField(form, { name: "reason", label: "Reason", options: REASONS.cancel, required: "Choose why the referral is cancelled." });
    textareaField(form, { name: "comment", label: "Note (optional)", rows: 2 });
    return form;
  }

  function providerPanel() {
    const service = serviceById.get(ref.provider_service);
    const buttons = [];
    const { card, area } = panelCard("The treating service", service ? `${service.name}: ${bookingModel(service.booking_model)}.` : null, buttons);
    const cancel = () => closeForm(area, buttons);
    for (const action of providerActions(ref.status, role)) {
      const b = actionButton(action.label, null, () => {
        if (openKind === action.step) return closeForm(area, buttons);
        openForm(area, buttons, b, action.step, providerForm(action, ref, { service, services, onCancel: cancel,
          done: (r) => done(r, `${action.done || action.label} The referral is now “${STATUS[r.referral.status] || r.referral.status}”.`) }));
      }, action.danger ? "app-button--secondary" : "");
      buttons.push(b);
    }
    card.querySelector(".ref-panel__buttons").append(...buttons);
    return card;
  }

  function referrerPanel() {
    const st = ref.status;
    const buttons = [];
    const last = (action) => events && [...events].reverse().find((e) => e.action === action);
    let intro = null;
    if (st === "INFO_REQUESTED" || st === "RETURNED_TO_REFERRER") {
      const ev = last(st === "INFO_REQUESTED" ? "request-info" : "return");
      if (!events) panelNeedsHistory = true;
      intro = ev ? h("div", { class: "ref-asked" },
        h("p", {}, h("strong", {}, st === "INFO_REQUESTED" ? "The triage service asks" : "The triage service's advice"),
          ev.reason ? ` (${reasonLabel(ev.reason)})` : "", `, ${fmt.dateTime(ev.at)}:`),
        h("blockquote", {}, ev.comment || "")) : null;
    }
    const { card, area } = panelCard("What you can do", null, buttons);
    if (intro) card.insertBefore(intro, card.querySelector(".ref-panel__buttons"));
    const cancel = () => closeForm(area, buttons);
    const add = (label, kind, build, cls) => {
      const b = actionButton(label, null, () => {
        if (openKind === kind) return closeForm(area, buttons);
        openForm(area, buttons, b, kind, build());
      }, cls);
      buttons.push(b);
    };
    if (st === "INFO_REQUESTED") add("Answer the question", "provide-info", () => {
      const form = new Form({ title: "Answer the question", intro: "If the answer is a new radiograph, send it with the URN first; it is filed with this referral.",
        submitLabel: "Send your answer", onCancel: cancel,
        onSubmit: (v) => send({ step: "provide-info", comment: v.comment }, "Your answer was sent: the referral is back with the triage service.")() });
      textareaField(form, { name: "comment", label: "Your answer", rows: 5, required: "Answer the triager's question." });
      return form;
    });
    if (st === "RETURNED_TO_REFERRER") add("Send it again", "resubmit", () => {
      const form = new Form({ title: "Send the referral again", intro: "Say what has changed: for example, new radiographs sent with the URN, or the treatment tried in the practice.",
        submitLabel: "Send it again", onCancel: cancel,
        onSubmit: (v) => send({ step: "resubmit", comment: v.comment }, "The referral was sent again to the triage service.")() });
      textareaField(form, { name: "comment", label: "What has changed", rows: 4, required: "Say what has changed since the referral was returned." });
      return form;
    });
    const due = overdue(ref);
    if (st === "TREATED" && due) add("Remind the service", "remind", () => remindForm(due, cancel), "app-button--secondary");
    if (["DRAFT", "SUBMITTED", "AWAITING_TRIAGE", "INFO_REQUESTED"].includes(st)) add("Cancel the referral", "cancel", () => cancelForm(cancel), "app-button--secondary");
    if (!buttons.length) return null;
    card.querySelector(".ref-panel__buttons").append(...buttons);
    return card;
  }

  // --- keys ----------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.defaultPrevented) return;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const b = shortcutButtons.get(k);
    if (b && !b.disabled) {
      e.preventDefault();
      if (b.getAttribute("aria-pressed") !== "true") b.click();
      else panelBox.querySelector("form")?.querySelector("input, select, textarea, button")?.focus();
      return;
    }
    if ((k === "j" || k === "k") && q) {
      const to = k === "j" ? q.next : q.prev;
      if (to) { e.preventDefault(); location.assign(`/app/referral?id=${encodeURIComponent(to)}`); }
      return;
    }
    if (k === "g") { e.preventDefault(); goToFilms(); return; }
    if (k === "?") {
      const help = panelBox.querySelector(".mx-keys");
      if (help) { e.preventDefault(); help.open = !help.open; if (help.open) help.querySelector("summary").focus(); }
    }
  });

  render();
  loadHistory();
  openViewer(ref, filmsBox, filmList);
}

// --- the parts -----------------------------------------------------------------

function queueNav(q) {
  if (!q) return h("nav", { class: "ref-queue", "aria-label": "Worklist" },
    h("a", { href: isClinician(role) ? "/app/triage" : role === "referrer" ? "/app/practice" : "/app/" }, "Back to your worklist"));
  const link = (id, text, key) => id
    ? h("a", { href: `/app/referral?id=${encodeURIComponent(id)}`, "aria-keyshortcuts": key }, text, " ", h("kbd", { class: "app-kbd", "aria-hidden": "true" }, key))
    : h("span", { class: "ref-queue__none" }, text);
  return h("nav", { class: "ref-queue", "aria-label": "Worklist" },
    h("a", { href: q.back || "/app/triage" }, `Back to ${q.label}`),
    h("span", { class: "ref-queue__pos" }, `${q.index + 1} of ${q.total}`),
    link(q.prev, "Previous", "K"), link(q.next, "Next", "J"));
}

function identityCard(ref) {
  const p = ref.patient || {};
  const a = age(p.birth_date);
  const waited = ref.submitted ? daysSince(ref.submitted) : null;
  return [
    h("h2", { id: "ref-patient", class: "ref-name" }, patientName(p) || "Patient not named"),
    h("dl", { class: "app-summary ref-ids" },
      h("dt", {}, "Born"), h("dd", {}, p.birth_date ? `${fmt.date(p.birth_date)}${a !== null ? ` (${a} years)` : ""}` : "Not given"),
      h("dt", {}, "NHS number"), h("dd", {}, p.nhs_number ? fmt.nhs(p.nhs_number) : "Not given",
        ref.trace && ref.trace.outcome === "mismatch" ? h("strong", { class: "ref-warn" }, " – the trace found a different number") : null),
      p.sex ? [h("dt", {}, "Sex"), h("dd", {}, p.sex[0].toUpperCase() + p.sex.slice(1))] : null,
      h("dt", {}, "Status"), h("dd", { class: "ref-status" }, STATUS[ref.status] || ref.status,
        ref.status_since ? h("span", { class: "mx-sub" }, `since ${fmt.date(ref.status_since)}`) : null),
      ref.submitted ? [h("dt", {}, "Referred"), h("dd", {}, `${fmt.date(ref.submitted)}, ${fmt.days(waited)}${waited > 0 ? " ago" : ""}`)] : null),
    h("p", { class: "ref-tags" }, ref.clinical && ref.clinical.urgency ? urgencyTag(ref.clinical.urgency) : null,
      ref.clinical && ref.clinical.procedure ? h("span", { class: "ref-procedure" }, PROCEDURES[ref.clinical.procedure] || ref.clinical.procedure,
        ref.clinical.teeth ? `: ${ref.clinical.teeth}` : "") : null),
  ];
}

// medicalAlerts are what an oral surgeon must not miss: anticoagulants
// and INR, bleeding disorders, allergies, and the rest of the history
// that changes the plan.
function medicalAlerts(ref) {
  const m = ref.medical || {};
  const items = [];
  const none = (s) => !s || /^(none|nil|nkda|no known( drug)? allergies|none known)\.?$/i.test(s.trim());
  if (m.anticoagulant && m.anticoagulant !== "none") {
    let t = `Anticoagulant: ${ANTICOAGULANTS[m.anticoagulant] || m.anticoagulant}`;
    if (m.anticoagulant === "warfarin") t += m.inr ? `, INR ${m.inr}${m.inr_date ? ` on ${fmt.date(m.inr_date)}` : ""}` : ", no INR given";
    items.push(["bleed", t]);
  }
  if (m.bleeding_disorder) items.push(["bleed", `Bleeding disorder: ${m.bleeding_disorder}`]);
  if (!none(m.allergies)) items.push(["allergy", `Allergies: ${m.allergies}`]);
  if (m.cardiac) items.push(["other", `Heart: ${m.cardiac}`]);
  if (m.other) items.push(["other", `Also: ${m.other}`]);
  if (!items.length) {
    if (m.none_declared) return [h("p", { class: "ref-alerts ref-alerts--none" }, "No relevant medical history, as the referrer declared.")];
    return [];
  }
  return [h("section", { class: "ref-alerts" + (items.some(([k]) => k === "bleed") ? " ref-alerts--bleed" : ""), "aria-labelledby": "ref-alerts-title" },
    h("h2", { id: "ref-alerts-title" }, "Medical alerts"),
    h("ul", {}, items.map(([k, t]) => h("li", { class: `ref-alert--${k}` }, t))))];
}

function dl(rows) {
  const kids = [];
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    kids.push(h("dt", {}, k), h("dd", {}, v));
  }
  return kids.length ? h("dl", { class: "app-summary" }, kids) : null;
}

function section(title, body) {
  if (!body) return null;
  const id = "ref-s-" + title.toLowerCase().replace(/[^a-z]+/g, "-");
  return h("section", { class: "app-card ref-section", "aria-labelledby": id }, h("h2", { id }, title), body);
}

function detailSections(ref, serviceById) {
  const c = ref.clinical || {}, m = ref.medical || {}, s = ref.social || {}, r = ref.radiographs || {};
  const p = ref.patient || {}, rf = ref.referrer || {}, gp = ref.gp || {};
  const out = [];
  if (ref.decision && ref.decision.tier) {
    const d = ref.decision;
    out.push(section("Triage decision", dl([
      ["Tier", tierLabel(d.tier)],
      ["Service", (serviceById.get(d.service_id) || {}).name || d.service_id],
      ["Priority", priorityLabel(d.priority)],
      ["See and treat", d.see_and_treat ? "Yes: may be treated at the first appointment" : "No: assessment first"],
      ["Advice", d.advice],
    ])));
  }
  if (ref.appointment) out.push(section("Appointment", h("p", {}, appointmentText(ref.appointment), ref.appointment.note ? h("span", { class: "mx-sub" }, ref.appointment.note) : null)));
  out.push(section("Why the patient is referred", dl([
    ["Procedure", PROCEDURES[c.procedure] || c.procedure],
    ["Teeth", c.teeth],
    ["Reason", c.reason],
    ["Diagnosis", c.diagnosis],
    ["Referrer's view of the level", c.complexity ? tierLabel(c.complexity) : ""],
    ["Anaesthesia asked for", c.anaesthesia ? (ANAESTHESIA[c.anaesthesia] || c.anaesthesia) + (c.anaesthesia_reason ? `: ${c.anaesthesia_reason}` : "") : ""],
  ])));
  out.push(section("Medical history", m.none_declared && !m.anticoagulant
    ? h("p", {}, "No relevant medical history, as the referrer declared.")
    : dl([
      ["Anticoagulant", m.anticoagulant ? ANTICOAGULANTS[m.anticoagulant] || m.anticoagulant : ""],
      ["INR", m.inr ? `${m.inr}${m.inr_date ? ` on ${fmt.date(m.inr_date)}` : ""}` : ""],
      ["Bleeding disorder", m.bleeding_disorder],
      ["Heart", m.cardiac], ["Breathing", m.respiratory], ["Allergies", m.allergies], ["Medicines", m.medications], ["Other", m.other],
    ])));
  out.push(section("Social history", dl([["Smoking", s.smoking], ["Alcohol", s.alcohol], ["Other", s.other]])));
  const instances = (ref.films || []).reduce((n, f) => n + (f.instances || 0), 0);
  out.push(section("Radiographs", dl([
    ["Sent with the referral", r.attached ? "Yes" : "No"],
    ["Views", r.views],
    ["Taken", r.exposure_date ? fmt.date(r.exposure_date) : ""],
    ["Why none", r.none_reason],
    ["Received", (ref.films || []).length ? `${instances} ${instances === 1 ? "film" : "films"} in ${ref.films.length} ${ref.films.length === 1 ? "study" : "studies"}` : r.attached ? "None yet: awaited" : ""],
  ])));
  out.push(section("Referrer", dl([
    ["Dentist", rf.name ? `${rf.name}${rf.gdc_number ? ` (GDC ${rf.gdc_number})` : ""}` : ""],
    ["Practice", [rf.practice_name, rf.practice_ods ? `(${rf.practice_ods})` : ""].filter(Boolean).join(" ")],
    ["Phone", rf.practice_phone],
    ["Email", rf.email],
    ["GP", [gp.practice_name, gp.practice_ods ? `(${gp.practice_ods})` : ""].filter(Boolean).join(" ")],
  ])));
  out.push(section("Patient's contact details", dl([
    ["Address", [...(p.address || []), p.postcode].filter(Boolean).join(", ")],
    ["Phone", p.phone],
    ["Texts", p.phone ? (p.sms_consent ? "Agreed to texts" : "Not to be texted") : ""],
    ["Interpreter", p.interpreter],
  ])));
  return out.filter(Boolean);
}

function historyList(events) {
  if (!events.length) return h("p", {}, "Nothing has happened yet.");
  return h("ol", { class: "ref-history__list", reversed: true },
    [...events].reverse().map((e) => h("li", {},
      h("p", { class: "ref-history__head" },
        h("strong", {}, ACTION_LABEL[e.action] || e.action),
        e.to && e.from !== e.to ? ` → ${STATUS[e.to] || e.to}` : "",
        h("span", { class: "mx-sub" }, `${fmt.dateTime(e.at)} · ${e.user === "molar" ? "Molar" : [e.name, ROLE_LABEL[e.role] || e.role, e.org].filter(Boolean).join(", ")}`)),
      e.reason ? h("p", { class: "ref-history__reason" }, "Reason: ", reasonLabel(e.reason)) : null,
      e.comment ? h("p", { class: "ref-history__comment" }, e.comment) : null)));
}

// listFilms lists the referral's instances with QIDO: the panoramic
// first (the overview), then the intraorals in order. It resolves to
// {list} or {message}.
async function listFilms(ref) {
  const studies = (ref.films || []).map((f) => f.study_uid);
  if (!studies.length) {
    const r = ref.radiographs || {};
    return { message: r.attached ? "The radiographs are awaited: none has arrived yet." : `No radiographs were sent${r.none_reason ? `: ${r.none_reason}` : "."}` };
  }
  let list;
  try {
    const found = await Promise.all(studies.map((s) =>
      fetch(`/dicom-web/studies/${encodeURIComponent(s)}/instances?includefield=00200011`, { headers: { Accept: "application/dicom+json" }, credentials: "same-origin" })
        .then((res) => {
          if (res.status === 204) return [];
          if (!res.ok) throw new Error(`The films could not be listed (the archive answered ${res.status}). Reload the page to try again.`);
          return res.json();
        })
        .then((json) => (json || []).map((ds) => {
          const v = (t) => ds[t] && ds[t].Value && ds[t].Value[0];
          return { study: s, series: v("0020000E"), instance: v("00080018"), modality: v("00080060") || "", seriesNumber: Number(v("00200011")) || 0, number: Number(v("00200013")) || 0 };
        }))));
    list = found.flat().filter((f) => f.series && f.instance);
  } catch (err) {
    return { message: err.message };
  }
  timings.filmsListedMs = performance.now();
  if (!list.length) return { message: "The films are filed with the referral but cannot be found in the archive." };
  list.sort((a, b) => ((b.modality === "PX") - (a.modality === "PX")) || (a.seriesNumber - b.seriesNumber) || (a.number - b.number));
  return { list };
}

// openViewer shows the films, or says why there are none.
async function openViewer(ref, box, listed) {
  const { list, message } = await listed;
  if (!list) {
    box.replaceChildren(h("div", { class: "ref-nofilms" }, h("p", {}, message)));
    return;
  }
  const p = ref.patient || {};
  const viewer = openFilms(box, {
    dicomweb: "/dicom-web",
    films: list.map(({ study, series, instance }) => ({ study, series, instance })),
    overlay: { patient: patientName(p), nhsNumber: p.nhs_number, urn: ref.urn, dateOfBirth: p.birth_date },
  });
  page.viewer = viewer;
  viewer.addEventListener("load", (e) => {
    if (timings.firstFilmMs === null && (e.detail.phase === "pixels" || e.detail.phase === "preview")) {
      timings.firstFilmMs = performance.now();
      timings.firstFilmPhase = e.detail.phase;
      performance.mark("first-film");
    }
  });
}

// fitHeight gives the two columns the window's height on wide screens,
// so the summary scrolls beside films that stay in view.
function fitHeight(layout) {
  const wide = matchMedia("(min-width: 900px)");
  const fit = () => {
    if (!wide.matches) { layout.style.height = ""; return; }
    const top = layout.getBoundingClientRect().top + scrollY;
    layout.style.height = `${Math.max(460, innerHeight - top - 12)}px`;
  };
  fit();
  addEventListener("resize", fit);
  wide.addEventListener("change", fit);
}
