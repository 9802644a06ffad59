// #/ : every certificate (filtered, 50 a page) with its expiry, auto-renew switch and count of
// out-of-sync links, and the form that creates and issues a new one.

import * as api from "./api.js";
import {
  PagedTable,
  badge,
  checkboxField,
  expiry,
  field,
  messageArea,
  run,
  select,
  statusBadge,
  time,
} from "./components.js";
import { h } from "./dom.js";
import { parseHostnames, vaultHost } from "./format.js";
import { ProgressPanel } from "./operations.js";

export const KEY_TYPES = ["RSA2048", "RSA3072", "RSA4096", "EC256", "EC384"];
const ISSUERS = [
  ["local", "Local CA"],
  ["acme", "ACME"],
];

export async function certificatesView(main, { signal }) {
  const messages = messageArea();
  const progress = new ProgressPanel(signal);
  const table = new PagedTable({
    caption: "Certificates",
    name: "certificates",
    columns: ["Name", "Hostnames", "Status", "Issuer", "Vault", "Expires", "Auto-renew", "Renewal due", "Links out of sync"],
    empty: "No certificates yet.",
    text: (c) => `${c.name} ${c.hostnames.join(" ")} ${c.status} ${c.issuer} ${vaultHost(c.vault)}`,
    toggles: [{ label: "Only with links out of sync", test: (c) => c.outOfSyncLinks > 0 }],
    row: (c) => certificateRow(c, messages),
  });
  const reload = async () => table.update(await api.listCertificates());

  main.append(
    h("h1", { tabindex: "-1" }, "Certificates"),
    createForm(progress, reload),
    progress.el,
    messages.el,
    h("section", { "aria-labelledby": "list-heading" }, h("h2", { id: "list-heading", class: "visually-hidden" }, "All certificates"), table.el),
  );
  try {
    await reload();
  } catch (err) {
    messages.error(err);
  }
}

function certificateRow(c, messages) {
  const href = `#/certificates/${encodeURIComponent(c.name)}`;
  const toggle = h("input", {
    type: "checkbox",
    role: "switch",
    checked: c.autoRenew,
    "aria-label": `Auto-renew ${c.name}`,
    "data-focus": "auto-renew",
    onchange: () => {
      // Recorded at once: a row rebuilt while the request runs (the filter's debounced redraw)
      // must show the value asked for, not the one before the click.
      const wanted = toggle.checked;
      c.autoRenew = wanted;
      return run(toggle, messages, async () => {
        try {
          const saved = await api.setAutoRenew(c.name, wanted);
          c.autoRenew = saved.autoRenew;
          switchText.textContent = saved.autoRenew ? "On" : "Off";
          messages.notice(`Auto-renew is ${saved.autoRenew ? "on" : "off"} for ${c.name}.`);
        } catch (err) {
          c.autoRenew = !wanted;
          toggle.checked = c.autoRenew;
          throw err;
        }
      });
    },
  });
  const switchText = h("span", { class: "switch-text", "aria-hidden": "true" }, c.autoRenew ? "On" : "Off");
  const outOfSync =
    c.linkCount === 0
      ? h("span", { class: "muted" }, "no links")
      : c.outOfSyncLinks > 0
        ? badge(`${c.outOfSyncLinks} of ${c.linkCount}`, "bad")
        : badge(`0 of ${c.linkCount}`, "ok");
  return h(
    "tr",
    { "data-key": c.name },
    h("th", { scope: "row" }, h("a", { href, "data-focus": "name" }, c.name)),
    h("td", { class: "hostnames" }, c.hostnames.join(", ")),
    h("td", {}, statusBadge(c.status), c.lastError ? h("div", { class: "error small" }, c.lastError) : null),
    h("td", {}, c.issuer, c.profile ? h("span", { class: "muted" }, ` (${c.profile})`) : null),
    h("td", { class: "vault" }, vaultHost(c.vault)),
    h("td", {}, expiry(c.notAfter)),
    h("td", {}, h("span", { class: "switch" }, toggle, switchText)),
    h("td", {}, time(c.renewalDueAt)),
    h("td", {}, outOfSync),
  );
}

function createForm(progress, reload) {
  const messages = messageArea();
  const name = h("input", { name: "name", required: true, autocomplete: "off", spellcheck: "false", pattern: "[a-z0-9][a-z0-9-]{0,62}" });
  const hostnames = h("textarea", { name: "hostnames", rows: 2, required: true, spellcheck: "false" });
  const keyType = select("keyType", KEY_TYPES, "RSA2048");
  const issuer = select("issuer", ISSUERS, "local");
  const validity = h("input", { name: "validityDays", type: "number", min: 1, max: 397, inputmode: "numeric" });
  const vault = h("input", { name: "vault", autocomplete: "off", spellcheck: "false" });
  const autoRenew = h("input", { type: "checkbox", name: "autoRenew", checked: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Create certificate");
  const form = h(
    "form",
    {
      class: "grid-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        run(submit, messages, async () => {
          const spec = {
            name: name.value.trim(),
            hostnames: parseHostnames(hostnames.value),
            keyType: keyType.value,
            issuer: issuer.value,
            autoRenew: autoRenew.checked,
          };
          if (validity.value) spec.validityDays = Number(validity.value);
          if (vault.value.trim()) spec.vault = vault.value.trim();
          const { operation, location } = await api.createCertificate(spec);
          form.reset();
          const done = await progress.track(operation, location, spec.name);
          await reload();
          if (done?.status === "Succeeded") {
            messages.notice(`Certificate ${spec.name} was issued.`);
            messages.el.querySelector("p").append(
              " ",
              h("a", { href: `#/certificates/${encodeURIComponent(spec.name)}` }, `Open ${spec.name}`),
            );
          }
        });
      },
    },
    field("Name", name, "Lowercase letters, digits and hyphens."),
    field("Hostnames", hostnames, "One per line or comma separated; *.example.com for a wildcard."),
    field("Key type", keyType),
    field("Issuer", issuer),
    field("Validity (days)", validity, "Optional, 1 to 397; the issuer's default otherwise."),
    field("Key Vault", vault, "Optional: a configured vault's name or URL; the default vault otherwise."),
    checkboxField("Renew automatically", autoRenew),
    h("div", { class: "actions" }, submit),
    messages.el,
  );
  return h("details", { class: "panel create" }, h("summary", {}, "New certificate"), form);
}
