// ESLint for the whole repository: neostandard's style (no semicolons, a space before function parentheses),
// typescript-eslint's type-aware rules that catch real bugs in async TypeScript, and the 80-line limit on
// functions in packages/*/src (docs: CONTRIBUTING.md, "Lint and style"). `npm run lint`; `npm test` runs it first.
import neostandard from 'neostandard'
import tseslint from 'typescript-eslint'

const typeAware = {
  // A promise nobody awaits loses its rejection: the crash or the silent failure these rules exist for.
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': 'error',
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
  // only-throw-error is off: stored failures (`unknown`, as caught, narrowed to {}) are rethrown as they came;
  // standard's no-throw-literal already refuses `throw 'text'`.
  '@typescript-eslint/return-await': ['error', 'always'],
  '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
  // `for (const _ of it) n++` counts on purpose
  '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_' }]
}

export default [
  { ignores: ['**/dist/**', '**/bundle/**', '**/node_modules/**', 'bench/results/**', 'coverage/**', '**/*.d.ts'] },
  ...neostandard({ ts: true }),
  // `void promise` marks a promise left running on purpose (what no-floating-promises asks for); not elsewhere.
  // A value and a type of the same name (`const ExitCode = {...}`, `type ExitCode = ...`) is one idiom, not a redeclaration.
  {
    rules: {
      'no-void': ['error', { allowAsStatement: true }],
      '@typescript-eslint/no-redeclare': 'off',
      // A flag set by a callback or another task (`while (!stopped) await ...`) is a loop condition this rule
      // cannot see being modified.
      'no-unmodified-loop-condition': 'off',
      // `for await (const x of it) { ...; break }` takes the first item of a stream on purpose
      'no-unreachable-loop': ['error', { ignore: ['ForOfStatement'] }]
    }
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/test/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./packages/*/tsconfig.json', './packages/*/tsconfig.app.json', './test/tsconfig.json'], tsconfigRootDir: import.meta.dirname }
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: typeAware
  },
  {
    // Tests guard their teardown against a setup that failed half-way (`await daemon?.stop()`)
    files: ['packages/*/test/**/*.ts', 'test/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-condition': 'off' }
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/src/**/*.js'],
    rules: {
      // The same count as the before-stop hook (every line of the function, blank and comment lines too).
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false, IIFEs: true }]
    }
  }
]
