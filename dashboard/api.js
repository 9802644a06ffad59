// The certsync HTTP API client. The only module that knows where the API lives and how the
// function key travels: the page is opened as /api/dashboard?code=<key>, and every call sends
// that key in the x-functions-key header (never in a URL, so it stays out of request logs).

const key = new URLSearchParams(location.search).get("code");
/** "/api" under the default route prefix: the dashboard lives at <prefix>/dashboard. */
const apiBase = location.pathname.replace(/\/dashboard(\/[^/]*)?\/?$/, "");

/** An error as the API worded it: {"error": {"code", "message"}} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function url(path) {
  return path.startsWith("/") ? path : `${apiBase}/${path}`;
}

const seg = encodeURIComponent;

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (key) headers["x-functions-key"] = key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (err) {
    throw new ApiError(0, "NetworkError", `the API could not be reached (${err.message})`);
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.code) {
      return new ApiError(response.status, body.error.code, body.error.message);
    }
  } catch {
    // not JSON: fall through to the status line
  }
  const text = `the API answered ${response.status} ${response.statusText}`.trim();
  return new ApiError(response.status, `Http${response.status}`, text);
}

async function json(method, path, body) {
  const response = await send(method, path, body);
  return response.status === 204 ? null : response.json();
}

/**
 * Every item of a paged list: {"value": [...], "nextLink": "..."} pages are followed until the
 * last one (or `limit` items). A nextLink is only followed on this origin, so the key never
 * travels anywhere else.
 */
export async function listAll(path, limit = Infinity) {
  const items = [];
  let next = path;
  while (next && items.length < limit) {
    const page = await json("GET", next);
    items.push(...page.value);
    next = page.nextLink ? sameOriginPath(page.nextLink) : null;
  }
  return items.slice(0, limit);
}

function sameOriginPath(link) {
  const target = new URL(link, location.href);
  return target.origin === location.origin ? target.pathname + target.search : null;
}

/** A 202 answer: the operation as accepted and the Location to poll. */
async function start(path, body = {}) {
  const response = await send("POST", path, body);
  const operation = await response.json();
  return { operation, location: response.headers.get("Location") || `operations/${operation.id}` };
}

// --- certificates ---
export const listCertificates = () => listAll("certificates?$top=100");
export const getCertificate = (name) => json("GET", `certificates/${seg(name)}`);
export const createCertificate = (spec) => start("certificates", spec);
export const setAutoRenew = (name, autoRenew) => json("PATCH", `certificates/${seg(name)}`, { autoRenew });
export const renewCertificate = (name) => start(`certificates/${seg(name)}/renew`);
export const rekeyCertificate = (name, keyType) =>
  start(`certificates/${seg(name)}/rekey`, keyType ? { keyType } : {});
export const syncCertificate = (name) => start(`certificates/${seg(name)}/sync`);
export const revokeCertificate = (name, reason) => start(`certificates/${seg(name)}/revoke`, { reason });
export const secretLocation = (name) => json("GET", `certificates/${seg(name)}/secret`);

/** POST .../export: the file as a Blob, named as the API's Content-Disposition says. */
export async function exportCertificate(name, request) {
  const response = await send("POST", `certificates/${seg(name)}/export`, request);
  const blob = await response.blob();
  const filename = filenameOf(response.headers.get("Content-Disposition")) || `${name}.${request.format}`;
  return { blob, filename };
}

function filenameOf(disposition) {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename\s*=\s*"([^"]*)"|filename\s*=\s*([^;]+)/i.exec(disposition);
  if (!plain) return null;
  // Only the last path part, as a browser would keep it.
  return (plain[1] ?? plain[2]).trim().split(/[\\/]/).pop() || null;
}

// --- linked certificates and bindings ---
const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
/** Pages come by scope, then name; the dashboard lists by name. */
export const listLinks = () => listAll("links?$top=1000").then((links) => links.sort(byName));
export const getLink = (name) => json("GET", `links/${seg(name)}`);
export const createLink = (spec) => json("POST", "links", spec);
export const deleteLink = (name) => json("DELETE", `links/${seg(name)}`);
export const syncLink = (name) => start(`links/${seg(name)}/sync`);
export const putBinding = (app, hostname, link, sslState, slot) =>
  json("PUT", `apps/${seg(app)}/bindings/${seg(hostname)}`, slot ? { link, sslState, slot } : { link, sslState });
/** Link to an App Service app: creates the certificate resource in its resource group, binds `hostnames`. */
export const linkToApp = (app, body) => json("POST", `apps/${seg(app)}/certificates`, body);
export const deleteBinding = (app, hostname) => json("DELETE", `apps/${seg(app)}/bindings/${seg(hostname)}`);

// --- operations ---
export const getOperation = (location) => json("GET", location);
export const listOperations = (target) => listAll(`operations?target=${seg(target)}&$top=1000`, 1000);

// --- health view ---
export const getAttention = () => json("GET", "attention");
