// The page's hand-over finds the language model a dataset was harvested from among the models the user added
// (IndexedDB, here fake-indexeddb), and gives its whole folder, its family and hook, and the harvested text;
// datasets from elsewhere, and harvests whose model was removed since, give none.
import 'fake-indexeddb/auto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyContext } from '../../src/data/context.ts';
import type { DatasetManifest } from '../../src/data/store.ts';
import { ModelStore } from '../../src/model/model-store.ts';
import { harvestedModel } from '../../src/worker/handover-model.ts';

const GPT2 = resolve(import.meta.dirname, '../fixtures/lm/gpt2-f16');

function harvest(model: string | undefined): DatasetManifest {
  const provenance = { model_name: 'gpt2-f16', hook_name: 'blocks.1.hook_resid_post', context_size: 32, prepend_bos: false };
  return { id: 'ds', name: 'my text', hasContext: true, source: { kind: 'harvest', name: 'my text via gpt2-f16', size: 1, model, provenance } } as unknown as DatasetManifest;
}

describe("the hand-over's model, from the browser's model store", () => {
  it('gives a stored model\'s folder file for file, its hook, and each document\'s text', async () => {
    const names = readdirSync(GPT2).filter((n) => n.includes('.'));
    const files = Object.fromEntries(names.map((n) => [n, new Blob([readFileSync(join(GPT2, n))])]));
    const store = await ModelStore.open();
    const { id } = await store.put({ name: 'gpt2-f16', family: 'gpt2', shape: '', hooks: [] }, files);
    const ctx = emptyContext(5);
    ctx.strings = ['The', ' cat', '.', 'A', ' dog'];
    [0, 0, 0, 1, 1].forEach((doc, r) => ((ctx.doc[r] = doc), (ctx.token[r] = r)));

    for (const manifest of [harvest(id), harvest(undefined)]) { // by its recorded id, and (older datasets) by name
      const got = await harvestedModel(manifest, async () => ctx);
      expect(got).not.toBeNull();
      expect(got!.model.files.map((f) => f.name)).toEqual([...names].sort());
      for (const f of got!.model.files) expect(Buffer.compare(await f.read(), readFileSync(join(GPT2, f.name))), f.name).toBe(0);
      expect([got!.model.name, got!.model.family.name, got!.model.hook.layer, got!.model.contextSize, got!.model.prependBos]).toEqual(['gpt2-f16', 'gpt2', 1, 32, false]);
      expect(got!.documents).toEqual(['The cat.', 'A dog']);
    }

    // other datasets get no model, and their token context is not read
    const unread = () => Promise.reject(new Error('the token context was read'));
    expect(await harvestedModel({ ...harvest(id), source: { kind: 'file', name: 'acts.npy', size: 1 } } as unknown as DatasetManifest, unread)).toBeNull();
    await store.remove(id);
    expect(await harvestedModel(harvest(id), async () => ctx)).toBeNull(); // removed since the harvest: the cache alone
  });
});
