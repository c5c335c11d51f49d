/** Every Task handler by state key (the local runner overrides each state with these). */
import type { TaskKey } from '../core/states';
import { backfillChunk } from './backfill-chunk';
import { backfillPlan } from './backfill-plan';
import { classify } from './classify';
import { commandPoll } from './command-poll';
import { commandSend } from './command-send';
import { cutover } from './cutover';
import { decide } from './decide';
import type { Handler } from './define';
import { gateChunk } from './gate-chunk';
import { gatePlan } from './gate-plan';
import { gates } from './gates';
import { goNoGo } from './go-no-go';
import { preflight } from './preflight';
import { rollback } from './rollback';
import { schema } from './schema';
import { smoke } from './smoke';
import { summary } from './summary';
import { validateSpec } from './validate-spec';
import { verify } from './verify';

export const HANDLERS: Record<TaskKey, Handler<unknown>> = {
  validateSpec,
  preflight,
  schema,
  commandSend,
  commandPoll,
  backfillPlan,
  backfillChunk,
  verify,
  gatePlan,
  gateChunk,
  gates,
  decide,
  goNoGo,
  cutover,
  smoke,
  rollback,
  classify,
  summary,
};
