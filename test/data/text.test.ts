// User text → documents for the harvest: a document per paragraph, sentences cut after . ! ?, words at white space.
import { describe, expect, it } from 'vitest';
import { MAX_TEXT_CHARS, textDocuments } from '../../src/data/harvest/text.ts';

const words = (s: { word: string }[]) => s.map((w) => w.word).join(' ');

describe('textDocuments', () => {
  it('splits paragraphs into documents and sentences after closing punctuation', () => {
    const docs = textDocuments('The cat sat.  It purred!\r\n\r\n  "Why?" she asked. (Nobody knew.) Then   rain\n\n\n\nEnd', 'notes');
    expect(docs.map((d) => d.name)).toEqual(['notes ¶1', 'notes ¶2', 'notes ¶3']);
    expect(docs[0]!.sentences.map(words)).toEqual(['The cat sat.', 'It purred!']);
    expect(docs[1]!.sentences.map(words)).toEqual(['"Why?"', 'she asked.', '(Nobody knew.)', 'Then rain']);
    expect(docs[2]!.sentences.map(words)).toEqual(['End']);
    expect(docs[0]!.sentences[0]![0]).toEqual({ word: 'The', tag: '', upos: 'X' }); // typed text has no tags
  });

  it('refuses empty and oversized text, naming it', () => {
    expect(() => textDocuments(' \n\n ', 'blank')).toThrow(/^blank: there is no text/);
    expect(() => textDocuments('a'.repeat(MAX_TEXT_CHARS + 1), 'huge')).toThrow(/^huge: 4,000,001 characters is more than/);
  });
});
