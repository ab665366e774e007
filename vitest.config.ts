import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // TypeScript 7 by its path: the TypeScript 5.4 that the package test uses also provides a `tsc` command.
    typecheck: {
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
      checker: './node_modules/typescript/bin/tsc',
    },
    testTimeout: 120_000,
  },
})
