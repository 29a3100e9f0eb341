// Unit tests of the DOM-free parts of chat, hands, reactions, invite and shortcuts: the queue
// order, lengths, the invitation email, the reactions and shortcuts. (Their messages are in
// protocol.test.mjs.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REACTIONS, MAX_CHAT_CHARS } from '../assets/js/protocol.js';
import { handOrder } from '../assets/js/hands.js';
import { chatLength } from '../assets/js/chat.js';
import { inviteMailto } from '../assets/js/invite.js';
import { REACTION_WORDS, reactionButtonName } from '../assets/js/reactions.js';
import { SHORTCUTS } from '../assets/js/shortcuts.js';

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
