export { importDirectory, DEFAULT_CHUNKS_PER_TASK, type ImportOptions } from './importer.js'
export { HashPool, SliceError, DEFAULT_QUEUE_PER_WORKER, type HashPoolOptions } from './hash-pool.js'
export type { ImportSink, ImportedEntry, ImportProgressEvent, ImportResult, LeafKeeper, LeafLocation, LeafRoom, SkippedEntry } from './types.js'
export { importFile, type FileImport } from './file.js'
