// #/certificates/<name> : one certificate, the thumbprint each linked certificate holds against
// the one in Key Vault now (with the difference marked), bindings per app, Sync / Renew / Rekey
// / Revoke (a reason, then a confirmation) / Export, the progress of running operations and the history.

import * as api from "./api.js";
import { appServiceLinkForm, armCertificate } from "./app-service.js";
import { bindingsEditor } from "./bindings.js";
import { KEY_TYPES } from "./certificates-view.js";
import {
  PagedTable,
  badge,
  confirmButton,
  errorMessage,
  expiry,
  field,
  inlineForm,
  messageArea,
  run,
  select,
  statusBadge,
  syncBadge,
  thumbprintComparison,
  time,
} from "./components.js";
import { fill, h } from "./dom.js";
import { openExportDialog } from "./export-dialog.js";
import { vaultHost } from "./format.js";
import { ProgressPanel, historyTable, isActive, newestFirst } from "./operations.js";

export async function overviewView(main, name, { signal }) {
  const messages = messageArea();
  const progress = new ProgressPanel(signal);
  const badges = h("span", { class: "heading-badges" });
  const facts = h("dl", { class: "facts" });
  const secretLink = h("span", { class: "secret-link" });
  const syncState = h("span", { class: "sync-state", id: "sync-state" });
  let overview = null;

  const syncAll = h(
    "button",
    { type: "button", class: "primary", id: "sync-all", "aria-describedby": "sync-state", disabled: true },
    "Sync all links",
  );
  syncAll.addEventListener("click", () => startOperation(syncAll, () => api.syncCertificate(name)));
  const renew = h("button", { type: "button" }, "Renew");
  renew.addEventListener("click", () => startOperation(renew, () => api.renewCertificate(name)));
  const rekeyType = select("rekeyKeyType", [["", "same key type"], ...KEY_TYPES], "");
  const rekey = h("button", { type: "button" }, "Rekey");
  rekey.addEventListener("click", () => startOperation(rekey, () => api.rekeyCertificate(name, rekeyType.value)));
  const revokeReason = select("revokeReason", [], "");
  revokeReason.id = "revoke-reason";
  const revoke = confirmButton("Revoke", "Confirm revoke", "Revoke the current version", (button) =>
    startOperation(button, () => api.revokeCertificate(name, revokeReason.value)),
  );
  const exportButton = h("button", { type: "button" }, "Export…");
  exportButton.addEventListener("click", () =>
    openExportDialog(name, { onExported: (file) => messages.notice(`Downloaded ${file}.`) }),
  );

  const links = new PagedTable({
    caption: "Linked certificates",
    name: "links",
    columns: ["Linked certificate", "State, last sync", "Thumbprint: held / in Key Vault", "Bindings: served thumbprint"],
    empty: "No linked certificates. Link this certificate to an app below.",
    text: (l) =>
      `${l.name} ${l.scope} ${l.resourceId || ""} ${l.bindings.map((b) => `${b.app} ${b.slot || ""} ${b.hostname}`).join(" ")}`,
    toggles: [{ label: "Only out of sync", test: (l) => !l.inSync }],
    row: (l) => linkRow(l, { messages, follow, reload }),
  });
  const linksTitle = h("h2", { id: "links-heading" }, "Linked certificates");
  const historyList = historyTable();

  const refresh = async () => {
    const [o, ops] = await Promise.all([api.getCertificate(name), api.listOperations(name)]);
    if (signal.aborted) return;
    overview = o;
    fill(badges, statusBadge(o.status), o.outOfSyncLinks > 0 ? badge("Links out of sync", "bad") : null);
    fill(facts, certificateFacts(o));
    if (!revokeReason.options.length) fill(revokeReason, revocationReasons(o.issuer).map(([v, label]) => h("option", { value: v }, label)));
    const stale = o.linkedCertificates.filter((l) => !l.inSync).length;
    syncAll.disabled = !o.syncAvailable;
    const total = o.linkedCertificates.length;
    syncState.textContent = total === 0
      ? "No linked certificates."
      : stale ? `${stale} of ${total} linked certificate(s) out of sync.` : `All ${total} linked certificate(s) in sync.`;
    linksTitle.textContent = `Linked certificates (${o.linkedCertificates.length})`;
    links.update(outOfSyncFirst(o.linkedCertificates));
    const history = newestFirst(ops);
    historyList.update(history);
    for (const op of history.filter(isActive)) follow(op, null);
  };
  const reload = () => refresh().catch((err) => messages.error(err));

  /** Show an operation's progress until it ends, then reload what it changed (once per operation). */
  const following = new Map();
  const follow = (operation, location) => {
    if (!following.has(operation.id)) {
      const done = progress.track(operation, location, operation.target);
      following.set(operation.id, done.then((last) => (last ? reload() : null)));
    }
    return following.get(operation.id);
  };
  const startOperation = (button, start) =>
    run(button, messages, async () => {
      const { operation, location } = await start();
      const done = follow(operation, location);
      await reload(); // shows "Renewing" and the Queued operation in the history at once
      await done;
    });

  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "Certificates"), " / ", name),
    h("h1", { tabindex: "-1" }, name, " ", badges),
    h(
      "div",
      { class: "toolbar actions-bar", role: "group", "aria-label": "Certificate actions" },
      syncAll,
      renew,
      h("span", { class: "rekey" }, h("label", { for: "rekey-type", class: "visually-hidden" }, "Key type for rekey"), rekeyType, rekey),
      h(
        "span",
        { class: "rekey" },
        h("label", { for: "revoke-reason", class: "visually-hidden" }, "Reason for revoke"),
        revokeReason,
        revoke,
      ),
      exportButton,
      secretLink,
    ),
    h("p", { class: "sync-line" }, syncState),
    progress.el,
    messages.el,
    h("section", { "aria-label": "Certificate details" }, facts),
    h(
      "section",
      { "aria-labelledby": "links-heading" },
      linksTitle,
      linkForm(name, reload),
      appServiceLinkForm(name, reload),
      links.el,
    ),
    h("section", { "aria-labelledby": "history-heading" }, h("h2", { id: "history-heading" }, "History"), historyList.el),
  );
  rekeyType.id = "rekey-type";
  await refresh().catch((err) => {
    messages.error(err);
    if (err.status === 404) syncState.textContent = "";
  });
  api
    .secretLocation(name)
    .then((loc) => fill(secretLink, secretAnchor(loc)))
    .catch((err) => {
      // A missing certificate is already reported above; any other failure is said where the link would be.
      if (err.status !== 404) fill(secretLink, errorMessage(err));
    });
  return overview;
}

// RFC 5280 reasons each issuer takes (the API refuses others, naming these).
const ACME_REASONS = [
  ["keyCompromise", "key compromise"],
  ["superseded", "superseded"],
  ["cessationOfOperation", "cessation of operation"],
  ["unspecified", "unspecified"],
];
const LOCAL_REASONS = [...ACME_REASONS, ["affiliationChanged", "affiliation changed"], ["privilegeWithdrawn", "privilege withdrawn"]];

function revocationReasons(issuer) {
  return issuer === "local" ? LOCAL_REASONS : ACME_REASONS;
}

function outOfSyncFirst(links) {
  return [...links.filter((l) => !l.inSync), ...links.filter((l) => l.inSync)];
}

function secretAnchor(loc) {
  const href = loc.portalUrl || loc.keyVaultSecretId;
  if (!href) return null;
  return h(
    "a",
    { href, target: "_blank", rel: "noopener noreferrer", class: "button-link", title: loc.versionId || loc.keyVaultSecretId },
    "Open Key Vault secret",
  );
}

function certificateFacts(o) {
  const row = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
  const recordedVsVault =
    o.currentThumbprint && o.thumbprint && o.currentThumbprint !== o.thumbprint
      ? h("div", { class: "note" }, "Key Vault holds a version certsync did not issue:", thumbprintComparison(o.thumbprint, o.currentThumbprint))
      : null;
  return [
    row("Hostnames", o.hostnames.join(", ")),
    row("Key type", o.keyType),
    row("Issuer", o.issuer),
    row("Profile", o.profile || h("span", { class: "muted" }, "the CA's default")),
    row("Expires", expiry(o.notAfter)),
    row("Renewal due", time(o.renewalDueAt), o.autoRenew ? "" : h("span", { class: "muted" }, " (auto-renew off)")),
    o.renewalWindow ? row("CA's renewal window", time(o.renewalWindow.start, true), " to ", time(o.renewalWindow.end, true)) : null,
    row("Thumbprint in Key Vault", o.currentThumbprint ? h("code", { class: "thumbprint" }, o.currentThumbprint) : "—", recordedVsVault),
    row("Key Vault version", o.currentVersion ? h("code", {}, o.currentVersion) : "—"),
    o.currentError ? row("Key Vault error", h("span", { class: "error" }, o.currentError)) : null,
    o.lastError ? row("Last error", h("span", { class: "error" }, o.lastError)) : null,
    row("Key Vault", h("code", { class: "wrap", "data-vault": o.vault }, vaultHost(o.vault))),
    (o.revokedVersions || []).length
      ? row(
          "Revoked versions",
          h(
            "ul",
            { class: "revoked" },
            o.revokedVersions.map((r) => h("li", {}, h("code", { class: "thumbprint" }, r.thumbprint), ` ${r.reason}, `, time(r.revokedAt))),
          ),
        )
      : null,
    row("Key Vault secret", h("code", { class: "wrap" }, o.keyVaultSecretId)),
  ];
}

function linkRow(l, { messages, follow, reload }) {
  const rowMessages = messageArea();
  const sync = h(
    "button",
    { type: "button", class: "small", "aria-label": `Sync ${l.name}`, "data-focus": "sync" },
    "Sync",
  );
  sync.addEventListener("click", () =>
    run(sync, rowMessages, async () => {
      const { operation, location } = await api.syncLink(l.name);
      await follow(operation, location);
    }),
  );
  const remove = confirmButton("Remove", "Confirm remove", `Remove linked certificate ${l.name}`, (button) =>
    run(button, rowMessages, async () => {
      await api.deleteLink(l.name);
      messages.notice(`Removed linked certificate ${l.name}.`);
      await reload();
    }),
  );
  return h(
    "tr",
    { "data-key": l.name, "data-in-sync": String(l.inSync), class: l.inSync ? "" : "stale" },
    h(
      "th",
      { scope: "row" },
      h("a", { href: `#/links/${encodeURIComponent(l.name)}`, "data-focus": "name" }, l.name),
      h("div", { class: "muted small" }, `scope ${l.scope}`),
      h("div", { class: "row-actions" }, sync, " ", remove, rowMessages.el),
      armCertificate(l),
    ),
    h(
      "td",
      {},
      syncBadge(l.inSync, l.syncState),
      l.lastSyncError ? h("div", { class: "error small" }, "Last sync error: ", l.lastSyncError) : null,
      !l.lastSyncError && l.syncError
        ? h("div", { class: "error small" }, "The version in Key Vault cannot be synced: ", l.syncError)
        : null,
      h("div", { class: "muted small" }, "synced ", time(l.lastSyncedAt, true)),
      h("div", { class: "muted small" }, "checked ", time(l.lastCheckedAt, true)),
    ),
    h(
      "td",
      {},
      thumbprintComparison(l.thumbprint, l.currentThumbprint),
      !l.inSync && l.version ? h("div", { class: "muted small" }, "holds version ", h("code", {}, l.version.slice(0, 8))) : null,
    ),
    h("td", { class: "bindings-cell" }, bindingsEditor(l, { onChanged: reload })),
  );
}

function linkForm(certificate, reload) {
  const messages = messageArea();
  const name = h("input", { name: "linkName", required: true, autocomplete: "off", spellcheck: "false" });
  const scope = h("input", { name: "scope", value: "default", autocomplete: "off", spellcheck: "false" });
  const submit = h("button", { type: "submit" }, "Create link");
  const form = inlineForm(
    submit,
    messages,
    async () => {
      const link = await api.createLink({ name: name.value.trim(), scope: scope.value.trim() || "default", certificate });
      form.reset();
      messages.notice(`Linked certificate ${link.name} created.`);
      await reload();
    },
    field("Link name", name),
    field("Scope (resource group)", scope),
  );
  return h("details", { class: "panel" }, h("summary", {}, "Link this certificate to an app"), form, messages.el);
}
