// The hand-over's model and text: for a dataset harvested from a language model in this browser, the model's
// folder (the built-in one or a stored one) and the harvested documents, so that the exported folder can also
// stream activations from the model at a larger budget, as the CLI's export does.
import type { TokenContext } from '../data/context.ts';
import type { DatasetManifest } from '../data/store.ts';
import { documentTexts, type ExportModel } from '../handover/scale-export.ts';
import { parseModelConfig } from '../model/families/registry.ts';
import { parseHook } from '../model/hooks.ts';
import { BUILTIN_MODEL, modelFolder, storedModels } from './lm-jobs.ts';

export interface HarvestedModel {
  model: ExportModel;
  /** the text of each harvested document */
  documents: string[];
}

/** the model's id in this browser: recorded at the harvest, or (older datasets) found by its name */
async function modelId(manifest: DatasetManifest): Promise<string | null> {
  if (manifest.source.model) return manifest.source.model;
  const name = manifest.source.provenance?.model_name;
  if (name === 'builtin-lm') return BUILTIN_MODEL;
  return (await storedModels()).find((m) => m.name === name)?.id ?? null;
}

/**
 * The model and text of a language-model harvest; null for other datasets, and for a harvest whose model is no
 * longer in this browser (the export then holds the cache alone, as for any dataset).
 */
export async function harvestedModel(manifest: DatasetManifest, readContext: () => Promise<TokenContext | undefined>): Promise<HarvestedModel | null> {
  const p = manifest.source.provenance;
  if (manifest.source.kind !== 'harvest' || !p?.model_name || !p.hook_name || !manifest.hasContext) return null;
  const id = await modelId(manifest);
  if (!id) return null;
  let folder: Awaited<ReturnType<typeof modelFolder>>;
  try {
    folder = await modelFolder(id);
  } catch {
    return null; // removed since the harvest
  }
  const files: ExportModel['files'] = [];
  for (const name of folder.names) {
    const src = await folder.files.open(name);
    if (src) files.push({ name, read: () => src.read(0, src.size) });
  }
  const configFile = files.find((f) => f.name === 'config.json');
  if (!configFile) return null;
  const context = await readContext(); // read only now: other datasets' exports need none of it
  if (!context) return null;
  const { family, config } = parseModelConfig(new TextDecoder().decode(await configFile.read()), `${folder.files.name}/config.json`);
  return {
    model: {
      name: String(p.model_name),
      family,
      hook: parseHook(String(p.hook_name), config),
      files,
      contextSize: Number(p.context_size ?? 128),
      prependBos: p.prepend_bos !== false,
    },
    documents: documentTexts(context.doc, Array.from(context.token, (t) => context.strings[t]!)),
  };
}
