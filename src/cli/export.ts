// `sail export CHECKPOINT --out DIR`: ONNX graphs + sail_model.json for onnxruntime / transformers.js users.
import type { Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { useDevice } from './device.js';
import { SailError } from '../util/errors.js';
import { exportModel } from '../model/export.js';
import { parsePooling, POOLINGS, type Pooling } from '../encoders/pooling.js';
import type { WordVocabTokenizer } from '../model/export-config.js';
import { DINOV2_PREPROCESS, MOBILENET_PREPROCESS, type PreprocessConfig } from '../encoders/image-spec.js';
import { parsePreprocessorConfig } from '../encoders/preprocess.js';

/** The specs the library encoders of these backbones use (a JSON file is read as preprocessor_config.json). */
const PRESETS: Record<string, PreprocessConfig> = { dinov2: DINOV2_PREPROCESS, 'mobilenetv2-nsfwjs': MOBILENET_PREPROCESS };

interface ExportFlags {
  out: string;
  device?: string;
  visionBackboneOnnx?: string;
  visionOutput?: string;
  visionPooling?: string;
  visionPreprocess?: string;
  patches?: boolean;
  textBackboneOnnx?: string;
  textOutput?: string;
  textPooling?: string;
  textTokenizer?: string;
  json?: boolean;
}

function pooling(v: string | undefined): Pooling | undefined {
  return v === undefined ? undefined : parsePooling(v);
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new SailError(`cannot read JSON (${(e as Error).message})`, { file });
  }
}

/**
 * The preprocessing spec named by --vision-preprocess: a preset, a store folder (the spec its image
 * backbone recorded when encoding), or a preprocessor_config.json.
 */
function visionPreprocess(v: string): PreprocessConfig {
  if (PRESETS[v]) return PRESETS[v];
  if (existsSync(v) && statSync(v).isDirectory()) {
    const file = join(v, 'manifest.json');
    const spec = (readJson<{ meta?: { encode?: { imagePreprocess?: PreprocessConfig } } }>(file).meta?.encode?.imagePreprocess);
    if (!spec) throw new SailError('this store records no image preprocessing (encoded without an image backbone, or by an older sail)', { file });
    return spec;
  }
  return parsePreprocessorConfig(readJson<unknown>(v), v);
}

/** Register `sail export`. */
export function register(program: Command): void {
  program
    .command('export')
    .description('export a head checkpoint as ONNX (head alone, and fused behind backbone ONNX files) with a sail_model.json config')
    .argument('<checkpoint>', 'head checkpoint: folder (config.json + .safetensors) or .safetensors file')
    .requiredOption('--out <dir>', 'output folder')
    .option('--vision-backbone-onnx <file>', 'image backbone ONNX to fuse in front of the vision head')
    .option('--vision-output <name>', 'backbone output to pool (default: its first output)')
    .option('--vision-pooling <mode>', `pooling of the backbone output: ${POOLINGS.join('|')} (default none)`)
    .option('--vision-preprocess <preset|json>', `preprocessing preset (${Object.keys(PRESETS).join(', ')}) a store folder (the spec it was encoded with) or a preprocessor_config.json (default dinov2)`)
    .option('--no-patches', 'do not write image_patches.onnx')
    .option('--text-backbone-onnx <file>', 'text backbone ONNX to fuse in front of the text head')
    .option('--text-output <name>', 'text backbone output to pool')
    .option('--text-pooling <mode>', `pooling of the text backbone output: ${POOLINGS.join('|')} (default none)`)
    .option('--text-tokenizer <json>', 'JSON file with a word-vocab tokenizer spec the browser can run (see docs/model.md)')
    .option('--json', 'print sail_model.json to stdout')
    .option('--device <cpu|cuda|webgpu>', 'after writing, run the exported head graphs once on this device as a check (`sail doctor` shows what works here)', 'cpu')
    .action(async (checkpoint: string, flags: ExportFlags) => {
      const device = useDevice(flags.device);
      const manifest = await exportModel(checkpoint, {
        outDir: flags.out,
        vision: flags.visionBackboneOnnx
          ? {
              onnx: flags.visionBackboneOnnx,
              output: flags.visionOutput,
              pooling: pooling(flags.visionPooling),
              preprocess: flags.visionPreprocess ? visionPreprocess(flags.visionPreprocess) : undefined,
              patches: flags.patches === false ? false : undefined,
            }
          : undefined,
        text: flags.textBackboneOnnx
          ? {
              onnx: flags.textBackboneOnnx,
              output: flags.textOutput,
              pooling: pooling(flags.textPooling),
              tokenizer: flags.textTokenizer ? readJson<WordVocabTokenizer>(flags.textTokenizer) : undefined,
            }
          : undefined,
      });
      const { checkExport } = await import('../model/exported.js');
      await checkExport(flags.out, { device });
      if (flags.json) console.log(JSON.stringify(manifest, null, 2));
      else {
        const files = [manifest.image.head, manifest.text.head, manifest.image.model, manifest.image.patches, manifest.text.model].filter((f) => f).map((f) => f!.file);
        console.log(`exported ${files.join(', ')} and sail_model.json to ${flags.out} (heads checked on ${device})`);
      }
    });
}
