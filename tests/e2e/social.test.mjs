// Chat (group, private, unread count, history, hostile text), the raised-hands queue, reactions,
// the Invite dialog's email link and password advice, and keyboard shortcuts — through the UI,
// in one server and one browser with a context per person. Nobody needs a camera here.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Scenario } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';
import { joinMeeting, randomRoom, tile, waitFor } from './lib/meeting.mjs';
import { closeDialog, openParticipants, openSecurity, setSwitch, toolbar, waitForAnnouncement } from './lib/moderation.mjs';
import { chatLog, chatToggle, openChat, raisedHands, sendChat, waitForMessage, waitForUnread } from './lib/social.mjs';

const QUIET = { camera: false, microphone: false };
const XSS_NAME = '<img src=x onerror="window.__xss=1">';
const XSS_TEXT = '<img src=x onerror="window.__xss=2"> <script>window.__xss=3</script> [x](javascript:window.__xss=4) javascript:window.__xss=5 see https://example.com/a?b=1&c=2.';

const s = new Scenario('social');
const room = randomRoom();
/** @type {Record<string, import('playwright-core').Page>} */
const pages = {};
/** Things a page must never do: dialogs (alert()), page errors, console errors. */
const incidents = [];

/** Runs one step with diagnostics on failure. */
async function step(label, body) {
  try {
    await body();
  } catch (err) {
    await s.dump(err);
    throw err;
  }
}

async function person(name, opts = QUIET) {
  const page = await s.newPage(name.replace(/[^A-Za-z]/g, '') || 'hostile');
  page.on('dialog', (d) => {
    incidents.push(`${name}: dialog ${d.type()} ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => incidents.push(`${name}: page error ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') incidents.push(`${name}: console error ${m.text()}`);
  });
  await joinMeeting(page, s.server.url, room, name, opts);
  pages[name] = page;
  return page;
}

before(async () => {
  s.server = await startServer();
  await step('join', async () => {
    // Alice creates the room (moderator) with her microphone on, for the shortcut test.
    await person('Alice', { camera: false, microphone: true });
    await person('Bob');
    await person('Carol');
  });
});

after(async () => {
  await s.close();
});

test('chat: unread count, group messages both ways, a private one the third person never gets', { timeout: 60_000 }, async () => {
  await step('chat', async () => {
    const { Alice: alice, Bob: bob, Carol: carol } = pages;
    await tile(alice, 'Carol').waitFor({ state: 'visible' });
    await tile(bob, 'Carol').waitFor({ state: 'visible' });

    // Bob writes to everyone while Alice's chat is closed: counted and announced.
    await sendChat(bob, 'Hello from Bob');
    await waitForUnread(alice, /^1 unread message$/, 'Alice');
    await waitForAnnouncement(alice, /Message from Bob: Hello from Bob/, 'Alice');
    assert.equal(await chatToggle(alice).count(), 1, 'the toggle is still named exactly "Chat"');
    await sendChat(bob, 'Anyone there?');
    await waitForUnread(alice, /^2 unread messages$/, 'Alice');
    assert.equal(await chatToggle(alice).locator('.unread-badge').textContent(), '2', 'a visible badge shows the count');

    // Opening the chat shows them and clears the count.
    await openChat(alice);
    await waitForMessage(alice, 'Hello from Bob', 'Alice');
    await waitForUnread(alice, /^$/, 'Alice after opening the chat');
    assert.equal(await alice.getByRole('textbox', { name: 'Message', exact: true }).evaluate((e) => e === document.activeElement), true, 'the Message box has focus');

    // Alice answers everyone: Bob and Carol get it.
    await sendChat(alice, 'Hi Bob, Alice here');
    await waitForMessage(bob, 'Hi Bob, Alice here', 'Bob');
    await waitForMessage(carol, 'Hi Bob, Alice here', 'Carol');

    // Bob writes privately to Alice: she gets it marked private; Carol never does.
    const options = await bob.getByRole('combobox', { name: 'Send to' }).locator('option').allTextContents();
    assert.deepEqual(options.sort(), ['Alice', 'Carol', 'Everyone'], 'Send to offers Everyone and each other person');
    await sendChat(bob, 'Psst, a secret for Alice only', 'Alice');
    const secret = await waitForMessage(alice, 'a secret for Alice only', 'Alice (private)');
    assert.equal(await secret.getAttribute('data-private'), 'true');
    assert.match(await secret.textContent(), /private/i, 'the private message is visibly marked');
    const own = await waitForMessage(bob, 'a secret for Alice only', 'Bob (his own private message)');
    assert.match(await own.textContent(), /private, to Alice/);
    // A later group message reaches Carol: by then the private one would have too.
    await sendChat(bob, 'Back to everyone', 'Everyone');
    await waitForMessage(carol, 'Back to everyone', 'Carol');
    assert.doesNotMatch(await chatLog(carol).textContent(), /secret/, 'Carol never receives the private message');
  });
});

test('chat: a hostile name and message stay inert text; history only when a moderator shares it', { timeout: 60_000 }, async () => {
  await step('xss', async () => {
    const { Alice: alice, Carol: carol } = pages;
    // A late joiner (history off by default) sees no earlier messages.
    const mallory = await person(XSS_NAME);
    await openChat(mallory);
    await tile(alice, XSS_NAME).waitFor({ state: 'visible' });
    await sendChat(mallory, XSS_TEXT);
    for (const [who, page] of [['Alice', alice], ['Carol', carol], ['Mallory', mallory]]) {
      const msg = await waitForMessage(page, 'window.__xss=5', who);
      const seen = await msg.evaluate((m) => ({
        from: m.querySelector('.chat-from')?.textContent,
        text: m.querySelector('.chat-text')?.textContent,
        elements: [...m.querySelector('.chat-text').querySelectorAll('*')].map((e) => e.tagName.toLowerCase()),
        links: [...m.querySelectorAll('a')].map((a) => ({ href: a.getAttribute('href'), rel: a.rel, target: a.target, text: a.textContent })),
      }));
      assert.equal(seen.text, XSS_TEXT, `${who}: the message is shown exactly as typed`);
      assert.deepEqual(seen.elements, ['a'], `${who}: no element but the one safe link`);
      assert.deepEqual(seen.links, [{ href: 'https://example.com/a?b=1&c=2', rel: 'noopener noreferrer', target: '_blank', text: 'https://example.com/a?b=1&c=2' }]);
      if (who !== 'Mallory') assert.equal(seen.from, XSS_NAME, `${who}: the hostile name is shown as text`);
      const page_ = await page.evaluate(() => ({
        imgs: document.querySelectorAll('img').length,
        scripts: [...document.querySelectorAll('script')].map((x) => x.getAttribute('src')),
        jsLinks: [...document.querySelectorAll('a[href]')].filter((a) => !/^(https?:|mailto:|\/)/.test(a.getAttribute('href') ?? '')).length,
        xss: /** @type {any} */ (window).__xss ?? null,
      }));
      assert.deepEqual(page_, { imgs: 0, scripts: ['/assets/js/app.js'], jsLinks: 0, xss: null }, `${who}: nothing from the name or message ran or became an element`);
    }
    assert.equal(await mallory.getByText('Hello from Bob').count(), 0, 'a newcomer sees no earlier messages by default');
    assert.equal(await tile(alice, XSS_NAME).count(), 1, 'the hostile name is a plain tile name');

    // Alice shares the history; Dave, joining after, sees the group messages but not the private one.
    const security = await openSecurity(alice);
    await setSwitch(security, 'Share chat history with newcomers', true);
    await closeDialog(alice, security);
    const dave = await person('Dave');
    await openChat(dave);
    await waitForMessage(dave, 'Hello from Bob', 'Dave (history)');
    await waitForMessage(dave, 'Back to everyone', 'Dave (history)');
    assert.doesNotMatch(await chatLog(dave).textContent(), /secret/, 'history never holds private messages');
    // Carol is no moderator: her switch is read-only.
    const carolSecurity = await openSecurity(carol);
    assert.equal(await carolSecurity.getByRole('switch', { name: 'Share chat history with newcomers' }).isDisabled(), true);
    await closeDialog(carol, carolSecurity);
    // Too long: the counter says so and nothing is sent.
    await openChat(carol);
    await carol.getByRole('textbox', { name: 'Message', exact: true }).fill('x'.repeat(2001));
    await carol.getByText('2001 / 2000 characters: too long').waitFor({ state: 'visible' });
    await carol.getByRole('button', { name: 'Send', exact: true }).click();
    await chatLog(carol).locator('xpath=..').getByRole('alert').filter({ hasText: /at most 2000/ }).waitFor({ state: 'visible' });
    await carol.getByRole('textbox', { name: 'Message', exact: true }).fill('');
    assert.deepEqual(incidents, [], 'no dialog, page error or console error on any page');
    await mallory.context().close();
    await dave.context().close();
  });
});

test('raise hand: the queue is in raising order for everyone; reactions show and are rate limited', { timeout: 60_000 }, async () => {
  await step('hands', async () => {
    const { Alice: alice, Bob: bob, Carol: carol } = pages;
    await toolbar(carol).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await waitForAnnouncement(alice, /Carol raised their hand/, 'Alice');
    await toolbar(bob).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await openParticipants(alice);
    await openParticipants(bob);
    await waitFor('Alice sees the queue Carol, Bob', () => raisedHands(alice), (v) => JSON.stringify(v) === JSON.stringify(['Carol', 'Bob']));
    await waitFor('Bob sees the queue Carol, Bob (you)', () => raisedHands(bob), (v) => JSON.stringify(v) === JSON.stringify(['Carol', 'Bob (you)']));
    // Carol lowers hers: Bob is first.
    await toolbar(carol).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await waitFor('Alice sees the queue Bob', () => raisedHands(alice), (v) => JSON.stringify(v) === JSON.stringify(['Bob']));
    await toolbar(bob).getByRole('button', { name: 'Raise hand', exact: true }).click();
    await waitFor('Alice sees no raised hand', () => raisedHands(alice), (v) => v.length === 0);
    await alice.getByText('Nobody has raised their hand.').waitFor({ state: 'visible' });

    // Bob reacts: Alice sees it over Bob's tile and hears it announced.
    const reactions = toolbar(bob).getByRole('button', { name: 'Reactions', exact: true });
    await reactions.click();
    assert.equal(await reactions.getAttribute('aria-expanded'), 'true');
    const menu = bob.getByRole('group', { name: 'Reactions' });
    const names = await menu.getByRole('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-label')));
    assert.deepEqual(names, ['👍', '👏', '😂', '😮', '❤️', '🎉'].map((e) => `Send ${e} reaction`));
    await menu.getByRole('button', { name: 'Send 👍 reaction' }).click();
    await tile(alice, 'Bob').locator('.tile-reaction', { hasText: '👍' }).waitFor({ state: 'attached' });
    await waitForAnnouncement(alice, /Bob reacted with thumbs up/, 'Alice');
    // More than the server allows in a row: a clear alert in the reactions bar.
    for (let i = 0; i < 5; i++) await menu.getByRole('button', { name: 'Send 🎉 reaction' }).click();
    await menu.getByRole('alert').filter({ hasText: /too fast/ }).waitFor({ state: 'visible' });
    await bob.keyboard.press('Escape');
    await waitFor('Reactions closed by Escape', () => reactions.getAttribute('aria-expanded'), (v) => v === 'false');
    assert.equal(await reactions.evaluate((b) => b === document.activeElement), true, 'focus is back on Reactions');
  });
});

test('invite: the email link carries only the meeting link; with a password, advice and no password anywhere', { timeout: 30_000 }, async () => {
  await step('invite', async () => {
    const { Alice: alice } = pages;
    const password = 'hunter2-correct-horse';
    const security = await openSecurity(alice);
    await security.getByRole('textbox', { name: 'Room password' }).fill(password);
    await security.getByRole('button', { name: 'Set password', exact: true }).click();
    await security.getByText('A password is set.').waitFor({ state: 'visible' });
    await closeDialog(alice, security);

    await alice.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(s.server.url).origin });
    await toolbar(alice).getByRole('button', { name: 'Invite', exact: true }).click();
    const dialog = alice.getByRole('dialog', { name: 'Invite' });
    await dialog.waitFor({ state: 'visible' });
    const link = await dialog.getByRole('textbox', { name: 'Meeting link' }).inputValue();
    assert.equal(link, `${s.server.url}${room}`);
    const href = await dialog.getByRole('link', { name: 'Email invitation' }).getAttribute('href');
    const mail = new URL(href);
    assert.equal(mail.protocol, 'mailto:');
    const subject = mail.searchParams.get('subject');
    const body = mail.searchParams.get('body');
    console.log(`mailto: subject=${JSON.stringify(subject)} body=${JSON.stringify(body)}`);
    assert.ok(body.includes(link), 'the body holds the meeting link');
    assert.ok(!href.includes('hunter2') && !decodeURIComponent(href).includes(password), 'no password in the email');
    assert.ok(!decodeURIComponent(href).includes('#host='), 'no host link in the email');
    await dialog.getByText('Send the password through another channel').waitFor({ state: 'visible' });
    await dialog.getByRole('button', { name: 'Copy link', exact: true }).click();
    const copied = await alice.evaluate(() => navigator.clipboard.readText());
    assert.equal(copied, link, 'the copied text is the link alone');
    assert.ok(!copied.includes(password));
    await closeDialog(alice, dialog);
  });
});

test('keyboard shortcuts: M toggles the microphone, C the chat, ? opens the help; not while typing', { timeout: 30_000 }, async () => {
  await step('shortcuts', async () => {
    const { Alice: alice } = pages;
    const mic = toolbar(alice).getByRole('button', { name: 'Microphone', exact: true });
    assert.equal(await mic.getAttribute('aria-keyshortcuts'), 'M');
    const before = await mic.getAttribute('aria-pressed');
    const flipped = before === 'true' ? 'false' : 'true';

    // While typing in the Message box, "m" is just a letter.
    const box = alice.getByRole('textbox', { name: 'Message', exact: true });
    await openChat(alice);
    await box.focus();
    await alice.keyboard.type('mvcr?');
    assert.equal(await box.inputValue(), 'mvcr?');
    assert.equal(await mic.getAttribute('aria-pressed'), before, 'typing does not toggle the microphone');
    await box.fill('');
    // Escape in the chat panel closes it; focus goes back to the Chat toggle.
    await alice.keyboard.press('Escape');
    await waitFor('Escape closes the chat', () => chatToggle(alice).getAttribute('aria-pressed'), (v) => v === 'false');
    assert.equal(await chatToggle(alice).evaluate((b) => b === document.activeElement), true, 'focus is on the Chat toggle');
    await alice.keyboard.press('c');
    await waitFor('C opens the chat', () => chatToggle(alice).getAttribute('aria-pressed'), (v) => v === 'true');
    assert.equal(await box.evaluate((e) => e === document.activeElement), true, 'C puts focus in the Message box');

    // Outside a text field: M toggles the microphone (and back), C the chat.
    await alice.getByRole('heading', { level: 1 }).focus();
    await alice.keyboard.press('m');
    await waitFor('M toggles the microphone', () => mic.getAttribute('aria-pressed'), (v) => v === flipped);
    await waitForAnnouncement(alice, /Microphone (on|off)/, 'Alice');
    await alice.keyboard.press('M');
    await waitFor('M again toggles it back', () => mic.getAttribute('aria-pressed'), (v) => v === before);
    await alice.getByRole('heading', { level: 1 }).focus();
    await alice.keyboard.press('c');
    await waitFor('C closes the chat', () => chatToggle(alice).getAttribute('aria-pressed'), (v) => v === 'false');

    // ? opens the help, which lists every shortcut; Escape closes it and focus comes back.
    await alice.keyboard.press('Shift+Slash');
    const help = alice.getByRole('dialog', { name: 'Keyboard shortcuts' });
    await help.waitFor({ state: 'visible' });
    const rows = await help.getByRole('row').allTextContents();
    for (const key of ['M', 'V', 'C', 'R', 'S', '?']) assert.ok(rows.some((r) => r.startsWith(key)), `the help lists ${key}: ${JSON.stringify(rows)}`);
    // A shortcut does nothing while the dialog is open.
    await alice.keyboard.press('m');
    assert.equal(await mic.getAttribute('aria-pressed'), before);
    await closeDialog(alice, help);
    // The help is also a button (keyboard users who do not know "?").
    await alice.getByRole('button', { name: 'Keyboard shortcuts' }).click();
    await help.waitFor({ state: 'visible' });
    await closeDialog(alice, help);

    assert.deepEqual(incidents, [], 'no dialog, page error or console error on any page');
  });
});
