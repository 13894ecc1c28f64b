// The SentencePiece tokenizer of Universal Sentence Encoder-lite, as TF.js runs it
// (tensorflow/tfjs-models universal-sentence-encoder/src/tokenizer, ported in @energetic-ai/embeddings):
// NFKC, '▁' before the text and for every space, then a Viterbi search over all vocabulary pieces that
// start at each code point, maximising the summed piece scores. Ids 0…5 are reserved (id 0 '�' is the
// unknown piece: a code point no piece starts with becomes id 0 with score 0, and runs of them merge).
// encodeWords() does the same on a list of words and says which word each piece came from, so a piece
// inherits its word's labels (a word's leading '▁' belongs to that word).
//
// Faithful to the reference, quirks included, so the ids are the ones the model was run with:
// - scores are summed as JavaScript does it: a null score (vocab.json has a few, on pieces with ':')
//   counts as 0;
// - best[end] === 0 means "not reached yet", and a later candidate wins ties (score >= best);
// - a duplicate piece keeps its last id and score;
// - backtracking steps back by the chosen piece's length (in code points; the reference counts UTF-16
//   units, which is the same here: no piece of this vocabulary lies outside the BMP); an end no piece
//   reaches reads as id 0;
// - empty text gives no pieces (as the @energetic-ai port does; the tfjs-models original gives '▁').

export const SEPARATOR = '\u2581'; // '▁'
/** unknown, <s>, </s> and three extra ids precede the real pieces */
export const RESERVED_IDS = 6;
export const UNKNOWN_ID = 0;

/** vocab.json: [piece, score] per id (scores are log-probabilities; a few are null) */
export type Vocabulary = Array<[string, number | null]>;

export interface Piece {
  /** vocabulary id */
  id: number;
  /** the piece text ('▁the'; '�' for unknown) */
  text: string;
  /** index of the input word it came from */
  word: number;
}

interface Entry {
  id: number;
  score: number;
}

const UNKNOWN: Entry = { id: UNKNOWN_ID, score: 0 };

/** NFKC, then '▁' in front and for every space: what the tokenizer segments */
export function normalizeText(text: string): string {
  const normalized = text.normalize('NFKC');
  return normalized.length > 0 ? SEPARATOR + normalized.replace(/ /g, SEPARATOR) : normalized;
}

export class SentencePieceTokenizer {
  /** piece text → id and score (a duplicate keeps the last, as the reference trie does) */
  private readonly pieces = new Map<string, Entry>();
  /** length of each id's piece in code points */
  private readonly lengths: number[];
  private readonly maxLength: number;

  constructor(
    private readonly vocab: Vocabulary,
    reserved = RESERVED_IDS,
  ) {
    this.lengths = vocab.map(([text]) => [...text].length);
    let maxLength = 1;
    for (let id = reserved; id < vocab.length; id++) {
      const [text, score] = vocab[id];
      this.pieces.set(text, { id, score: Number(score ?? 0) });
      maxLength = Math.max(maxLength, this.lengths[id]);
    }
    this.maxLength = maxLength;
  }

  get size(): number {
    return this.vocab.length;
  }

  /** the text of piece `id` */
  pieceText(id: number): string {
    return this.vocab[id][0];
  }

  /** text → ids, exactly as the model's own tokenizer encodes it */
  encode(text: string): number[] {
    return this.segment([...normalizeText(text)]).map((s) => s.id);
  }

  /** words (joined by single spaces) → pieces, each with the index of its word */
  encodeWords(words: string[]): Piece[] {
    const { symbols, owner } = this.wordSymbols(words);
    return this.segment(symbols).map(({ id, start, end }) => ({
      id,
      text: this.vocab[id][0],
      word: ownerOf(symbols, owner, start, end),
    }));
  }

  /** the symbols of words.join(' ') and the word each symbol belongs to */
  private wordSymbols(words: string[]): { symbols: string[]; owner: Int32Array } {
    const symbols: string[] = [];
    const owners: number[] = [];
    words.forEach((word, w) => {
      for (const s of normalizeText(word)) {
        symbols.push(s);
        owners.push(w);
      }
    });
    // NFKC of the whole text equals NFKC word by word unless a word starts with a combining mark
    const whole = normalizeText(words.join(' '));
    if (whole !== symbols.join('')) throw new Error(`encodeWords: normalising word by word changed the text of '${words.join(' ')}'`);
    return { symbols, owner: Int32Array.from(owners) };
  }

  /**
   * Viterbi over the piece lattice; spans are [start, end) in code points. Edges are relaxed start by start,
   * so the candidates for each end are tried in the reference's order (increasing start).
   */
  private segment(symbols: string[]): { id: number; start: number; end: number }[] {
    const n = symbols.length;
    const best = new Float64Array(n + 1); // best score of a segmentation of symbols[0, end); 0 = not reached
    const choice = new Int32Array(n + 1); // id of the last piece of that segmentation
    const relax = (start: number, end: number, entry: Entry) => {
      const score = entry.score + best[start];
      if (best[end] === 0 || score >= best[end]) {
        best[end] = score;
        choice[end] = entry.id;
      }
    };
    for (let start = 0; start < n; start++) {
      let key = '';
      let found = false;
      for (let end = start + 1; end <= Math.min(n, start + this.maxLength); end++) {
        key += symbols[end - 1];
        const entry = this.pieces.get(key);
        if (entry) {
          found = true;
          relax(start, end, entry);
        }
      }
      if (!found) relax(start, start + 1, UNKNOWN); // no piece starts here: one unknown symbol
    }
    return mergeUnknowns(this.backtrack(choice, n));
  }

  /** the chosen pieces, first to last */
  private backtrack(choice: Int32Array, n: number): { id: number; start: number; end: number }[] {
    const out: { id: number; start: number; end: number }[] = [];
    for (let end = n; end > 0; ) {
      const id = choice[end];
      const start = end - this.lengths[id];
      out.push({ id, start, end });
      end = start;
    }
    return out.reverse();
  }
}

/** consecutive unknown pieces become one, spanning them all */
function mergeUnknowns(spans: { id: number; start: number; end: number }[]): { id: number; start: number; end: number }[] {
  const out: { id: number; start: number; end: number }[] = [];
  for (const s of spans) {
    const last = out[out.length - 1];
    if (last && last.id === UNKNOWN_ID && s.id === UNKNOWN_ID) last.end = s.end;
    else out.push({ ...s });
  }
  return out;
}

/** the word of a piece: that of its first symbol other than '▁' (a lone '▁' goes with the word it starts) */
function ownerOf(symbols: string[], owner: Int32Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (symbols[i] !== SEPARATOR) return owner[i];
  return owner[Math.max(0, Math.min(start, owner.length - 1))];
}
