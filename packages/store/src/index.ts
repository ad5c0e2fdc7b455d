/**
 * @ferry/store: a node's local state ("home"): identity, config, catalog database, inner-block store and
 * free-space checks. See home.ts for the directory layout.
 */
export {
  resolveHome, initHome, openHome,
  DEFAULT_HOME_DIR_NAME, HOME_ENV_VAR, HOME_DIR_MODE,
  type Home, type InitHomeOptions, type OpenHomeOptions
} from './home.js'
export {
  CONFIG_VERSION, CONFIG_FILE, DEFAULT_LISTEN, defaultConfig, writeFileAtomic, readConfig, writeConfig, validateConfig,
  type FerryConfig, type PeerEntry, type ApiConfig, type PullConfig
} from './config.js'
export { IDENTITY_FILE, IDENTITY_FILE_MODE } from './identity.js'
export {
  openInnerBlocks, BLOCKS_DIR, DAG_PB_CODE, SHA2_256_CODE, DEFAULT_PUT_CONCURRENCY,
  type InnerBlocks, type InnerBlocksOptions, type Block, type PutManyResult
} from './blocks.js'
export {
  openCatalog, fromSqliteError, CATALOG_FILE, REPLICA_PAGE_ROWS, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_FLUSH_ROWS, DEFAULT_CACHE_MIB, ENTRIES_PAGE_ROWS, RAW_CODE,
  type Catalog, type CatalogOptions, type ScanWriter, type ScanRecord, type ScanSummary, type ScanState,
  type EntryRecord, type EntryType, type SkippedEntry, type LeafRecord, type LeafLocation, type SourceRecord,
  type ListScansOptions, type ProvenanceRecord, type ReplicaEntry, type ScanFeed, type ScanListing, type ScanPage, type ScanPageQuery
} from './catalog.js'
export {
  SCAN_SIGNATURE_FORMAT, SCAN_SIGNATURE_DOMAIN, MAX_SIGNATURE_BYTES, EntriesDigest, encodeSignedEntry, scanSigningBytes, digestEntries,
  signScanRecord, verifyScanSignature, parseSigner,
  type ScanSignature, type SignedRecordFields, type SignedEntry, type SignatureCheck, type Signer
} from './scan-signature.js'
export {
  OPEN_ENTRY_SIGNATURE_FORMAT, OPEN_ENTRY_DOMAIN, OPEN_SCAN_ID_DOMAIN, OPEN_SEAL_DOMAIN, openScanId, openEntrySigningBytes, signOpenEntry, verifyOpenEntry,
  openSealSigningBytes, signOpenSeal, verifyOpenSeal, type OpenScanIdentity, type OpenEntryFields, type OpenSealFields
} from './open-entry-signature.js'
export type { OpenScans, OpenScanRecord, PublishedEntry, PublishFile, WatchRecord } from './open-scans.js'
export { MIGRATIONS, type Migration } from './migrations.js'
export { freeSpace, type FreeSpace } from './space.js'
export { readLeaf, type LeafRead } from './leaf-reader.js'
export type { PullJournal, PullRecord, PullState } from './pull-journal.js'
export { PLAN_MEMORY_ROWS } from './constants.js'
export { PullPlan, encodeLeaves, decodeLeaves, type PlanFileRow, type PlanLeaf, type PlanPlacedRow, type PlanHeld } from './pull-plan.js'
export {
  TASK_EVENTS_KEPT,
  type TaskStore, type TaskRecord, type TaskCondition, type TaskCounters, type TaskEvent, type TaskFileFailure, type TaskInit, type TaskPatch,
  type TaskReason, type TaskRunStats
} from './tasks.js'
export type { PlacedFiles, PlacedStat } from './placed-files.js'
export type { FollowedFile, FollowedFiles, FollowedSummary } from './followed-files.js'
export type {
  SubscriptionStore, SubscriptionRecord, SubscriptionInit, SubscribedScan, StuckScan, SubscriptionCounts
} from './subscriptions.js'
