// Render the Kubernetes Indexed Job template (deploy/k8s/indexed-job.yaml) for `sail download` or
// `sail encode`: pod i of N runs with `--shard $(JOB_COMPLETION_INDEX)/N`.
import { packageRoot } from '../util/package-root.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SailError } from '../util/errors.js';

/** Defaults of the rendered Job; `sail data k8s` shows and passes the same values. */
export const K8S_DEFAULTS = { pvc: 'sail-data', cpu: '2', memory: '4Gi' };

/** Which command the Job runs. */
export type K8sJobKind = 'download' | 'encode';

/** Options of {@link renderIndexedJob}. */
export interface K8sJobOptions {
  kind: K8sJobKind;
  /** Number of pods (N). */
  completions: number;
  /** Pods at once (default: completions). */
  parallelism?: number;
  /** Container image with the `sail` binary on PATH. */
  image: string;
  /** Input path in the pod (URL list for download; shard folder for encode). */
  input: string;
  /** Output path in the pod (shard folder for download; store folder for encode). */
  output: string;
  /** Job name (DNS label; default `sail-<kind>`). */
  name?: string;
  /** PersistentVolumeClaim mounted at /data (default `sail-data`). */
  pvc?: string;
  cpu?: string;
  memory?: string;
  /** More arguments appended to the sail command. */
  extraArgs?: string[];
}

/** Path of the shipped template. */
export function k8sTemplatePath(): string {
  return join(packageRoot(), 'deploy', 'k8s', 'indexed-job.yaml');
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The sail arguments pod `$(JOB_COMPLETION_INDEX)` runs with. */
export function jobArgs(opts: K8sJobOptions): string[] {
  const shard = ['--shard', `$(JOB_COMPLETION_INDEX)/${opts.completions}`];
  // `sail encode <input> --out STORE` (src/cli/encode.ts); `sail download --input LIST --output DIR`.
  const io = opts.kind === 'encode' ? ['encode', opts.input, '--out', opts.output] : ['download', '--input', opts.input, '--output', opts.output];
  return [...io, ...shard, ...(opts.extraArgs ?? [])];
}

/**
 * Render the Indexed Job manifest as YAML text. Values are inserted as JSON strings, which are valid YAML
 * double-quoted scalars, so no value can inject YAML structure.
 */
export function renderIndexedJob(opts: K8sJobOptions, template = readFileSync(k8sTemplatePath(), 'utf8')): string {
  const n = opts.completions;
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new SailError(`completions must be an integer in 1..100000, got ${n}`);
  const par = opts.parallelism ?? n;
  if (!Number.isInteger(par) || par < 1) throw new SailError(`parallelism must be a positive integer, got ${par}`);
  const name = opts.name ?? `sail-${opts.kind}`;
  if (!DNS_LABEL.test(name)) throw new SailError(`job name "${name}" is not a DNS label (lowercase letters, digits, '-')`);
  const pvc = opts.pvc ?? K8S_DEFAULTS.pvc;
  if (!DNS_LABEL.test(pvc)) throw new SailError(`PVC name "${pvc}" is not a DNS label`);
  if (!opts.image || /\s/.test(opts.image)) throw new SailError(`image "${opts.image}" must be non-empty without spaces`);
  const values: Record<string, string> = {
    NAME: JSON.stringify(name),
    KIND: JSON.stringify(opts.kind),
    COMPLETIONS: String(n),
    PARALLELISM: String(Math.min(par, n)),
    IMAGE: JSON.stringify(opts.image),
    ARGS: JSON.stringify(jobArgs(opts)),
    PVC: JSON.stringify(pvc),
    CPU: JSON.stringify(opts.cpu ?? K8S_DEFAULTS.cpu),
    MEMORY: JSON.stringify(opts.memory ?? K8S_DEFAULTS.memory),
  };
  const out = template.replace(/\{\{([A-Z]+)\}\}/g, (m, key: string) => {
    if (!(key in values)) throw new SailError(`template placeholder ${m} has no value`, { file: 'deploy/k8s/indexed-job.yaml' });
    return values[key];
  });
  return out;
}
