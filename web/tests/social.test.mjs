// Unit tests of the DOM-free parts of chat, hands, reactions, invite and shortcuts: decoding
// and sending the messages, the queue order, lengths, the invitation email.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeServerMessage, ProtocolError, SignalingClient, REACTIONS, MAX_CHAT_CHARS, DEFAULT_SETTINGS } from '../assets/js/protocol.js';
import { handOrder } from '../assets/js/hands.js';
import { chatLength } from '../assets/js/chat.js';
import { inviteMailto } from '../assets/js/invite.js';
import { REACTION_WORDS, reactionButtonName } from '../assets/js/reactions.js';
import { SHORTCUTS } from '../assets/js/shortcuts.js';

test('chat, chat_history and reaction decode; malformed ones are refused', () => {
  const m = { seq: 3, from: 'p1', name: '<b>A</b>', text: 'hi', to: null };
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: m })), { type: 'chat', message: m });
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, to: 'p2' } })), { type: 'chat', message: { ...m, to: 'p2' } });
  const { to: _to, ...noTo } = m;
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat', message: noTo })), { type: 'chat', message: m });
  assert.deepEqual(decodeServerMessage(JSON.stringify({ type: 'chat_history', messages: [m] })), { type: 'chat_history', messages: [m] });
  assert.deepEqual(decodeServerMessage('{"type":"reaction","id":"p1","emoji":"👍"}'), { type: 'reaction', id: 'p1', emoji: '👍' });
  assert.throws(() => decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, seq: '3' } })), ProtocolError);
  assert.throws(() => decodeServerMessage(JSON.stringify({ type: 'chat', message: { ...m, to: 5 } })), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"chat_history","messages":{}}'), ProtocolError);
  assert.throws(() => decodeServerMessage('{"type":"reaction","id":"p1"}'), ProtocolError);
});

test('hand_seq and the chat_history setting decode, with defaults for older servers', () => {
  const p = { id: 'p1', name: 'A', audio: true, video: true, hand_raised: true, hand_seq: 7 };
  const u = decodeServerMessage(JSON.stringify({ type: 'participant_updated', participant: p }));
  assert.equal(u?.type === 'participant_updated' && u.participant.hand_seq, 7);
  const old = decodeServerMessage(JSON.stringify({ type: 'participant_updated', participant: { ...p, hand_seq: undefined } }));
  assert.equal(old?.type === 'participant_updated' && old.participant.hand_seq, null);
  const s = decodeServerMessage('{"type":"settings","settings":{"lobby":false,"locked":false,"password":false,"allow_unmute":true,"chat_history":true}}');
  assert.equal(s?.type === 'settings' && s.settings.chat_history, true);
  assert.equal(DEFAULT_SETTINGS.chat_history, false);
});

test('chat, react and set_chat_history go out in their documented shapes', () => {
  /** @type {string[]} */
  const sent = [];
  class FakeSocket extends EventTarget {
    readyState = 1;
    /** @param {string} d */
    send(d) {
      sent.push(d);
    }
    close() {}
  }
  const c = new SignalingClient({ url: 'ws://x/api/ws', room: 'r', name: 'A', WebSocketImpl: /** @type {any} */ (FakeSocket) });
  c.connect();
  c.sendChat('hello', null);
  c.sendChat('psst', 'p2');
  c.react('🎉');
  c.setChatHistory(true);
  assert.deepEqual(sent.map((x) => JSON.parse(x)), [
    { type: 'chat', text: 'hello', to: null },
    { type: 'chat', text: 'psst', to: 'p2' },
    { type: 'react', emoji: '🎉' },
    { type: 'set_chat_history', enabled: true },
  ]);
});

test('raised hands: by hand_seq, then by arrival for an older server', () => {
  const hands = [
    { id: 'b', seq: 9, arrival: 1 },
    { id: 'a', seq: 4, arrival: 2 },
    { id: 'old', seq: null, arrival: 0 },
    { id: 'c', seq: 12, arrival: 3 },
  ];
  assert.deepEqual([...hands].sort(handOrder).map((x) => x.id), ['a', 'b', 'c', 'old']);
});

test('lengths count characters as the server does; reactions and shortcuts are the documented ones', () => {
  assert.equal(MAX_CHAT_CHARS, 2000);
  assert.equal(chatLength('  héllo 👍 \n'), 7);
  assert.equal(chatLength('👍'.repeat(2000)), 2000);
  assert.deepEqual([...REACTIONS], ['👍', '👏', '😂', '😮', '❤️', '🎉']);
  for (const e of REACTIONS) assert.ok(REACTION_WORDS[e], `a word for ${e}`);
  assert.equal(reactionButtonName('👍'), 'Send 👍 reaction');
  assert.deepEqual(SHORTCUTS.map((s) => s.label), ['M', 'V', 'C', 'R', 'S', '?']);
});

test('the invitation email carries the meeting link and nothing else', () => {
  const link = 'https://meet.example/abc-def';
  const href = inviteMailto(link);
  const url = new URL(href);
  assert.equal(url.protocol, 'mailto:');
  assert.equal(url.pathname, '');
  assert.equal(url.searchParams.get('subject'), 'Invitation to a Moot video meeting');
  assert.equal(url.searchParams.get('body'), `Join the video meeting here: ${link}`);
  assert.deepEqual([...url.searchParams.keys()], ['subject', 'body']);
});
