// #/health : what needs attention (GET /api/attention): certificates expiring soon, failing
// renewals with their next attempt, links out of sync and since when, recent failed operations
// and webhook deliveries. Every item links to its certificate (or link).

import * as api from "./api.js";
import { badge, expiry, statusBadge, time } from "./components.js";
import { h } from "./dom.js";
import { formatDateTime } from "./format.js";

export async function healthView(main) {
  const a = await api.getAttention();
  const total = Object.values(a).reduce((n, items) => n + items.length, 0);
  main.append(
    h("h1", { tabindex: "-1" }, "Health"),
    h("p", { class: "summary", "data-total": String(total) }, total ? `${total} item(s) need attention.` : "Nothing needs attention."),
    section("expiring", "Expiring soon", ["Certificate", "Expires", "Next renewal", "Status"], a.expiringSoon, (c) => [
      certificateLink(c.certificate),
      expiry(c.notAfter),
      c.autoRenew ? time(c.renewalDueAt, true) : badge("auto-renew off", "warn"),
      statusBadge(c.status),
    ]),
    section("failing", "Failing renewals", ["Certificate", "Failures", "Last error", "Next attempt"], a.failingRenewals, (c) => [
      certificateLink(c.certificate),
      String(c.failureCount),
      h("span", { class: "error small" }, c.lastError || "—"),
      c.nextAttemptAt ? time(c.nextAttemptAt, true) : badge("none: needs a person", "bad"),
    ]),
    section("out-of-sync", "Links out of sync", ["Link", "Certificate", "State", "Out of sync for"], a.linksOutOfSync, (l) => [
      h("a", { href: `#/links/${encodeURIComponent(l.link)}` }, l.link),
      certificateLink(l.certificate),
      h("span", {}, badge(l.syncState, "bad"), l.lastSyncError ? h("div", { class: "error small" }, l.lastSyncError) : null),
      h("span", { title: formatDateTime(l.outOfSyncSince) }, duration(l.outOfSyncSince)),
    ]),
    section("failed-operations", "Recent failed operations", ["Target", "Operation", "Error", "When"], a.failedOperations, (op) => [
      targetLink(op.kind === "syncLink" ? "link" : op.kind === "sweep" ? "" : "certificate", op.target),
      op.kind,
      h("span", { class: "error small" }, h("code", {}, op.error?.code || ""), " ", op.error?.message || ""),
      time(op.updatedAt, true),
    ]),
    section("failed-deliveries", "Failed webhook deliveries", ["About", "Event", "Webhook", "Attempts", "Last error"], a.failedDeliveries, (d) => [
      targetLink(d.eventType.startsWith("link.") ? "link" : "certificate", d.subject),
      d.eventType,
      h("code", {}, d.webhook),
      String(d.attempts),
      h("span", { class: "error small" }, d.lastError || "—"),
    ]),
  );
}

function section(name, title, columns, items, cells) {
  const id = `health-${name}`;
  // In a scrolling wrapper, like every other table: in a narrow window the table scrolls, not the page.
  const body = items.length
    ? h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { "data-name": name },
          h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, ...items.map((item) => h("tr", {}, ...cells(item).map((cell, i) => (i ? h("td", {}, cell) : h("th", { scope: "row" }, cell)))))),
        ),
      )
    : h("p", { class: "empty", "data-name": name }, "None.");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title, " ", badge(String(items.length), items.length ? "bad" : "ok")), body);
}

function certificateLink(name) {
  return h("a", { href: `#/certificates/${encodeURIComponent(name)}` }, name);
}

function targetLink(kind, name) {
  if (kind === "link") return h("a", { href: `#/links/${encodeURIComponent(name)}` }, name);
  return kind ? certificateLink(name) : name;
}

/** "3 h 20 min", "2 days 4 h": how long since `iso`. */
function duration(iso) {
  if (!iso) return "—";
  const minutes = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days) return `${days} day${days === 1 ? "" : "s"} ${hours} h`;
  return hours ? `${hours} h ${minutes % 60} min` : `${minutes} min`;
}
