// Building DOM nodes without innerHTML: every value from the API lands in a text node or an
// attribute, so a certificate or app name can never become markup.

/**
 * h("button", {class: "primary", onclick: fn, disabled: true}, "Sync", child, [more])
 * Props: `class`, `on<event>` listeners, properties for disabled/hidden/open, attributes for the
 * rest (so `value` and `checked` are the defaults a form reset goes back to); false, null and
 * undefined leave a prop out.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (PROPERTIES.has(name)) el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

const PROPERTIES = new Set(["disabled", "open", "hidden", "indeterminate"]);

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Run `fn` at most once per `ms` of quiet (typing in a filter box). */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let ids = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix = "id") {
  ids += 1;
  return `${prefix}-${ids}`;
}
