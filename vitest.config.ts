import { defineConfig } from 'vitest/config'

// Tests import the packages by name, so they run the built `dist/` code that ships: `npm test` builds first.
export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: 'workers', include: ['packages/workers/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'dag', include: ['packages/dag/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'store', include: ['packages/store/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'exchange', include: ['packages/exchange/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'node', include: ['packages/node/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'transfer', include: ['packages/transfer/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'tasks', include: ['packages/tasks/test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
      { extends: true, test: { name: 'web', include: ['packages/web/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'watch', include: ['packages/watch/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'follow', include: ['packages/follow/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'api', include: ['packages/api/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'cli', include: ['packages/cli/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } }
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks'
  }
})
