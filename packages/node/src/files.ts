/** Small file helpers of the node package. */
import fs from 'node:fs/promises'
import { fromSystemError } from '@ferry/errors'

/** The text of `file`, or undefined if it does not exist; any other failure is a typed error naming it. */
export async function readTextIfExists (file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw fromSystemError(err, file)
  }
}
