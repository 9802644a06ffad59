// App Service (Azure Resource Manager) on the dashboard: the Microsoft.Web/certificates resource
// a linked certificate indexes (resource group, name, server farm, keyVaultSecretStatus), and a
// form that links a certificate to an App Service app (creates that resource, binds hostnames).

import * as api from "./api.js";
import { badge, field, inlineForm, messageArea } from "./components.js";
import { h } from "./dom.js";
import { parseHostnames } from "./format.js";

/** {subscription, resourceGroup, name, child} of /subscriptions/s/resourceGroups/g/providers/ns/type/name[/type/child]. */
export function parseResourceId(id) {
  const parts = (id || "").split("/").filter(Boolean);
  const at = (key) => {
    const i = parts.findIndex((p) => p.toLowerCase() === key);
    return i >= 0 ? parts[i + 1] || "" : "";
  };
  const provider = parts.findIndex((p) => p.toLowerCase() === "providers");
  if (provider < 0 || !at("subscriptions") || !at("resourcegroups")) return null;
  return {
    subscription: at("subscriptions"),
    resourceGroup: at("resourcegroups"),
    name: parts[provider + 3] || "",
    child: parts[provider + 5] || "",
  };
}

/** "Succeeded" is good news; anything else is App Service's reason it could not read the secret. */
export function secretStatusBadge(status) {
  if (!status) return h("span", { class: "muted" }, "not read yet");
  return badge(status, status === "Succeeded" ? "ok" : "bad");
}

/** The certificate resource of an App Service link, or null for a link kept in certsync alone. */
export function armCertificate(link) {
  const where = parseResourceId(link.resourceId);
  if (!where) return null;
  const farm = parseResourceId(link.serverFarmId);
  const row = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
  return h(
    "div",
    { class: "arm", "data-arm": "certificate" },
    h("span", { class: "badge badge-info", title: link.resourceId }, "App Service certificate"),
    h(
      "dl",
      { class: "arm-facts" },
      row("Resource", h("code", { title: link.resourceId, "data-field": "resource" }, where.name)),
      row("Resource group", h("span", { "data-field": "resource-group" }, where.resourceGroup)),
      row("Server farm", farm
        ? h("code", { title: link.serverFarmId, "data-field": "server-farm" }, farm.name)
        : h("span", { class: "muted" }, "—")),
      row("keyVaultSecretStatus", h("span", { "data-field": "secret-status" }, secretStatusBadge(link.keyVaultSecretStatus))),
    ),
  );
}

/** "Link to an App Service app": POST /apps/{app}/certificates, then reload. */
export function appServiceLinkForm(certificate, reload) {
  const messages = messageArea();
  const app = h("input", { name: "site", required: true, autocomplete: "off", spellcheck: "false" });
  const group = h("input", { name: "resourceGroup", required: true, autocomplete: "off", spellcheck: "false" });
  const slot = h("input", { name: "slot", autocomplete: "off", spellcheck: "false" });
  const hostnames = h("input", { name: "hostnames", autocomplete: "off", spellcheck: "false" });
  const submit = h("button", { type: "submit" }, "Link to app");
  const form = inlineForm(
    submit,
    messages,
    async () => {
      if (!app.value.trim() || !group.value.trim()) throw new Error("Give the app (site) and its resource group.");
      const body = { certificate, resourceGroup: group.value.trim(), hostnames: parseHostnames(hostnames.value) };
      if (slot.value.trim()) body.slot = slot.value.trim();
      const link = await api.linkToApp(app.value.trim(), body);
      form.reset();
      messages.notice(`Linked to ${app.value.trim() || link.name}: App Service certificate ${link.name}.`);
      await reload();
    },
    field("App (site)", app),
    field("Resource group", group),
    field("Slot", slot, "empty for production"),
    field("Hostnames to bind", hostnames, "comma or space separated"),
  );
  return h("details", { class: "panel" }, h("summary", {}, "Link to an App Service app"), form, messages.el);
}
