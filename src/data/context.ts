// Token context: what each activation row was computed from, designed once for every later view.
// Rows stay in document order (feature cards show the rows around a hit; shuffling happens only when
// batches are read). Per row: a document id, a sentence id, the position in its sentence, and a token id
// into a string table; optional label columns (e.g. Brown POS tags) are categorical ids into their own
// name tables. Columnar, so a million rows cost a few typed arrays, not a million objects.

export interface LabelColumn {
  /** (rows) index into names */
  values: Int32Array;
  /** the label set, e.g. the 12 universal POS tags */
  names: string[];
}

export interface TokenContext {
  rows: number;
  /** (rows) document id (a Brown file, a user's text, …) */
  doc: Int32Array;
  /** (rows) sentence id, unique within the dataset */
  sentence: Int32Array;
  /** (rows) position of the token in its sentence (0-based) */
  pos: Int32Array;
  /** (rows) index into strings */
  token: Int32Array;
  /** the token string table (SentencePiece pieces keep their '▁') */
  strings: string[];
  /** optional categorical columns by name, e.g. { pos_brown, pos_universal } */
  labels: Record<string, LabelColumn>;
}

export function emptyContext(rows: number): TokenContext {
  return {
    rows,
    doc: new Int32Array(rows),
    sentence: new Int32Array(rows),
    pos: new Int32Array(rows),
    token: new Int32Array(rows),
    strings: [],
    labels: {},
  };
}

/** strings → dense ids, first come first numbered */
export class Interner {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();

  constructor(initial: readonly string[] = []) {
    for (const s of initial) this.id(s);
  }

  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}
