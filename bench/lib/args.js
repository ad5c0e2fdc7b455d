/** Command-line parsing for bench/run.js: `[suite...] [--rounds N] [--quick] [--work DIR] ...`. */
import { parseArgs } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const USAGE = `Usage: node bench/run.js [suite...] [options]

Suites: %SUITES% (default: all)

Options:
  --rounds N        timed rounds per comparison (default 5)
  --quick           skip the once-per-run scale runs (20 GiB sparse file, 200,000-file tree)
  --work DIR        where datasets and throwaway homes live (default \${TMPDIR:-/tmp}/ferry-bench)
  --out FILE        raw results as JSON (default bench/results/latest.json)
  --driver cli|lib  cli: the real \`ferry add\` child process (default); lib: a child that calls
                    importDirectory() from packages/dag/dist with no sink (hashing pipeline only)
  --settle S        before each timed run, wait up to S seconds for the machine to be nearly idle
                    (< 0.25 cores busy; default 20, 0 to not wait)
  --rss gnu-time|python   force how peak RSS is taken (default: GNU time if present, else python3)
  --datasets A,B    pull, wan: only these datasets (default: the suite's set; M1m, 10^6 files, only when named)
  (live: 11MBx10, 1MBx50)
  --links LIST      wan: only these links, RTT ms/loss % pairs (e.g. 60/0.1,20/0); 'none' skips them
  --no-two-sources  wan: skip the two-sources case
  --connections N   wan, visit: \`ferry pull --connections N\` (visit: and the subscriber's pull.connections; default: ferry's own)
  --daemon-pull JSON  visit: merged into the subscriber daemons' config.json \`pull\` section (e.g.
                    '{"daemonTasks":3,"daemonInflightMiB":32}')
  --cc NAME         wan: TCP congestion control in the emulated hosts (default cubic; the host's may be bbr)
  --watch-settle S  live: the watch's settle time in seconds (\`ferry watch --settle\`; default 0.5)
  --pin             pull: servers (ferry daemon, sshd) on CPU 0, clients on CPU 1 (taskset), like two
                    one-core machines; needs 2 or more cores
  -h, --help`

export function parseCli (argv, suiteNames) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '5' },
      quick: { type: 'boolean', default: false },
      work: { type: 'string', default: join(process.env.TMPDIR ?? tmpdir(), 'ferry-bench') },
      out: { type: 'string' },
      driver: { type: 'string', default: 'cli' },
      rss: { type: 'string' },
      settle: { type: 'string', default: '20' },
      pin: { type: 'boolean', default: false },
      datasets: { type: 'string' },
      cc: { type: 'string', default: 'cubic' },
      links: { type: 'string' },
      'no-two-sources': { type: 'boolean', default: false },
      connections: { type: 'string' },
      'daemon-pull': { type: 'string' },
      'watch-settle': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  const usage = USAGE.replace('%SUITES%', suiteNames.join(', '))
  if (values.help) return { help: usage }
  const rounds = Number(values.rounds)
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer\n\n${usage}`)
  if (!['cli', 'lib'].includes(values.driver)) throw new Error(`--driver must be cli or lib\n\n${usage}`)
  if (values.rss != null && !['gnu-time', 'python'].includes(values.rss)) throw new Error(`--rss must be gnu-time or python\n\n${usage}`)
  const settle = Number(values.settle)
  if (!(settle >= 0)) throw new Error(`--settle must be a number of seconds\n\n${usage}`)
  const watchSettle = values['watch-settle'] == null ? undefined : Number(values['watch-settle'])
  if (watchSettle !== undefined && !(watchSettle >= 0.1 && watchSettle <= 3600)) throw new Error(`--watch-settle must be seconds from 0.1 to 3600\n\n${usage}`)
  let daemonPull
  try {
    daemonPull = values['daemon-pull'] == null ? undefined : JSON.parse(values['daemon-pull'])
  } catch {}
  if (values['daemon-pull'] != null && (typeof daemonPull !== 'object' || daemonPull === null || Array.isArray(daemonPull))) throw new Error(`--daemon-pull must be a JSON object\n\n${usage}`)
  const suites = positionals.length > 0 ? positionals : suiteNames
  for (const s of suites) if (!suiteNames.includes(s)) throw new Error(`unknown suite '${s}'\n\n${usage}`)
  return { suites, rounds, quick: values.quick, work: values.work, out: values.out, driver: values.driver, rss: values.rss, settle, pin: values.pin, cc: values.cc, links: values.links, twoSources: !values['no-two-sources'], connections: values.connections, daemonPull, watchSettle, datasets: values.datasets?.split(',').filter((d) => d !== '') }
}

/** Whether option `--name` was given on the command line `argv` (as `--name V` or `--name=V`), to tell a default from a choice. */
export function optionGiven (argv, name) {
  return argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))
}
