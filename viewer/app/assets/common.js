// Shared by every page: the session, the JSON API, building DOM safely,
// the header and navigation by role, and plain-English formatting.

// ApiError is an answer the API refused; fields holds per-field messages.
export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    this.fields = fields || [];
  }
}

let current = null;

// session returns the signed-in session, sending the browser to sign in
// (and back here afterwards) when there is none.
export async function session({ required = true } = {}) {
  if (current) return current;
  const res = await fetch("/auth/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 401) {
    if (required) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      await new Promise(() => {}); // the page is leaving
    }
    return null;
  }
  if (!res.ok) throw new ApiError(res.status, "Your session could not be read. Reload the page.");
  current = await res.json();
  return current;
}

// api calls the JSON API. version, when given, is sent as If-Match; body
// is sent as JSON, or as is when it is FormData; keepalive lets a save
// outlive the page. It resolves to {status, data, version, headers} and
// rejects with ApiError (whose headers hold Retry-After and the like).
export async function api(method, path, { body, version, signal, keepalive } = {}) {
  const headers = { Accept: "application/json" };
  if (current && current.csrf_token && method !== "GET") headers["X-CSRF-Token"] = current.csrf_token;
  if (version !== undefined && version !== null) headers["If-Match"] = `"${version}"`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal, keepalive });
  const etag = res.headers.get("ETag");
  let data = null;
  const type = res.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await res.json().catch(() => null);
  else data = await res.text();
  if (res.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, "Your session has ended. Sign in again.");
  }
  if (!res.ok) {
    const msg = (data && (data.message || data.error)) || (typeof data === "string" && data) || `The server answered ${res.status}.`;
    const err = new ApiError(res.status, msg, data && data.errors);
    err.headers = res.headers;
    throw err;
  }
  return { status: res.status, data, version: etag ? Number(etag.replace(/[^0-9]/g, "")) || undefined : undefined, headers: res.headers };
}

// h builds an element: h("a", {href: "/x", class: "y"}, "text", child…).
// Text is always text: nothing from the server becomes markup.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Where each role starts, and the navigation it sees.
const roleNav = {
  "referrer": [["/app/refer", "New referral"], ["/app/drafts", "Drafts"], ["/app/practice", "Our referrals"]],
  "referrer-admin": [],
  "sp-clinician": [["/app/triage", "Triage"], ["/app/provider", "Provider worklists"]],
  "sp-clinician-admin": [["/app/triage", "Triage"], ["/app/provider", "Provider worklists"]],
  "sp-admin": [["/app/provider", "Provider worklists"]],
  "booking-manager": [["/app/provider", "Booking"]],
  "service-definer": [["/app/services", "Directory of Services"]],
  "analyst": [["/app/reports", "Reports"]],
  "sysadmin": [["/app/admin", "Administration"], ["/app/reports", "Reports"]],
};

// home is the first page of a role.
export function home(role) {
  const nav = roleNav[role] || [];
  return nav.length ? nav[0][0] : "/track";
}

// start draws the header for the signed-in person and returns the main
// element, emptied but for the page's heading.
export async function start({ title, requireSession = true } = {}) {
  const s = await session({ required: requireSession });
  const header = document.getElementById("header");
  const inner = header.querySelector(".app-header__inner");
  if (s) {
    const who = h("div", { class: "app-header__user" },
      h("span", {}, s.user.name), h("span", {}, `${s.role_label} · ${s.grant.org}`),
      h("form", { method: "post", action: "/logout" },
        h("input", { type: "hidden", name: "csrf_token", value: s.csrf_token }),
        h("button", { type: "submit" }, "Sign out")));
    inner.append(who);
    const items = (roleNav[s.grant.role] || []).concat([["/track", "Track a referral"]]);
    const nav = h("nav", { class: "app-nav", "aria-label": "Main" },
      h("ul", {}, items.map(([href, text]) => h("li", {}, h("a", { href, "aria-current": location.pathname === href ? "page" : null }, text)))));
    header.after(nav);
  }
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", {}, title || document.title.replace(/ – Molar$/, "")));
  if (title) document.title = `${title} – Molar`;
  return { main, session: s };
}

// notice shows a message at the top of the page (role="alert" for errors
// so screen readers announce it).
export function notice(container, text, kind = "error") {
  const el = h("div", { class: `app-notice app-notice--${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  container.prepend(el);
  return el;
}

// fail shows what went wrong in words and keeps the page usable.
export function fail(container, err) {
  console.error(err);
  const el = notice(container, err instanceof ApiError ? err.message : "Something went wrong. Reload the page and try again.");
  el.scrollIntoView({ block: "nearest" });
  return el;
}

const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric" });
const dateTimeFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });

export const fmt = {
  // date: "12 Mar 1984" from "1984-03-12" or a timestamp.
  date(v) { if (!v) return ""; const d = new Date(v.length === 10 ? v + "T00:00:00" : v); return isNaN(d) ? v : dateFmt.format(d); },
  dateTime(v) { if (!v) return ""; const d = new Date(v); return isNaN(d) ? v : dateTimeFmt.format(d); },
  // days: "today", "1 day", "12 days".
  days(n) { return n <= 0 ? "today" : n === 1 ? "1 day" : `${n} days`; },
  nhs(v) { const d = (v || "").replace(/\D/g, ""); return d.length === 10 ? `${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}` : v || ""; },
  urgency(u) { return { "suspected-cancer": "Suspected cancer (2WW)", urgent: "Urgent", routine: "Routine" }[u] || u || ""; },
};

// urgencyTag is the urgency as a coloured tag.
export function urgencyTag(u) {
  const cls = { "suspected-cancer": "app-tag--cancer", urgent: "app-tag--urgent", routine: "app-tag--routine" }[u] || "app-tag--grey";
  return h("span", { class: `app-tag ${cls}` }, fmt.urgency(u));
}

// param reads a query parameter of the page's URL.
export function param(name) { return new URLSearchParams(location.search).get(name); }

// style loads a page's own stylesheet (assets/<name>.css) once.
export function style(name) {
  const href = `/app/assets/${name}.css`;
  if (!document.querySelector(`link[href="${href}"]`)) document.head.append(h("link", { rel: "stylesheet", href }));
}
