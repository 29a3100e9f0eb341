// SFrame (RFC 9605) for Moot's end-to-end encryption: the header (KID + CTR, variable-length),
// key and salt derivation with HKDF-SHA256, and AES-GCM with the AES_128_GCM_SHA256_128 cipher
// suite, all through WebCrypto. No DOM code here: it runs in pages, workers and Node.
//
// A Moot media frame on the wire is  [clear prefix][SFrame header][ciphertext + 16-byte tag].
// The clear prefix is what the packetizer and the SFU need (docs/e2ee.md): 10 bytes of a VP8
// keyframe (frame tag, start code, size), 3 of a VP8 delta frame (frame tag), 1 of Opus (the
// TOC byte). It is authenticated: AAD = header + clear prefix (the RFC's "metadata").

/** Cipher suite AES_128_GCM_SHA256_128 (RFC 9605, section 4.5). */
export const CIPHER_SUITE = 0x0004;
const NK = 16;
const NN = 12;
const TAG_BYTES = 16;
const enc = new TextEncoder();

/** @param {number} n @param {number} len @returns {Uint8Array<ArrayBuffer>} big-endian, `len` bytes */
function bigEndian(n, len) {
  const out = new Uint8Array(len);
  let v = BigInt(n);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** @param {number} n @returns {number} the fewest bytes that hold n (≥ 1) */
function byteLength(n) {
  let len = 1;
  while (len < 8 && n >= 2 ** (8 * len)) len++;
  return len;
}

/** @param {...Uint8Array<ArrayBuffer>} parts @returns {Uint8Array<ArrayBuffer>} */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The SFrame header of RFC 9605 section 4.3: one config byte |X|K(3)|Y|C(3)|, then the KID
 * bytes when X is set (K+1 of them), then the CTR bytes when Y is set (C+1 of them).
 * @param {number} kid 0 ≤ kid < 2^53
 * @param {number} ctr 0 ≤ ctr < 2^53
 * @returns {Uint8Array<ArrayBuffer>}
 */
export function encodeHeader(kid, ctr) {
  /** @type {number[]} */
  const extra = [];
  let config = 0;
  if (kid < 8) config |= kid << 4;
  else {
    const len = byteLength(kid);
    config |= 0x80 | ((len - 1) << 4);
    extra.push(...bigEndian(kid, len));
  }
  if (ctr < 8) config |= ctr;
  else {
    const len = byteLength(ctr);
    config |= 0x08 | (len - 1);
    extra.push(...bigEndian(ctr, len));
  }
  return Uint8Array.from([config, ...extra]);
}

/**
 * @param {Uint8Array<ArrayBuffer>} bytes starting at the header
 * @returns {{kid: number, ctr: number, length: number} | null} null when it is cut short
 */
export function decodeHeader(bytes) {
  if (bytes.length < 1) return null;
  const config = bytes[0];
  let at = 1;
  /** @param {number} len */
  const read = (len) => {
    if (at + len > bytes.length) return null;
    let v = 0;
    for (let i = 0; i < len; i++) v = v * 256 + bytes[at + i];
    at += len;
    return v;
  };
  const kid = config & 0x80 ? read(((config >> 4) & 7) + 1) : (config >> 4) & 7;
  if (kid === null) return null;
  const ctr = config & 0x08 ? read((config & 7) + 1) : config & 7;
  if (ctr === null) return null;
  return { kid, ctr, length: at };
}

/**
 * How many leading bytes of an encoded frame stay in clear.
 * @param {'audio' | 'video'} kind
 * @param {Uint8Array<ArrayBuffer>} data the encoded frame
 * @returns {number}
 */
export function clearBytes(kind, data) {
  if (kind === 'audio') return Math.min(1, data.length);
  // VP8 (RFC 6386 section 9.1): P bit (bit 0 of the first byte) is 0 on keyframes, which
  // carry 7 more bytes (start code and dimensions) after the 3-byte frame tag.
  const keyframe = data.length > 0 && (data[0] & 1) === 0;
  return Math.min(keyframe ? 10 : 3, data.length);
}

/**
 * A sender key's derived AES-GCM key and salt (RFC 9605 section 4.4.2):
 * secret = HKDF-Extract("", base_key); key = Expand(secret, "SFrame 1.0 Secret key " + KID +
 * suite, Nk); salt = Expand(secret, "SFrame 1.0 Secret salt " + KID + suite, Nn), KID as 8
 * bytes and the suite as 2, big-endian.
 * @typedef {{kid: number, key: CryptoKey, salt: Uint8Array<ArrayBuffer>}} FrameKey
 */

/**
 * @param {Uint8Array<ArrayBuffer>} baseKey 16 bytes
 * @param {number} kid
 * @returns {Promise<FrameKey>}
 */
export async function deriveFrameKey(baseKey, kid) {
  const ikm = await crypto.subtle.importKey('raw', baseKey, 'HKDF', false, ['deriveBits']);
  const suffix = concat(bigEndian(kid, 8), bigEndian(CIPHER_SUITE, 2));
  /** @param {string} label @param {number} len */
  const expand = async (label, len) =>
    new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: concat(enc.encode(label), suffix) }, ikm, len * 8));
  const rawKey = await expand('SFrame 1.0 Secret key ', NK);
  const salt = await expand('SFrame 1.0 Secret salt ', NN);
  const key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
  return { kid, key, salt };
}

/**
 * The next sender key in a ratchet (RFC 9605 section 5.1's sender-key ratchet, with our own
 * label): base_key' = HKDF(base_key, "Moot SFrame ratchet"). Someone who joins gets the
 * ratcheted key and so cannot decrypt what was sent before.
 * @param {Uint8Array<ArrayBuffer>} baseKey
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function ratchet(baseKey) {
  const ikm = await crypto.subtle.importKey('raw', baseKey, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: enc.encode('Moot SFrame ratchet') }, ikm, NK * 8));
}

/** @param {Uint8Array<ArrayBuffer>} salt @param {number} ctr */
function nonce(salt, ctr) {
  const n = bigEndian(ctr, NN);
  for (let i = 0; i < NN; i++) n[i] ^= salt[i];
  return n;
}

/**
 * Encrypts one frame: [clear prefix][header][AES-GCM(rest)].
 * @param {FrameKey} fk
 * @param {number} ctr never repeated with the same key
 * @param {Uint8Array<ArrayBuffer>} frame
 * @param {number} clear leading bytes left in clear
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function encryptFrame(fk, ctr, frame, clear) {
  const header = encodeHeader(fk.kid, ctr);
  const prefix = frame.subarray(0, clear);
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: nonce(fk.salt, ctr), additionalData: concat(header, prefix), tagLength: TAG_BYTES * 8 },
    fk.key,
    frame.subarray(clear),
  );
  return concat(prefix, header, new Uint8Array(sealed));
}

/**
 * The header of an encrypted frame (for choosing the key), or null if it has none.
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {number} clear
 */
export function frameHeader(data, clear) {
  return decodeHeader(data.subarray(clear));
}

/**
 * Decrypts one frame; throws (WebCrypto's OperationError) when the key is wrong or the bytes
 * were changed.
 * @param {FrameKey} fk
 * @param {Uint8Array<ArrayBuffer>} data
 * @param {number} clear
 * @returns {Promise<Uint8Array<ArrayBuffer>>}
 */
export async function decryptFrame(fk, data, clear) {
  const header = decodeHeader(data.subarray(clear));
  if (!header || header.kid !== fk.kid) throw new Error('not a frame of this key');
  const prefix = data.subarray(0, clear);
  const body = data.subarray(clear + header.length);
  if (body.length < TAG_BYTES) throw new Error('frame too short');
  const opened = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: nonce(fk.salt, header.ctr), additionalData: concat(data.subarray(clear, clear + header.length), prefix), tagLength: TAG_BYTES * 8 },
    fk.key,
    body,
  );
  return concat(prefix, new Uint8Array(opened));
}

/**
 * A stream of encoded frames (Chromium's createEncodedStreams, or an RTCRtpScriptTransform in
 * a worker) run through `change`: a null result, or an error, drops the frame. Frames keep
 * their order. Shared by the page and the worker so both paths treat frames the same way.
 * @param {(data: Uint8Array<ArrayBuffer>) => Promise<Uint8Array<ArrayBuffer> | null>} change
 * @returns {TransformStream}
 */
export function frameTransformStream(change) {
  return new TransformStream({
    /** @param {any} frame @param {TransformStreamDefaultController} controller */
    async transform(frame, controller) {
      // An empty frame is what Opus gives in DTX between its refresh frames, and the RTP
      // sender sends nothing for it. Sealed, it would become a packet of header and tag
      // whose receiver reads the header's first byte as the Opus TOC: pass it on as is.
      if (frame.data.byteLength === 0) {
        controller.enqueue(frame);
        return;
      }
      let out = null;
      try {
        out = await change(new Uint8Array(frame.data));
      } catch (err) {
        console.warn('moot: a frame could not be processed:', err);
      }
      if (!out) return;
      frame.data = out.buffer.byteLength === out.byteLength ? out.buffer : out.slice().buffer;
      controller.enqueue(frame);
    },
  });
}
