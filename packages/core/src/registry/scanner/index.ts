// What the registry uses of the scanner; the scanner's parts are imported from their own files.
export { type ScanOptions, type ScanResult, scanDirectory, summarizeScan } from './scan.ts';
