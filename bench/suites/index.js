/**
 * The benchmark suites, by name. A suite is a module whose default export is
 *   { name, description, async run(ctx) -> result (JSON-able), report(result, ctx) -> string }
 * where ctx = { rounds, quick, work, driver, probe, log }. To add one (e.g. replication against
 * rsync over ssh), write bench/suites/<name>.js and list it here.
 */
import importSuite from './import.js'
import liveSuite from './live.js'
import pullSuite from './pull.js'
import visitSuite from './visit.js'
import wanSuite from './wan.js'

export const SUITES = [importSuite, pullSuite, wanSuite, visitSuite, liveSuite]
