export * from './format/index.js'
export * from './import/index.js'
export * from './verify/index.js'
