// Generates a small beamline-like scan: projections, flats and darks, a reconstructed volume, metadata.
// Deterministic content (AES-CTR keystream), so the same spec always gives the same root.
import { createCipheriv, createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

function content (size, seed) {
  const key = createHash('sha256').update(seed).digest()
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16)).update(Buffer.alloc(size))
}

/** Writes the sample scan under `dir` and returns { files, bytes }. */
export function writeSampleScan (dir, { projections = 120, projectionBytes = 1_048_576 + 4096, volumeBytes = 48 * 1_048_576 } = {}) {
  let files = 0
  let bytes = 0
  const put = (rel, buf) => {
    const abs = join(dir, rel)
    mkdirSync(join(abs, '..'), { recursive: true })
    writeFileSync(abs, buf)
    files++
    bytes += buf.length
  }
  for (let i = 0; i < projections; i++) put(`raw/proj_${String(i).padStart(4, '0')}.tif`, content(projectionBytes, `proj${i}`))
  for (let i = 0; i < 4; i++) put(`raw/flat_${i}.tif`, content(projectionBytes, `flat${i}`))
  for (let i = 0; i < 4; i++) put(`raw/dark_${i}.tif`, content(projectionBytes, `dark${i}`))
  put('processed/tomo_recon.h5', content(volumeBytes, 'volume'))
  put('processed/user.log', Buffer.from('2026-11-25 05:04:10 - User Log Started\n2026-11-25 05:05:52 - Processing Complete\n'))
  put('scan.nxs', content(214_000, 'nexus'))
  mkdirSync(join(dir, 'spool'), { recursive: true })
  return { files, bytes }
}
