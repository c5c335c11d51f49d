/**
 * Step Functions' hard quota of 25,000 events in one execution's history, counted locally as AWS would count the
 * events of our definition: the engine's log has one StateEntered where AWS writes TaskStateEntered, TaskScheduled
 * and TaskStarted (and TaskSubmitted for a callback task), and so on. The iterations of a Distributed Map run as
 * child executions in AWS, each with its own history: the parent counts only MapRunStarted and MapRunSucceeded.
 * When event 25,000 would not be ExecutionSucceeded, the execution fails.
 */
export const HISTORY_EVENT_LIMIT = 25_000;

interface StateDef {
  readonly Type: string;
  readonly Resource?: string;
  readonly ItemProcessor?: { ProcessorConfig?: { Mode?: string }; States: Record<string, StateDef> };
  readonly Iterator?: { States: Record<string, StateDef> };
}

type EngineEvent = { type: string; state?: { name: string }; parentState?: { name: string } };

export class AwsHistoryCount {
  private readonly types = new Map<string, StateDef>();
  /** States that run inside a Distributed Map's child executions. */
  private readonly childStates = new Set<string>();
  private readonly distributed = new Set<string>();
  /** Events of the parent execution so far. */
  count = 0;

  /** @param definition the deployed definition (its Distributed Map is DISTRIBUTED there, inline only locally). */
  constructor(
    definition: { States: Record<string, StateDef> },
    readonly limit = HISTORY_EVENT_LIMIT,
  ) {
    const walk = (states: Record<string, StateDef>, inChild: boolean) => {
      for (const [name, def] of Object.entries(states)) {
        this.types.set(name, def);
        if (inChild) this.childStates.add(name);
        const inner = def.ItemProcessor ?? def.Iterator;
        if (def.Type !== 'Map' || !inner) continue;
        const distributed = def.ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED';
        if (distributed) this.distributed.add(name);
        walk(inner.States, inChild || distributed);
      }
    };
    walk(definition.States, false);
  }

  /** How many events AWS writes into the parent's history for this engine event. */
  eventsFor(e: EngineEvent): number {
    if (e.type.startsWith('Execution')) return 1;
    if (e.type.startsWith('MapIteration')) return e.parentState && this.distributed.has(e.parentState.name) ? 0 : 1;
    const name = e.state?.name;
    if (!name || this.childStates.has(name)) return 0;
    const def = this.types.get(name);
    const task = def?.Type === 'Task';
    const callback = task && /\.waitForTaskToken$/.test(def?.Resource ?? '');
    const map = def?.Type === 'Map';
    // A Distributed Map also writes MapRunStarted and MapRunSucceeded.
    const run = map && this.distributed.has(name) ? 1 : 0;
    switch (e.type) {
      case 'StateEntered':
        return task ? (callback ? 4 : 3) : map ? 2 + run : 1;
      case 'StateExited':
        return task || map ? 2 + run : 1;
      case 'StateFailed':
        return 1;
      case 'StateRetried':
        return task ? 2 : 0;
      case 'StateCaught':
        return 1;
      default:
        return 0;
    }
  }

  /** Count an event; true when the history has passed the quota (the execution fails). */
  add(e: EngineEvent): boolean {
    this.count += this.eventsFor(e);
    return this.count >= this.limit && e.type !== 'ExecutionSucceeded';
  }
}

/**
 * The event as the local history keeps it: what AWS's history shows of a state (its name, type, output on exit, the
 * error) without the engine's extras. The engine attaches to every event the state's whole input, and to every
 * event of a Map iteration the Map's whole input: kept verbatim, a mini run wrote 5 MB of history and 2,000 gate
 * chunks ran out of memory.
 */
export function compactEvent(ev: unknown): Record<string, unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: the engine's event union, read field by field
  const e = ev as any;
  return {
    type: e.type,
    timestamp: e.timestamp,
    ...(e.type === 'ExecutionStarted' ? { input: e.input } : {}),
    ...(e.type === 'ExecutionSucceeded' ? { output: e.output } : {}),
    ...(e.state ? { state: { name: e.state.name, type: e.state.type, ...(e.type === 'StateExited' && e.state.output !== undefined ? { output: e.state.output } : {}) } } : {}),
    ...(e.index !== undefined ? { index: e.index } : {}),
    ...(e.parentState ? { parentState: { name: e.parentState.name } } : {}),
    ...(e.retry ? { retry: { attempt: e.retry.attempt } } : {}),
    ...(e.Error !== undefined ? { Error: e.Error, Cause: e.Cause } : {}),
  };
}
