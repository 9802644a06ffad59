// The SSL bindings of one linked certificate: each app (site, and slot for App Service) and
// hostname, the thumbprint it serves against the newest version with the difference marked, in
// sync or why not, a Remove button, and a form to bind one more hostname. Used by the
// certificate overview and the link page.

import * as api from "./api.js";
import { badge, checkboxField, confirmButton, field, inlineForm, messageArea, run, thumbprintComparison } from "./components.js";
import { h } from "./dom.js";

const BINDING_STATES = { BindingBehind: "Binding behind", LinkBehind: "Link behind" };

/**
 * bindingsEditor(link, {onChanged})
 * `link` is a LinkState of the API (name, resourceId, currentThumbprint, bindings with inSync).
 * onChanged() is called after a binding was added or removed, to reload the page's data.
 */
export function bindingsEditor(link, { onChanged } = {}) {
  const messages = messageArea();
  const inArm = Boolean(link.resourceId);
  const sorted = [...link.bindings].sort(
    (a, b) => a.app.localeCompare(b.app) || (a.slot || "").localeCompare(b.slot || "") || a.hostname.localeCompare(b.hostname),
  );
  const list = h("ul", { class: "bindings" }, sorted.map((b) => bindingItem(b, link, messages, onChanged)));
  return h(
    "div",
    { class: "bindings-editor" },
    link.bindings.length ? list : h("p", { class: "muted small" }, "No bindings."),
    bindForm(link.name, inArm, messages, onChanged),
    messages.el,
  );
}

function bindingItem(b, link, messages, onChanged) {
  const inSync = b.inSync !== false;
  const where = b.resourceGroup
    ? h("span", { class: "slot", "data-field": "slot" }, b.slot ? `slot ${b.slot}` : "production")
    : null;
  return h(
    "li",
    {
      "data-app": b.app,
      "data-hostname": b.hostname,
      "data-slot": b.slot || "",
      "data-in-sync": String(inSync),
      class: inSync ? "" : "stale",
      title: b.appResourceId || null,
    },
    h("div", { class: "binding-head" },
      h("span", { class: "app" }, b.app),
      where,
      " ",
      h("span", { class: "host" }, b.hostname),
      " ",
      h("span", { class: "muted small", "data-field": "ssl-state" }, b.sslState),
      " ",
      inSync ? badge("In sync", "ok") : badge(BINDING_STATES[b.syncState] || "Out of sync", "bad"),
      " ",
      confirmButton("Remove", "Confirm remove", `Remove binding ${b.hostname} in ${b.app}`, (button) =>
        run(button, messages, async () => {
          await api.deleteBinding(b.app, b.hostname);
          await onChanged?.();
        }),
      ),
    ),
    inSync
      ? h("div", { class: "binding-thumb" }, thumbprintComparison(b.thumbprint, b.thumbprint))
      : h("div", { class: "binding-thumb" },
          thumbprintComparison(b.thumbprint, link.currentThumbprint || link.thumbprint),
          b.outOfSyncReason ? h("div", { class: "error small", "data-field": "reason" }, b.outOfSyncReason) : null),
  );
}

function bindForm(linkName, inArm, messages, onChanged) {
  const app = h("input", { name: "app", required: true, autocomplete: "off", spellcheck: "false" });
  const hostname = h("input", { name: "hostname", required: true, autocomplete: "off", spellcheck: "false" });
  const slot = inArm ? h("input", { name: "slot", autocomplete: "off", spellcheck: "false" }) : null;
  const ipBased = h("input", { type: "checkbox", name: "ipBased" });
  const submit = h("button", { type: "submit", class: "small", "data-focus": "bind" }, "Bind");
  const form = inlineForm(
    submit,
    messages,
    async () => {
      if (!app.value.trim() || !hostname.value.trim()) {
        throw new Error("Give the app name and the hostname to bind.");
      }
      const state = ipBased.checked ? "IpBasedEnabled" : "SniEnabled";
      await api.putBinding(app.value.trim(), hostname.value.trim(), linkName, state, slot?.value.trim());
      messages.notice(`Bound ${hostname.value.trim()} in ${app.value.trim()}.`);
      form.reset();
      await onChanged?.();
    },
    field(inArm ? "App (site)" : "App", app),
    slot ? field("Slot", slot, "empty for production") : null,
    field("Hostname", hostname),
    checkboxField("IP based SSL", ipBased),
  );
  return h("details", { class: "bind" }, h("summary", { "data-focus": "bind-summary" }, "Bind a hostname"), form);
}
