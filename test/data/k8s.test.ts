import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderIndexedJob } from '../../src/data/k8s.js';
import { SailError } from '../../src/util/errors.js';
import { intFlag } from '../../src/cli/download.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

interface Job {
  apiVersion: string; kind: string; metadata: { name: string };
  spec: { completionMode: string; completions: number; parallelism: number; template: { spec: { restartPolicy: string; containers: Array<{ image: string; command: string[]; args: string[]; env: Array<{ name: string; valueFrom: { fieldRef: { fieldPath: string } } }> }>; volumes: Array<{ persistentVolumeClaim: { claimName: string } }> } } };
}

test('k8s: Indexed Job for download parses as YAML with --shard $(JOB_COMPLETION_INDEX)/N', () => {
  const y = renderIndexedJob({ kind: 'download', completions: 16, parallelism: 4, image: 'ghcr.io/acme/sail:1.0', input: '/data/cc3m.parquet', output: '/data/shards', extraArgs: ['--caption-col', 'caption: with "yaml" chars #1'] });
  const job = parse(y) as Job;
  assert.equal(job.apiVersion, 'batch/v1');
  assert.equal(job.kind, 'Job');
  assert.equal(job.metadata.name, 'sail-download');
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.completions, 16);
  assert.equal(job.spec.parallelism, 4);
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  const c = pod.containers[0];
  assert.equal(c.image, 'ghcr.io/acme/sail:1.0');
  assert.deepEqual(c.command, ['sail']);
  assert.deepEqual(c.args, ['download', '--input', '/data/cc3m.parquet', '--output', '/data/shards', '--shard', '$(JOB_COMPLETION_INDEX)/16', '--caption-col', 'caption: with "yaml" chars #1']);
  assert.equal(c.env[0].name, 'JOB_COMPLETION_INDEX');
  assert.equal(c.env[0].valueFrom.fieldRef.fieldPath, "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  assert.equal(pod.volumes[0].persistentVolumeClaim.claimName, 'sail-data');
  assert.throws(() => renderIndexedJob({ kind: 'encode', completions: 0, image: 'x', input: 'a', output: 'b' }), SailError);
  assert.throws(() => renderIndexedJob({ kind: 'encode', completions: 2, image: 'x', input: 'a', output: 'b', name: 'Bad_Name' }), /DNS label/);
  assert.throws(() => renderIndexedJob({ kind: 'encode', completions: 2, image: 'x y', input: 'a', output: 'b' }), /image/);
});

test('k8s: `sail data k8s` renders an encode job to a file', () => {
  const out = join(tempDir(), 'job.yaml');
  const r = runSail(['data', 'k8s', '--kind', 'encode', '--completions', '8', '--image', 'sail:dev', '--input', '/data/shards', '--output', '/data/store', '--name', 'enc', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const job = parse(readFileSync(out, 'utf8')) as Job;
  assert.equal(job.metadata.name, 'enc');
  assert.equal(job.spec.parallelism, 8);
  assert.deepEqual(job.spec.template.spec.containers[0].args, ['encode', '/data/shards', '--out', '/data/store', '--shard', '$(JOB_COMPLETION_INDEX)/8']);
  assert.throws(() => intFlag('x', '--completions'), /--completions must be an integer >= 1, got "x"/);
});
