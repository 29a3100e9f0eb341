// Chat and reactions in the meeting: the Chat panel and the Reactions menu, what comes in (in
// order, each chat message possibly waiting for its sender's key apart from the main queue),
// what goes out (encrypted when the meeting is: meeting-e2ee.js), and the server's refusals of
// either, shown where they were sent from. The chat's list of people follows the roster.

import { ChatPanel } from './chat.js';
import { ReactionsMenu, showReaction, announceReaction } from './reactions.js';

/**
 * @typedef {{
 *   signaling: import('./protocol.js').SignalingClient,
 *   roster: import('./roster.js').Roster,
 *   encryption: () => import('./meeting-e2ee.js').MeetingE2ee,
 *   grid: import('./tiles.js').TileGrid,
 * }} ConversationWiring
 */

export class Conversation {
  /** @param {ConversationWiring} wiring */
  constructor(wiring) {
    this.wiring = wiring;
    /** What this page last sent that the server may refuse (chat, reaction), and when. */
    this.lastSent = { kind: '', at: 0 };
    /** Incoming chat, in order, apart from the main queue: a message may wait there for its key. */
    this.queue = Promise.resolve();
    this.chat = new ChatPanel({ send: (text, to) => void this.#send(text, to) });
    this.reactions = new ReactionsMenu({
      send: (emoji) => {
        this.lastSent = { kind: 'react', at: Date.now() };
        wiring.signaling.react(emoji);
      },
    });
    wiring.roster.listen({
      me: (me, before) => {
        if (!before || before.id !== me.id) this.chat.setMe(me.id);
      },
      joined: (p) => this.chat.upsertPerson(p.id, p.name),
      updated: (p) => this.chat.upsertPerson(p.id, p.name),
      left: (p) => this.chat.removePerson(p.id),
    });
  }

  /**
   * @param {string} text
   * @param {string | null} to
   */
  async #send(text, to) {
    this.lastSent = { kind: 'chat', at: Date.now() };
    if (await this.wiring.encryption().sendChat(text, to)) this.lastSent = { kind: 'chat', at: Date.now() };
  }

  /** @param {import('./protocol.js').ChatEntry} m */
  receive(m) {
    this.queue = this.queue.then(async () => this.chat.receive(await this.wiring.encryption().openChat(m, true))).catch((err) => console.warn('moot: a chat message:', err));
  }

  /** @param {import('./protocol.js').ChatEntry[]} messages */
  history(messages) {
    const fresh = messages.filter((m) => !this.chat.seen.has(m.seq));
    this.queue = this.queue
      .then(async () => {
        const opened = await Promise.all(fresh.map((m) => this.wiring.encryption().openChat(m, false)));
        // Encrypted before we joined, under keys we never get: one note, not a list of failures.
        const readable = opened.filter((m) => m.e2ee !== 'undecryptable');
        this.chat.history(readable, opened.length - readable.length);
      })
      .catch((err) => console.warn('moot: chat history:', err));
  }

  /**
   * Shows a reaction briefly over the sender's tile (or over the stage when that tile is not
   * shown) and says it.
   * @param {string} id
   * @param {string} emoji
   */
  reaction(id, emoji) {
    const { roster, grid } = this.wiring;
    const mine = roster.isMe(id);
    const name = roster.nameOf(id);
    if (name === undefined) return;
    const tile = grid.get(id);
    if (tile && tile.el.isConnected && tile.el.offsetParent !== null) showReaction(tile.el, emoji);
    else showReaction(grid.el, emoji, mine ? 'You' : name);
    announceReaction(name, emoji, mine);
  }

  /**
   * Shows a non-fatal refusal of a chat message or a reaction where it was sent from.
   * @param {string} code
   * @param {string} message
   * @returns {boolean} whether it was one
   */
  refused(code, message) {
    const recent = Date.now() - this.lastSent.at < 5000;
    if (code === 'bad_chat' || (recent && this.lastSent.kind === 'chat' && (code === 'rate_limited' || code === 'unknown_participant'))) {
      this.chat.refused(message);
      return true;
    }
    if (code === 'bad_reaction' || (recent && this.lastSent.kind === 'react' && code === 'rate_limited')) {
      this.reactions.refused(message);
      return true;
    }
    return false;
  }
}
