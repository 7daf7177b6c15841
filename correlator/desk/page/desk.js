// The desk page: polls the desk API, no build step. Times are shown in UTC, as the records.
"use strict";
const REFRESH_MS = 5000;
let selected = null;
let incidents = [];

const $ = (id) => document.getElementById(id);
const text = (s) => document.createTextNode(s == null ? "" : String(s));
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.appendChild(typeof c === "string" ? text(c) : c);
  return e;
}
function utc(iso) {
  return iso ? new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "";
}
function countdown(iso) {
  if (!iso) return "";
  const s = Math.round((new Date(iso) - Date.now()) / 1000);
  const a = Math.abs(s), m = Math.floor(a / 60), r = a % 60;
  const t = (m >= 60 ? Math.floor(m / 60) + " h " + (m % 60) + " min" : m + " min " + r + " s");
  return s < 0 ? "overdue by " + t : "in " + t;
}
function token() { return sessionStorage.getItem("desk-token"); }
async function api(path, options) {
  const opts = Object.assign({ headers: {} }, options || {});
  if (token()) opts.headers["Authorization"] = "Bearer " + token();
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return { status: r.status, body };
}

function renderBoard() {
  const tbody = $("board").querySelector("tbody");
  tbody.replaceChildren();
  $("board-empty").hidden = incidents.length > 0;
  for (const inc of incidents) {
    const desk = inc.desk || {};
    const tr = el("tr", { "data-id": inc.id });
    if (desk.overdue) tr.classList.add("overdue");
    if (inc.id === selected) tr.classList.add("selected");
    const people = el("td", {}, String(inc.affected.users));
    if (desk.at_risk) people.appendChild(el("div", { class: "risk" }, "at risk, can work"));
    const group = (inc.assignment && inc.assignment.name) || inc.assignment_group || "unassigned";
    tr.append(
      el("td", { class: "p" + inc.priority }, "P" + inc.priority),
      el("td", { class: "title" }, inc.title),
      people,
      el("td", {}, (inc.affected.sites || []).join(", ")),
      el("td", {}, group),
      el("td", { class: "due", "data-due": inc.next_update_at || "" }, countdown(inc.next_update_at)),
    );
    tr.addEventListener("click", () => select(inc.id));
    tbody.appendChild(tr);
  }
}

function tick() {
  for (const td of document.querySelectorAll("td.due")) td.textContent = countdown(td.dataset.due);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const m = Math.round(seconds / 60);
  return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0");
}

function money(amount, currency) {
  return Math.round(amount).toLocaleString("en-US") + " " + currency;
}

// The process figures in one strip: what a desk lead asks first.
function renderSummary(s) {
  const figures = [
    ["open", s.open_incidents, false],
    ["people cannot work", s.cannot_work, s.cannot_work > 0],
    ["at risk", s.at_risk, false],
    ["updates overdue", s.updates_overdue, s.updates_overdue > 0],
    ["subscriptions", s.subscriptions, false],
    ["cost so far", money(s.cost_accrued, s.currency), false],
    ["per hour", money(s.cost_per_hour, s.currency), false],
    ["repeats", s.repeats_open, s.repeats_open > 0],
    ["reopened", s.reopened_open, s.reopened_open > 0],
    ["resolved 24 h", s.resolved_recently, false],
    ["median to resolve", duration(s.median_resolve_seconds), false],
  ];
  const strip = $("summary");
  strip.textContent = "";
  for (const [label, value, alarm] of figures) {
    const cell = document.createElement("span");
    cell.className = alarm ? "figure alarm" : "figure";
    cell.dataset.figure = label;
    const number = document.createElement("b");
    number.textContent = String(value);
    cell.append(number, " " + label);
    strip.appendChild(cell);
  }
}

async function refresh() {
  const [list, summary] = await Promise.all([api("/api/v1/incidents"), api("/api/v1/summary")]);
  if (list.status === 200) { incidents = list.body.incidents; renderBoard(); }
  if (summary.status === 200) {
    renderSummary(summary.body);
  }
  $("refreshed").textContent = "refreshed " + new Date().toISOString().slice(11, 19) + " UTC";
  if (selected) await showDetail(selected);
}

async function select(id) { selected = id; renderBoard(); await showDetail(id); }

async function showDetail(id) {
  const [one, hist] = await Promise.all([
    api("/api/v1/incidents/" + encodeURIComponent(id)),
    api("/api/v1/incidents/" + encodeURIComponent(id) + "/history"),
  ]);
  if (one.status !== 200) return;
  const inc = one.body;
  $("detail").hidden = false;
  $("detail").dataset.id = id;
  $("detail-title").textContent = "P" + inc.priority + " " + inc.title;
  $("detail-summary").textContent = inc.summary;
  const subs = (inc.desk && inc.desk.subscribers) || [];
  $("detail-subscribers").textContent = subs.length ? subs.join(", ") : "none";
  const ol = $("timeline");
  ol.replaceChildren();
  for (const v of (hist.body && hist.body.versions) || []) {
    ol.appendChild(el("li", {}, utc(v.updated_at) + " v" + v.version + " " + v.status +
      ((v.changes || []).length ? " (" + v.changes.join(", ") + ")" : "") + ": " + v.title));
  }
}

$("lookup-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const who = $("lookup-who").value.trim();
  const out = $("lookup-result");
  out.replaceChildren();
  const r = await api("/api/v1/callers/" + encodeURIComponent(who));
  if (r.status === 404) { out.appendChild(el("p", { class: "error" }, "Unknown caller: " + who)); return; }
  if (r.status !== 200) { out.appendChild(el("p", { class: "error" }, "Lookup failed (" + r.status + ")")); return; }
  const u = r.body.user;
  out.appendChild(el("p", {}, (u.name || u.id) + " (" + u.id + "), " + (u.site_name || u.site || "no site") +
    "; groups: " + u.groups.join(", ")));
  if (!r.body.incidents.length) {
    out.appendChild(el("p", { class: "nothing" }, "No open incident affects this caller."));
    return;
  }
  for (const inc of r.body.incidents) {
    const p = el("p", { class: "say", "data-id": inc.id }, inc.say);
    p.addEventListener("click", () => { $("subscribe-who").value = u.id; select(inc.id); });
    out.appendChild(p);
  }
  $("subscribe-who").value = u.id;
  select(r.body.incidents[0].id);
});

$("subscribe-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const id = $("detail").dataset.id;
  const who = $("subscribe-who").value.trim();
  const send = () => api("/api/v1/incidents/" + encodeURIComponent(id) + "/subscriptions", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: who }),
  });
  let r = await send();
  if (r.status === 401) {
    const t = prompt("This desk needs its access token to subscribe people:");
    if (t) { sessionStorage.setItem("desk-token", t); r = await send(); }
  }
  const out = $("subscribe-result");
  out.textContent = r.status === 202 ? "Subscribed " + r.body.user + "."
    : "Not subscribed: " + ((r.body && r.body.reason) || r.status);
  out.className = r.status === 202 ? "nothing" : "error";
  // The subscription travels through Kafka; the view shows it once read back.
  for (let i = 0; i < 10 && r.status === 202; i++) {
    await new Promise((ok) => setTimeout(ok, 300));
    await showDetail(id);
    if ($("detail-subscribers").textContent.split(", ").includes(r.body.user)) break;
  }
});

refresh();
setInterval(refresh, REFRESH_MS);
setInterval(tick, 1000);
