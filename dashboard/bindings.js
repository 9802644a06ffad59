// The SSL bindings of one linked certificate: each app and hostname with a Remove button, and a
// form to bind one more hostname in an app. Used by the certificate overview and the link page.

import * as api from "./api.js";
import { checkboxField, confirmButton, field, messageArea, run } from "./components.js";
import { h } from "./dom.js";

/**
 * bindingsEditor(linkName, bindings, {onChanged})
 * onChanged() is called after a binding was added or removed, to reload the page's data.
 */
export function bindingsEditor(linkName, bindings, { onChanged, linkThumbprint } = {}) {
  const messages = messageArea();
  const list = h(
    "ul",
    { class: "bindings" },
    [...bindings].sort((a, b) => a.app.localeCompare(b.app) || a.hostname.localeCompare(b.hostname)).map((b) =>
      h(
        "li",
        { "data-app": b.app, "data-hostname": b.hostname },
        h("span", { class: "app" }, b.app),
        " ",
        h("span", { class: "host" }, b.hostname),
        b.sslState === "IpBasedEnabled" ? h("span", { class: "muted small" }, " (IP based)") : null,
        linkThumbprint && b.thumbprint && b.thumbprint !== linkThumbprint
          ? h("span", { class: "badge badge-warn" }, "old thumbprint")
          : null,
        " ",
        confirmButton("Remove", "Confirm remove", `Remove binding ${b.hostname} in ${b.app}`, (button) =>
          run(button, messages, async () => {
            await api.deleteBinding(b.app, b.hostname);
            await onChanged?.();
          }),
        ),
      ),
    ),
  );
  return h(
    "div",
    { class: "bindings-editor" },
    bindings.length ? list : h("p", { class: "muted small" }, "No bindings."),
    bindForm(linkName, messages, onChanged),
    messages.el,
  );
}

function bindForm(linkName, messages, onChanged) {
  const app = h("input", { name: "app", required: true, autocomplete: "off", spellcheck: "false" });
  const hostname = h("input", { name: "hostname", required: true, autocomplete: "off", spellcheck: "false" });
  const ipBased = h("input", { type: "checkbox", name: "ipBased" });
  const submit = h("button", { type: "submit", class: "small", "data-focus": "bind" }, "Bind");
  const form = h(
    "form",
    {
      class: "inline-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        run(submit, messages, async () => {
          if (!app.value.trim() || !hostname.value.trim()) {
            throw new Error("Give the app name and the hostname to bind.");
          }
          const state = ipBased.checked ? "IpBasedEnabled" : "SniEnabled";
          await api.putBinding(app.value.trim(), hostname.value.trim(), linkName, state);
          messages.notice(`Bound ${hostname.value.trim()} in ${app.value.trim()}.`);
          form.reset();
          await onChanged?.();
        });
      },
    },
    field("App", app),
    field("Hostname", hostname),
    checkboxField("IP based SSL", ipBased),
    submit,
  );
  return h("details", { class: "bind" }, h("summary", { "data-focus": "bind-summary" }, "Bind a hostname"), form);
}
