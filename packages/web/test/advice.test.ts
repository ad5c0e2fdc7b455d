/** The page's advice per failure code (src/app/advice.ts): every code it advises on is one Ferry raises. */
import { describe, expect, it } from 'vitest'
import { ErrorCodes } from '@ferry/errors'
import { ADVISED_CODES, adviceFor } from '../src/app/advice.js'

/** The codes of a file not placed (@ferry/transfer `PullProblem`), beside the FerryError codes. */
const PROBLEM_CODES = ['ERR_CONFLICT', 'ERR_UNAVAILABLE', 'ERR_CHANGED_AT_SOURCE', 'ERR_MISSING_AT_SOURCE', 'ERR_UNSAFE_SYMLINK']

describe('adviceFor', () => {
  it('advises on every code a file can fail with, and only on codes Ferry raises', () => {
    for (const code of PROBLEM_CODES) expect(ADVISED_CODES, code).toContain(code)
    for (const code of ADVISED_CODES) expect([...PROBLEM_CODES, ...Object.keys(ErrorCodes)], code).toContain(code)
  })

  it('says what happened and what to do, the daemon\'s words standing in for an unknown code', () => {
    expect(adviceFor('ERR_CHANGED_AT_SOURCE', 'x')).toEqual({
      what: 'The file changed at the source after it was added.',
      todo: 'Add the scan again there (ferry add on the source node) and pull its new root: this root names the old bytes, so Retry cannot bring them.'
    })
    expect(adviceFor('ERR_NO_SPACE', 'x').todo).toContain('Free space there')
    expect(adviceFor('ERR_SOMETHING_NEW', 'the disk caught fire')).toEqual({ what: 'the disk caught fire', todo: 'Retry; if it fails again, the daemon\'s log says more.' })
  })
})
