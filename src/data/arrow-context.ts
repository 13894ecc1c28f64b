// The token context of a SAELens activation cache: each dataset row of the Arrow shards is one context of
// the model (contextSize token positions), so a context is the document (and the sentence) its rows split
// by, as RECIPE §3 asks for data with documents. The cache holds token ids but no vocabulary, so a token's
// string is its id, written '#id', until a tokenizer is known.
import type { TokenContext } from './context.ts';
import type { ArrowRowSource } from './formats/arrow.ts';

const TOKEN_PIECE_ROWS = 1 << 16;

export async function arrowContext(src: ArrowRowSource): Promise<TokenContext> {
  const n = src.rows;
  const ctx: TokenContext = { rows: n, doc: new Int32Array(n), sentence: new Int32Array(n), pos: new Int32Array(n), token: new Int32Array(n), strings: [], labels: {} };
  for (let r = 0; r < n; r++) {
    ctx.doc[r] = ctx.sentence[r] = Math.floor(r / src.contextSize);
    ctx.pos[r] = r % src.contextSize;
  }
  if (src.tokenColumn === null) {
    ctx.strings.push('?');
    return ctx;
  }
  const ids = new Map<number, number>();
  for (let start = 0; start < n; start += TOKEN_PIECE_ROWS) {
    const count = Math.min(TOKEN_PIECE_ROWS, n - start);
    const tokens = await src.readTokenIds(start, count);
    for (let i = 0; i < count; i++) {
      let s = ids.get(tokens[i]!);
      if (s === undefined) {
        s = ctx.strings.length;
        ids.set(tokens[i]!, s);
        ctx.strings.push(`#${tokens[i]}`);
      }
      ctx.token[start + i] = s;
    }
  }
  return ctx;
}
