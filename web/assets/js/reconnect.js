// Reconnection (docs/protocol.md, "Reconnecting"). When the signaling socket drops, or the
// media connection fails (ICE `failed`, or `disconnected` for more than 3 s), the meeting
// opens a new socket whose `hello` carries `resume` = the last `welcome.resume_token`, makes a
// new RTCPeerConnection and its one offer. The server keeps the person in the room for 10 s,
// so nobody else sees a leave or a join. Tries are spaced 0.5, 1, 2, 4 s apart for about 9 s;
// a `role=status` "Reconnecting…" shows meanwhile. If none works, the meeting shows the usual
// "Connection lost." alert with **Rejoin**.

import { h } from './dom.js';

/** How long to keep trying, ms (the server's grace is 10 s). */
export const RECONNECT_FOR_MS = 9_000;
/** A media connection `disconnected` this long counts as lost, ms. */
export const ICE_DISCONNECTED_MS = 3_000;
/** Waiting for `welcome` on a new socket at most this long, ms. */
const ATTEMPT_TIMEOUT_MS = 3_000;
/** The pause before the first try (lets the server notice the old socket is gone), ms. */
const FIRST_DELAY_MS = 500;

/**
 * @typedef {{
 *   attempt: () => void,
 *   abandon: () => void,
 *   giveUp: () => void,
 * }} ReconnectHooks
 * `attempt` opens a new socket with the resume token; `abandon` drops a try that got no
 * `welcome` in time; `giveUp` shows the connection-lost alert.
 */

export class Reconnector {
  /** @param {ReconnectHooks} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.active = false;
    this.deadline = 0;
    this.tries = 0;
    this.timer = 0;
    this.attemptTimer = 0;
    /** The `role=status` message (empty while connected). */
    this.banner = h('p', { role: 'status', class: 'reconnecting' });
  }

  /** The connection dropped: start trying (nothing happens if already trying). */
  start() {
    if (this.active) return;
    this.active = true;
    this.tries = 0;
    this.deadline = Date.now() + RECONNECT_FOR_MS;
    this.banner.textContent = 'Reconnecting…';
    this.#schedule(FIRST_DELAY_MS);
  }

  /** @param {number} ms */
  #schedule(ms) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => {
      if (!this.active) return;
      this.tries += 1;
      this.hooks.attempt();
      window.clearTimeout(this.attemptTimer);
      this.attemptTimer = window.setTimeout(() => {
        if (!this.active) return;
        this.hooks.abandon();
        this.failed();
      }, ATTEMPT_TIMEOUT_MS);
    }, ms);
  }

  /** This try did not work (the socket closed before `welcome`): try again or give up. */
  failed() {
    if (!this.active) return;
    window.clearTimeout(this.attemptTimer);
    const wait = Math.min(4_000, 500 * 2 ** (this.tries - 1));
    if (Date.now() + wait >= this.deadline) {
      this.stop();
      this.hooks.giveUp();
      return;
    }
    this.#schedule(wait);
  }

  /** We are back (`welcome` arrived). */
  succeeded() {
    this.stop();
  }

  stop() {
    this.active = false;
    window.clearTimeout(this.timer);
    window.clearTimeout(this.attemptTimer);
    this.banner.textContent = '';
  }
}
