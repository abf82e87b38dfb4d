import env from '#start/env'

/**
 * Prices, packages and limits. Every amount is integer cents in the
 * configured currency (1 credit = 1 cent); the creator share is kept in
 * basis points so splits are computed on integers.
 */
const billingConfig = {
  currency: env.get('CURRENCY', 'usd'),
  premium: {
    priceCents: env.get('PREMIUM_SUBSCRIPTION_PRICE'),
    interval: 'month' as const,
    /** Days a past_due subscription keeps Premium limits before dropping to free. */
    pastDueGraceDays: env.get('PREMIUM_PAST_DUE_GRACE_DAYS'),
  },
  creditPackages: [
    { key: 'small', amountCents: env.get('CREDIT_PACKAGE_SMALL') },
    { key: 'medium', amountCents: env.get('CREDIT_PACKAGE_MEDIUM') },
    { key: 'large', amountCents: env.get('CREDIT_PACKAGE_LARGE') },
  ],
  deploySlot: {
    priceCents: env.get('DEPLOY_SLOT_PRICE'),
  },
  limits: {
    free: { projects: env.get('FREE_MAX_PROJECTS'), deploys: env.get('FREE_MAX_DEPLOYS') },
    premium: { projects: env.get('PREMIUM_MAX_PROJECTS'), deploys: env.get('PREMIUM_MAX_DEPLOYS') },
  },
  creatorShareBps: env.get('CREATOR_REVENUE_SHARE'),
  marketplace: {
    /**
     * Days an earning waits before a payout run may pay it (PAYOUT_HOLD_DAYS,
     * default 7). Longer than the card settlement delay (Stripe: about 2 days,
     * so the grouped transfer is funded from the available balance) and than
     * the window in which most refunds are asked for (the first days after a
     * sale), so a refund usually nets against an unpaid earning instead of
     * needing a transfer reversal. Later refunds and disputes still work: the
     * payout run reverses the paid transfer.
     */
    payoutHoldDays: env.get('PAYOUT_HOLD_DAYS'),
    /** Connect onboarding: where Stripe sends the creator back (paths on APP_URL). */
    onboardingReturnPath: '/creator/payouts?onboarding=done',
    onboardingRefreshPath: '/creator/payouts/onboarding',
    /** The most agents' Stripe prices allow (Stripe caps one-time amounts at $999,999.99). */
    maxPriceCents: 99_999_999,
    /** Stripe's smallest USD charge. */
    minPriceCents: 50,
  },
  usageInvoices: {
    /**
     * The smallest amount a usage invoice charges (Stripe refuses charges under
     * 50 cents USD). When what is left after credits is below it, the period's
     * usage stays unbilled and rolls into the next period's invoice.
     */
    minimumChargeCents: Math.max(50, env.get('USAGE_INVOICE_MIN_CHARGE_CENTS')),
    /** Users invoiced at once by a run (each one's Stripe calls stay in order). */
    concurrency: Math.max(1, env.get('USAGE_INVOICE_CONCURRENCY')),
  },
}

export type BillingConfig = typeof billingConfig
export type CreditPackageKey = (typeof billingConfig.creditPackages)[number]['key']

export default billingConfig
