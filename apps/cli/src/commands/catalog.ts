import { Command, Option } from 'commander';
import { client } from '../context.ts';
import { duration, outputFormat, print, table } from '../output.ts';

const outputOption = () => new Option('-o, --output <format>', 'table or json').default('table');

/** The on-demand price per hour of each GPU type (or the CPU machine), in one cell. */
function priceCell(prices: Record<string, { onDemand: number; spot: number }>): string {
  return Object.entries(prices)
    .map(([type, price]) => `${type === 'cpu' ? 'CPU' : type} $${price.onDemand.toFixed(2)}`)
    .join(', ');
}

function priceText(prices: Record<string, { onDemand: number; spot: number }>): string {
  return Object.entries(prices)
    .map(([type, price]) => `${type} $${price.onDemand}/h (spot $${price.spot})`)
    .join(', ');
}

/** `aicloud catalog list|show`. */
export function catalogCommand(): Command {
  const catalog = new Command('catalog').description('the compute products you can launch');
  catalog
    .command('list')
    .description('products with their limits and prices')
    .addOption(outputOption())
    .action(async (options: { output: string }) => {
      const format = outputFormat(options.output);
      const { items } = await client().catalog.list();
      print(
        format,
        items,
        () =>
          `${table(
            ['NAME', 'KIND', 'GPUS', 'GPU TYPES', 'PRICE/H', 'MAX RUNTIME', 'IDLE STOP', 'SPOT', 'EXECUTOR'],
            items.map((product) => [
              product.name,
              product.kind,
              product.gpu.max === 0 ? '0' : `${product.gpu.min}-${product.gpu.max}`,
              product.gpu.types.join(','),
              priceCell(product.prices),
              product.maxDuration,
              product.idleDuration,
              product.spotPolicy,
              product.executor,
            ]),
          )}\nPRICE/H: on-demand dollars per hour, per GPU (CPU: per machine); spot prices: aicloud catalog show NAME`,
      );
    });
  catalog
    .command('show')
    .description('one product in full')
    .argument('<name>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: string }) => {
      const format = outputFormat(options.output);
      const product = await client().catalog.get(name);
      print(format, product, () =>
        [
          `${product.name} (${product.kind}): ${product.description}`,
          `  gpus          ${product.gpu.max === 0 ? 'none (CPU)' : `${product.gpu.min}-${product.gpu.max} × ${product.gpu.types.join(' or ')}`}`,
          `  cpus, memory  ${product.cpus} CPUs, ${product.memoryGiB} GiB`,
          `  max runtime   ${product.maxDuration}`,
          `  idle stop     ${product.idleDuration ?? '-'}`,
          `  egress        ${product.egress}`,
          `  spot policy   ${product.spotPolicy}`,
          `  grace period  ${duration(product.graceSeconds)}`,
          `  prices        ${priceText(product.prices)}`,
          `  executor      ${product.executor}`,
          '',
          `Launch: aicloud create job --type ${product.name}${product.gpu.max > 0 ? ` --gpus ${Math.max(product.gpu.min, 1)}` : ''}`,
        ].join('\n'),
      );
    });
  return catalog;
}
