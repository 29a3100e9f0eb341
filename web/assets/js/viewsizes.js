// Tells the server how large each remote camera is shown (`view_sizes`), so it forwards the
// smallest simulcast layer that still looks sharp, and the publisher stops encoding layers
// nobody needs.
//
// A ResizeObserver (tile size) and an IntersectionObserver (on screen or scrolled away) make
// changes quick; a slow timer catches the rest (a tile's video appearing when a camera turns
// on). A hidden page, a tile off screen or a tile without video reports 0. At most one
// message every MIN_INTERVAL_MS, and only when something changed.

/** At most two messages a second. */
export const MIN_INTERVAL_MS = 500;
/** Fallback check for changes no observer sees. */
const CHECK_EVERY_MS = 1000;
/** The server's limit (docs/protocol.md, `view_sizes`). */
export const MAX_VIEW_HEIGHT = 16384;

/**
 * The source height needed to show a video sharply in a box with `object-fit: cover`: the
 * box's height, or more when the video is narrower than the box (it is then scaled to the
 * box's width and cropped top and bottom). In device pixels, a whole number.
 * @param {number} boxWidth CSS pixels
 * @param {number} boxHeight CSS pixels
 * @param {number} aspect the video's width / height (0 when not known yet)
 * @param {number} dpr devicePixelRatio
 * @returns {number}
 */
export function neededHeight(boxWidth, boxHeight, aspect, dpr) {
  if (!(boxWidth > 0) || !(boxHeight > 0)) return 0;
  const css = aspect > 0 ? Math.max(boxHeight, boxWidth / aspect) : boxHeight;
  return Math.min(MAX_VIEW_HEIGHT, Math.max(0, Math.round(css * (dpr > 0 ? dpr : 1))));
}

/**
 * A stable text form of a sizes map, to tell whether it changed.
 * @param {Record<string, number>} sizes
 */
export function sizesKey(sizes) {
  return JSON.stringify(Object.entries(sizes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The part of a tile the reporter needs (tiles.js `Tile`).
 * @typedef {{id: string, isLocal: boolean, screen: boolean, el: HTMLElement, video: HTMLVideoElement | null}} ReportedTile
 */

export class ViewSizeReporter {
  /**
   * @param {{tiles: Map<string, ReportedTile>}} grid
   * @param {(sizes: Record<string, number>) => void} send
   */
  constructor(grid, send) {
    this.grid = grid;
    this.send = send;
    /** @type {WeakMap<Element, boolean>} */
    this.onScreen = new WeakMap();
    /** @type {Set<Element>} */
    this.observed = new Set();
    this.lastKey = sizesKey({});
    this.lastSentAt = 0;
    /** @type {number | null} */
    this.timer = null;
    this.resize = new ResizeObserver(() => this.schedule());
    this.intersect = new IntersectionObserver((entries) => {
      for (const e of entries) this.onScreen.set(e.target, e.isIntersecting);
      this.schedule();
    });
    this.onVisibility = () => this.schedule();
    document.addEventListener('visibilitychange', this.onVisibility);
    this.interval = window.setInterval(() => this.schedule(), CHECK_EVERY_MS);
  }

  /** Reports soon (throttled). */
  schedule() {
    if (this.timer !== null) return;
    const wait = Math.max(0, this.lastSentAt + MIN_INTERVAL_MS - Date.now());
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.report();
    }, wait);
  }

  /** Forgets what was sent (a new connection must be told again). */
  reset() {
    this.lastKey = sizesKey({});
    this.schedule();
  }

  /** @returns {Record<string, number>} */
  sizes() {
    /** @type {Record<string, number>} */
    const sizes = {};
    for (const tile of this.grid.tiles.values()) {
      if (tile.isLocal || tile.screen) continue;
      if (!this.observed.has(tile.el)) {
        this.observed.add(tile.el);
        this.resize.observe(tile.el);
        this.intersect.observe(tile.el);
      }
      const video = tile.video;
      const shown = video !== null && video.isConnected && !document.hidden && this.onScreen.get(tile.el) !== false;
      const aspect = video && video.videoWidth > 0 && video.videoHeight > 0 ? video.videoWidth / video.videoHeight : 0;
      sizes[tile.id] = shown && video ? neededHeight(video.clientWidth, video.clientHeight, aspect, window.devicePixelRatio) : 0;
    }
    for (const el of this.observed) {
      if (el.isConnected) continue;
      this.observed.delete(el);
      this.resize.unobserve(el);
      this.intersect.unobserve(el);
    }
    return sizes;
  }

  report() {
    const sizes = this.sizes();
    const key = sizesKey(sizes);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.lastSentAt = Date.now();
    this.send(sizes);
  }

  close() {
    if (this.timer !== null) window.clearTimeout(this.timer);
    window.clearInterval(this.interval);
    document.removeEventListener('visibilitychange', this.onVisibility);
    this.resize.disconnect();
    this.intersect.disconnect();
  }
}
