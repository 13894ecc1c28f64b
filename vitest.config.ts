import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the lab's dev server, shared by the browser test files
    globalSetup: ['test/support/lab-server.ts'],
    environment: 'node',
    // One GPU device per test file; SwiftShader uses every core already, so files run one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // the memory tests collect garbage before they sample, so they measure what is held, not what is pending
    execArgv: ['--expose-gc'],
  },
});
