// The Export dialog: PFX or PEM, a password typed twice (12 characters at least, checked before
// anything is sent), legacy encryption for old Windows, the key left out of a PEM if wanted, and
// the download of the file the API returns, named as its Content-Disposition says.

import * as api from "./api.js";
import { checkboxField, field, messageArea, run } from "./components.js";
import { h } from "./dom.js";

const MIN_PASSWORD = 12;
let dialog = null;

/** Open the dialog for certificate `name`; onExported(filename) after a download started. */
export function openExportDialog(name, { onExported } = {}) {
  dialog?.remove();
  dialog = build(name, onExported);
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector("input[name=password]").focus();
  return dialog;
}

function build(name, onExported) {
  const messages = messageArea();
  const pfx = h("input", { type: "radio", name: "format", value: "pfx", checked: true, id: "export-pfx" });
  const pem = h("input", { type: "radio", name: "format", value: "pem", id: "export-pem" });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", minlength: MIN_PASSWORD });
  const confirm = h("input", { type: "password", name: "confirm", autocomplete: "new-password" });
  const legacy = h("input", { type: "checkbox", name: "legacy" });
  const includeKey = h("input", { type: "checkbox", name: "includeKey", checked: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Download");
  const cancel = h("button", { type: "button", onclick: () => close() }, "Cancel");
  const passwordFields = h(
    "div",
    { class: "password-fields" },
    field("Password", password, `At least ${MIN_PASSWORD} characters. It encrypts the private key; keep it safe.`),
    field("Confirm password", confirm),
  );

  const isPfx = () => pfx.checked;
  const needsPassword = () => isPfx() || includeKey.checked;
  const sync = () => {
    // A PFX always carries the key; legacy encryption exists for PFX only.
    includeKey.disabled = isPfx();
    if (isPfx()) includeKey.checked = true;
    legacy.disabled = !isPfx();
    if (!isPfx()) legacy.checked = false;
    password.disabled = confirm.disabled = !needsPassword();
    passwordFields.classList.toggle("off", !needsPassword());
  };
  for (const control of [pfx, pem, includeKey]) control.addEventListener("change", sync);
  for (const control of [password, confirm]) {
    control.addEventListener("input", () => {
      control.removeAttribute("aria-invalid");
      messages.clear();
    });
  }

  const close = () => {
    form.reset();
    messages.clear();
    el.close();
  };

  const problem = () => {
    if (!needsPassword()) return null;
    if (password.value.length < MIN_PASSWORD) {
      password.setAttribute("aria-invalid", "true");
      password.focus();
      return `The password must be at least ${MIN_PASSWORD} characters (it has ${password.value.length}).`;
    }
    if (password.value !== confirm.value) {
      confirm.setAttribute("aria-invalid", "true");
      confirm.focus();
      return "The two passwords do not match.";
    }
    return null;
  };

  const form = h(
    "form",
    {
      method: "dialog",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const refused = problem();
        if (refused) {
          messages.error(refused);
          return;
        }
        run(submit, messages, async () => {
          const request = { format: isPfx() ? "pfx" : "pem" };
          if (needsPassword()) request.password = password.value;
          if (isPfx()) request.encryption = legacy.checked ? "legacy" : "modern";
          else request.includeKey = includeKey.checked;
          const { blob, filename } = await api.exportCertificate(name, request);
          download(blob, filename);
          close();
          onExported?.(filename);
        });
      },
    },
    h(
      "fieldset",
      { class: "formats" },
      h("legend", {}, "Format"),
      h("div", { class: "field check" }, pfx, h("label", { for: "export-pfx" }, "PFX (PKCS#12): certificate, chain and key")),
      h("div", { class: "field check" }, pem, h("label", { for: "export-pem" }, "PEM: certificate chain, and the key if included")),
    ),
    checkboxField("Include the private key (PEM)", includeKey),
    passwordFields,
    checkboxField("Legacy encryption (SHA-1 and 3DES) for Windows Server 2016 and older", legacy),
    messages.el,
    h("div", { class: "actions" }, cancel, submit),
  );
  const el = h(
    "dialog",
    { class: "export", "aria-labelledby": "export-title" },
    h("h2", { id: "export-title" }, `Export ${name}`),
    form,
  );
  el.addEventListener("close", () => form.reset());
  sync();
  return el;
}

/** Save a Blob under `filename` the way a link with `download` does. */
function download(blob, filename) {
  const href = URL.createObjectURL(blob);
  const a = h("a", { href, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}
