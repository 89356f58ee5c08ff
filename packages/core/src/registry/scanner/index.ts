export { type ByteSource, bufferSource, openFileSource } from './byte-source.ts';
export {
  ALLOWED_IMPORTS,
  classifyImport,
  DANGEROUS_MODULES,
  type ImportClassification,
  type ImportJudgement,
} from './classify.ts';
export { type Compression, compressionOf, DecompressError } from './decompress.ts';
export {
  type Validation,
  validateGguf,
  validateNpy,
  validateOnnx,
  validateSafetensors,
  validateSentencePiece,
  validateText,
} from './formats.ts';
export { hasPickleMagic, type PickleImport, type PickleParse, parsePickle } from './pickle-parser.ts';
export {
  type ContentKind,
  type FileFormat,
  listFiles,
  type ScannedFile,
  type ScannedImport,
  type ScanOptions,
  type ScanResult,
  type ScanVerdict,
  scanBytes,
  scanDirectory,
  scanFile,
  scanSource,
  summarizeScan,
  worstVerdict,
} from './scan.ts';
export { hasZipMagic, openZipEntry, readZipEntries, type ZipEntry, ZipError } from './zip-reader.ts';
