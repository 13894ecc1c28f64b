// The built-in corpus in the page: Brown documents and code files fetched from the page's own origin (the
// harvest assets, vite.config.ts), each only when the harvest reaches it.
import { harvestAssetUrls, type HarvestAssetsManifest } from '../data/harvest/browser-assets.ts';
import { parseBrownDocument } from '../data/harvest/brown.ts';
import { fetchBytes, fetchJson, latin1 } from '../data/harvest/fetch.ts';
import { brownText, codeDocument, type CorpusReader } from './corpus.ts';

export async function browserCorpusReader(location: string, base: string): Promise<CorpusReader> {
  const urls = harvestAssetUrls(location, base);
  const manifest = (await fetchJson(urls.manifest)) as HarvestAssetsManifest;
  const brown = manifest.brown.documents.map((d) => d.name);
  const code = manifest.code.files.map((f) => f.name);
  return {
    proseCount: brown.length,
    codeCount: code.length,
    prose: async (i) => brownText(parseBrownDocument(brown[i], latin1(await fetchBytes(urls.brown(brown[i]))))),
    code: async (i) => codeDocument(code[i], new TextDecoder().decode(await fetchBytes(urls.code(i)))),
  };
}
