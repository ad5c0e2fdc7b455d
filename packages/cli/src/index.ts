export { main, VERSION } from './main.js'
export type { Command } from './command.js'
