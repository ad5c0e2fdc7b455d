/**
 * The ICryptoInterface Ferry hands to `noise({ crypto })`: @chainsafe/libp2p-noise's `defaultCrypto` (Node's
 * chacha20-poly1305 for messages of 1200 bytes and more, WebAssembly below), with two changes for large
 * messages:
 *
 * - a message is sealed without joining its ciphertext and tag into one new buffer: the sender returns them
 *   as a list, which the Noise stream frames and the TCP socket writes as they are (one 64 KiB copy and
 *   allocation less per message);
 * - Node's cipher is given the session key as a KeyObject, made once per key, not as bytes. Given bytes,
 *   Node 24's `createCipheriv`/`createDecipheriv` first ask whether they are a KeyObject or a CryptoKey by
 *   trying to read their internal slots and catching the TypeError each attempt throws: two exceptions, each
 *   with a captured stack trace, per message (13-35 µs; about half the cipher's CPU for a 64 KiB message,
 *   docs/benchmarks.md "Node 24 vs Node 20"). Node 20 tested with a property read.
 *
 * The copy on the receiving side is removed by patches/ (see patches/README.md).
 */
import crypto, { type KeyObject } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

const CHACHA_POLY1305 = 'chacha20-poly1305'
/** Below this defaultCrypto uses WebAssembly, which is faster for small messages. */
const NATIVE_MIN_BYTES = 1200
const TAG_BYTES = 16

type Sealed = ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>
type Opened = ReturnType<ICryptoInterface['chaCha20Poly1305Decrypt']>
type Ciphertext = Parameters<ICryptoInterface['chaCha20Poly1305Decrypt']>[0]

/** The KeyObject of a key, by the key's array (Noise keeps one per cipher state), with the bytes it was made of. */
type KeyCache = WeakMap<Uint8Array, { bytes: Buffer, key: KeyObject }>

/** `k` as a KeyObject, made once per key array and made again should its bytes ever change. */
function keyObject (cache: KeyCache, k: Uint8Array): KeyObject {
  const hit = cache.get(k)
  if (hit !== undefined && hit.bytes.equals(k)) return hit.key
  const bytes = Buffer.from(k)
  const key = crypto.createSecretKey(bytes)
  cache.set(k, { bytes, key })
  return key
}

/**
 * Seals `plaintext` with Node's cipher; returns ciphertext then tag, not joined. The list is uint8arraylist 3,
 * Noise's own is 2.4: both mark their lists with the same registered symbol and share the API used here.
 */
function sealNative (plaintext: Iterable<Uint8Array> | Uint8Array, nonce: Uint8Array, ad: Uint8Array, k: KeyObject, length: number): Sealed {
  const cipher = crypto.createCipheriv(CHACHA_POLY1305, k, nonce, { authTagLength: TAG_BYTES })
  cipher.setAAD(ad, { plaintextLength: length })
  const out = new Uint8ArrayList()
  if (plaintext instanceof Uint8Array) out.append(cipher.update(plaintext))
  else for (const buf of plaintext) out.append(cipher.update(buf))
  const final = cipher.final()
  if (final.byteLength > 0) out.append(final)
  out.append(cipher.getAuthTag())
  return out as unknown as Sealed
}

/**
 * Opens `ciphertext` (tag last; one array, or a list when it spans socket reads) with Node's cipher, as
 * defaultCrypto does: an array opens to one buffer, a list piece by piece. Throws if the tag does not match.
 */
function openNative (ciphertext: Ciphertext, nonce: Uint8Array, ad: Uint8Array, k: KeyObject): Opened {
  const decipher = crypto.createDecipheriv(CHACHA_POLY1305, k, nonce, { authTagLength: TAG_BYTES })
  const textLength = ciphertext.byteLength - TAG_BYTES
  decipher.setAAD(ad, { plaintextLength: textLength })
  decipher.setAuthTag(ciphertext.subarray(textLength))
  if (ciphertext instanceof Uint8Array) {
    const output = decipher.update(ciphertext.subarray(0, textLength))
    const final = decipher.final()
    return final.byteLength > 0 ? Buffer.concat([output, final]) : output
  }
  const output = new Uint8ArrayList()
  for (const buf of ciphertext.sublist(0, textLength)) output.append(decipher.update(buf))
  const final = decipher.final()
  if (final.byteLength > 0) output.append(final)
  return output as unknown as Opened
}

/**
 * Ferry's Noise crypto: defaultCrypto, with large messages sealed without a join and both directions keyed
 * by a KeyObject. One per libp2p node (it caches the KeyObjects of that node's sessions' keys).
 */
export function ferryNoiseCrypto (): ICryptoInterface {
  const keys: KeyCache = new WeakMap()
  return {
    ...defaultCrypto,
    chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
      if (plaintext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
      return sealNative(plaintext, nonce, ad, keyObject(keys, k), plaintext.byteLength)
    },
    chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
      if (ciphertext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
      return openNative(ciphertext, nonce, ad, keyObject(keys, k))
    }
  }
}
