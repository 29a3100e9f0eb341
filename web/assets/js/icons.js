// Line icons drawn here (24×24, stroke = currentColor). Decorative: callers hide them from
// assistive technology and give every control a text name.

const NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string[]} paths SVG path data
 * @returns {SVGElement}
 */
function icon(paths) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '24');
  svg.setAttribute('fill', 'none');
  svg.setAttribute('stroke', 'currentColor');
  svg.setAttribute('stroke-width', '2');
  svg.setAttribute('stroke-linecap', 'round');
  svg.setAttribute('stroke-linejoin', 'round');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of paths) {
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

const MIC = ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'];
const CAM = ['M3 7h12v10H3z', 'M15 10l6-3v10l-6-3'];
const SLASH = 'M3 3l18 18';

const SCREEN = ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4'];
/** @param {boolean} on */
export const screenIcon = (on) => icon(on ? [...SCREEN, 'M12 13V7', 'M9 10l3-3 3 3'] : SCREEN);
/** @param {boolean} speaker */
export const viewIcon = (speaker) =>
  icon(speaker ? ['M3 4h18v11H3z', 'M3 18h5v2H3z', 'M10 18h4v2h-4z', 'M16 18h5v2h-5z'] : ['M3 3h8v8H3z', 'M13 3h8v8h-8z', 'M3 13h8v8H3z', 'M13 13h8v8h-8z']);
export const gearIcon = () =>
  icon(['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z']);

/** @param {boolean} on */
export const micIcon = (on) => icon(on ? MIC : [...MIC, SLASH]);
/** @param {boolean} on */
export const cameraIcon = (on) => icon(on ? CAM : [...CAM, SLASH]);
export const micOffIcon = () => icon([...MIC, SLASH]);
export const linkIcon = () =>
  icon(['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1']);
export const leaveIcon = () => icon(['M15 4h4v16h-4', 'M10 8l-4 4 4 4', 'M6 12h10']);
/** @param {boolean} _on */
export const peopleIcon = (_on) =>
  icon(['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2.5 20a6.5 6.5 0 0 1 13 0', 'M16 4.5a3.5 3.5 0 0 1 0 6.5', 'M18 14a6 6 0 0 1 3.5 6']);
/** @param {boolean} _on */
export const handIcon = (_on) =>
  icon(['M8 12V5.5a1.5 1.5 0 0 1 3 0V11', 'M11 10V4a1.5 1.5 0 0 1 3 0v6', 'M14 10V5.5a1.5 1.5 0 0 1 3 0V14', 'M8 11.5a1.5 1.5 0 0 0-3 0V14a7 7 0 0 0 7 7h1a5 5 0 0 0 4-2']);
export const shieldIcon = () => icon(['M12 3l7 3v5c0 4.5-3 8.5-7 10-4-1.5-7-5.5-7-10V6z']);
/** @param {boolean} _on */
export const chatIcon = (_on) => icon(['M4 5h16v11H9l-5 4z']);
/** @param {boolean} _on */
export const smileIcon = (_on) => icon(['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 14a5 5 0 0 0 8 0', 'M9 9.5h.01', 'M15 9.5h.01']);
/** A filled dot in a ring: recording. */
export const recordIcon = () => icon(['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z']);
export const keyboardIcon = () => icon(['M3 6h18v12H3z', 'M7 10h.01', 'M11 10h.01', 'M15 10h.01', 'M8 14h8']);
