/**
 * The prices `cutline estimate` uses: one place, each with its source and the date it was read. US East (N. Virginia),
 * on-demand, no free tier. Change them here (and the date) when AWS changes them; docs/scale.md quotes this file.
 */
export interface Price {
  readonly usd: number;
  readonly per: string;
  readonly source: string;
}

export const PRICES_READ = '2026-12-01';
export const PRICES_REGION = 'us-east-1';

export const PRICES = {
  stateTransition: { usd: 0.025 / 1000, per: 'Step Functions Standard state transition', source: 'https://aws.amazon.com/step-functions/pricing/' },
  lambdaRequest: { usd: 0.2 / 1_000_000, per: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecond: { usd: 0.0000166667, per: 'Lambda GB-second (x86)', source: 'https://aws.amazon.com/lambda/pricing/' },
  s3Put: { usd: 0.005 / 1000, per: 'S3 Standard PUT, COPY, POST or LIST request', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Get: { usd: 0.0004 / 1000, per: 'S3 Standard GET request', source: 'https://aws.amazon.com/s3/pricing/' },
  dataApiRequest: { usd: 0.35 / 1_000_000, per: 'RDS Data API request (first billion a month)', source: 'https://aws.amazon.com/rds/aurora/pricing/' },
} as const satisfies Record<string, Price>;
