// #/links : every linked certificate (filtered, 50 a page) and the form that links one, from a
// certsync certificate or any Key Vault secret id. #/links/<name> : one link and its bindings.

import * as api from "./api.js";
import { armCertificate } from "./app-service.js";
import { bindingsEditor } from "./bindings.js";
import { PagedTable, confirmButton, field, messageArea, run, thumbprintComparison, time } from "./components.js";
import { fill, h } from "./dom.js";
import { ProgressPanel } from "./operations.js";

export async function linksView(main, { signal }) {
  const messages = messageArea();
  const progress = new ProgressPanel(signal);
  const table = new PagedTable({
    caption: "Linked certificates",
    name: "all-links",
    columns: ["Name", "Scope", "Source", "Thumbprint held", "Hostnames", "Last synced", "Actions"],
    empty: "No linked certificates yet.",
    text: (l) => `${l.name} ${l.scope} ${l.certificate || ""} ${l.keyVaultSecretId} ${l.hostnames.join(" ")}`,
    toggles: [{ label: "Only with a sync error", test: (l) => Boolean(l.lastSyncError) }],
    row: (l) => linkRow(l, { messages, progress, reload }),
  });
  async function reload() {
    table.update(await api.listLinks());
  }
  main.append(
    h("h1", { tabindex: "-1" }, "Linked certificates"),
    createLinkForm(reload),
    progress.el,
    messages.el,
    table.el,
  );
  await reload().catch((err) => messages.error(err));
}

function source(l) {
  if (l.certificate) {
    return h("a", { href: `#/certificates/${encodeURIComponent(l.certificate)}` }, `certificate ${l.certificate}`);
  }
  return h("code", { class: "wrap" }, l.keyVaultSecretId);
}

function linkRow(l, { messages, progress, reload }) {
  const sync = h("button", { type: "button", class: "small", "aria-label": `Sync ${l.name}`, "data-focus": "sync" }, "Sync");
  sync.addEventListener("click", () =>
    run(sync, messages, async () => {
      const { operation, location } = await api.syncLink(l.name);
      await progress.track(operation, location, l.name);
      await reload();
    }),
  );
  const remove = confirmButton("Remove", "Confirm remove", `Remove linked certificate ${l.name}`, (button) =>
    run(button, messages, async () => {
      await api.deleteLink(l.name);
      messages.notice(`Removed linked certificate ${l.name}.`);
      await reload();
    }),
  );
  return h(
    "tr",
    { "data-key": l.name },
    h("th", { scope: "row" }, h("a", { href: `#/links/${encodeURIComponent(l.name)}`, "data-focus": "name" }, l.name)),
    h("td", {}, l.scope),
    h("td", {}, source(l)),
    h("td", {}, l.thumbprint ? h("code", { class: "thumbprint" }, l.thumbprint) : "—"),
    h("td", { class: "hostnames" }, l.hostnames.join(", ")),
    h(
      "td",
      {},
      time(l.lastSyncedAt, true),
      l.lastSyncError ? h("div", { class: "error small" }, "Last sync error: ", l.lastSyncError) : null,
    ),
    h("td", { class: "row-actions" }, sync, " ", remove),
  );
}

function createLinkForm(reload) {
  const messages = messageArea();
  const name = h("input", { name: "linkName", required: true, autocomplete: "off", spellcheck: "false" });
  const scope = h("input", { name: "scope", value: "default", autocomplete: "off", spellcheck: "false" });
  const fromCert = h("input", { type: "radio", name: "source", value: "certificate", checked: true, id: "source-cert" });
  const fromSecret = h("input", { type: "radio", name: "source", value: "secret", id: "source-secret" });
  const certificate = h("input", { name: "certificate", autocomplete: "off", spellcheck: "false", list: "certificate-names" });
  const secretId = h("input", { name: "keyVaultSecretId", type: "url", autocomplete: "off", spellcheck: "false", disabled: true });
  const names = h("datalist", { id: "certificate-names" });
  api.listCertificates().then((certs) => fill(names, certs.map((c) => h("option", { value: c.name })))).catch(() => {});
  const sync = () => {
    certificate.disabled = !fromCert.checked;
    secretId.disabled = fromCert.checked;
  };
  fromCert.addEventListener("change", sync);
  fromSecret.addEventListener("change", sync);
  const submit = h("button", { type: "submit", class: "primary" }, "Create link");
  const form = h(
    "form",
    {
      class: "grid-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        run(submit, messages, async () => {
          const spec = { name: name.value.trim(), scope: scope.value.trim() || "default" };
          if (fromCert.checked) spec.certificate = certificate.value.trim();
          else spec.keyVaultSecretId = secretId.value.trim();
          const link = await api.createLink(spec);
          form.reset();
          sync();
          messages.notice(`Linked certificate ${link.name} created (thumbprint ${link.thumbprint}).`);
          await reload();
        });
      },
    },
    field("Link name", name),
    field("Scope (resource group)", scope),
    h(
      "fieldset",
      { class: "formats" },
      h("legend", {}, "Import from"),
      h("div", { class: "field check" }, fromCert, h("label", { for: "source-cert" }, "a certsync certificate")),
      h("div", { class: "field check" }, fromSecret, h("label", { for: "source-secret" }, "a Key Vault secret id")),
    ),
    field("Certificate", certificate),
    field("Key Vault secret id", secretId, "https://<vault>.vault.azure.net/secrets/<name>"),
    names,
    h("div", { class: "actions" }, submit),
    messages.el,
  );
  return h("details", { class: "panel create" }, h("summary", {}, "New linked certificate"), form);
}

export async function linkView(main, name, { signal }) {
  const messages = messageArea();
  const progress = new ProgressPanel(signal);
  const facts = h("dl", { class: "facts" });
  const bindings = h("section", { "aria-labelledby": "bindings-heading" });
  const reload = async () => {
    const l = await api.getLink(name);
    if (signal.aborted) return;
    fill(
      facts,
      ...[
        ["Scope", l.scope],
        ["Source", source(l)],
        ["App Service", armCertificate(l) || h("span", { class: "muted" }, "none (a link kept in certsync alone)")],
        ["Thumbprint held", thumbprintComparison(l.thumbprint, l.currentThumbprint)],
        ["Version held", l.version ? h("code", {}, l.version) : "—"],
        ["Hostnames", l.hostnames.join(", ")],
        ["Expires", time(l.notAfter)],
        ["Last synced", time(l.lastSyncedAt, true)],
        ["Last checked", time(l.lastCheckedAt, true)],
        ["Last sync error", l.lastSyncError ? h("span", { class: "error" }, l.lastSyncError) : "none"],
      ].flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
    );
    fill(
      bindings,
      h("h2", { id: "bindings-heading" }, `Bindings (${l.bindings.length})`),
      bindingsEditor(l, { onChanged: reload }),
    );
  };
  const sync = h("button", { type: "button", class: "primary" }, "Sync");
  sync.addEventListener("click", () =>
    run(sync, messages, async () => {
      const { operation, location } = await api.syncLink(name);
      await progress.track(operation, location, name);
      await reload();
    }),
  );
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/links" }, "Linked certificates"), " / ", name),
    h("h1", { tabindex: "-1" }, name),
    h("div", { class: "toolbar actions-bar" }, sync),
    progress.el,
    messages.el,
    facts,
    bindings,
  );
  await reload().catch((err) => messages.error(err));
}
