// Writes the built-in language model's training text: every document of the corpus (Brown as prose, then
// the code files) as one JSON line {name, kind, split, text}, plus a manifest with the package versions and
// the file's SHA-256, so the model's data can be reproduced exactly. Usage:
//   node --import ./bin/register.js scripts/lm/write-corpus.ts OUT_DIR
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isHeldOut, type LmDocument } from '../../src/model/corpus.ts';
import { corpusPackages, nodeCorpusReader } from '../../src/model/node-corpus.ts';

const out = process.argv[2];
if (!out) throw new Error('usage: write-corpus.ts OUT_DIR');
mkdirSync(out, { recursive: true });

// corpus order: every Brown document, then every code file; the split by each kind's own index
const reader = await nodeCorpusReader();
const docs: { doc: LmDocument; index: number }[] = [];
for (let i = 0; i < reader.proseCount; i++) docs.push({ doc: await reader.prose(i), index: i });
for (let i = 0; i < reader.codeCount; i++) docs.push({ doc: await reader.code(i), index: i });
const lines = docs.map(({ doc, index }) =>
  JSON.stringify({ name: doc.name, kind: doc.kind, split: isHeldOut(doc.kind, index) ? 'heldout' : 'train', text: doc.text }),
);
const body = lines.join('\n') + '\n';
writeFileSync(join(out, 'corpus.jsonl'), body);
const count = (kind: string, split: string) => lines.filter((l) => l.includes(`"kind":"${kind}","split":"${split}"`)).length;
const manifest = {
  file: 'corpus.jsonl',
  sha256: createHash('sha256').update(body).digest('hex'),
  packages: corpusPackages(),
  documents: { prose: { train: count('prose', 'train'), heldout: count('prose', 'heldout') }, code: { train: count('code', 'train'), heldout: count('code', 'heldout') } },
  characters: docs.reduce((n, d) => n + d.doc.text.length, 0),
};
writeFileSync(join(out, 'corpus.json'), JSON.stringify(manifest, null, 2) + '\n');
console.log(JSON.stringify(manifest));
