/**
 * The ICryptoInterface Ferry hands to `noise({ crypto })`: @chainsafe/libp2p-noise's `defaultCrypto` (Node's
 * chacha20-poly1305 for messages of 1200 bytes and more, WebAssembly below), except that a large message is
 * sealed without joining its ciphertext and tag into one new buffer: the sender returns them as a list, which
 * the Noise stream frames and the TCP socket writes as they are (one 64 KiB copy and allocation less per
 * message). Decryption is defaultCrypto's; the copy on the receiving side is removed by patches/ (see
 * patches/README.md).
 */
import crypto from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'

const CHACHA_POLY1305 = 'chacha20-poly1305'
/** Below this defaultCrypto uses WebAssembly, which is faster for small messages. */
const NATIVE_MIN_BYTES = 1200
const TAG_BYTES = 16

type Sealed = ReturnType<ICryptoInterface['chaCha20Poly1305Encrypt']>

/**
 * Seals `plaintext` with Node's cipher; returns ciphertext then tag, not joined. The list is uint8arraylist 3,
 * Noise's own is 2.4: both mark their lists with the same registered symbol and share the API used here.
 */
function sealNative (plaintext: Iterable<Uint8Array> | Uint8Array, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array, length: number): Sealed {
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

/** Ferry's Noise crypto: defaultCrypto with an encryption that does not join. */
export const ferryNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    return sealNative(plaintext, nonce, ad, k, plaintext.byteLength)
  }
}
