// Text a user types or drops in, read as documents the way the harvest reads Brown's: one document per
// paragraph (paragraphs are separated by blank lines), so held-out rows are split by document; sentences
// end after . ! or ? (with any closing quotes or brackets) followed by white space; words are split at white
// space, which is the text as the model reads it (its tokenizer joins words with single spaces). The words
// carry no part-of-speech tag, so a dataset harvested from text has no label columns.
import type { BrownDocument, BrownWord } from './brown.ts';

/** the longest text taken in one harvest (about a million tokens) */
export const MAX_TEXT_CHARS = 4_000_000;

export function textDocuments(text: string, name = 'text'): BrownDocument[] {
  if (typeof text !== 'string' || text.trim() === '') throw new Error(`${name}: there is no text to harvest`);
  if (text.length > MAX_TEXT_CHARS) {
    throw new Error(`${name}: ${text.length.toLocaleString('en-US')} characters is more than the ${MAX_TEXT_CHARS.toLocaleString('en-US')} one harvest takes; split the text`);
  }
  const paragraphs = text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/).filter((p) => p.trim() !== '');
  return paragraphs.map((p, i) => ({
    name: `${name} ¶${i + 1}`,
    sentences: p
      .trim()
      .split(/(?<=[.!?]["'”’)\]]*)\s+/)
      .map((s) => s.split(/\s+/).filter((w) => w !== '').map((word): BrownWord => ({ word, tag: '', upos: 'X' })))
      .filter((s) => s.length > 0),
  }));
}
