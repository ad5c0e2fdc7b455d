/**
 * Versioned schema of `catalog.db`. `PRAGMA user_version` holds the number of the last step applied; opening
 * a catalog applies the missing steps, in order, in one IMMEDIATE transaction (all or nothing, and two
 * processes opening an old catalog at once cannot both migrate it). A catalog whose version is higher than
 * the last step here was written by a newer Ferry and is refused with ERR_HOME_TOO_NEW.
 *
 * Rules for new steps: append, never edit a released step; number them 1, 2, 3, ... without gaps.
 */
import type BetterSqlite3 from 'better-sqlite3'

/** One schema step. */
export interface Migration {
  /** The user_version the catalog has after this step. */
  version: number
  /** One line for logs and `ferry doctor`. */
  description: string
  /** Applies the step. Runs inside the migration transaction. */
  up: (db: BetterSqlite3.Database) => void
}

/**
 * Schema version 1.
 *
 * - `scans`: one row per scan. `root` (CID string) is NULL while `state` = 'importing'; `skipped` is a JSON
 *   list of `{ path, code, message }`; `created` is ms since the epoch; `writer_pid`/`writer_host` name the
 *   process writing an importing scan, so an import left behind by a crash can be recognised and removed.
 * - `entries`: every file, directory and symlink of a scan, keyed (scan_id, path) so reading a scan back in
 *   path order is a range scan. `path` is relative and '/'-separated ('' = the root directory); `cid` is the
 *   binary CID (compact, and faster to decode than text); modes and mtimes live here, not in the DAG.
 * - `sources`: the files on this machine the node can serve content from, one row per absolute path (a
 *   re-import replaces the row), with the size and mtime seen when it was hashed and the scan that last
 *   indexed it (NULL once that scan is removed: the index still describes the file on disk).
 * - `leaves`: leaf multihash (binary `cid`) → (source, offset, length). Keyed (source_id, offset) so replacing
 *   a source's leaves is a range delete. Looked up through `cid_key`, the first 8 bytes of the digest as a
 *   signed integer, indexed, not unique (one chunk can sit in many files; lookups also compare `cid`): an
 *   integer index is half the size of one on the 34-byte multihash and takes random inserts ~1.4x faster,
 *   which matters at 10^6-10^8 leaves.
 */
const SCHEMA_V1 = `
CREATE TABLE scans (
  id          INTEGER PRIMARY KEY,
  root        TEXT,
  collection  TEXT,
  name        TEXT NOT NULL,
  source_path TEXT NOT NULL,
  origin      TEXT NOT NULL,
  files       INTEGER NOT NULL DEFAULT 0,
  directories INTEGER NOT NULL DEFAULT 0,
  symlinks    INTEGER NOT NULL DEFAULT 0,
  bytes       INTEGER NOT NULL DEFAULT 0,
  skipped     TEXT NOT NULL DEFAULT '[]',
  created     INTEGER NOT NULL,
  state       TEXT NOT NULL DEFAULT 'importing' CHECK (state IN ('importing', 'complete')),
  writer_pid  INTEGER,
  writer_host TEXT
);
CREATE INDEX scans_by_root ON scans (root, created);
CREATE INDEX scans_by_collection ON scans (collection, created);

CREATE TABLE entries (
  scan_id  INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  path     TEXT NOT NULL,
  type     TEXT NOT NULL CHECK (type IN ('file', 'directory', 'symlink')),
  size     INTEGER NOT NULL,
  mode     INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  cid      BLOB NOT NULL,
  target   TEXT,
  PRIMARY KEY (scan_id, path)
) WITHOUT ROWID;

CREATE TABLE sources (
  id       INTEGER PRIMARY KEY,
  path     TEXT NOT NULL UNIQUE,
  size     INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  scan_id  INTEGER REFERENCES scans (id) ON DELETE SET NULL
);
CREATE INDEX sources_by_scan ON sources (scan_id);

CREATE TABLE leaves (
  source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
  "offset"  INTEGER NOT NULL,
  length    INTEGER NOT NULL,
  cid       BLOB NOT NULL,
  cid_key   INTEGER NOT NULL,
  PRIMARY KEY (source_id, "offset")
) WITHOUT ROWID;
CREATE INDEX leaves_by_key ON leaves (cid_key);
`

/**
 * Schema version 2: the pull journal, so an interrupted `ferry pull` resumes where it stopped.
 *
 * - `pulls`: one row per (root, dest) replication; `state` is 'active' until it completes (or 'failed' after
 *   giving up, to be resumed by running it again). Later: the daemon's durable task list builds on this.
 * - `pull_files`: for each file still being assembled in the staging area, a bitmap of the leaves that were
 *   written and fsynced (bit i = leaf i). Rows are deleted once the file is renamed into place.
 */
const SCHEMA_V2 = `
CREATE TABLE pulls (
  id            INTEGER PRIMARY KEY,
  root          TEXT NOT NULL,
  dest          TEXT NOT NULL,
  state         TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'complete', 'failed')),
  created       INTEGER NOT NULL,
  updated       INTEGER NOT NULL,
  bytes_fetched INTEGER NOT NULL DEFAULT 0,
  UNIQUE (root, dest)
);

CREATE TABLE pull_files (
  pull_id INTEGER NOT NULL REFERENCES pulls (id) ON DELETE CASCADE,
  path    TEXT NOT NULL,
  done    BLOB NOT NULL,
  PRIMARY KEY (pull_id, path)
) WITHOUT ROWID;
`

/**
 * Schema version 3: which scans each inner node belongs to, so the access check can tell which collection a
 * requested dag-pb block (a directory listing names files: it is part of the manifest) is in.
 *
 * - `scan_nodes`: (multihash of an inner dag-pb node, scan) for every inner node that `ferry add` stored
 *   or `ferry pull` fetched for that scan. Raw leaves are not listed: they map to scans through
 *   `leaves` -> `sources.scan_id`. Inner nodes are about one per multi-chunk file, one per directory and
 *   one per GiB of a file (1024 links per node), so the table is ~1/1000 the size of `leaves`.
 *
 * Scans recorded before this version get the nodes the catalog already names: every directory and
 * multi-chunk file root in `entries` (CIDv1 dag-pb = bytes 0x01 0x70, then the multihash). Not covered:
 * HAMT shard nodes of huge directories and the intermediate nodes of files over 1 GiB; those stay
 * unmapped (refused once the node has grants) until the scan is added again.
 */
const SCHEMA_V3 = `
CREATE TABLE scan_nodes (
  cid     BLOB NOT NULL,
  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  PRIMARY KEY (cid, scan_id)
) WITHOUT ROWID;
CREATE INDEX scan_nodes_by_scan ON scan_nodes (scan_id);
INSERT OR IGNORE INTO scan_nodes (cid, scan_id)
  SELECT substr(cid, 3), scan_id FROM entries WHERE substr(cid, 1, 2) = x'0170';
`

/**
 * Schema version 4: signed scan records.
 *
 * - `scans` gains the origin's signature over the record and its entries (docs/format.md, "Signed scan
 *   records"): `signature` (the bytes, NULL for scans imported before signing existed), `signature_format`
 *   (version of the signed encoding) and `signed_at` (ms since the epoch, part of the signed bytes). A replica
 *   keeps the ORIGIN's signature unchanged, so it re-serves a scan that still verifies as the origin's.
 * - `scan_provenance`: where a pulled replica came from: one row per peer that sent the scan record or data
 *   (`bytes` fetched from it in the run that completed the pull) and when that pull completed. No rows for a
 *   scan imported here.
 */
const SCHEMA_V4 = `
ALTER TABLE scans ADD COLUMN signature BLOB;
ALTER TABLE scans ADD COLUMN signature_format INTEGER;
ALTER TABLE scans ADD COLUMN signed_at INTEGER;

CREATE TABLE scan_provenance (
  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  peer    TEXT NOT NULL,
  bytes   INTEGER NOT NULL,
  fetched INTEGER NOT NULL,
  PRIMARY KEY (scan_id, peer)
) WITHOUT ROWID;
`

/**
 * Schema version 5: `placed_files`, the files Ferry wrote at pull destinations (absolute path; size, mtime,
 * ctime and inode right after placing them), so a pull trusts the size-and-mtime quick check only for files
 * it placed itself and hashes every other file it finds (placed-files.ts).
 */
const SCHEMA_V5 = `
CREATE TABLE placed_files (
  path     TEXT PRIMARY KEY,
  size     INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  ctime_ms REAL NOT NULL,
  ino      INTEGER NOT NULL
) WITHOUT ROWID;
`

/**
 * Schema version 6: durable tasks (packages/tasks), the daemon's list of replications to run and their outcome.
 *
 * - `tasks`: one row per task (a pull of `root` into `dest` from `sources`), its `condition` (QUEUED,
 *   ACTIVE, SUCCEEDED, FAILED, CANCELLED), times in ms since the epoch (`deadline` absolute), its counters
 *   as the Globus activity view shows them, `settings` (JSON: pull options, hook, deadline) and `reason`
 *   (JSON { code, message } of what ended it). At most one QUEUED or ACTIVE task per (root, dest): a second
 *   request for the same replication is the same task.
 * - `task_files`: the last failure of every entry that did not succeed (code, message, when, attempts).
 * - `task_events`: an append-only log per task (time, kind, message, JSON data), pruned to the last
 *   1,000 rows plus the first and last of each kind.
 */
const SCHEMA_V6 = `
CREATE TABLE tasks (
  id                TEXT PRIMARY KEY,
  label             TEXT,
  root              TEXT NOT NULL,
  dest              TEXT NOT NULL,
  sources           TEXT NOT NULL DEFAULT '[]',
  collection        TEXT,
  condition         TEXT NOT NULL DEFAULT 'QUEUED' CHECK (condition IN ('QUEUED', 'ACTIVE', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
  requested         INTEGER NOT NULL,
  started           INTEGER,
  completed         INTEGER,
  deadline          INTEGER NOT NULL,
  settings          TEXT NOT NULL DEFAULT '{}',
  files             INTEGER NOT NULL DEFAULT 0,
  directories       INTEGER NOT NULL DEFAULT 0,
  bytes_total       INTEGER NOT NULL DEFAULT 0,
  bytes_transferred INTEGER NOT NULL DEFAULT 0,
  active_ms         INTEGER NOT NULL DEFAULT 0,
  pending           INTEGER NOT NULL DEFAULT 0,
  succeeded         INTEGER NOT NULL DEFAULT 0,
  failed            INTEGER NOT NULL DEFAULT 0,
  retrying          INTEGER NOT NULL DEFAULT 0,
  skipped           INTEGER NOT NULL DEFAULT 0,
  cancelled         INTEGER NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  last_run          TEXT,
  reason            TEXT,
  updated           INTEGER NOT NULL
);
CREATE UNIQUE INDEX tasks_one_live ON tasks (root, dest) WHERE condition IN ('QUEUED', 'ACTIVE');
CREATE INDEX tasks_by_condition ON tasks (condition, requested);

CREATE TABLE task_files (
  task_id  TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  path     TEXT NOT NULL,
  code     TEXT NOT NULL,
  message  TEXT NOT NULL,
  at       INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (task_id, path)
) WITHOUT ROWID;

CREATE TABLE task_events (
  id      INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  time    INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  message TEXT NOT NULL,
  data    TEXT
);
CREATE INDEX task_events_by_task ON task_events (task_id, id);
`

/**
 * Schema version 7: subscriptions (packages/tasks, subscriptions.ts), standing rules that replicate every
 * complete scan of a collection on some peers into a directory, and what each rule has already queued.
 *
 * - `subscriptions`: one row per rule: the collection, the destination directory (absolute), `sources`
 *   (JSON: the `--from` values as given, names or multiaddrs; [] = every named peer of the address book),
 *   the hook passed to every task it creates, its creation time. At most one rule per (collection, dest).
 * - `subscription_scans`: every scan a rule has taken on (root), the directory name it got under the
 *   rule's destination (unique per rule: two scans of one name must not collide), the peer it was seen
 *   on, and its task (NULL between the name's reservation and the task's creation: a restart creates it).
 */
const SCHEMA_V7 = `
CREATE TABLE subscriptions (
  id         TEXT PRIMARY KEY,
  collection TEXT NOT NULL,
  dest       TEXT NOT NULL,
  sources    TEXT NOT NULL DEFAULT '[]',
  on_done    TEXT,
  created    INTEGER NOT NULL
);
CREATE UNIQUE INDEX subscriptions_one_per_dest ON subscriptions (collection, dest);

CREATE TABLE subscription_scans (
  sub_id  TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
  root    TEXT NOT NULL,
  name    TEXT NOT NULL,
  dir     TEXT NOT NULL,
  peer    TEXT NOT NULL,
  task_id TEXT,
  queued  INTEGER NOT NULL,
  PRIMARY KEY (sub_id, root)
) WITHOUT ROWID;
CREATE UNIQUE INDEX subscription_scans_dir ON subscription_scans (sub_id, dir);
`

/**
 * Schema version 8:
 * watches and open scans (open-scans.ts).
 *
 * - `watches`: a directory the daemon watches, the open scan (collection, name) it publishes into and its
 *   settle time; kept across restarts.
 * - `open_scans`: scans still being acquired; `key` is the open scan's identifier (openScanId). `scan_id` is the placeholder row in `scans` (state
 *   'importing', no writer) that owns the published files' sources and nodes; `state` turns 'sealed' with
 *   `sealed_root`, `sealed_at` and the origin's `seal_signature` (over the entry count and root) when `ferry seal` commits the finished directory as an ordinary scan.
 * - `open_entries`: every file published, in publication order (`seq` 0, 1, ... per open scan), each with
 *   the origin's signature over it (docs/format.md, "Signed open-scan entries"); a file rewritten after it
 *   was published gets a new row (`version` 1, 2, ...). The row id orders the change feed.
 */
const SCHEMA_V8 = `
CREATE TABLE watches (
  id        INTEGER PRIMARY KEY,
  dir       TEXT NOT NULL,
  collection TEXT NOT NULL,
  name      TEXT NOT NULL,
  settle_ms INTEGER NOT NULL,
  created   INTEGER NOT NULL,
  UNIQUE (collection, name)
);

CREATE TABLE open_scans (
  id          INTEGER PRIMARY KEY,
  collection  TEXT NOT NULL,
  name        TEXT NOT NULL,
  origin      TEXT NOT NULL,
  source_path TEXT NOT NULL,
  created     INTEGER NOT NULL,
  state       TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'sealed')),
  sealed_root TEXT,
  scan_id     INTEGER REFERENCES scans (id) ON DELETE SET NULL,
  key         TEXT NOT NULL UNIQUE,
  sealed_at   INTEGER,
  seal_signature BLOB
);
CREATE INDEX open_scans_by_name ON open_scans (collection, name);

CREATE TABLE open_entries (
  id        INTEGER PRIMARY KEY,
  open_id   INTEGER NOT NULL REFERENCES open_scans (id) ON DELETE CASCADE,
  seq       INTEGER NOT NULL,
  path      TEXT NOT NULL,
  cid       BLOB NOT NULL,
  size      INTEGER NOT NULL,
  mode      INTEGER NOT NULL,
  mtime_ms  REAL NOT NULL,
  published INTEGER NOT NULL,
  signature BLOB NOT NULL,
  version   INTEGER NOT NULL,
  UNIQUE (open_id, seq)
);
CREATE INDEX open_entries_by_path ON open_entries (open_id, path, seq);
`

/**
 * Schema version 9: `pulls.phase`, the last phase of the pull engine done for that pull (record, dag,
 * reconcile, space, fetch, place, finish; NULL before the first), so a task can stop after a phase and
 * resume there.
 */
const SCHEMA_V9 = `
ALTER TABLE pulls ADD COLUMN phase TEXT;
`

/**
 * Schema version 10: `tasks.from_peers`, the bytes each source peer sent a task over every run (JSON object
 * of PeerId to bytes), for the activity view's per-peer share. Tasks recorded before have '{}'.
 */
const SCHEMA_V10 = `
ALTER TABLE tasks ADD COLUMN from_peers TEXT NOT NULL DEFAULT '{}';
`

/**
 * Schema version 11: `followed_files`, what a follower of an open scan (`ferry pull --follow`, a
 * subscription) has placed: one row per file at a destination (absolute path), the open scan's key, the
 * entry's seq and CID, when the origin published it and when it arrived verified. A follower restarted
 * mid-scan skips a file whose row names the entry's CID and whose placed_files row still matches.
 */
const SCHEMA_V11 = `
CREATE TABLE followed_files (
  file      TEXT PRIMARY KEY,
  key       TEXT NOT NULL,
  path      TEXT NOT NULL,
  seq       INTEGER NOT NULL,
  cid       BLOB NOT NULL,
  size      INTEGER NOT NULL,
  published INTEGER NOT NULL,
  arrived   INTEGER NOT NULL
);
CREATE INDEX followed_files_by_key ON followed_files (key, seq);
`

/** Every schema step, in order. The catalog's current version is the last one's. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'scans, entries, sources, leaves', up: db => { db.exec(SCHEMA_V1) } },
  { version: 2, description: 'pull journal: pulls, pull_files', up: db => { db.exec(SCHEMA_V2) } },
  { version: 3, description: 'access: scan_nodes (inner node -> scan)', up: db => { db.exec(SCHEMA_V3) } },
  { version: 4, description: 'signed scan records: scans.signature, scan_provenance', up: db => { db.exec(SCHEMA_V4) } },
  { version: 5, description: 'placed_files (what pulls wrote, for the quick check)', up: db => { db.exec(SCHEMA_V5) } },
  { version: 6, description: 'durable tasks: tasks, task_files, task_events', up: db => { db.exec(SCHEMA_V6) } },
  { version: 7, description: 'subscriptions: subscriptions, subscription_scans', up: db => { db.exec(SCHEMA_V7) } },
  { version: 8, description: 'watches, open scans and their signed entries', up: db => { db.exec(SCHEMA_V8) } },
  { version: 9, description: 'pulls.phase (the pull engine\'s last phase done)', up: db => { db.exec(SCHEMA_V9) } },
  { version: 10, description: 'tasks.from_peers (bytes per source peer)', up: db => { db.exec(SCHEMA_V10) } },
  { version: 11, description: 'followed_files (what followers of open scans placed)', up: db => { db.exec(SCHEMA_V11) } }
]
