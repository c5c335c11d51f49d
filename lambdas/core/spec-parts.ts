/** The parts of run spec v1 (spec.ts): database references, parameter rules, actions, backfill tasks, assertions. */
import { z } from 'zod';

export const CLUSTER_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:[A-Za-z0-9-]+$/;
export const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
export const SNS_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/;
export const PARAM_NAME = /^[A-Za-z0-9_.\-/]{1,2048}$/;
/** The longest value SSM Parameter Store's standard tier takes. */
export const PARAM_VALUE_MAX = 4096;
export const SQL_IDENT = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

export const Engine = z.enum(['postgres', 'mysql']);
export type Engine = z.infer<typeof Engine>;

export const DataApiRef = z.strictObject({
  resourceArn: z.string().regex(CLUSTER_ARN, 'expected an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)'),
  secretArn: z.string().regex(SECRET_ARN, 'expected a Secrets Manager secret ARN'),
  database: z.string().min(1),
});

/** Local URL schemes and the engine each one speaks. */
export const URL_ENGINES: Record<string, Engine> = {
  'pglite:': 'postgres',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
};

/** The engine a local URL speaks (its scheme), or undefined for a scheme cutline does not know. */
export function engineOfUrl(url: string): Engine | undefined {
  return URL_ENGINES[/^[a-z]+:/.exec(url)?.[0] ?? ''];
}

export const DatabaseRef = z
  .strictObject({
    engine: Engine,
    /** Aurora through the RDS Data API (AWS runs). */
    dataApi: DataApiRef.optional(),
    /** A local URL: pglite://memory, pglite://./dir, postgres://..., mysql://... (local runs). */
    url: z.string().min(1).optional(),
  })
  .superRefine((ref, ctx) => {
    if (!!ref.dataApi === !!ref.url) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of "dataApi" (AWS) or "url" (local)' });
      return;
    }
    if (ref.url) {
      const scheme = /^[a-z]+:/.exec(ref.url)?.[0];
      const engine = engineOfUrl(ref.url);
      if (!engine) {
        ctx.addIssue({
          code: 'custom',
          path: ['url'],
          message: `expected a URL starting with ${Object.keys(URL_ENGINES).map((s) => `${s}//`).join(', ')}`,
        });
      } else if (engine !== ref.engine) {
        ctx.addIssue({ code: 'custom', path: ['url'], message: `a ${scheme}// URL speaks ${engine}, but engine is "${ref.engine}"` });
      }
    }
  });
export type DatabaseRef = z.infer<typeof DatabaseRef>;

export const DbSide = z.enum(['source', 'target']);
export type DbSide = z.infer<typeof DbSide>;

export const ParameterRule = z
  .strictObject({
    /** One parameter name, or ... */
    name: z.string().regex(PARAM_NAME).optional(),
    /** ... at least one of several names must be present and pass (seed 004: one of SEPOLIA_RPC_URL | CHAIN_RPC_URL | RPC_URL). */
    anyOf: z.array(z.string().regex(PARAM_NAME)).min(2).optional(),
    equals: z.string().optional(),
    oneOf: z.array(z.string()).min(1).optional(),
    regex: z.string().optional(),
    minLength: z.number().int().min(0).optional(),
    maxLength: z.number().int().min(1).optional(),
    /** Values are never written to evidence unless secret is false. */
    secret: z.boolean().default(true),
    description: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    if (!!r.name === !!r.anyOf) ctx.addIssue({ code: 'custom', message: 'expected exactly one of "name" or "anyOf"' });
    if (r.regex !== undefined) {
      try {
        new RegExp(r.regex);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `expected a valid regular expression (${(e as Error).message})` });
      }
    }
    if (r.minLength !== undefined && r.maxLength !== undefined && r.minLength > r.maxLength)
      ctx.addIssue({ code: 'custom', path: ['maxLength'], message: `expected maxLength >= minLength (${r.minLength})` });
  });
export type ParameterRule = z.infer<typeof ParameterRule>;

export const SqlText = z.string().trim().min(1);

export const Action = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('parameter'),
    name: z.string().regex(PARAM_NAME),
    /** What SSM's PutParameter takes (standard tier): 1 to 4,096 characters. */
    value: z
      .string()
      .min(1, 'expected a value of 1 to 4,096 characters (SSM refuses an empty parameter)')
      .max(PARAM_VALUE_MAX, "expected a value of 1 to 4,096 characters (the SSM standard tier's limit)"),
    description: z.string().optional(),
  }),
  z.strictObject({ type: z.literal('sql'), database: DbSide.default('target'), sql: SqlText, description: z.string().optional() }),
  z.strictObject({
    type: z.literal('command'),
    script: z.string().min(1),
    timeoutSeconds: z.number().int().min(1).max(172800).default(600),
    description: z.string().optional(),
  }),
  /**
   * Rollback only: restore the backup the run made before Schema (spec.backup) (seed 000: "restore from backup").
   * Locally in place. In AWS a snapshot restores only to a new cluster: it is made beside the old one (same engine,
   * network, parameter group, writer class, Data API), followed across invocations by the state machine's Wait loop
   * for up to timeoutSeconds, then `selector` (the parameter the application finds its database by) is flipped to it.
   */
  z.strictObject({
    type: z.literal('restore'),
    selector: z.strictObject({ parameter: z.string().regex(PARAM_NAME), value: z.enum(['endpoint', 'arn']).default('endpoint') }).optional(),
    timeoutSeconds: z.number().int().min(60).max(172800).default(10_800),
    description: z.string().optional(),
  }),
]);
export type Action = z.infer<typeof Action>;

export const BackfillTask = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'expected 1-64 of a-z 0-9 _ -'),
    /** Where rows are written. */
    database: DbSide.default('target'),
    /** Table written (for sql: the table whose key is split into ranges: integer ranges, or keyset ranges of a text / uuid key). */
    table: z.string().regex(SQL_IDENT, 'expected a table name'),
    key: z.string().regex(SQL_IDENT, 'expected a column name'),
    batchSize: z.number().int().min(1).max(10_000_000).default(10_000),
    /** (a) One statement using :lo and :hi (inclusive key range), run in place. */
    sql: SqlText.optional(),
    /** (b) Copy rows from another table (same database: INSERT ... SELECT; another: pages under 1 MiB); existing keys are kept. */
    copyFrom: z.strictObject({ database: DbSide.default('source'), table: z.string().regex(SQL_IDENT, 'expected a table name') }).optional(),
    /** (c) Load JSONL / CSV files, one chunk per file, keeping only rows inside the seed 003 range contract. */
    load: z
      .strictObject({
        files: z.array(z.string().min(1)).min(1),
        format: z.enum(['jsonl', 'csv']),
        /** Column holding the event time the range contract applies to. */
        timeColumn: z.string().regex(SQL_IDENT),
        /** backfill: [tCutover-24h, tCutover-1s]; sync: tCutover and later. */
        range: z.enum(['backfill', 'sync']).default('backfill'),
      })
      .optional(),
  })
  .superRefine((t, ctx) => {
    const kinds = [t.sql, t.copyFrom, t.load].filter((x) => x !== undefined).length;
    if (kinds !== 1) {
      ctx.addIssue({ code: 'custom', message: `expected exactly one of "sql", "copyFrom" or "load" in backfill task "${t.name}"` });
      return;
    }
    if (t.sql) requireKeyRange(t.sql, 'backfill SQL', ctx);
  });
export type BackfillTask = z.infer<typeof BackfillTask>;

/** The key-range placeholders a statement run per range must use (inclusive bounds). */
export function requireKeyRange(sql: string, what: string, ctx: z.RefinementCtx): void {
  for (const p of [':lo', ':hi'])
    if (!new RegExp(`${p}(?![A-Za-z0-9_])`).test(sql)) ctx.addIssue({ code: 'custom', path: ['sql'], message: `expected the key-range placeholder ${p} in the ${what}` });
}

/**
 * A query that must return zero rows (a row is a violation, shown in evidence). One statement must end within one
 * Data API call (45 s); over a big table, `ranges` runs it once per range of `table`'s integer key, binding :lo and :hi.
 */
export const Assertion = z
  .strictObject({
    name: z.string().min(1),
    database: DbSide.default('target'),
    sql: SqlText,
    ranges: z
      .strictObject({
        table: z.string().regex(SQL_IDENT, 'expected a table name'),
        /** An integer column; default: the table's integer primary key. */
        key: z.string().regex(SQL_IDENT, 'expected a column name').optional(),
        /** Key values per statement. */
        span: z.number().int().min(1).max(1_000_000_000).default(1_000_000),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (a.ranges) requireKeyRange(a.sql, `assertion SQL (it runs per range of ${a.ranges.table})`, ctx);
  });


/** Where a runbook check runs: the stage it guards, and so the class its failure gets unless it names another. */
/** `phase`: run only where a phase names it (its entryChecks, before its actions; its exitChecks, after its soak). */
export const CHECK_POINTS = ['preflight', 'schema', 'verify', 'promotion', 'smoke', 'phase'] as const;
export type CheckPoint = (typeof CHECK_POINTS)[number];
/** The classes a check may name (seed 003's decision matrix). */
export const CHECK_CLASSES = ['ENVIRONMENT_BLOCKED', 'MIGRATION_FAILED', 'BACKFILL_FAILED', 'VERIFY_FAILED', 'GATE_FAILED', 'SYNC_FAILED', 'SMOKE_FAILED', 'IDEMPOTENCY_FAILED'] as const;

/**
 * A runbook check (seed 000's contract tests, seed 003's prechecks and sync gate, seed 004's migration-history
 * check): one of `sql` (no rows, or the first value within bounds), `http` (status, body SHA-256 and length, the
 * canonical JSON hash) or `command` (jumpbox / local shell: exit code, output kept). `at` is the stage it runs in:
 * preflight, schema (after the expand migrations), verify, promotion (after the gates, before the go/no-go: a failure
 * never promotes), smoke (after cutover: a failure rolls back).
 */
export const Check = z
  .strictObject({
    name: z.string().min(1).max(120),
    at: z.enum(CHECK_POINTS),
    /** The NO_GO class of a failure; default: the class of the stage it guards (promotion and smoke: SMOKE_FAILED). */
    classification: z.enum(CHECK_CLASSES).optional(),
    description: z.string().optional(),
    sql: z
      .strictObject({
        sql: SqlText,
        database: DbSide.default('target'),
        /** Absent: the statement must return no rows. Present: its first value must be a number within [min, max]. */
        expect: z.strictObject({ min: z.number().optional(), max: z.number().optional() }).optional(),
      })
      .optional(),
    http: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }),
        method: z.enum(['GET', 'HEAD', 'POST', 'PUT']).default('GET'),
        body: z.string().optional(),
        expectStatus: z.number().int().min(100).max(599).default(200),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
        via: z.enum(['lambda', 'jumpbox']).default('lambda'),
        /** Fields dropped at any depth before the canonical JSON hash (volatile fields like event_time). */
        ignoreFields: z.array(z.string().min(1)).default([]),
        /** The canonical hash the payload must have (a contract test's golden response). */
        expectCanonicalSha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits').optional(),
      })
      .optional(),
    command: z
      .strictObject({
        script: z.string().min(1),
        timeoutSeconds: z.number().int().min(1).max(600).default(60),
        expectExit: z.number().int().min(0).max(255).default(0),
      })
      .optional(),
    /**
     * Parity (seed 002's shadow phase): the same requests to the old and the new endpoint; the statuses and the
     * canonical JSON (ignoreFields dropped) must be equal. Each differing request is reported with its fields.
     */
    parity: z
      .strictObject({
        baseline: z.url({ protocol: /^https?$/ }),
        candidate: z.url({ protocol: /^https?$/ }),
        requests: z
          .array(z.strictObject({ path: z.string().regex(/^\//, 'expected a path starting with /'), method: z.enum(['GET', 'POST']).default('GET'), body: z.string().optional() }))
          .min(1)
          .max(50),
        ignoreFields: z.array(z.string().min(1)).default([]),
        timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
        via: z.enum(['lambda', 'jumpbox']).default('lambda'),
      })
      .optional(),
    /**
     * Performance (seed 001: roll back when it drops more than 20%): a request or a query timed `runs` times at
     * `baselineAt` (once, before the first attempt changed anything) and again at the check's `at`; the check fails
     * when the `metric` grew by more than `maxSlowdownPercent` and by more than `minSlowdownMs`.
     */
    performance: z
      .strictObject({
        baselineAt: z.enum(CHECK_POINTS).default('preflight'),
        request: z.strictObject({ url: z.url({ protocol: /^https?$/ }), method: z.enum(['GET', 'POST']).default('GET'), body: z.string().optional(), timeoutMs: z.number().int().min(100).max(30_000).default(5_000) }).optional(),
        query: z.strictObject({ sql: SqlText, database: DbSide.default('target') }).optional(),
        runs: z.number().int().min(3).max(200).default(20),
        metric: z.enum(['p50', 'p95']).default('p95'),
        maxSlowdownPercent: z.number().min(0).max(1000).default(20),
        /** Differences below this are noise, whatever the percent (a 1 ms → 2 ms "100% slower"). */
        minSlowdownMs: z.number().min(0).default(5),
        /** The most one timing (all runs) may take; past it the check fails instead of outliving its stage. */
        budgetSeconds: z.number().int().min(1).max(300).default(60),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const kinds = [c.sql, c.http, c.command, c.parity, c.performance].filter((x) => x !== undefined).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: `got ${kinds} of "sql", "http", "command", "parity" and "performance" in check "${c.name}"; expected exactly one` });
    const perf = c.performance;
    if (perf && [perf.request, perf.query].filter((x) => x !== undefined).length !== 1)
      ctx.addIssue({ code: 'custom', path: ['performance'], message: `expected exactly one of "request" and "query" in performance check "${c.name}"` });
    if (perf && CHECK_POINTS.indexOf(perf.baselineAt) >= CHECK_POINTS.indexOf(c.at))
      ctx.addIssue({ code: 'custom', path: ['performance', 'baselineAt'], message: `got "${perf.baselineAt}" for a check at "${c.at}"; expected a stage before it (${CHECK_POINTS.slice(0, CHECK_POINTS.indexOf(c.at)).join(', ') || 'none'})` });
    const e = c.sql?.expect;
    if (e && e.min !== undefined && e.max !== undefined && e.min > e.max) ctx.addIssue({ code: 'custom', path: ['sql', 'expect'], message: `got min ${e.min} > max ${e.max}; expected min <= max` });
  });
export type Check = z.infer<typeof Check>;

/**
 * A monitor watched during a phase's soak (seed 002's rollback signals): probed once a poll, each poll one window;
 * `failAfter` consecutive failing windows trip the rollback of every applied phase (seed 002: 3 windows).
 */
export const Monitor = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'expected 1-64 of a-z 0-9 _ -'),
    failAfter: z.number().int().min(1).max(10_000).default(3),
    description: z.string().optional(),
    /** A query: no rows, or its first value within [min, max] (a health table, an error count, a lag). */
    sql: z.strictObject({ sql: SqlText, database: DbSide.default('target'), expect: z.strictObject({ min: z.number().optional(), max: z.number().optional() }).optional() }).optional(),
    /**
     * A request, `samples` times a window: every status as expected, and the window's latency (`metric` over the
     * samples) under maxLatencyMs, and within maxSlowdownPercent of a baseline measured before the phase's actions
     * (more than minSlowdownMs slower, and by more than the percent, fails).
     */
    http: z
      .strictObject({
        url: z.url({ protocol: /^https?$/ }),
        method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
        body: z.string().optional(),
        expectStatus: z.number().int().min(100).max(599).default(200),
        samples: z.number().int().min(1).max(20).default(1),
        metric: z.enum(['p50', 'p95']).default('p95'),
        maxLatencyMs: z.number().int().min(1).max(60_000).optional(),
        maxSlowdownPercent: z.number().min(0).max(1000).optional(),
        minSlowdownMs: z.number().min(0).default(5),
        timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
      })
      .optional(),
    /** A jumpbox command (SSM Run Command; locally the shell): its exit code. */
    command: z.strictObject({ script: z.string().min(1), timeoutSeconds: z.number().int().min(1).max(120).default(30), expectExit: z.number().int().min(0).max(255).default(0) }).optional(),
    /** A CloudWatch alarm (DescribeAlarms; locally spec.local.alarms stands in): a window fails while it is in ALARM or is not there. */
    alarm: z.strictObject({ name: z.string().min(1).max(255) }).optional(),
  })
  .superRefine((m, ctx) => {
    const kinds = [m.sql, m.http, m.command, m.alarm].filter((x) => x !== undefined).length;
    if (kinds !== 1) ctx.addIssue({ code: 'custom', message: `got ${kinds} of "sql", "http", "command" and "alarm" in monitor "${m.name}"; expected exactly one` });
  });
export type Monitor = z.infer<typeof Monitor>;

/**
 * A phase of a progressive cutover (seed 002: shadow, canary, default, full; seed 001: a table group a week), after
 * the go/no-go and the smoke checks: its actions, then a soak of `seconds` polled every `pollSeconds` with its
 * monitors. A tripped monitor rolls back every applied phase in reverse order (each by its `rollback` actions, or by
 * putting back the value each parameter it flipped had before), then the run's rollback actions.
 */
export const Phase = z.strictObject({
  name: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'expected 1-64 of a-z 0-9 _ -'),
  description: z.string().optional(),
  actions: z.array(Action).min(1),
  /**
   * Versions of the contract files (migrations.contractLocation) this phase applies after its actions (seed 001: a
   * table group's key swap); Cutover applies the contract files no phase names.
   */
  contract: z.array(z.string().regex(/^\d+(\.\d+)*$/, 'expected a migration version like 4 or 4.1')).default([]),
  rollback: z.array(Action).optional(),
  /** Checks of spec.checks (at "phase") run after the sign-off, before the actions; a failure rolls back the applied phases. */
  entryChecks: z.array(z.string().min(1)).default([]),
  /** Exit criteria: checks of spec.checks (at "phase") run after the soak; a failure rolls back (seed 001: performance within 20%). */
  exitChecks: z.array(z.string().min(1)).default([]),
  /**
   * A sign-off before the phase's actions (Argo's pause + promote): the same signed-link go/no-go as the run's, on
   * the spec's channels, with its own approvers (default: the run's), M of N and timeout. A reject rolls back.
   */
  approval: z
    .strictObject({
      approvers: z.array(z.string().min(1)).min(1).optional(),
      required: z.number().int().min(1).max(20).default(1),
      timeoutSeconds: z.number().int().min(2).max(31_536_000).default(86_400),
    })
    .optional(),
  soak: z
    .strictObject({
      /** Up to 30 days: a soak is Wait states in child executions, never a sleeping function. */
      seconds: z.number().int().min(1).max(2_592_000),
      pollSeconds: z.number().int().min(1).max(3600).default(60),
      monitors: z.array(Monitor).default([]),
    })
    .optional(),
});
export type Phase = z.infer<typeof Phase>;
