// End-to-end encrypted chat in real Chromium (docs/e2ee.md, "Chat"): with E2EE on, group and
// private messages arrive readable at the other person while the text the server relays (read
// from the receiving page's WebSocket frames) is ciphertext under the documented prefix; a
// message in clear is marked "not encrypted"; one that does not decrypt shows as such, never as
// its ciphertext; a newcomer is told that earlier (encrypted) messages cannot be read, and
// reads what follows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { joinMeeting, randomRoom, tile, waitFor } from './lib/meeting.mjs';
import { openSecurity, closeDialog, setSwitch } from './lib/moderation.mjs';
import { chatLog, openChat, sendChat, waitForMessage } from './lib/social.mjs';

const QUIET = { camera: false, microphone: false };
const PREFIX = 'e2ee:v1:';

/** Every chat message the page's WebSocket received (as the server relayed it). */
function recordChat(page) {
  const seen = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      const text = typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8');
      seen.push(text);
    });
  });
  return {
    raw: seen,
    chats: () =>
      seen.flatMap((t) => {
        try {
          const m = JSON.parse(t);
          if (m.type === 'chat') return [m.message];
          if (m.type === 'chat_history') return m.messages;
        } catch {
          /* not JSON */
        }
        return [];
      }),
  };
}

test('E2EE chat: readable at the other end, ciphertext on the wire, clear and broken messages marked, newcomers', { timeout: 120_000 }, async () => {
  await withScenario('e2ee-chat', async (s) => {
    const room = randomRoom();
    const ana = await s.newPage('Ana');
    const ben = await s.newPage('Ben');
    const benWire = recordChat(ben);
    await joinMeeting(ana, s.server.url, `${room}?debug`, 'Ana', QUIET);
    await joinMeeting(ben, s.server.url, `${room}?debug`, 'Ben', QUIET);
    await tile(ana, 'Ben').waitFor({ state: 'visible' });
    const anaId = await tile(ben, 'Ana').getAttribute('data-participant-id');

    const security = await openSecurity(ana);
    await setSwitch(security, 'End-to-end encryption', true);
    await setSwitch(security, 'Share chat history with newcomers', true);
    await closeDialog(ana, security);
    for (const p of [ana, ben]) {
      await waitFor('the indicator to say encrypted', () => p.locator('#e2ee-state').textContent(), (t) => t === 'End-to-end encrypted');
    }

    // The limit is in bytes of text now (the ciphertext must fit the server's 2000 characters).
    await openChat(ana);
    await ana.getByText('0 / 1457 bytes').waitFor({ state: 'visible' });

    // A group message: Ben reads it; what the server relayed to him is not the text.
    const group = 'Secret plans for Tuesday: meet at the old mill';
    await sendChat(ana, group);
    const atBen = await waitForMessage(ben, group, 'Ben');
    assert.equal(await atBen.getAttribute('data-e2ee'), 'encrypted');
    assert.equal(await (await waitForMessage(ana, group, 'Ana (own echo)')).getAttribute('data-e2ee'), 'encrypted');
    const relayed = benWire.chats().filter((m) => m.from === anaId);
    assert.equal(relayed.length, 1, 'one chat message from Ana reached Ben');
    assert.ok(relayed[0].text.startsWith(PREFIX), `relayed text has the prefix: ${relayed[0].text.slice(0, 20)}`);
    assert.ok(relayed[0].text.length <= 2000);
    assert.ok(!benWire.raw.some((t) => t.includes('Secret plans') || t.includes('old mill')), 'the plaintext never crossed the server');

    // A private message: Ben → Ana, with their pairwise key.
    const secret = 'Only for Ana: the code is 4711';
    await sendChat(ben, secret, 'Ana');
    const atAna = await waitForMessage(ana, secret, 'Ana (private)');
    assert.equal(await atAna.getAttribute('data-private'), 'true');
    assert.equal(await atAna.getAttribute('data-e2ee'), 'encrypted');
    await waitFor('Ben to get the echo of his private message', () => benWire.chats().filter((m) => m.to === anaId).length, (n) => n === 1);
    assert.ok(benWire.chats().find((m) => m.to === anaId).text.startsWith(PREFIX));
    assert.ok(!benWire.raw.some((t) => t.includes('4711')), 'the private text never crossed the server');

    // A message in clear (a client that does not encrypt): shown, but marked "not encrypted".
    await ana.evaluate(() => window.__mootDebug.sendRawChat('This one is in clear'));
    const clear = await waitForMessage(ben, 'This one is in clear', 'Ben (clear)');
    assert.equal(await clear.getAttribute('data-e2ee'), 'clear');
    assert.match(await clear.textContent(), /not encrypted/);

    // Something under the prefix that does not decrypt: never shown as its ciphertext.
    const bogus = PREFIX + Buffer.alloc(60, 7).toString('base64');
    await ana.evaluate((t) => window.__mootDebug.sendRawChat(t), bogus);
    const broken = await waitForMessage(ben, '(could not decrypt this message)', 'Ben (bogus)');
    assert.equal(await broken.getAttribute('data-e2ee'), 'undecryptable');
    assert.doesNotMatch(await chatLog(ben).textContent(), /e2ee:v1:/, 'no ciphertext in the log');

    // Cara joins with history shared: the encrypted earlier messages are one note, not
    // ciphertext; the one in clear is there, marked. Then she reads what Ana sends next.
    const cara = await s.newPage('Cara');
    await joinMeeting(cara, s.server.url, `${room}?debug`, 'Cara', QUIET);
    await openChat(cara);
    await chatLog(cara).getByText(/earlier messages were end-to-end encrypted before you joined: you cannot read them/).waitFor({ state: 'visible' });
    const caraLog = await chatLog(cara).textContent();
    assert.doesNotMatch(caraLog, /e2ee:v1:|Secret plans|4711/, 'nothing from before, neither text nor ciphertext');
    assert.equal(await (await waitForMessage(cara, 'This one is in clear', 'Cara (history)')).getAttribute('data-e2ee'), 'clear');
    await tile(ana, 'Cara').waitFor({ state: 'visible' });
    await sendChat(ana, 'Welcome, Cara');
    assert.equal(await (await waitForMessage(cara, 'Welcome, Cara', 'Cara')).getAttribute('data-e2ee'), 'encrypted');
    assert.equal(await (await waitForMessage(ben, 'Welcome, Cara', 'Ben')).getAttribute('data-e2ee'), 'encrypted');
    const stats = await cara.evaluate(() => ({ ...window.__mootDebug.e2ee.stats }));
    assert.ok(stats.chatDecrypted >= 1, JSON.stringify(stats));
  });
});
