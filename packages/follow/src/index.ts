/**
 * @ferry/follow: the receiver side of open scans (issue 13): follows a collection's scans on a source while
 * they are acquired, placing each published file as soon as it is verified, and verifies each scan's seal.
 */
export { followCollection, type CollectionFollower, type FollowCollectionInit } from './follow-collection.js'
export { followScan, type FollowScanInit, type FollowCounters, type FollowScanResult, type ScanFollower } from './follow-scan.js'
export { placeFile, checkPath, type PlaceInit, type Placed } from './place-file.js'
export { createPlacer, DEFAULT_COMMIT_WAIT_MS, type PlacedEntry, type Placer, type PlacerInit } from './placer.js'
export { createSource, type Source, type SourceInit } from './source.js'
export { sweepTemps, tempNameFor, tempOwner } from './temps.js'
export * from './constants.js'
export type { FollowPeer, FollowPeerSpec, FollowProgressEvent, OpenScanRow, OpenScanStatus } from './types.js'
export type { OpenEntryRow, Publication, PublishedFileRow } from '@ferry/exchange'
