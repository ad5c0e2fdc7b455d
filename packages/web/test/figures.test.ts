/**
 * The numbers behind the task page's figures (src/app/figures.ts, plain functions the page draws from):
 * speeds from the task:updated samples, the SVG line, each peer's share, and the open scans the API adds
 * to tasks and subscriptions (a literal record here: the field is another part's; the page renders it when present).
 */
import { describe, expect, it } from 'vitest'
import { chartLine, formatLag, openScanRows, peerShares, speeds } from '../src/app/figures.js'

describe('speeds and the chart line', () => {
  it('turns byte samples into speeds between them, a drop counting as 0', () => {
    const s = speeds([{ t: 1000, bytes: 0 }, { t: 2000, bytes: 5_000_000 }, { t: 4000, bytes: 9_000_000 }, { t: 4000, bytes: 9_500_000 }, { t: 5000, bytes: 1_000_000 }])
    expect(s).toEqual([{ t: 2000, speed: 5_000_000 }, { t: 4000, speed: 2_000_000 }, { t: 5000, speed: 0 }])
    expect(speeds([{ t: 1, bytes: 1 }])).toEqual([])
  })

  it('scales the line to the box: time across, the peak at the top', () => {
    const line = chartLine([{ t: 0, speed: 10 }, { t: 500, speed: 40 }, { t: 1000, speed: 20 }], 600, 120)
    expect(line).toEqual({ points: '0.0,90.0 300.0,0.0 600.0,60.0', peak: 40, spanMs: 1000 })
    expect(chartLine([], 600, 120)).toBeUndefined()
    expect(chartLine([{ t: 7, speed: 0 }], 600, 120)).toEqual({ points: '0,120.0 600.0,120.0', peak: 0, spanMs: 0 })
  })
})

describe('peer shares', () => {
  it('gives each peer its bytes and share, largest first', () => {
    expect(peerShares({ '12D3KooWa': 250, '12D3KooWb': 750 })).toEqual([
      { peer: '12D3KooWb', bytes: 750, ratio: 0.75 },
      { peer: '12D3KooWa', bytes: 250, ratio: 0.25 }
    ])
    expect(peerShares({ x: 0 })).toEqual([{ peer: 'x', bytes: 0, ratio: 0 }])
    expect(peerShares(undefined)).toEqual([])
  })
})

describe('open scans', () => {
  it('says published against arrived, the live lag and the backlog of each', () => {
    const rows = openScanRows([
      { collection: 'mx-2412', name: 'scan_0043', published: 1200, arrived: 1187, lagMs: 4_300, backlogBytes: 130_000_000 },
      { collection: 'mx-2412', name: 'scan_0044', published: 10, arrived: 10, lagMs: null, backlogBytes: 0 }
    ])
    expect(rows).toEqual([
      { scan: 'mx-2412/scan_0043', files: '1,187 of 1,200 published files arrived', lag: '4 s', backlog: '130 MB to come', behind: true },
      { scan: 'mx-2412/scan_0044', files: '10 of 10 published files arrived', lag: 'not measured yet', backlog: 'none', behind: false }
    ])
    expect(openScanRows(undefined)).toEqual([])
  })

  it('says a lag in the largest units that matter', () => {
    expect([formatLag(0), formatLag(999), formatLag(59_400), formatLag(185_000), formatLag(7_440_000)]).toEqual(['under a second', 'under a second', '59 s', '3 min 5 s', '2 h 4 min'])
  })
})
