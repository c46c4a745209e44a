// Export a trained head (alone, and fused behind backbone ONNX graphs) plus a JSON config users can load.
import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { assertFiniteParams } from '../head/check.js';
import { loadHead, logitScaleBias, type LoadedHead } from '../head/load.js';
import { fuseBackboneWithHead, type Pooling } from './fuse.js';
import { buildHeadSideModel, HEAD_OUTPUT, HEAD_OUTPUT_RAW } from '../head/side-model.js';
import { checkManifest } from './manifest-check.js';
import { MANIFEST_FILE, type ExportManifest, type WordVocabTokenizer } from './export-config.js';
import { DINOV2_PREPROCESS, type PreprocessConfig } from '../encoders/image-spec.js';

/** A backbone ONNX to fuse in front of one head side. */
export interface BackboneOnnx {
  /** Path or bytes of the backbone's ONNX model. */
  onnx: string | Uint8Array;
  /** Backbone output to pool (default: first output). */
  output?: string;
  /** Default 'none' (the backbone already pools). */
  pooling?: Pooling;
}

export interface ExportOptions {
  outDir: string;
  vision?: BackboneOnnx & {
    /** The backbone's preprocessing spec (an ImageEncoder's `preprocess`); default DINOv2's processor. */
    preprocess?: PreprocessConfig;
    /** Also write image_patches.onnx (needs a token-sequence output [N, 1+P, H]); default: when pooling is not 'none'. */
    patches?: boolean;
  };
  text?: BackboneOnnx & {
    /** A browser-runnable tokenizer; its vocab file is copied into the export folder. */
    tokenizer?: Omit<WordVocabTokenizer, 'vocabFile'> & { vocabFile: string };
  };
}

function readBytes(src: string | Uint8Array): Uint8Array {
  if (typeof src !== 'string') return src;
  try {
    return readFileSync(src);
  } catch {
    throw new SailError('backbone ONNX file not found', { file: src });
  }
}

const headOutputs = { normalized: HEAD_OUTPUT, unnormalized: HEAD_OUTPUT_RAW };

/**
 * Write image_head.onnx and text_head.onnx (features -> aligned space), optionally image_model.onnx /
 * text_model.onnx (backbone fused with pooling and head), image_patches.onnx (per-patch tokens), and
 * sail_model.json describing them. Every file is written atomically; the manifest goes last.
 */
export async function exportModel(head: string | LoadedHead, opts: ExportOptions): Promise<ExportManifest> {
  const { config, params } = typeof head === 'string' ? await loadHead(head) : head;
  assertFiniteParams(params);
  const { scale, bias } = logitScaleBias(params);
  const out = opts.outDir;
  await writeFileAtomic(join(out, 'image_head.onnx'), buildHeadSideModel(config, params, 'vision'));
  await writeFileAtomic(join(out, 'text_head.onnx'), buildHeadSideModel(config, params, 'text'));
  const manifest: ExportManifest = {
    format: 'sail-export',
    version: 1,
    head: config,
    dim: config.targetDim,
    normalization: 'l2',
    logitScale: scale,
    logitBias: bias,
    image: { head: { file: 'image_head.onnx', inputs: ['features'], outputs: headOutputs, inputDim: config.visionDim } },
    text: { head: { file: 'text_head.onnx', inputs: ['features'], outputs: headOutputs, inputDim: config.textDim } },
  };
  if (opts.vision) {
    const v = opts.vision;
    const bytes = readBytes(v.onnx);
    const pooling = v.pooling ?? 'none';
    const file = typeof v.onnx === 'string' ? v.onnx : undefined;
    const preprocess = v.preprocess ?? DINOV2_PREPROCESS;
    const fused = fuseBackboneWithHead(bytes, config, params, 'vision', { output: v.output, pooling }, file);
    await writeFileAtomic(join(out, 'image_model.onnx'), fused.bytes);
    manifest.image.model = { file: 'image_model.onnx', inputs: fused.inputs.map((i) => i.name), outputs: fused.outputs, preprocess, pooling };
    if (v.patches ?? pooling !== 'none') {
      const perPatch = fuseBackboneWithHead(bytes, config, params, 'vision', { output: v.output, pooling, perPatch: true }, file);
      await writeFileAtomic(join(out, 'image_patches.onnx'), perPatch.bytes);
      manifest.image.patches = { file: 'image_patches.onnx', inputs: perPatch.inputs.map((i) => i.name), outputs: perPatch.outputs, preprocess };
    }
  }
  if (opts.text) {
    const t = opts.text;
    const pooling = t.pooling ?? 'none';
    const fused = fuseBackboneWithHead(readBytes(t.onnx), config, params, 'text', { output: t.output, pooling }, typeof t.onnx === 'string' ? t.onnx : undefined);
    await writeFileAtomic(join(out, 'text_model.onnx'), fused.bytes);
    let tokenizer: WordVocabTokenizer | undefined;
    if (t.tokenizer) {
      const name = 'vocab.json';
      if (resolve(t.tokenizer.vocabFile) !== resolve(out, name)) {
        try {
          copyFileSync(t.tokenizer.vocabFile, join(out, name));
        } catch (e) {
          throw new SailError(`cannot copy the tokenizer vocabulary (${(e as Error).message})`, { file: t.tokenizer.vocabFile });
        }
      }
      tokenizer = { ...t.tokenizer, vocabFile: name };
    }
    manifest.text.model = { file: 'text_model.onnx', inputs: fused.inputs.map((i) => i.name), outputs: fused.outputs, pooling, tokenizer };
  }
  await writeJsonAtomic(join(out, MANIFEST_FILE), manifest);
  return manifest;
}

/**
 * Read and check sail_model.json in `dir`: required fields present, and every file it names a plain
 * relative name whose realpath lies inside the export folder. `files` maps each name to that realpath.
 */
export function readExport(dir: string): { manifest: ExportManifest; files: Map<string, string> } {
  const file = join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SailError(`cannot read the export config (${(e as Error).message})`, { file });
  }
  return checkManifest(raw, dir, file);
}

/** Read and check sail_model.json in `dir` (see {@link readExport}). */
export function readManifest(dir: string): ExportManifest {
  return readExport(dir).manifest;
}
