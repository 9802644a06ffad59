// Small reusable pieces of the page: badges, error messages, thumbprint differences, form
// fields, buttons that confirm, and a filtered, paginated table that stays fast at thousands
// of rows (only one page is ever in the DOM).

import { debounce, fill, h, uid } from "./dom.js";
import { daysLeftText, formatDate, formatDateTime, thumbprintDiff } from "./format.js";

/** kind: ok | warn | bad | info | neutral */
export function badge(text, kind = "neutral") {
  return h("span", { class: `badge badge-${kind}` }, text);
}

const STATUS_KINDS = {
  Issued: "ok",
  Succeeded: "ok",
  PendingIssuance: "info",
  Renewing: "info",
  Rekeying: "info",
  Queued: "info",
  Running: "info",
  Failed: "bad",
  Expired: "bad",
  Revoking: "info",
  Revoked: "bad",
};

export function statusBadge(status) {
  return badge(status, STATUS_KINDS[status] || "neutral");
}

const SYNC_STATES = { BindingsBehind: "Bindings behind", SyncFailed: "Sync failed" };

/** In sync, or why not: a link whose bindings lag (a sync cut short) is not in sync either. */
export function syncBadge(inSync, state) {
  return inSync ? badge("In sync", "ok") : badge(SYNC_STATES[state] || "Out of sync", "bad");
}

/** An API error as the API worded it: its code, then its message. */
export function errorMessage(err) {
  if (err && err.code) return h("p", { class: "error", role: "alert" }, h("code", {}, err.code), " ", err.message);
  return h("p", { class: "error", role: "alert" }, String((err && err.message) || err));
}

/** A place for one message at a time (errors and notices of an area of the page). */
export function messageArea() {
  const el = h("div", { class: "messages" });
  return {
    el,
    error(err) {
      fill(el, errorMessage(err));
    },
    notice(text) {
      fill(el, h("p", { class: "notice", role: "status" }, text));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

export function time(iso, withTime = false) {
  if (!iso) return "—";
  return h("time", { datetime: iso }, withTime ? formatDateTime(iso) : formatDate(iso));
}

export function expiry(iso) {
  if (!iso) return "—";
  const soon = new Date(iso).getTime() < Date.now() + 15 * 24 * 3600 * 1000;
  return h("span", { class: "expiry" }, time(iso), h("span", { class: soon ? "days soon" : "days" }, daysLeftText(iso)));
}

/** A thumbprint in groups of four, with the characters in `runs` that differ marked. */
function groupedThumbprint(runs, markClass) {
  const out = [];
  let position = 0;
  for (const run of runs) {
    for (const char of run.text) {
      if (position > 0 && position % 4 === 0) out.push(h("span", { class: "gap", "aria-hidden": "true" }));
      out.push(run.differs ? h("mark", { class: markClass }, char) : char);
      position += 1;
    }
  }
  return h("code", { class: "thumbprint" }, out);
}

/**
 * What a link holds against what Key Vault has now. Equal: one thumbprint. Different: "was / now"
 * with every differing character marked, and the count of differing characters in words.
 */
export function thumbprintComparison(held, current) {
  if (held && held === current) {
    return h("div", { class: "thumbs" }, groupedThumbprint([{ text: held, differs: false }], ""));
  }
  if (!current) {
    return h(
      "div",
      { class: "thumbs" },
      h("span", { class: "label" }, "holds "),
      held ? groupedThumbprint([{ text: held, differs: false }], "") : "—",
      h("span", { class: "muted" }, " (current version unknown)"),
    );
  }
  const diff = thumbprintDiff(held, current);
  return h(
    "div",
    { class: "thumbs differs" },
    h("div", {}, h("span", { class: "label" }, "was "), groupedThumbprint(diff.was, "was")),
    h("div", {}, h("span", { class: "label" }, "now "), groupedThumbprint(diff.now, "now")),
    h("div", { class: "muted small" }, `${diff.differing} of ${diff.length} characters differ`),
  );
}

/** <label>text <input></label> with an optional hint tied by aria-describedby. */
export function field(text, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const parts = [h("label", { for: id }, text), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("span", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, parts);
}

export function checkboxField(text, control) {
  const id = control.id || uid("c");
  control.id = id;
  return h("div", { class: "field check" }, control, h("label", { for: id }, text));
}

export function select(name, options, value) {
  return h(
    "select",
    { name },
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value }, label);
    }),
  );
}

/**
 * An inline form whose submit runs `action(form)` through `run`: one place for the busy button,
 * the API's error in `messages` and no browser validation bubbles (the API words the errors).
 */
export function inlineForm(submit, messages, action, ...fields) {
  const form = h(
    "form",
    {
      class: "inline-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        run(submit, messages, () => action(form));
      },
    },
    ...fields,
    submit,
  );
  return form;
}

/**
 * Mark `button` busy while `action()` runs (aria-disabled, so it keeps the keyboard focus);
 * errors go to `messages` exactly as the API worded them. Returns what the action returned.
 */
export async function run(button, messages, action) {
  if (button) {
    if (button.dataset.busy) return undefined;
    button.dataset.busy = "true";
    button.setAttribute("aria-disabled", "true");
  }
  try {
    if (messages) messages.clear();
    return await action();
  } catch (err) {
    if (!messages) throw err;
    messages.error(err);
    return undefined;
  } finally {
    if (button) {
      delete button.dataset.busy;
      button.removeAttribute("aria-disabled");
    }
  }
}

/** A button that asks once more ("Confirm remove") before it acts; resets after 5 s. */
export function confirmButton(label, confirmLabel, accessibleName, action) {
  let armed = false;
  let timer;
  const button = h("button", { type: "button", class: "small danger", "aria-label": accessibleName }, label);
  const disarm = () => {
    armed = false;
    button.textContent = label;
    button.setAttribute("aria-label", accessibleName);
    button.classList.remove("armed");
  };
  button.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.setAttribute("aria-label", `${confirmLabel}: ${accessibleName}`);
      button.classList.add("armed");
      clearTimeout(timer);
      timer = setTimeout(disarm, 5000);
      return;
    }
    clearTimeout(timer);
    disarm();
    await action(button);
  });
  button.addEventListener("blur", () => {
    if (armed) {
      clearTimeout(timer);
      timer = setTimeout(disarm, 1500);
    }
  });
  return button;
}

/**
 * A table over many items that renders one page at a time, with a filter box.
 *   new PagedTable({caption, columns: ["Name", ...], row: item => <tr>, text: item => "search text",
 *                   pageSize: 50, toggles: [{label, test: item => bool}], empty: "No items"})
 * .update(items) replaces the items and keeps the filter and, when possible, the page.
 */
export class PagedTable {
  constructor({ caption, columns, row, text, pageSize = 50, toggles = [], empty = "Nothing here yet.", name }) {
    this.row = row;
    this.text = text;
    this.pageSize = pageSize;
    this.items = [];
    this.shown = [];
    this.page = 0;
    this.query = "";
    this.toggles = toggles.map((t) => ({ ...t, on: false }));
    this.empty = empty;

    const filterId = uid("filter");
    this.filterInput = h("input", {
      type: "search",
      id: filterId,
      class: "filter",
      autocomplete: "off",
      oninput: debounce(() => {
        this.query = this.filterInput.value.trim().toLowerCase();
        this.page = 0;
        this.render();
      }, 120),
    });
    const toggleEls = this.toggles.map((t) => {
      const box = h("input", {
        type: "checkbox",
        onchange: () => {
          t.on = box.checked;
          this.page = 0;
          this.render();
        },
      });
      return checkboxField(t.label, box);
    });
    this.count = h("p", { class: "count", role: "status" });
    this.body = h("tbody");
    this.prev = h("button", { type: "button", class: "small", onclick: () => this.go(this.page - 1) }, "Previous page");
    this.next = h("button", { type: "button", class: "small", onclick: () => this.go(this.page + 1) }, "Next page");
    this.pageLabel = h("span", { class: "page-label" });
    this.el = h(
      "div",
      { class: "paged", "data-name": name },
      h(
        "div",
        { class: "toolbar" },
        h("div", { class: "field" }, h("label", { for: filterId }, `Filter ${caption.toLowerCase()}`), this.filterInput),
        toggleEls,
        this.count,
      ),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          {},
          h("caption", { class: "visually-hidden" }, caption),
          h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
          this.body,
        ),
      ),
      h("nav", { class: "pager", "aria-label": `${caption} pages` }, this.prev, this.pageLabel, this.next),
    );
  }

  update(items) {
    this.items = items;
    this.render();
  }

  go(page) {
    this.page = page;
    this.render();
    this.body.closest(".paged").querySelector(".table-wrap").scrollIntoView({ block: "nearest" });
  }

  render() {
    const q = this.query;
    const active = this.toggles.filter((t) => t.on);
    this.shown = this.items.filter(
      (item) => (!q || this.text(item).toLowerCase().includes(q)) && active.every((t) => t.test(item)),
    );
    const pages = Math.max(1, Math.ceil(this.shown.length / this.pageSize));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const start = this.page * this.pageSize;
    const slice = this.shown.slice(start, start + this.pageSize);
    const columns = this.el.querySelectorAll("thead th").length;
    const focus = this.focusedControl();
    fill(
      this.body,
      slice.length ? slice.map((item) => this.row(item)) : h("tr", {}, h("td", { colspan: columns, class: "empty" }, this.empty)),
    );
    const total = this.items.length;
    const n = this.shown.length;
    this.count.textContent =
      n === 0
        ? `0 of ${total}`
        : `Showing ${start + 1}–${start + slice.length} of ${n}${n === total ? "" : ` (filtered from ${total})`}`;
    this.pageLabel.textContent = `Page ${this.page + 1} of ${pages}`;
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= pages - 1;
    if (focus) {
      const row = this.body.querySelector(focus.row);
      (row?.querySelector(focus.control) || row?.querySelector("[data-focus]"))?.focus();
    }
  }

  /**
   * Where the keyboard focus is (row data-key, control data-focus), to put it back on the same
   * control once the rows are rebuilt; inside a <details> (rebuilt closed) its summary.
   */
  focusedControl() {
    let active = document.activeElement;
    if (!active || !this.body.contains(active)) return null;
    const row = active.closest("tr[data-key]");
    if (!row) return null;
    active = active.closest("details")?.querySelector("summary") || active;
    return {
      row: `tr[data-key="${CSS.escape(row.dataset.key)}"]`,
      control: active.dataset.focus ? `[data-focus="${CSS.escape(active.dataset.focus)}"]` : "[data-focus]",
    };
  }
}
