// SentencePiece-style tokenizer of the Universal Sentence Encoder (lite) vocabulary.
//
// A TypeScript port of the algorithm in @tensorflow-models/universal-sentence-encoder@1.3.3
// (src/tokenizer, Apache-2.0, Copyright 2019 Google LLC): NFKC-normalise, mark word starts with
// U+2581, build a lattice of all vocabulary pieces matching at each position (a trie's common-
// prefix search; an unmatched character becomes the unknown id 0), take the best-scoring path
// (Viterbi over piece log-probabilities), and merge runs of unknowns. Positions are UTF-16 code
// units, as in the original, so ids are identical to what the reference implementation produces.
import { SailError } from '../../util/errors.js';

/** The vocabulary: `[piece, logProbability]`, id = index. */
export type UseVocabulary = [string, number | null][];

/** Separator that marks the start of a word ('lower one eighth block'). */
const SEPARATOR = '\u2581';
/** Ids 0..5 are unk, control and user symbols: never matched inside text. */
const RESERVED_SYMBOLS = 6;

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Piece id when a piece ends here, else -1. */
  id: number;
  score: number;
  /** Length of the piece ending here (code units). */
  len: number;
}

const newNode = (): TrieNode => ({ children: new Map(), id: -1, score: 0, len: 0 });

/** Normalise like the reference: NFKC, then U+2581 before the text and in place of every space. */
export function useNormalize(text: string): string {
  const n = text.normalize('NFKC');
  return n.length > 0 ? SEPARATOR + n.replace(/ /g, SEPARATOR) : n;
}

/** Tokenizer for the USE-lite vocabulary. */
export class UseTokenizer {
  private readonly root = newNode();
  private readonly vocab: UseVocabulary;

  constructor(vocabulary: UseVocabulary, source = 'vocab.json') {
    if (!Array.isArray(vocabulary) || vocabulary.length <= RESERVED_SYMBOLS) {
      throw new SailError('vocabulary must be an array of [piece, score] pairs', { file: source });
    }
    this.vocab = vocabulary;
    for (let id = RESERVED_SYMBOLS; id < vocabulary.length; id++) {
      const entry = vocabulary[id];
      // A few shipped pieces (':', '://', '▁:)', ...) have score null; the reference's arithmetic
      // reads that as 0, and so do we.
      const score: unknown = entry?.[1];
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || entry[0].length === 0 || !(score === null || Number.isFinite(score))) {
        throw new SailError('entry is not a [piece, score] pair', { file: source, row: id });
      }
      let node = this.root;
      for (let i = 0; i < entry[0].length; i++) {
        const ch = entry[0][i];
        let next = node.children.get(ch);
        if (!next) {
          next = newNode();
          node.children.set(ch, next);
        }
        node = next;
      }
      node.id = id;
      node.score = (score as number | null) ?? 0;
      node.len = entry[0].length;
    }
  }

  /** Number of pieces (ids are < size). */
  get size(): number {
    return this.vocab.length;
  }

  /** Token ids of one text (empty text gives no ids). */
  encode(text: string): number[] {
    const s = useNormalize(text);
    const n = s.length;
    // best[e] / word[e]: best score of a segmentation of s[0, e) and the id of its last piece.
    const best = new Float64Array(n + 1);
    const word = new Int32Array(n + 1);
    // A position no piece ends at keeps id 0 (unk) of length 1, exactly as in the reference.
    const wordLen = new Int32Array(n + 1).fill(1);
    // ending[e]: pieces ending at e, in increasing start order (the order they are found in), which
    // is the order the reference visits them; a later candidate wins ties (>=).
    const ending: { start: number; id: number; score: number; len: number }[][] = Array.from({ length: n + 1 }, () => []);
    for (let i = 0; i < n; i++) {
      let node = this.root.children.get(s[i]);
      let matched = false;
      for (let j = i; j < n && node; j++) {
        if (node.id >= 0) {
          ending[j + 1].push({ start: i, id: node.id, score: node.score, len: node.len });
          matched = true;
        }
        node = j + 1 < n ? node.children.get(s[j + 1]) : undefined;
      }
      if (!matched) ending[i + 1].push({ start: i, id: 0, score: 0, len: 1 });
    }
    for (let e = 0; e <= n; e++) {
      for (const c of ending[e]) {
        const score = c.score + best[e - c.len];
        // `best[e] === 0` means "unset" in the reference (a quirk kept for identical output).
        if (best[e] === 0 || score >= best[e]) {
          best[e] = score;
          word[e] = c.id;
          wordLen[e] = c.len;
        }
      }
    }
    const ids: number[] = [];
    for (let e = n; e > 0; e -= wordLen[e]) ids.push(word[e]);
    ids.reverse();
    // Merge consecutive unknowns into one.
    const merged: number[] = [];
    for (let i = 0; i < ids.length; i++) if (!(ids[i] === 0 && i > 0 && ids[i - 1] === 0)) merged.push(ids[i]);
    return merged;
  }
}
