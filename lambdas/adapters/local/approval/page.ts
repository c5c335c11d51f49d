/** The local approval page: the approval API (core/approval-http) on 127.0.0.1 (GET shows, POST decides). */
import http from 'node:http';
import { type ApprovalHttpDeps, handleApprovalHttp } from '../../../core/approval-http';

/** What the page answers with: the approval API's ports (the same secret shape as in AWS). */
export type ApprovalPageDeps = Pick<ApprovalHttpDeps, 'approvalStore' | 'tokens' | 'evidence' | 'clock' | 'logger' | 'secret'>;

/** The local approval page: the approval API (core/approval-http) on 127.0.0.1. */
export class LocalApprovalPage {
  private server?: http.Server;
  baseUrl = '';

  constructor(private readonly deps: ApprovalPageDeps) {}

  async start(port = 0): Promise<string> {
    this.server = http.createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? '/', this.baseUrl || 'http://127.0.0.1');
      const out = await handleApprovalHttp(
        {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])),
          ...(req.socket.remoteAddress ? { sourceIp: req.socket.remoteAddress } : {}),
          ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
        },
        this.deps,
      );
      res.writeHead(out.status, out.headers).end(out.body);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address() as { port: number };
    this.baseUrl = `http://127.0.0.1:${addr.port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
  }
}
