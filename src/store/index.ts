// Public surface of the embedding store.
export type { ModalitySpec, StoreDtype, StoreManifest, PartInfo } from './format.js';
export { createStoreWriter, type StoreWriter, type StoreWriterOptions } from './writer.js';
export { openStore, type EmbeddingStore } from './reader.js';
export { parseNpyHeader, openNpy, importNpy, type NpyHeader, type NpyReader, type NpyImportOptions } from './npy.js';
