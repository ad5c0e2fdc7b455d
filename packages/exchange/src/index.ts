/**
 * @ferry/exchange: Ferry's wire protocols, /ferry/blocks/1.0.0 (pipelined, verified block requests),
 * /ferry/scan/2.0.0 (a scan's record and entries by root), /ferry/catalog/1.0.0 (the scans a peer offers,
 * paged) and /ferry/announce/1.0.0 (scans as a peer completes them), with their server and client. It creates no
 * libp2p node: it takes the few node methods it uses. docs/protocol.md is the specification.
 */
export * from './constants.js'
export { startExchangeServer, type ExchangeServer, type ExchangeServerInit, type ExchangeServerStats } from './server.js'
export { PeerClient, type PeerClientInit } from './client.js'
export { scanReader, type AtEnd, type AtEntries, type AtRecord, type AtSkipped, type EntryBatch, type ScanFrames, type ScanReaderInit } from './scan-reader.js'
export { PeerLimits, type PeerLimitsInit, type StreamSlot } from './limits.js'
export { VerifyPool, verifyHere, type BlockVerifier, type VerifyPoolOptions } from './verify-pool.js'
export type {
  AccessDecision, AccessRequest, Authorize, BlockLookup, BlockResult, BlockSource, CatalogQuery, CatalogSlice, CatalogSource, ClientComponents, LocalScan, PositionedRow,
  RemoteScan, RemoteScanRecord, ScanSource, ServerComponents
} from './types.js'
export {
  MessageType, ScanBatcher, encodeBlock, encodeBlockHeader, encodeError, encodeFrame, encodeRequest, encodeScanEnd, encodeScanMore,
  encodeScanRecord, encodeScanRequest, encodeStatus, decodeBlocksClientMessage, decodeBlocksServerMessage, decodeScanClientMessage,
  decodeScanServerMessage, decodeBlocksServerFrame,
  type BlockStatus, type BlocksClientMessage, type BlocksServerMessage, type EntryType, type ErrorMessage, type ScanClientMessage,
  type ScanEntry, type ScanServerMessage, type SkippedEntry, type WireErrorCode, type WireScanRecord, type WireSignature
} from './messages.js'
export type { FrameProblem } from './codec.js'
export {
  CatalogPageBuilder, decodeAnnounceClientMessage, decodeAnnounceServerMessage, decodeCatalogClientMessage, decodeCatalogServerMessage,
  encodeOpenEntriesPage, encodeOpenEntriesRequest, encodeAnnounceAccepted, encodeAnnounceFile, encodeAnnounceKeepAlive, encodeAnnounceScan, encodeAnnounceSubscribe, encodeCatalogRequest,
  type AnnounceClientMessage, type AnnounceServerMessage, type CatalogClientMessage, type CatalogRequest, type CatalogRow, type CatalogServerMessage,
  type CatalogState, type PublishedFileRow, type OpenEntriesRequest, type OpenEntryRow, type OpenScanState, type OpenSeal
} from './catalog-messages.js'
export { encodeCatalogCursor, decodeCatalogCursor } from './catalog-handler.js'
export type { CatalogPage, ListCatalogOptions, OpenEntriesAnswer, Publication, RemoteCatalogRow, WatchAnnouncementsOptions } from './catalog-client.js'
