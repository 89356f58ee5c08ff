import type { Product, SubmitJobRequest } from '@aicloud/contracts';

/** What the launch form holds, as typed. */
export interface LaunchFields {
  team: string;
  gpus: string;
  gpuType: string;
  datasets: string[];
  otherDatasets: string;
  command: string;
  maxRuntime: string;
  spot: boolean;
  name: string;
}

/** A fresh form for a product: its smallest GPU ask, its first GPU type, its own maximum runtime. */
export function initialFields(product: Product, team: string): LaunchFields {
  return {
    team,
    gpus: String(product.gpu.min),
    gpuType: product.gpu.types[0] ?? '',
    datasets: [],
    otherDatasets: '',
    command: '',
    maxRuntime: '',
    spot: product.spotPolicy === 'spot',
    name: '',
  };
}

/** The submission the form describes, or the fields the browser already knows are wrong. */
export function toRequest(
  product: Product,
  fields: LaunchFields,
): { request: SubmitJobRequest; issues: Record<string, string> } {
  const issues: Record<string, string> = {};
  const gpus = Number(fields.gpus);
  if (fields.gpus.trim() === '' || !Number.isInteger(gpus) || gpus < 0) {
    issues.gpus = 'a whole number of GPUs';
  }
  const datasets = [
    ...fields.datasets,
    ...fields.otherDatasets
      .split(/[,\s]+/)
      .map((path) => path.trim())
      .filter((path) => path !== ''),
  ];
  const request: SubmitJobRequest = {
    product: product.name,
    gpus: Number.isInteger(gpus) ? gpus : 0,
    datasets: [...new Set(datasets)],
    spot: fields.spot,
  };
  if (fields.team) request.team = fields.team;
  if (gpus > 0 && fields.gpuType) request.gpuType = fields.gpuType;
  if (fields.command.trim()) request.command = fields.command.trim();
  if (fields.maxRuntime.trim()) request.maxRuntime = fields.maxRuntime.trim();
  if (fields.name.trim()) request.name = fields.name.trim();
  return { request, issues };
}
