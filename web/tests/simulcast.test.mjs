// Simulcast adaptation on the client: the height reported for a tile. (The server's `layers`
// message is in protocol.test.mjs.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { neededHeight, sizesKey, MAX_VIEW_HEIGHT } from '../assets/js/viewsizes.js';

test('a tile needs its height in device pixels, more when a narrower video is cropped', () => {
  // A 16:9 video in a 16:9 box: the box's height.
  assert.equal(neededHeight(640, 360, 16 / 9, 1), 360);
  assert.equal(neededHeight(640, 360, 16 / 9, 2), 720);
  // A 4:3 video covering a 16:9 box is scaled to the width: 640 / (4/3) = 480 lines show.
  assert.equal(neededHeight(640, 360, 4 / 3, 1), 480);
  // Unknown aspect: the box's height; hidden or empty: 0; never over the server's limit.
  assert.equal(neededHeight(640, 360, 0, 1.5), 540);
  assert.equal(neededHeight(0, 0, 16 / 9, 1), 0);
  assert.equal(neededHeight(100000, 100000, 1, 3), MAX_VIEW_HEIGHT);
});

test('sizes compare by content, not key order', () => {
  assert.equal(sizesKey({ p1: 100, p2: 0 }), sizesKey({ p2: 0, p1: 100 }));
  assert.notEqual(sizesKey({ p1: 100 }), sizesKey({ p1: 101 }));
});

