// Parsing of numeric and enumerated command-line flags, shared by every command: one wording of errors.
import { SailError } from '../util/errors.js';

/** Constraints of a numeric flag. */
export interface NumberRule {
  int?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. Without one, |value| must stay within {@link FLAG_MAGNITUDE_LIMIT}. */
  max?: number;
  /** Strictly greater than zero. */
  positive?: boolean;
}

/** Positive integers: counts, sizes, threads. */
export const POSITIVE_INT: NumberRule = { int: true, positive: true };
/** Integers >= 0: seeds, optional counts. */
export const NON_NEGATIVE_INT: NumberRule = { int: true, min: 0 };

/** Largest magnitude any numeric flag accepts when its rule names no `max` (1e308 is never meant). */
export const FLAG_MAGNITUDE_LIMIT = 1e12;

function describeRule(r: NumberRule): string {
  const lo = r.int && r.positive && r.min === undefined ? 1 : r.min;
  const kind = r.int ? 'an integer' : 'a number';
  if (r.max !== undefined) {
    if (lo !== undefined) return `${kind} from ${lo} to ${r.max}`;
    return r.positive ? `${kind} > 0 and <= ${r.max}` : `${kind} <= ${r.max}`;
  }
  if (r.int && r.positive) return 'a positive integer';
  if (r.int) return r.min !== undefined ? `an integer >= ${r.min}` : 'an integer';
  if (r.positive) return 'a positive number';
  return r.min !== undefined ? `a number >= ${r.min}` : 'a number';
}

/** Parse a numeric flag value, or throw a SailError naming the flag, the rule and the value. */
export function parseNumber(v: string, flag: string, rule: NumberRule = {}): number {
  const n = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(n) && (!rule.int || Number.isInteger(n)) && (rule.min === undefined || n >= rule.min) && (!rule.positive || n > 0) &&
    (rule.max === undefined || n <= rule.max);
  if (!ok) throw new SailError(`${flag} must be ${describeRule(rule)}, got ${JSON.stringify(v)}`);
  if (rule.max === undefined && Math.abs(n) > FLAG_MAGNITUDE_LIMIT) throw new SailError(`${flag} must be ${describeRule(rule)} of at most ${FLAG_MAGNITUDE_LIMIT} in magnitude, got ${JSON.stringify(v)}`);
  return n;
}

/** {@link parseNumber} for an optional flag: an absent value stays undefined. */
export function parseOptional(v: string | undefined, flag: string, rule: NumberRule = {}): number | undefined {
  return v === undefined ? undefined : parseNumber(v, flag, rule);
}

/** A commander argument parser for `--name`: `.option('--steps <n>', '...', numberArg('steps', {...}))`. */
export function numberArg(name: string, rule: NumberRule): (v: string) => number {
  return (v: string) => parseNumber(v, `--${name}`, rule);
}

/** Parse an enumerated flag value. */
export function oneOf<T extends string>(v: string, allowed: readonly T[], flag: string): T {
  if (!allowed.includes(v as T)) throw new SailError(`${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}
