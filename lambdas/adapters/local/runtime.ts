/** Clock, logger and HTTP client (fetch) for local runs and Lambda alike: node built-ins only. */
import type { Clock, HttpClient, Logger } from '../../ports';

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

export const fetchHttp: HttpClient = {
  async request(url, opts) {
    const res = await fetch(url, {
      method: opts.method,
      headers: opts.headers,
      body: opts.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
    return { status: res.status, body: await res.text() };
  },
};

/** One JSON line per event (CloudWatch-friendly). */
export const jsonLogger: Logger = {
  info: (msg, data) => console.log(JSON.stringify({ level: 'info', msg, ...data })),
  warn: (msg, data) => console.warn(JSON.stringify({ level: 'warn', msg, ...data })),
  error: (msg, data) => console.error(JSON.stringify({ level: 'error', msg, ...data })),
};

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
