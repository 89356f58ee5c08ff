import { z } from 'zod';

/** The largest amount of money the platform takes: a billion USD (its micro-dollars stay exact integers). */
export const MAX_USD = 1_000_000_000;

/**
 * An amount in USD as the platform stores it: not negative, at most a billion, and exact in integer
 * micro-dollars (at most six decimals; an amount that would round to 0 micro-dollars is refused, not zeroed).
 */
export const UsdAmount = z
  .number()
  .min(0)
  .max(MAX_USD)
  .superRefine((usd, context) => {
    if (Math.round(usd * 1_000_000) / 1_000_000 === usd) return;
    context.addIssue({
      code: 'custom',
      message:
        usd > 0 && usd < 0.000_001
          ? 'is below the smallest amount, 0.000001 USD (one micro-dollar)'
          : 'has more than six decimals (amounts are exact to the micro-dollar)',
    });
  });
