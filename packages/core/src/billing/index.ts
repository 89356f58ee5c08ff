export { billCsv, csvField, microsText, teamsBillCsv, toCsv } from './bill-csv.ts';
export { type BillRequest, type BillService, createBillService } from './bill-service.ts';
export { BILLING_SETTING_KEYS, billingSettings, gbHourRateMicros } from './billing-settings.ts';
export { budgetAlertTick, checkBudgetAlerts, crossedThresholds, type FiredAlert } from './budget-alerts.ts';
export { createWebhookQueue, type WebhookQueue } from './budget-webhook.ts';
export { storageTick, storedBytes } from './storage-meter.ts';
export {
  addressRefusal,
  allowedHostProblem,
  postWebhook,
  resolveWebhookTarget,
  type WebhookPolicy,
  WebhookRefused,
  type WebhookResolver,
  webhookUrlRefusal,
} from './webhook-guard.ts';
export { createWebhookSettings, type WebhookSettings } from './webhook-settings.ts';
