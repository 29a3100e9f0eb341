// A raw WebSocket client for speaking the signaling protocol by hand (and badly).

import WebSocket from 'ws';
import { WAIT_MS } from './meeting.mjs';

/** ws://host:port/api/ws from the server's http://host:port/ */
export function wsUrl(httpUrl) {
  const u = new URL('api/ws', httpUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

export class RawClient {
  /** @param {string} url */
  constructor(url, label = 'raw') {
    this.label = label;
    /** @type {any[]} every message received, parsed */
    this.received = [];
    /** @type {any[]} not yet taken by next() */
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.ws = new WebSocket(url, { origin: new URL(url.replace(/^ws/, 'http')).origin });
    this.ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = isBinary ? { type: '(binary frame)', bytes: data.length } : JSON.parse(data.toString());
      } catch {
        msg = { type: '(unparseable text)', text: data.toString().slice(0, 200) };
      }
      this.received.push(msg);
      this.queue.push(msg);
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on('error', (e) => {
      this.error = e;
      this.wake();
    });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  async open() {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await new Promise((res, rej) => {
      this.ws.once('open', res);
      this.ws.once('error', rej);
      this.ws.once('unexpected-response', (_req, resp) => rej(new Error(`HTTP ${resp.statusCode} instead of a WebSocket`)));
    });
  }

  /** @param {string | Buffer | object} data objects are sent as JSON text */
  send(data) {
    if (typeof data === 'string') this.ws.send(data, { binary: false });
    else if (Buffer.isBuffer(data)) this.ws.send(data, { binary: true });
    else this.ws.send(JSON.stringify(data), { binary: false });
  }

  /**
   * The next received message matching `pred`; earlier ones that do not match are skipped (they
   * stay in `received` for reports). Throws on timeout or close.
   */
  async next(pred = () => true, timeout = WAIT_MS, what = 'a message') {
    const deadline = Date.now() + timeout;
    for (;;) {
      const i = this.queue.findIndex(pred);
      if (i >= 0) {
        const [m] = this.queue.splice(0, i + 1).slice(-1);
        return m;
      }
      if (this.closed) {
        throw new Error(`${this.label}: connection closed (${JSON.stringify(this.closed)}) while waiting for ${what}; received: ${this.summary()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no ${what} within ${timeout} ms; received: ${this.summary()}`);
      await new Promise((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** The next `error` message (skipping others such as participant_joined). */
  nextError(what, timeout = WAIT_MS) {
    return this.next((m) => m.type === 'error', timeout, `an error message after ${what}`);
  }

  async waitClosed(timeout = 5_000) {
    const deadline = Date.now() + timeout;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.closed;
  }

  summary() {
    return JSON.stringify(
      this.received.map((m) => (m.sdp ? { ...m, sdp: `(${m.sdp.length} chars)` } : m)),
    ).slice(0, 2000);
  }

  close() {
    try {
      this.ws.terminate();
    } catch {
      /* already gone */
    }
  }
}
