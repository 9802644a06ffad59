// Background operations (issue, renew, rekey, sync): follow one from its Location until it
// finishes, show its progress in a live region, and list a certificate's history.

import * as api from "./api.js";
import { PagedTable, errorMessage, statusBadge, time } from "./components.js";
import { fill, h } from "./dom.js";
import { kindName, operationOutcome } from "./format.js";

export function isActive(op) {
  return op.status === "Queued" || op.status === "Running";
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new DOMException("left the page", "AbortError"));
    });
  });
}

/** Poll `location` until the operation succeeds or fails; `onUpdate` sees every state. */
export async function follow(location, { signal, onUpdate } = {}) {
  let delay = 300;
  for (;;) {
    if (signal?.aborted) throw new DOMException("left the page", "AbortError");
    const op = await api.getOperation(location);
    onUpdate?.(op);
    if (!isActive(op)) return op;
    await sleep(delay, signal);
    delay = Math.min(delay * 1.5, 2000);
  }
}

/**
 * The operations this page started or found running, one line each, in an aria-live region so
 * "Renew: Running" and "Renew: Succeeded" are heard as they happen.
 */
export class ProgressPanel {
  constructor(signal, { keep = 4 } = {}) {
    this.signal = signal;
    this.keep = keep;
    this.tracked = new Map();
    this.list = h("ul", { class: "op-list" });
    this.el = h(
      "section",
      { class: "progress", "aria-live": "polite", "aria-relevant": "additions text", "aria-label": "Operation progress" },
      this.list,
    );
  }

  /** Follow `operation` (as the 202 returned it) until done; resolves with its last state. */
  track(operation, location, what) {
    const known = this.tracked.get(operation.id);
    if (known) return known;
    const item = h("li", { class: "op", "data-operation": operation.id, "data-status": operation.status });
    this.list.prepend(item);
    while (this.list.children.length > this.keep) this.list.lastElementChild.remove();
    let shown = "";
    const show = (op) => {
      if (shown === op.status) return;
      shown = op.status;
      item.dataset.status = op.status;
      const label = `${kindName(op.kind)} ${what || op.target}`;
      fill(
        item,
        isActive(op) ? h("progress", { "aria-label": `${label} in progress` }) : null,
        h("strong", {}, `${label}:`),
        statusBadge(op.status),
        !isActive(op) && operationOutcome(op) ? h("span", { class: "outcome" }, operationOutcome(op)) : null,
      );
    };
    show(operation);
    const done = follow(location || `operations/${operation.id}`, { signal: this.signal, onUpdate: show }).catch(
      (err) => {
        if (err.name === "AbortError") return null;
        item.dataset.status = "Unknown";
        fill(item, h("strong", {}, `${kindName(operation.kind)} ${what || operation.target}:`), errorMessage(err));
        return null;
      },
    );
    this.tracked.set(operation.id, done);
    return done;
  }
}

/** The history of a certificate's operations, newest first. */
export function historyTable() {
  return new PagedTable({
    caption: "Operations",
    name: "history",
    pageSize: 10,
    columns: ["Started", "Operation", "Status", "Requested by", "Outcome"],
    empty: "No operations yet.",
    text: (op) => `${op.kind} ${kindName(op.kind)} ${op.status} ${op.requestedBy || ""} ${operationOutcome(op)}`,
    row: (op) =>
      h(
        "tr",
        { "data-operation": op.id },
        h("td", {}, time(op.createdAt, true)),
        h("td", {}, kindName(op.kind)),
        h("td", {}, statusBadge(op.status)),
        h("td", {}, op.requestedBy || "—"),
        h("td", { class: "outcome" }, operationOutcome(op) || "—"),
      ),
  });
}

/** The API lists newest first already; sorting by creation time keeps that if it ever changes. */
export function newestFirst(ops) {
  return [...ops].sort((a, b) => (b.createdAt || "").localeCompare(a.createdAt || ""));
}
