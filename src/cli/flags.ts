// Parsing of numeric and enumerated command-line flags, shared by every command: one wording of errors.
import { SailError } from '../util/errors.js';

/** Constraints of a numeric flag. */
export interface NumberRule {
  int?: boolean;
  /** Inclusive lower bound. */
  min?: number;
  /** Strictly greater than zero. */
  positive?: boolean;
  /** Inclusive upper bound. */
  max?: number;
}

function describeRule(r: NumberRule): string {
  if (r.max !== undefined) {
    const lo = r.min ?? (r.positive ? (r.int ? 1 : 0) : undefined);
    const kind = r.int ? 'an integer' : 'a number';
    return lo !== undefined ? `${kind} in ${r.positive && !r.int ? '(' : '['}${lo}, ${r.max}]` : `${kind} <= ${r.max}`;
  }
  if (r.int && r.positive) return 'a positive integer';
  if (r.int) return r.min !== undefined ? `an integer >= ${r.min}` : 'an integer';
  if (r.positive) return 'a positive number';
  return r.min !== undefined ? `a number >= ${r.min}` : 'a number';
}

/** Parse a numeric flag value, or throw a SailError naming the flag, the rule and the value. */
export function parseNumber(v: string, flag: string, rule: NumberRule = {}): number {
  const n = Number(v);
  const ok = v.trim() !== '' && Number.isFinite(n) && (!rule.int || Number.isInteger(n)) && (rule.min === undefined || n >= rule.min) && (!rule.positive || n > 0) && (rule.max === undefined || n <= rule.max);
  if (!ok) throw new SailError(`${flag} must be ${describeRule(rule)}, got ${JSON.stringify(v)}`);
  return n;
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
