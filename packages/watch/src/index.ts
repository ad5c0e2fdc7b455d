/**
 * @ferry/watch: during the experiment. Watches directories, publishes each file as soon as it is complete
 * into the collection's open scan (signed entry by entry), and seals the open scan into an ordinary scan
 * whose root is the one `ferry add` gives.
 */
export { watchService, type AddWatch, type WatchControl, type WatchInfo, type WatchReport, type WatchServiceOptions } from './service.js'
export { watchTree, type SettledFile, type TreeWatch, type WatchTreeOptions } from './tree.js'
export { closeEvents, recordParser, type CloseEvents, type CloseEventsOptions } from './close-events.js'
export { createPublisher, publishFile, type Publisher, type PublishOutcome, type ToPublish } from './publish.js'
export { sealOpenScan, type SealResult } from './seal.js'
export { DEFAULT_SETTLE_MS, DEFAULT_RESCAN_MS, MAX_PENDING_FILES, SETTLE_CHECK_MS, IGNORED_NAME, INOTIFYWAIT } from './constants.js'
