// Text ↔ token ids through Hugging Face's tokenizers.js, which reads a model's tokenizer.json (BPE,
// SentencePiece-style and WordPiece models, with their normalizers, pre-tokenizers and post-processors) as
// the Python `tokenizers` library does, so ids match the model's own tokenizer.
import { Tokenizer } from '@huggingface/tokenizers';
import { DataError } from '../data/errors.ts';

export class LmTokenizer {
  private constructor(private readonly tok: Tokenizer) {}

  /** tokenizer.json (and tokenizer_config.json, where the folder has one) as text */
  static fromJson(tokenizerJson: string, configJson: string | undefined, file = 'tokenizer.json'): LmTokenizer {
    let tj: unknown;
    let tc: unknown = {};
    try {
      tj = JSON.parse(tokenizerJson);
    } catch (e) {
      throw new DataError(file, `not valid JSON (${(e as Error).message})`);
    }
    if (configJson !== undefined) {
      try {
        tc = JSON.parse(configJson);
      } catch (e) {
        throw new DataError(file.replace(/tokenizer\.json$/, 'tokenizer_config.json'), `not valid JSON (${(e as Error).message})`);
      }
    }
    const model = (tj as { model?: { type?: unknown } } | null)?.model;
    if (typeof tj !== 'object' || tj === null || typeof model !== 'object' || model === null) {
      throw new DataError(file, "not a tokenizers file: it has no 'model' object");
    }
    try {
      return new LmTokenizer(new Tokenizer(tj as object, tc as object));
    } catch (e) {
      throw new DataError(file, `cannot be read as a tokenizer (${(e as Error).message})`);
    }
  }

  /** ids as the model's tokenizer gives them, with its special tokens (a BOS where it adds one) */
  encode(text: string): number[] {
    return this.tok.encode(text).ids;
  }

  /** ids of the text alone, without the special tokens a post-processor would add */
  encodeRaw(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tok.decode([...ids], { skip_special_tokens: false });
  }

  /** one id's text for a list of tokens: ‹id› where the id is part of a character's bytes (it decodes to U+FFFD) */
  tokenLabel(id: number): string {
    const p = this.tok.decode([id], { skip_special_tokens: false });
    return p.includes('\uFFFD') ? `‹${id}›` : p;
  }

  /** each id's own text, for showing tokens one by one */
  pieces(ids: readonly number[]): string[] {
    return ids.map((id) => this.tok.decode([id], { skip_special_tokens: false }));
  }
}
