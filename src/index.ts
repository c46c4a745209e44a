/**
 * sail: align frozen pretrained image and text encoders into a CLIP-like model (the SAIL method).
 *
 * The pipeline, stage by stage: data (URL lists -> WebDataset shards), encoders (frozen backbones ->
 * embedding stores), store, head + train (alignment head, SigLIP loss), eval, model (createModel, export,
 * segmentation), serve (browser image search).
 */
export { SailError } from './util/errors.js';
export { Rng } from './util/rng.js';

// data
export { download, type DownloadOptions, type DownloadResult } from './data/download.js';
export { importFolder, type ImportOptions, type ImportResult, type CaptionSource } from './data/import.js';
export { parseSidecarCaption, type SidecarCaptionOptions } from './data/captions.js';
export { splitShards, type SplitOptions, type SplitResult, type SplitGroupBy } from './data/split.js';
export { readWds, readShard, listShards, type WdsSample } from './data/wds.js';

// encoders
export type { ImageEncoder, TextEncoder, ImageInput } from './encoders/types.js';
export {
  loadImageEncoder,
  loadTextEncoder,
  registerBackbone,
  listBackbones,
  type BackboneSpec,
  type EncoderLoadOptions,
} from './encoders/registry.js';
export { encode, type EncodeOptions, type EncodeResult } from './encoders/pipeline.js';

// store
export * from './store/index.js';

// head + training
export { paramSpecs, defaultHeadConfig, type HeadConfig, type HeadType, type ParamSet, type ParamTensor } from './head/config.js';
export { initParams, clampLogitScale } from './head/init.js';
export { readSafetensors, writeSafetensors, type NamedTensor } from './head/safetensors.js';
export type { Batch, StepResult, TrainEngine, EngineOptions, LossType } from './train/engine-types.js';
export { createTrainEngine } from './train/engine.js';
export { trainLoop, type TrainLoopOptions, type TrainSummary } from './train/loop.js';
export { saveHead } from './train/checkpoint.js';
export { loadHead, type LoadedHead } from './head/load.js';

// evaluation
export * as metrics from './eval/metrics.js';
export { evaluateRetrieval, evaluateRetrievalOnStores, evaluateKnn, evaluateWinoground, evaluateMmvp } from './eval/tasks.js';
export { buildClassifier, zeroShotEvaluate, loadTemplates } from './eval/zeroshot.js';
export { runProbe, type ProbeOptions, type ProbeReport } from './probe/probe.js';

// model in users' hands
export { createModel, SailModel, type CreateModelOptions, type FeatureRows } from './model/model.js';
export { exportModel, readExport, readManifest, type ExportOptions } from './model/export.js';
export type { ExportManifest, ImageBackboneRecord, TextBackboneRecord } from './model/export-config.js';
export { segmentImage, overlayPng, labelPng } from './model/segment.js';
export { startServer, type ServeOptions, type RunningServer } from './serve/server.js';
