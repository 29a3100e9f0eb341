// Who is in the meeting, as this page knows it: me and everyone else. The one place that adds,
// updates and removes people, whether the news comes live (`participant_joined`, `_updated`,
// `_left`) or from a `welcome` (the first one, or the one after a reconnection, which says who
// is here now). Whoever shows or uses people (tiles, panel, chat, hands, encryption keys)
// listens here, so no path can skip a part: a person who left while we were reconnecting is
// removed exactly as one who left before our eyes.
//
// No DOM: listeners do the showing.

/** @typedef {import('./protocol.js').Participant} Participant */

/**
 * How the news came: `welcome` (the people already here when we entered), `live` (a message
 * about this one person), `resync` (a later `welcome`, after a reconnection: whoever is new or
 * gone since we last knew). With `left`, `reason` is the server's (`left`, `removed`,
 * `disconnected`); after a resync it is unknown.
 * @typedef {{cause: 'welcome' | 'live' | 'resync', reason?: import('./protocol.js').LeaveReason}} Change
 */

/**
 * Listeners: each is called in registration order and awaited, so a listener's work (a key
 * ratchet, say) is done before the next message is handled.
 * @typedef {{
 *   joined?: (p: Participant, change: Change) => void | Promise<void>,
 *   updated?: (p: Participant, before: Participant, change: Change) => void | Promise<void>,
 *   left?: (p: Participant, change: Change) => void | Promise<void>,
 *   me?: (me: Participant, before: Participant | null) => void | Promise<void>,
 * }} RosterListener
 */

export class Roster {
  constructor() {
    /** This page's own participant, once welcomed. @type {Participant | null} */
    this.me = null;
    /** Everyone else, by id, in the order they became known. @type {Map<string, Participant>} */
    this.others = new Map();
    /** @type {RosterListener[]} */
    this.listeners = [];
  }

  /**
   * @param {RosterListener} listener
   * @returns {() => void} unsubscribes
   */
  listen(listener) {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** Everyone, me included. */
  get count() {
    return this.others.size + (this.me ? 1 : 0);
  }

  /** @param {string} id */
  isMe(id) {
    return this.me !== null && this.me.id === id;
  }

  /**
   * The display name of `id` (me included), if known.
   * @param {string} id
   */
  nameOf(id) {
    return this.isMe(id) ? this.me?.name : this.others.get(id)?.name;
  }

  /**
   * Sets (or replaces, with a new id after a reconnection that was not resumed) my own
   * participant, or changes fields of it.
   * @param {Participant} me
   */
  async setMe(me) {
    const before = this.me;
    this.me = me;
    for (const l of this.listeners) await l.me?.(me, before);
  }

  /**
   * Adds someone, or updates them if known. I am not one of the others: news about me goes to
   * {@link Roster.setMe}, and is ignored here.
   * @param {Participant} p
   * @param {Change} change
   * @returns {Promise<'joined' | 'updated' | null>}
   */
  async upsert(p, change) {
    if (this.isMe(p.id)) return null;
    const before = this.others.get(p.id);
    this.others.set(p.id, p);
    if (before) {
      for (const l of this.listeners) await l.updated?.(p, before, change);
      return 'updated';
    }
    for (const l of this.listeners) await l.joined?.(p, change);
    return 'joined';
  }

  /**
   * Removes someone; returns who it was, or null if unknown.
   * @param {string} id
   * @param {Change} change
   * @returns {Promise<Participant | null>}
   */
  async remove(id, change) {
    const p = this.others.get(id);
    if (!p) return null;
    this.others.delete(id);
    for (const l of this.listeners) await l.left?.(p, change);
    return p;
  }

  /**
   * The room as a `welcome` says it is: whoever is not in `participants` is removed, then
   * everyone in it is added or updated, in its order. Returns who left and who joined.
   * @param {Participant[]} participants everyone but me
   * @param {'welcome' | 'resync'} cause
   * @returns {Promise<{joined: Participant[], left: Participant[]}>}
   */
  async sync(participants, cause) {
    const present = new Set(participants.map((p) => p.id));
    /** @type {Participant[]} */
    const left = [];
    for (const id of [...this.others.keys()]) {
      if (present.has(id)) continue;
      const p = await this.remove(id, { cause });
      if (p) left.push(p);
    }
    /** @type {Participant[]} */
    const joined = [];
    for (const p of participants) if ((await this.upsert(p, { cause })) === 'joined') joined.push(p);
    return { joined, left };
  }
}
