import type { Admission, Job, JobReason } from '@aicloud/contracts';

const usd = (value: number) => `$${value.toFixed(2)}`;

/** The estimate and the guardrails shown before a job is submitted. */
export function admissionSummary(
  request: { product: string; gpus: number; gpuType?: string | undefined; team?: string | undefined },
  admission: Admission,
): string {
  const { guardrails } = admission;
  const lines = [
    `Job on ${request.product}${request.team ? ` for ${request.team}` : ''}: ${request.gpus > 0 ? `${request.gpus} × ${request.gpuType ?? 'GPU'}` : 'CPU only'}`,
    `  estimated max cost  ${usd(admission.estimatedCost)}  (${usd(guardrails.pricePerHour)}/h × ${guardrails.maxRuntime})`,
    `  max runtime         ${guardrails.maxRuntime}`,
    `  idle rule           ${guardrails.idleRule ?? '-'}`,
    `  spot policy         ${guardrails.spotPolicy} (this job: ${guardrails.spot ? 'spot' : 'on-demand'})`,
    `  quota left          ${guardrails.quota ? `${guardrails.quota.left} × ${guardrails.quota.gpuType} (nominal ${guardrails.quota.nominal}, in use ${guardrails.quota.used})` : '-'}`,
    `  budget left         ${guardrails.budget ? `${usd(guardrails.budget.left)} of ${usd(guardrails.budget.max)} (${guardrails.budget.period}; spent ${usd(guardrails.budget.used)}, committed ${usd(guardrails.budget.committed)})` : 'no budget set'}`,
    `  policy              ${policyLine(admission)}`,
  ];
  for (const warning of admission.warnings) lines.push(`  warning [${warning.policyId}] ${warning.reason}`);
  for (const dry of admission.dryRun)
    lines.push(`  dry-run [${dry.policyId}] would have denied: ${dry.reason}`);
  return lines.join('\n');
}

function policyLine(admission: Admission): string {
  switch (admission.outcome) {
    case 'admitted':
      return 'allowed';
    case 'queued':
      return `allowed, but it waits for ${waitsFor(admission.reasons[0])} (see below)`;
    case 'pending_approval':
      return `needs approval (${admission.reasons.map((reason) => reason.rule).join(', ')})`;
    default:
      return `DENIED (${admission.reasons.map((reason) => reason.rule).join(', ')})`;
  }
}

/** What a queued job waits for, in words: the team's quota or free GPUs. */
export function waitsFor(reason: JobReason | undefined): string {
  return reason?.code === 'WaitingForCapacity' ? 'free GPUs' : 'the team’s GPU quota';
}

/** A reason in one short cell, for tables: the rule, or what a queued job waits for, and how many more. */
export function reasonCell(reasons: JobReason[]): string | null {
  const first = reasons[0];
  if (!first) return null;
  const label =
    first.code === 'WaitingForQuota'
      ? 'waiting for quota'
      : first.code === 'WaitingForCapacity'
        ? 'waiting for GPUs'
        : (first.rule ?? first.code);
  return reasons.length > 1 ? `${label} (+${reasons.length - 1} more)` : label;
}

/** One reason, with what was asked, the limit, the rule and the next command. */
export function reasonText(reason: JobReason): string {
  return [
    `  [${reason.rule ?? reason.code}] ${reason.message}`,
    reason.asked ? `    asked: ${reason.asked}` : null,
    reason.limit ? `    limit: ${reason.limit}` : null,
    reason.next ? `    next:  ${reason.next}` : null,
  ]
    .filter((line): line is string => line !== null)
    .join('\n');
}

/** What happened to a submitted job, and what to type next. */
export function outcomeText(job: Job, admission: Admission): string {
  const reasons = admission.reasons.map(reasonText).join('\n');
  switch (admission.outcome) {
    case 'admitted':
      return [
        `Job ${job.id} (${job.name}) admitted.`,
        'Useful commands:',
        `  aicloud jobs get ${job.id}`,
        `  aicloud jobs logs ${job.id} -f`,
        `  aicloud jobs cancel ${job.id}`,
      ].join('\n');
    case 'queued':
      return [
        `Job ${job.id} (${job.name}) is allowed and waits for ${waitsFor(admission.reasons[0])}, position ${admission.queuePosition ?? job.queuePosition ?? '?'} in the queue:`,
        reasons,
        'It starts by itself; nothing to do. Useful commands:',
        `  aicloud jobs logs ${job.id} -f     waits, then follows its log`,
        `  aicloud jobs cancel ${job.id}`,
      ].join('\n');
    case 'pending_approval':
      return [
        `Job ${job.id} (${job.name}) is held for a manager’s approval (${admission.approvalId}):`,
        reasons,
        `Follow it: aicloud jobs logs ${job.id} -f  (waits for the approval, then follows its log)`,
      ].join('\n');
    default:
      return `Job ${job.id} rejected:\n${reasons}`;
  }
}
