/**
 * Map semantics the local engine lacks: when an iteration fails for good (its error is neither retried any more
 * nor caught inside the iteration), the Map fails and Step Functions starts none of its waiting iterations; a Map
 * with no Catch for that error fails its own enclosing Map the same way. aws-local-stepfunctions starts every
 * queued iteration anyway, so the runner asks this module, before a Task inside a Map runs, whether its Map has
 * already failed, and tells it when a Task's error ends its iteration.
 */
interface Retrier {
  readonly ErrorEquals: readonly string[];
  readonly MaxAttempts?: number;
}
interface StateDef {
  readonly Type: string;
  readonly Retry?: readonly Retrier[];
  readonly Catch?: readonly { ErrorEquals: readonly string[] }[];
  readonly ItemProcessor?: { States: Record<string, StateDef> };
  readonly Iterator?: { States: Record<string, StateDef> };
}

const matches = (list: readonly string[], error: string) => list.includes(error) || (list.includes('States.ALL') && !/^States\.(Runtime|DataLimitExceeded)$/.test(error));

export class MapIterations {
  /** Task state -> its definition and the Maps around it, innermost first. */
  private readonly tasks = new Map<string, { def: StateDef; maps: { name: string; def: StateDef }[] }>();
  private readonly failed = new Set<string>();
  private readonly attempts = new Map<string, number>();

  constructor(definition: { States: Record<string, StateDef> }) {
    const walk = (states: Record<string, StateDef>, maps: { name: string; def: StateDef }[]) => {
      for (const [name, def] of Object.entries(states)) {
        if (def.Type === 'Task' && maps.length) this.tasks.set(name, { def, maps });
        const inner = def.ItemProcessor ?? def.Iterator;
        if (def.Type === 'Map' && inner) walk(inner.States, [{ name, def }, ...maps]);
      }
    };
    walk(definition.States, []);
  }

  /** The failed Map this Task's iteration belongs to, if any: the Task must not run. */
  failedMap(task: string): string | undefined {
    return this.tasks.get(task)?.maps.find((m) => this.failed.has(m.name))?.name;
  }

  /**
   * A Task inside a Map threw `error` for the input `key`: when no Retry of the Task takes it any more and no Catch
   * of the Task does, its Map fails, and so does each enclosing Map up to the first whose Catch takes the error.
   */
  taskFailed(task: string, key: string, error: string): void {
    const t = this.tasks.get(task);
    if (!t) return;
    const n = (this.attempts.get(`${task}\n${key}`) ?? 0) + 1;
    this.attempts.set(`${task}\n${key}`, n);
    const retrier = t.def.Retry?.find((r) => matches(r.ErrorEquals, error));
    if (retrier && n <= (retrier.MaxAttempts ?? 3)) return;
    if (t.def.Catch?.some((c) => matches(c.ErrorEquals, error))) return;
    for (const m of t.maps) {
      this.failed.add(m.name);
      if (m.def.Catch?.some((c) => matches(c.ErrorEquals, error))) return;
    }
  }
}
