// Tile view and speaker view. In speaker view one tile is large: a screen share from someone
// else if there is one (the most recent), else the dominant speaker as the server announces it
// (`dominant_speaker`), else the last other person who spoke, else the first other person.
// Your own camera is large only while you are alone. The choice of view is remembered in this
// browser (`localStorage["moot.view"]`); tile view is the default.

import { toggleButton, setPressed } from './dom.js';
import { viewIcon } from './icons.js';
import { screenKey } from './tiles.js';

/** @typedef {import('./tiles.js').TileGrid} TileGrid */

const VIEW_KEY = 'moot.view';

/** @returns {'tile' | 'speaker'} */
function rememberedView() {
  try {
    return localStorage.getItem(VIEW_KEY) === 'speaker' ? 'speaker' : 'tile';
  } catch {
    return 'tile';
  }
}

export class Layout {
  /** @param {TileGrid} grid */
  constructor(grid) {
    this.grid = grid;
    /** My participant id (set on welcome). */
    /** @type {string | null} */
    this.me = null;
    /** The server's dominant speaker. */
    /** @type {string | null} */
    this.dominant = null;
    /** The last other person the server named as dominant speaker. */
    /** @type {string | null} */
    this.lastRemoteSpeaker = null;
    /** Ids of others sharing their screen, oldest first. */
    /** @type {string[]} */
    this.screens = [];
    /** The toolbar toggle: pressed = speaker view, not pressed = tile view. */
    this.button = toggleButton({ label: 'Speaker view', icon: viewIcon, pressed: false, onclick: () => this.toggle() });
    this.setMode(rememberedView());
  }

  toggle() {
    this.setMode(this.grid.mode === 'speaker' ? 'tile' : 'speaker');
    try {
      localStorage.setItem(VIEW_KEY, this.grid.mode);
    } catch {
      // storage disabled
    }
  }

  /** @param {'tile' | 'speaker'} mode */
  setMode(mode) {
    this.grid.setMode(mode);
    setPressed(this.button, mode === 'speaker', viewIcon);
    this.refresh();
  }

  /** @param {string | null} id */
  setDominant(id) {
    this.dominant = id;
    if (id && id !== this.me) this.lastRemoteSpeaker = id;
    for (const t of this.grid.tiles.values()) t.el.dataset.dominant = String(!t.screen && t.id === id);
    this.refresh();
  }

  /**
   * Someone else started or stopped sharing their screen.
   * @param {string} id
   * @param {boolean} on
   */
  setScreen(id, on) {
    this.screens = this.screens.filter((s) => s !== id);
    if (on) this.screens.push(id);
    this.refresh();
  }

  /** @param {string} id someone left */
  forget(id) {
    this.screens = this.screens.filter((s) => s !== id);
    if (this.lastRemoteSpeaker === id) this.lastRemoteSpeaker = null;
    if (this.dominant === id) this.dominant = null;
    this.refresh();
  }

  /** Picks the large tile again (after any change of tiles, screens or speaker). */
  refresh() {
    const tiles = this.grid.tiles;
    /** @type {string | null} */
    let key = null;
    const screen = [...this.screens].reverse().find((id) => tiles.has(screenKey(id)));
    if (screen) key = screenKey(screen);
    else if (this.dominant && this.dominant !== this.me && tiles.has(this.dominant)) key = this.dominant;
    else if (this.lastRemoteSpeaker && tiles.has(this.lastRemoteSpeaker)) key = this.lastRemoteSpeaker;
    else {
      const other = [...tiles.values()].find((t) => !t.isLocal && !t.screen);
      key = other ? other.key : (this.me ?? null);
    }
    if (key !== this.grid.featured) this.grid.setFeatured(key);
    else if (key) {
      // A new tile may have come in with the same featured key: mark it.
      const t = tiles.get(key);
      if (t && t.el.dataset.featured !== 'true') this.grid.setFeatured(key);
    }
    this.grid.layout();
  }
}
