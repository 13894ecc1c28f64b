// One Vite dev server for the whole test run (vitest's globalSetup): every browser test file opens the lab
// from it, so the modules it transforms for the first file are served from its cache to the others.
// No hot reload and no file watching: an edit elsewhere in the tree must not reload a page mid-test.
import { join } from 'node:path';
import { createServer, type ViteDevServer } from 'vite';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** the lab's address on the shared dev server */
    labUrl: string;
  }
}

let server: ViteDevServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await createServer({ root: join(import.meta.dirname, '../..'), logLevel: 'error', server: { port: 0, host: '127.0.0.1', hmr: false, watch: null } });
  await server.listen();
  const address = server.httpServer!.address();
  if (typeof address !== 'object' || !address) throw new Error('the lab server has no address');
  project.provide('labUrl', `http://127.0.0.1:${address.port}/`);
}

export async function teardown(): Promise<void> {
  await server?.close();
}
