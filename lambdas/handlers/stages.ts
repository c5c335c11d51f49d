/**
 * The stage registry: one entry per Task state (lambdas/core/states.ts TASK_KEYS) with the
 * payload it parses, the core function it runs, its Lambda timeout and what its function
 * may touch. The Lambda entry (task.ts), the CDK construct (lib/), the local runner and the
 * tests all read this table; `satisfies` fails the build when a Task state has no entry.
 */
import type { z } from 'zod';
import { pollBulkCommand, sendBulkCommand } from '../core/bulk-copy';
import { ChunkInput, CommandPollInput, CommandSendInput, EndState, GateChunkInput, GoNoGoInput, RawState, SoakPollInput, StageState } from '../core/payloads';

import { cutoverStage, requestApprovalStage, smokeStage } from '../core/cutover-stages';

import { classifyStage, rollbackStage, summaryStage } from '../core/end-stages';
import { phaseStage, soakPollStage } from '../core/phases';

import { backfillChunkStage, backfillPlanStage, decideStage, gateChunkStage, gatePlanStage, gatesStage, preflightStage, schemaStage, validateSpecStage, verifyStage } from '../core/pipeline';

import { SOAK_POLL_SECONDS, STAGE_FUNCTION_SECONDS, type TaskKey } from '../core/states';
import type { HandlerContext } from './context';

/**
 * What a stage's function may touch (least privilege per function; lib/ turns each into IAM and environment):
 * db: the Data API and the clusters' secrets · paramsRead / paramsWrite: launch-gate parameters ·
 * commands: SSM Run Command on the jumpboxes · notify: the approval topic · migrations: migration files ·
 * approvals: the approvals bucket, the approval HMAC key and base URL · approvers: the deploy config's directory ·
 * sign: the manifest signing key · fanOut: a Distributed Map fans out to it (reserved concurrency) ·
 * backup: a snapshot of a configured cluster · restore: that snapshot restored to a new cluster named cutline-* ·
 * alarms: the state of CloudWatch alarms (a soak's monitors).
 */
export type Capability = 'db' | 'paramsRead' | 'paramsWrite' | 'commands' | 'notify' | 'migrations' | 'approvals' | 'approvers' | 'sign' | 'fanOut' | 'backup' | 'restore' | 'alarms';

export interface Stage<S extends z.ZodType = z.ZodType, R = unknown> {
  /** The payload, parsed at the boundary (one PayloadParseError naming the field when it is wrong). */
  readonly input: S;
  /** The core function, with the invocation's ports and time. */
  run(input: z.infer<S>, ctx: HandlerContext): Promise<R>;
  /** The function's timeout: the CDK construct sets it, the local runner enforces it (Sandbox.Timedout). */
  readonly timeoutSeconds: number;
  readonly caps: readonly Capability[];
}

const stage = <S extends z.ZodType, R>(s: Stage<S, R>): Stage<S, R> => s;
const LONG = STAGE_FUNCTION_SECONDS;

export const STAGES = {
  validateSpec: stage({ input: RawState, run: (i, c) => validateSpecStage(i, c.platform, c.deps), timeoutSeconds: LONG, caps: ['approvers'] }),
  preflight: stage({ input: StageState, run: (i, c) => preflightStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'paramsRead', 'commands'] }),
  schema: stage({ input: StageState, run: (i, c) => schemaStage(i, c.deps, c), timeoutSeconds: LONG, caps: ['db', 'migrations', 'backup', 'commands'] }),
  commandSend: stage({ input: CommandSendInput, run: (i, c) => sendBulkCommand(i.spec, i.command, c.deps), timeoutSeconds: 90, caps: ['commands'] }),
  commandPoll: stage({ input: CommandPollInput, run: (i, c) => pollBulkCommand(i.spec, i.command, i.sent, c.deps), timeoutSeconds: 90, caps: ['commands'] }),
  backfillPlan: stage({ input: StageState, run: (i, c) => backfillPlanStage(i, c.deps), timeoutSeconds: LONG, caps: ['db'] }),
  backfillChunk: stage({ input: ChunkInput, run: (i, c) => backfillChunkStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'fanOut'] }),
  verify: stage({ input: StageState, run: (i, c) => verifyStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'commands'] }),
  gatePlan: stage({ input: StageState, run: (i, c) => gatePlanStage(i, c.deps, c.remainingMs, c.platform), timeoutSeconds: LONG, caps: ['db'] }),
  gateChunk: stage({ input: GateChunkInput, run: (i, c) => gateChunkStage(i, c.deps, c.remainingMs), timeoutSeconds: LONG, caps: ['db', 'fanOut'] }),
  // db: every stage after Preflight renews the run lease; Summary releases it.
  gates: stage({ input: StageState, run: (i, c) => gatesStage(i, c.deps), timeoutSeconds: LONG, caps: ['db'] }),
  decide: stage({ input: StageState, run: (i, c) => decideStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'commands'] }),
  // The approval HMAC key and the Slack webhook only: never the launch-gate parameters.
  goNoGo: stage({ input: GoNoGoInput, run: (i, c) => requestApprovalStage(i, c.deps, c.approvalBaseUrl), timeoutSeconds: LONG, caps: ['notify', 'approvals', 'approvers'] }),
  // Contract migrations (migrations/) after the actions.
  cutover: stage({ input: StageState, run: (i, c) => cutoverStage(i, c.deps, c), timeoutSeconds: LONG, caps: ['db', 'paramsRead', 'paramsWrite', 'commands', 'migrations'] }),
  // curl on the jumpbox: a command.
  smoke: stage({ input: StageState, run: (i, c) => smokeStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'commands'] }),
  // A progressive cutover: a phase's actions (as Cutover's), then one poll of its monitors a call (SQL, HTTP), never a sleeping function.
  phase: stage({ input: StageState, run: (i, c) => phaseStage(i, c.deps, c), timeoutSeconds: LONG, caps: ['db', 'paramsRead', 'paramsWrite', 'commands', 'migrations'] }),
  soakPoll: stage({ input: SoakPollInput, run: (i, c) => soakPollStage(i, c.deps), timeoutSeconds: SOAK_POLL_SECONDS, caps: ['db', 'commands', 'alarms'] }),
  // Rollback signs the addendum of a rollback by hand; Summary the manifest root.
  rollback: stage({ input: StageState, run: (i, c) => rollbackStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'paramsRead', 'paramsWrite', 'commands', 'sign', 'restore'] }),
  classify: stage({ input: EndState, run: (i, c) => classifyStage(i, c.deps, c.platform), timeoutSeconds: 120, caps: [] }),
  summary: stage({ input: EndState, run: (i, c) => summaryStage(i, c.deps), timeoutSeconds: LONG, caps: ['db', 'sign'] }),
} satisfies Record<TaskKey, Stage>;
