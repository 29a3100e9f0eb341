// Lines of defence besides the lobby, through the UI: a room password (right and wrong), a
// locked room, removing someone (and the ban that follows), and the host key that makes the
// room's creator moderator again after a reload. Nobody needs a camera here: everyone joins
// with camera and microphone off to keep the run cheap.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { askToJoin, joinMeeting, randomRoom, tile, waitFor } from './lib/meeting.mjs';
import {
  assertNotInMeeting,
  closeDialog,
  openParticipants,
  openSecurity,
  setSwitch,
  toolbar,
  waitForAlert,
  waitForAnnouncement,
} from './lib/moderation.mjs';

const QUIET = { camera: false, microphone: false };

test('password: asked for, a wrong one refused, the right one lets in', { timeout: 120_000 }, async () => {
  await withScenario('password', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    await joinMeeting(alice, s.server.url, room, 'Alice', QUIET);
    const security = await openSecurity(alice);
    await security.getByRole('textbox', { name: 'Room password' }).fill('correct horse battery');
    await security.getByRole('button', { name: 'Set password', exact: true }).click();
    await security.getByText('A password is set.').waitFor({ state: 'visible' });
    assert.equal(await security.getByRole('button', { name: 'Remove password', exact: true }).isEnabled(), true);
    await closeDialog(alice, security);

    const bob = await s.newPage('Bob');
    await askToJoin(bob, s.server.url, room, 'Bob', QUIET);
    const password = bob.getByRole('textbox', { name: 'Password', exact: true });
    await password.waitFor({ state: 'visible' });
    await assertNotInMeeting(bob, 'Bob without a password');

    await password.fill('wrong horse');
    await bob.getByRole('button', { name: 'Join meeting' }).click();
    console.log(`wrong password: ${await waitForAlert(bob, /./, 'Bob with a wrong password')}`);
    await assertNotInMeeting(bob, 'Bob with a wrong password');

    await password.fill('correct horse battery');
    await bob.getByRole('button', { name: 'Join meeting' }).click();
    await toolbar(bob).waitFor({ state: 'visible' });
    await tile(bob, 'Alice').waitFor({ state: 'visible' });
    await tile(alice, 'Bob').waitFor({ state: 'visible' });
  });
});

test('lock: nobody new gets in while locked; after unlocking they do', { timeout: 120_000 }, async () => {
  await withScenario('lock', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    await joinMeeting(alice, s.server.url, room, 'Alice', QUIET);
    const security = await openSecurity(alice);
    await setSwitch(security, 'Lock room', true);

    const bob = await s.newPage('Bob');
    await askToJoin(bob, s.server.url, room, 'Bob', QUIET);
    console.log(`locked: ${await waitForAlert(bob, /locked/i, 'Bob at a locked room')}`);
    await assertNotInMeeting(bob, 'Bob at a locked room');

    await setSwitch(security, 'Lock room', false);
    await closeDialog(alice, security);
    await bob.getByRole('button', { name: 'Join meeting' }).click();
    await toolbar(bob).waitFor({ state: 'visible' });
    await tile(alice, 'Bob').waitFor({ state: 'visible' });
  });
});

test('remove: the person is told, vanishes for the others, and cannot come back', { timeout: 120_000 }, async () => {
  await withScenario('remove', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(alice, s.server.url, room, 'Alice', QUIET);
    await joinMeeting(bob, s.server.url, room, 'Bob', QUIET);
    await tile(alice, 'Bob').waitFor({ state: 'visible' });

    await openParticipants(alice);
    await alice.getByRole('button', { name: 'Remove Bob', exact: true }).click();
    const confirm = alice.getByRole('dialog', { name: 'Remove Bob?' });
    await confirm.getByRole('button', { name: 'Remove', exact: true }).click();

    console.log(`removed: ${await waitForAlert(bob, /removed/i, 'Bob, removed')}`);
    assert.equal(await bob.getByRole('button', { name: 'Rejoin' }).count(), 0, 'no Rejoin button after a removal');
    assert.equal(await toolbar(bob).count(), 0, 'Bob has no meeting toolbar');
    await tile(alice, 'Bob').waitFor({ state: 'hidden', timeout: 10_000 });
    await waitForAnnouncement(alice, /Bob was removed/, 'Alice');

    // Same browser, another try: removed again.
    await bob.reload();
    await askToJoin(bob, s.server.url, room, 'Bob', QUIET);
    await waitForAlert(bob, /removed/i, 'Bob, coming back');
    await assertNotInMeeting(bob, 'Bob, coming back after removal');
    assert.equal(await tile(alice, 'Bob').count(), 0, 'Bob did not come back');
  });
});

test('host key: the creator is moderator again after a reload; the host link works', { timeout: 150_000 }, async () => {
  await withScenario('host-key', async (s) => {
    const room = randomRoom();
    const alice = await s.newPage('Alice');
    const bob = await s.newPage('Bob');
    await joinMeeting(alice, s.server.url, room, 'Alice', QUIET);
    await joinMeeting(bob, s.server.url, room, 'Bob', QUIET);
    await tile(alice, 'Bob').waitFor({ state: 'visible' });

    // Invite: the meeting link (copied) and, for Alice, the host link with its warning.
    await alice.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(s.server.url).origin });
    await toolbar(alice).getByRole('button', { name: 'Invite', exact: true }).click();
    const invite = alice.getByRole('dialog', { name: 'Invite' });
    await invite.waitFor({ state: 'visible' });
    const link = await invite.getByRole('textbox', { name: 'Meeting link' }).inputValue();
    assert.equal(link, `${s.server.url}${room}`, 'the meeting link is the room address');
    await invite.getByRole('button', { name: 'Copy link', exact: true }).click();
    await invite.getByRole('status').filter({ hasText: 'Meeting link copied' }).waitFor({ state: 'visible' });
    assert.equal(await alice.evaluate(() => navigator.clipboard.readText()), link, 'the clipboard holds the meeting link');
    const hostLink = await invite.getByRole('textbox', { name: 'Host link' }).inputValue();
    assert.match(hostLink, new RegExp(`^${s.server.url}${room}#host=[^&]+$`), `a host link: ${hostLink}`);
    await invite.getByText(/can moderate/).waitFor({ state: 'visible' });
    await invite.getByRole('button', { name: 'Copy host link', exact: true }).waitFor({ state: 'visible' });
    await closeDialog(alice, invite);

    // Bob's Invite has no host link.
    await toolbar(bob).getByRole('button', { name: 'Invite', exact: true }).click();
    const bobInvite = bob.getByRole('dialog', { name: 'Invite' });
    await bobInvite.getByRole('textbox', { name: 'Meeting link' }).waitFor({ state: 'visible' });
    assert.equal(await bobInvite.getByRole('textbox', { name: 'Host link' }).count(), 0, 'Bob has no host link');
    await closeDialog(bob, bobInvite);

    // Alice reloads and joins again while Bob stays: still a moderator.
    await alice.reload();
    await joinMeeting(alice, s.server.url, room, 'Alice', QUIET);
    await tile(alice, 'Bob').waitFor({ state: 'visible' });
    const security = await openSecurity(alice);
    await waitFor('Alice’s Lobby switch to be enabled', () => security.getByRole('switch', { name: 'Lobby', exact: true }).isEnabled(), (v) => v === true);
    await closeDialog(alice, security);
    await openParticipants(alice);
    await alice.getByRole('button', { name: 'Mute Bob', exact: true }).waitFor({ state: 'visible' });

    // The host link, opened in another browser, makes Carol a moderator past a locked room;
    // the key leaves the address bar.
    const sec = await openSecurity(alice);
    await setSwitch(sec, 'Lock room', true);
    await closeDialog(alice, sec);
    const carol = await s.newPage('Carol');
    await carol.goto(hostLink);
    await carol.getByRole('textbox', { name: 'Your name' }).waitFor({ state: 'visible' });
    assert.equal(new URL(carol.url()).hash, '', 'the host key is taken out of the address');
    await joinMeeting(carol, s.server.url, room, 'Carol', QUIET);
    await openParticipants(carol);
    await carol.getByRole('button', { name: 'Remove Bob', exact: true }).waitFor({ state: 'visible' });
  });
});
