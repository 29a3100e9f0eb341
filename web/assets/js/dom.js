// Small DOM helpers. User-supplied text only ever goes in through textContent or attributes.

/**
 * @typedef {string | number | boolean | null | undefined | ((ev: any) => void)} PropValue
 * @typedef {Record<string, PropValue>} Props
 * @typedef {Node | string | null | undefined | false} Child
 */

/**
 * Creates an element. In `props`, `class` sets className, `text` sets textContent, a function
 * under `onxxx` becomes an `xxx` listener, `true`/`false` add or omit a boolean attribute, and
 * anything else becomes an attribute. String children become text nodes (never HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'text') el.textContent = String(value);
    else if (typeof value === 'function' && key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} parent
 * @param {Child[]} children
 */
export function append(parent, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
}

/**
 * Replaces the content of the page's main element and sets the document title.
 * @param {HTMLElement} root
 * @param {string} title
 * @param {...Child} children
 */
export function showView(root, title, ...children) {
  document.title = title;
  root.replaceChildren();
  append(root, children);
}

/** Page-wide polite announcer (the aria-live region in index.html). */
let announceTimer = 0;

/**
 * Announces a message to screen readers through the polite live region.
 * @param {string} message
 */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  // Append rather than replace, so two quick events are both read; trim old lines.
  region.append(h('p', { text: message }));
  while (region.childElementCount > 5) region.firstElementChild?.remove();
  window.clearTimeout(announceTimer);
  announceTimer = window.setTimeout(() => region.replaceChildren(), 15000);
}

/**
 * Moves focus to an element that is not normally focusable (a heading after a view change).
 * @param {HTMLElement | null} el
 */
export function focusQuietly(el) {
  if (!el) return;
  if (!el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus({ preventScroll: false });
}

/**
 * A toggle button (aria-pressed). Its accessible name stays `label` whatever the state.
 * With `pressed: null` the state is not known yet (devices still starting): no aria-pressed.
 * @param {{label: string, icon: (on: boolean) => SVGElement, pressed: boolean | null, onclick: (ev: MouseEvent) => void, class?: string}} o
 * @returns {HTMLButtonElement}
 */
export function toggleButton(o) {
  const btn = h('button', { type: 'button', class: `toggle ${o.class ?? ''}`.trim(), onclick: o.onclick });
  const icon = h('span', { class: 'icon', 'aria-hidden': 'true' });
  btn.append(icon, h('span', { class: 'label', text: o.label }));
  if (o.pressed === null) icon.append(o.icon(true));
  else setPressed(btn, o.pressed, o.icon);
  return btn;
}

/**
 * @param {HTMLButtonElement} btn
 * @param {boolean} pressed
 * @param {(on: boolean) => SVGElement} icon
 */
export function setPressed(btn, pressed, icon) {
  btn.setAttribute('aria-pressed', String(pressed));
  btn.querySelector('.icon')?.replaceChildren(icon(pressed));
}

/**
 * A switch (role=switch, aria-checked). Its accessible name stays `label` whatever the state.
 * @param {{label: string, checked: boolean, onchange: (checked: boolean) => void, id?: string}} o
 * @returns {HTMLButtonElement}
 */
export function switchButton(o) {
  const btn = h('button', { type: 'button', role: 'switch', class: 'switch', id: o.id ?? null });
  btn.append(h('span', { class: 'switch-label', text: o.label }), h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })));
  setChecked(btn, o.checked);
  btn.addEventListener('click', () => o.onchange(btn.getAttribute('aria-checked') !== 'true'));
  return btn;
}

/**
 * @param {HTMLElement} el
 * @param {boolean} checked
 */
export function setChecked(el, checked) {
  el.setAttribute('aria-checked', String(checked));
}
