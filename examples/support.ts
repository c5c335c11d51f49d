/** What every runnable example shares: its spec read with the services' URLs, a run id, the run auto-approved. */
import path from 'node:path';
import { defaultApprover, runLocal } from '../cli/runner/run';
import { readSpecFile } from '../cli/spec-file';
import type { SqlClient } from '../lambdas/ports';

export interface ExampleOptions {
  readonly runId?: string;
  readonly evidenceDir?: string;
  readonly workDir?: string;
  readonly out?: (line: string) => void;
}

/** `<prefix>-<UTC time>`: an example's run id when none is given. */
export const exampleRunId = (prefix: string) => `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;

/** Run `<dir>/spec.json` (its ${env:...} from `env`) locally, approved by the flag, as `<prefix>-<UTC time>` unless named. */
export async function runExampleSpec(
  dir: string,
  prefix: string,
  opts: ExampleOptions,
  env: Record<string, string>,
  onOpen?: (url: string, client: SqlClient) => void | Promise<void>,
) {
  const spec = (await readSpecFile(path.join(dir, 'spec.json'), { ...process.env, ...env })) as Record<string, unknown>;
  spec.runId = opts.runId ?? exampleRunId(prefix);
  return runLocal({
    spec,
    evidenceDir: opts.evidenceDir,
    workDir: opts.workDir,
    approval: { kind: 'auto', decision: 'approve', approver: defaultApprover(), comment: 'example: approved by --auto-approve' },
    out: opts.out,
    ...(onOpen ? { onOpen } : {}),
  });
}
