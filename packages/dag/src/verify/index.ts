export { verifyDirectory, type Difference, type VerifyOptions, type VerifyProgressEvent, type VerifyResult } from './verify.js'
