// Devices and settings. Pre-join offers the Camera and Microphone comboboxes. In the meeting,
// Settings switches Alice's microphone to another of Chromium's fake microphones live (no
// renegotiation: the same sender, a new track) and Bob still hears her; Speaker plays Bob's
// audio on another fake output (setSinkId); the camera combobox
// lists Chromium's fake camera(s) (with one fake camera there is nothing to switch to, so
// only the listing is checked then); Display name + Save renames Alice on Bob's page;
// "Limit my upload" caps her camera sender at 300 kbps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withScenario } from './lib/browser.mjs';
import { askToJoin, joinMeeting, randomRoom, tile, waitFor, waitForTone, waitForVideoFrames } from './lib/meeting.mjs';
import { closeDialog, setSwitch, toolbar } from './lib/moderation.mjs';

/** The options (labels) and the selected label of a combobox. */
async function comboState(combo) {
  return combo.evaluate((sel) => ({
    options: [...sel.options].map((o) => o.textContent),
    selected: sel.selectedOptions[0]?.textContent ?? null,
  }));
}

test('devices and settings: pre-join devices, live microphone switch, rename, upload cap', { timeout: 120_000 }, async () => {
  await withScenario('settings', async (s) => {
    const room = randomRoom();
    const bob = await s.newPage('Bob');
    await joinMeeting(bob, s.server.url, room, 'Bob');

    // Pre-join: the device comboboxes are there and list the fake devices.
    const alice = await s.newPage('Alice');
    await alice.goto(`${s.server.url}${room}?debug`);
    const preCamera = alice.getByRole('combobox', { name: 'Camera' });
    const preMic = alice.getByRole('combobox', { name: 'Microphone' });
    await waitFor('pre-join Camera combobox lists a camera', () => comboState(preCamera), (c) => c.options.length >= 1 && !/No camera/.test(c.options[0]));
    await waitFor('pre-join Microphone combobox lists a microphone', () => comboState(preMic), (c) => c.options.length >= 1 && !/No microphone/.test(c.options[0]));
    console.log(`pre-join: cameras ${JSON.stringify((await comboState(preCamera)).options)}, microphones ${JSON.stringify((await comboState(preMic)).options)}`);
    await askToJoin(alice, s.server.url, `${room}?debug`, 'Alice');
    await toolbar(alice).waitFor({ state: 'visible' });
    await waitForTone(tile(bob, 'Alice'), 'Bob hears Alice');

    // Settings: a modal dialog with the device comboboxes.
    const openSettings = async () => {
      await toolbar(alice).getByRole('button', { name: 'Settings', exact: true }).click();
      const d = alice.getByRole('dialog', { name: 'Settings' });
      await d.waitFor({ state: 'visible' });
      return d;
    };
    let settings = await openSettings();
    const camera = settings.getByRole('combobox', { name: 'Camera' });
    const mic = settings.getByRole('combobox', { name: 'Microphone' });
    const cams = await waitFor('Camera lists devices', () => comboState(camera), (c) => c.options.length >= 1 && c.selected !== null);
    const mics = await waitFor('Microphone lists devices', () => comboState(mic), (c) => c.options.length >= 1 && c.selected !== null);
    const speaker = settings.getByRole('combobox', { name: 'Speaker' });
    const speakers = (await speaker.count()) && (await speaker.isVisible()) ? (await comboState(speaker)).options : '(hidden: no setSinkId or no outputs)';
    console.log(`settings: cameras ${JSON.stringify(cams.options)} (selected ${cams.selected}); microphones ${JSON.stringify(mics.options)} (selected ${mics.selected}); speakers ${JSON.stringify(speakers)}`);

    // Switch the microphone live, if there is another one.
    const otherMic = mics.options.find((o) => o !== mics.selected);
    if (otherMic) {
      const trackBefore = await alice.evaluate(() => window.__mootDebug.pc.getSenders()[0].track?.id);
      await mic.selectOption({ label: otherMic });
      await settings.getByRole('status').filter({ hasText: 'Microphone changed' }).waitFor();
      const after = await alice.evaluate(() => ({
        track: window.__mootDebug.pc.getSenders()[0].track,
        label: window.__mootDebug.pc.getSenders()[0].track?.label,
        id: window.__mootDebug.pc.getSenders()[0].track?.id,
      }));
      assert.notEqual(after.id, trackBefore, 'the microphone sender carries a new track');
      assert.equal(after.label, otherMic, 'the new track is the chosen microphone');
      await waitForTone(tile(bob, 'Alice'), 'Bob still hears Alice on her other microphone');
    } else {
      console.log('only one fake microphone: nothing to switch to');
    }
    // The speaker (audio output), where the browser can choose it: the others' audio plays there.
    if (Array.isArray(speakers) && speakers.length > 1) {
      const target = speakers[1];
      await speaker.selectOption({ label: target });
      await settings.getByRole('status').filter({ hasText: 'Speaker changed' }).waitFor();
      const wanted = await speaker.inputValue();
      const sink = await waitFor('Bob’s audio on the chosen speaker', () => tile(alice, 'Bob').locator('audio').first().evaluate((a) => a.sinkId), (v) => v === wanted);
      console.log(`speaker: ${target} (sinkId ${sink.slice(0, 12)}…)`);
    }
    // The camera likewise, if there is a second fake camera.
    const otherCam = cams.options.find((o) => o !== cams.selected);
    if (otherCam) {
      await camera.selectOption({ label: otherCam });
      await settings.getByRole('status').filter({ hasText: 'Camera changed' }).waitFor();
      await waitForVideoFrames(tile(bob, 'Alice'), 'Bob sees Alice on her other camera');
    } else {
      console.log('only one fake camera: the camera switch is not exercised');
    }

    // A new display name, seen by Bob.
    const nameBox = settings.getByRole('textbox', { name: 'Display name' });
    assert.equal(await nameBox.inputValue(), 'Alice');
    await nameBox.fill('Alicia');
    await settings.getByRole('button', { name: 'Save', exact: true }).click();
    await tile(bob, 'Alicia').waitFor({ state: 'visible' });
    await tile(alice, 'Alicia (you)').waitFor({ state: 'visible' });
    // A bad one is refused with an alert, nothing sent.
    await nameBox.fill('   ');
    await settings.getByRole('button', { name: 'Save', exact: true }).click();
    await settings.getByRole('alert').waitFor({ state: 'visible' });

    // The upload cap.
    await setSwitch(settings, 'Limit my upload', true);
    const capped = await waitFor(
      'the camera sender capped at 300 kbps',
      () => alice.evaluate(() => window.__mootDebug.pc.getSenders()[1].getParameters().encodings.map((e) => e.maxBitrate ?? null)),
      (e) => e.length > 0 && e.every((b) => b === 300_000),
    );
    console.log(`camera sender maxBitrate: ${JSON.stringify(capped)}`);
    await setSwitch(settings, 'Limit my upload', false);
    await waitFor(
      'the cap lifted',
      () => alice.evaluate(() => window.__mootDebug.pc.getSenders()[1].getParameters().encodings.map((e) => e.maxBitrate ?? null)),
      (e) => e.every((b) => b === null),
    );
    await closeDialog(alice, settings);
    await waitForVideoFrames(tile(bob, 'Alicia'), 'Bob sees Alicia');
  });
});
