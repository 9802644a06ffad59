// Pure formatting and comparison helpers: dates, days left, thumbprint differences.

const DAY = 24 * 60 * 60 * 1000;

/** A vault's host, "shop-kv.vault.azure.net" or "127.0.0.1:9443" (the API gives its URL). */
export function vaultHost(url) {
  if (!url) return "—";
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/** "2026-03-01" (UTC), or "—" when there is no date. */
export function formatDate(iso) {
  return iso ? iso.slice(0, 10) : "—";
}

/** "2026-03-01 14:05 UTC" */
export function formatDateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** "89 days left", "less than a day left", "expired today", "expired 3 days ago" (whole days). */
export function daysLeftText(iso, now = Date.now()) {
  if (!iso) return "";
  const ms = new Date(iso).getTime() - now;
  const days = Math.floor(Math.abs(ms) / DAY);
  const plural = days === 1 ? "" : "s";
  if (ms < 0) return days === 0 ? "expired today" : `expired ${days} day${plural} ago`;
  return days === 0 ? "less than a day left" : `${days} day${plural} left`;
}

/**
 * Split two thumbprints into runs of equal / different characters, position by position.
 * Returns {was: [{text, differs}], now: [...], differing, length}.
 */
export function thumbprintDiff(held, current) {
  const a = held || "";
  const b = current || "";
  const length = Math.max(a.length, b.length);
  const was = [];
  const now = [];
  let differing = 0;
  for (let i = 0; i < length; i += 1) {
    const differs = a[i] !== b[i];
    if (differs) differing += 1;
    push(was, a[i] ?? "", differs);
    push(now, b[i] ?? "", differs);
  }
  return { was, now, differing, length };
}

function push(runs, char, differs) {
  if (!char) return;
  const last = runs[runs.length - 1];
  if (last && last.differs === differs) last.text += char;
  else runs.push({ text: char, differs });
}

/** Hostnames typed by a person: one per line, or separated by commas or spaces. */
export function parseHostnames(text) {
  return [...new Set(text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean))];
}

const KIND_NAMES = {
  issue: "Issue",
  renew: "Renew",
  rekey: "Rekey",
  revoke: "Revoke",
  syncLink: "Sync link",
  syncCertificate: "Sync",
  export: "Export",
};

export function kindName(kind) {
  return KIND_NAMES[kind] || kind;
}

/** One line on what an operation did or why it failed. */
export function operationOutcome(op) {
  if (op.error) return `${op.error.code}: ${op.error.message}`;
  const r = op.result || {};
  const parts = [];
  if (r.thumbprint) parts.push(`thumbprint ${r.thumbprint}`);
  if (r.notAfter) parts.push(`expires ${formatDate(r.notAfter)}`);
  if (r.linksSynced !== undefined) parts.push(`${r.linksSynced} link(s) checked, ${r.linksChanged} changed`);
  if (r.bindingsUpdated) parts.push(`${r.bindingsUpdated} binding(s) updated`);
  if (r.failures && Object.keys(r.failures).length) {
    parts.push(`failed: ${Object.entries(r.failures).map(([l, c]) => `${l} (${c})`).join(", ")}`);
  }
  if (r.filename) parts.push(r.filename);
  if (r.syncOperation) parts.push("links sync started");
  return parts.join("; ");
}
