/**
 * Run spec v1: the one schema for a state machine execution's input.
 * `cutline validate` and the ValidateSpec state both parse with it; a JSON
 * Schema generated from it ships for editors (schema/run-spec.v1.json).
 */
import { z } from 'zod';
import { CLAIM_SECONDS, COMMAND_LOOP_EVENTS, commandLooks, EVENTS_PER_LOOK } from './command-loop';
import { splitStatements } from './sql-lexer';
import { SOAK_POLL_SECONDS, STAGE_FUNCTION_SECONDS, STATES } from './states';

/** The Data API ends a call after 45 seconds (unless continueAfterTimeout): the longest one statement of a chunk takes. */
const DATA_API_CALL_SECONDS = 45;

const RUN_ID = /^[A-Za-z0-9_-]{1,80}$/;
const UTC_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** A real instant in that form: 2026-13-45T25:61:00Z has the shape but is no date. */
export function isUtcInstant(v: string): boolean {
  if (!UTC_ISO.test(v)) return false;
  const [y, mo, d, h, mi, s] = v.match(/\d+/g)!.map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}
import { Action, Assertion, BackfillTask, Check, CHECK_POINTS, DatabaseRef, DbSide, PARAM_NAME, ParameterRule, Phase, SNS_ARN, SQL_IDENT, SqlText } from './spec-parts';


export { Action, Assertion, BackfillTask, Check, CHECK_POINTS, DataApiRef, DatabaseRef, DbSide, Engine, engineOfUrl, Monitor, ParameterRule, Phase, URL_ENGINES } from './spec-parts';

export const RunSpec = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1),
    runId: z.string().regex(RUN_ID, 'expected 1-80 letters, digits, "-" or "_" (it names the execution)'),
    owner: z.string().min(1),
    tCutover: z.string().regex(UTC_ISO, 'expected a UTC ISO-8601 time like 2026-11-21T02:00:00Z').refine(isUtcInstant, 'expected a real UTC time (month 01-12, day within the month, hour < 24, minute and second < 60)'),
    description: z.string().optional(),
    source: DatabaseRef,
    /** Omitted: the migration is in place, on the source database. */
    target: DatabaseRef.optional(),
    preflight: z
      .strictObject({
        minVersion: z.strictObject({ postgres: z.string().optional(), mysql: z.string().optional() }).prefault({}),
        parameters: z.array(ParameterRule).default([]),
      })
      .prefault({}),
    migrations: z
      .strictObject({
        /** A folder (local), s3://bucket/prefix/ (AWS), or "bundled" (the files below travel in the spec) of versioned .sql files: V1__name.sql, V2__... */
        location: z.string().min(1),
        /** location "bundled": the files themselves (keep the execution input under 256 KB). */
        files: z.array(z.strictObject({ name: z.string().min(1), body: z.string() })).optional(),
        database: DbSide.default('target'),
        /** Contract files (drops, renames): applied by the Cutover stage, after the go/no-go. Versions follow the expand files. */
        contractLocation: z.string().min(1).optional(),
        historyTable: z.string().regex(SQL_IDENT).default('cutline_schema_history'),
        /** An existing database: files up to this version count as applied (recorded, not run). */
        baselineVersion: z.string().regex(/^\d+([._]\d+)*$/, 'expected a version like 3 or 2.1').optional(),
        /** The lease that keeps two runs from migrating one database expires after this long. */
        leaseSeconds: z.number().int().min(30).max(86_400).default(900),
        /** PostgreSQL: each file waits at most this long for a lock, then retries (never queues behind traffic). */
        lockTimeoutMs: z.number().int().min(100).max(600_000).default(5000),
        lockRetries: z.number().int().min(0).max(20).default(3),
      })
      .optional(),
    /** Seed 004: bulk copies on the jumpbox (pg_dump | pg_restore, pgcopydb, mysqldump) before the backfill tasks. */
    bulkCopy: z
      .strictObject({
        commands: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'expected 1-64 of a-z 0-9 _ -'),
              script: z.string().min(1),
              /** The script is stopped after this long (SSM executionTimeout); the run ends BACKFILL_FAILED. */
              timeoutSeconds: z.number().int().min(1).max(172_800).default(3600),
              /** Seconds between status checks (a Wait state, not a sleeping Lambda). */
              pollSeconds: z.number().int().min(1).max(3600).default(15),
            }),
          )
          .default([]),
      })
      .prefault({}),
    backfill: z
      .strictObject({
        tasks: z.array(BackfillTask).default([]),
        maxConcurrency: z.number().int().min(1).max(40).default(4),
        /** A phase of more chunks than this (or of items over 64 KiB) runs as a Distributed Map reading its items from evidence. */
        distributedAbove: z.number().int().min(1).default(1000),
        /** Pause after each chunk, to leave the database room. */
        pauseMs: z.number().int().min(0).max(600_000).default(0),
        /** Before each chunk: while this query returns a row whose first column is true / > 0, wait. */
        busyQuery: z.strictObject({ sql: SqlText, database: DbSide.default('target'), pollMs: z.number().int().min(10).default(2000), maxWaitMs: z.number().int().min(100).default(600_000) }).optional(),
      })
      .prefault({}),
    verify: z
      .strictObject({
        tables: z.array(z.string().regex(SQL_IDENT, 'expected a table name')).default([]),
        /** source-vs-target: compare the two databases; before-vs-after: counts at preflight vs after backfill (in place). */
        rowCounts: z.enum(['source-vs-target', 'before-vs-after']).default('source-vs-target'),
        /** Each query must return zero rows (a row is a violation, shown in evidence). */
        assertions: z.array(Assertion).default([]),
        integrity: z
          .strictObject({
            /** Seed 004's state store: these keys must exist in the table. */
            stateStore: z
              .strictObject({
                table: z.string().regex(SQL_IDENT),
                keyColumn: z.string().regex(SQL_IDENT),
                requiredKeys: z.array(z.string().min(1)).min(1),
                database: DbSide.default('target'),
              })
              .optional(),
            /** Anti-join every foreign key of these tables (target) for orphans. */
            foreignKeys: z.array(z.string().regex(SQL_IDENT)).default([]),
            /** New key columns: no NULL, no duplicate. */
            newKeys: z.array(z.strictObject({ table: z.string().regex(SQL_IDENT), column: z.string().regex(SQL_IDENT), database: DbSide.default('target') })).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    gates: z
      .strictObject({
        /** The count tolerance as written: rows, percent of the expected count, or both (each bound written holds); neither is exact equality. */
        fast: z
          .strictObject({
            toleranceRows: z.number().int().min(0).optional(),
            tolerancePercent: z.number().min(0).max(100).optional(),
          })
          .prefault({}),
        /** Method gates run per chunk on both sides: fast = exact counts, exact = canonical row hashes. */
        methods: z.array(z.enum(['fast', 'exact'])).min(1).default(['fast']),
        /** Tables compared chunk by chunk (source vs target). */
        tables: z
          .array(
            z.strictObject({
              table: z.string().regex(SQL_IDENT, 'expected a table name'),
              targetTable: z.string().regex(SQL_IDENT).optional(),
              /** For a table without a primary key: unique, not-null key columns. */
              key: z.array(z.string().regex(SQL_IDENT)).min(1).optional(),
              exclude: z.array(z.string().regex(SQL_IDENT)).default([]),
              columnMap: z.record(z.string(), z.string()).optional(),
            }),
          )
          .default([]),
        /** Chunk size aims at this many seconds per chunk (moving average of measured rows/s). */
        chunkSeconds: z.number().min(0.01).max(60).default(0.5),
        initialChunkRows: z.number().int().min(10).default(5000),
        maxChunkRows: z.number().int().min(10).default(500_000),
        /** A mismatching chunk is read again this many times; changing reads mean UNSTABLE (live writes). */
        recheck: z.number().int().min(0).max(10).default(3),
        /** Differing keys listed per table at most. */
        maxDiffs: z.number().int().min(1).max(10_000).default(100),
        buckets: z.number().int().min(64).max(256).default(128),
        /** Chunks checked at once on each side (gateLanes): inline, default 4; also the Distributed Map's, when set and distributedConcurrency is not. */
        maxConcurrency: z.number().int().min(1).max(1000).optional(),
        /** Above this many chunks a Distributed Map checks batches of chunks. */
        distributedAbove: z.number().int().min(1).default(1000),
        /**
         * Child executions (each one chunk at a time) at once on the Distributed Map; default maxConcurrency when set,
         * else 16: one chunk query per vCPU of a 16-vCPU Aurora writer on each side (db.r6g.4xlarge; docs/scale.md).
         */
        distributedConcurrency: z.number().int().min(1).max(10_000).optional(),
        toleratedFailurePercentage: z.number().min(0).max(100).default(0),
      })
      .prefault({}),
    jumpbox: z
      .strictObject({
        /** EC2 instance id managed by SSM, or "local" for the local shell. */
        instanceId: z.string().regex(/^(i-[0-9a-f]{8,17}|mi-[0-9a-f]{17}|local)$/, 'expected an instance id like i-0abc12345678def01 or "local"'),
      })
      .optional(),
    approval: z
      .strictObject({
        /** Seconds the go/no-go waits before the run ends NO_GO / APPROVAL_TIMEOUT. */
        timeoutSeconds: z.number().int().min(2).max(31_536_000).default(86_400),
        channels: z
          .array(
            z.discriminatedUnion('type', [
              z.strictObject({ type: z.literal('email'), topicArn: z.string().regex(SNS_ARN, 'expected an SNS topic ARN') }),
              z.strictObject({ type: z.literal('slack'), webhookParameter: z.string().regex(PARAM_NAME) }),
              z.strictObject({ type: z.literal('local') }),
            ]),
          )
          .min(1, 'expected at least one approval channel: nobody could answer the go/no-go')
          .default([{ type: 'local' }]),
        approvers: z.array(z.string().min(1)).optional(),
        /** M of N: approvals needed before GO (one reject decides NO_GO). */
        required: z.number().int().min(1).default(1),
        /**
         * The go/no-go also ends (APPROVAL_TIMEOUT) when nobody has opened the link or voted for this long;
         * every view and vote is a heartbeat. Less than timeoutSeconds. Default: one second less than the timeout (no separate heartbeat).
         */
        heartbeatSeconds: z.number().int().min(1).optional(),
      })
      .prefault({}),
    cutover: z.strictObject({ actions: z.array(Action).default([]) }).default({ actions: [] }),
    smoke: z
      .strictObject({
        /** smoke: after cutover (a failure rolls back); promotion: before the go/no-go, so a failure never promotes (seed 003). */
        at: z.enum(['smoke', 'promotion']).default('smoke'),
        checks: z
          .array(
            z.strictObject({
              name: z.string().min(1),
              url: z.url({ protocol: /^https?$/ }),
              method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
              expectStatus: z.number().int().min(100).max(599),
              timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
              /** lambda: from the smoke function (or this machine locally); jumpbox: curl on the jumpbox (private endpoints). */
              via: z.enum(['lambda', 'jumpbox']).default('lambda'),
              /**
               * Idempotency (seed 003): read the url, replay (a jumpbox command or an HTTP request), read again; the
               * canonical payload hashes (JSON, sorted keys, ignoreFields removed at any depth) must be equal.
               */
              replay: z
                .union([
                  z.strictObject({ script: z.string().min(1), timeoutSeconds: z.number().int().min(1).default(300) }),
                  z.strictObject({ url: z.url({ protocol: /^https?$/ }), method: z.enum(['GET', 'POST', 'PUT']).default('POST'), body: z.string().optional() }),
                ])
                .optional(),
              ignoreFields: z.array(z.string().min(1)).default([]),
            }),
          )
          .default([]),
      })
      .prefault({}),
    rollback: z.strictObject({ actions: z.array(Action).default([]) }).default({ actions: [] }),
    /** A progressive cutover: phases after the go/no-go and the smoke checks (none: the cutover is the one phase). */
    phases: z.array(Phase).max(20).default([]),
    /**
     * A backup before Schema changes anything (seeds 000, 001, 004: "full database backup captured and validated"):
     * in AWS an Aurora cluster snapshot of that database's cluster, locally a dump checked by reading it back. Made
     * once per run; its identifier, location and (for a dump) SHA-256 are evidence (03_schema_backup.json).
     */
    backup: z.strictObject({ database: DbSide.default('target') }).optional(),
    /** Runbook checks, each run in the stage its `at` names (see Check). */
    checks: z.array(Check).default([]),
    /**
     * Evidence file names. cutline: one JSON record per stage (01_validate.json ... 99_summary.json).
     * seed003: also the seed 003 contract's names (01_precheck.log ... 09_rollback_or_no_rollback.log, 99_summary.md).
     * seed004: also seed 004's artifacts under verify/ (src-/tgt-rowcounts-<ts>.txt, method-diff-<fast|exact>-<ts>.patch, state-store-gate-<ts>.txt, ...).
     */
    evidence: z.strictObject({ profile: z.enum(['cutline', 'seed003', 'seed004']).default('cutline') }).prefault({}),
    /** Local runs only (ignored in AWS): seed SQL for an embedded database and a parameters file. */
    local: z
      .strictObject({
        seed: z.array(z.string().min(1)).default([]),
        parameters: z.string().min(1).optional(),
        /** A JSON file standing in for CloudWatch alarms ({ "<name>": "OK" | "ALARM" | "INSUFFICIENT_DATA" }), read at every poll; default <work-dir>/<runId>/alarms.json. */
        alarms: z.string().min(1).optional(),
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    // Cutover and Rollback look at a running jumpbox command once per Task call, in the state machine's Wait loop:
    // every look is history events, and an execution has 25,000.
    // A restore to a new cluster is followed the same way while the cluster is being made.
    const looped = [...s.cutover.actions, ...s.rollback.actions, ...s.phases.flatMap((p) => [...p.actions, ...(p.rollback ?? [])])].filter((a) => a.type === 'command' || a.type === 'restore');
    const looks = looped.reduce((n, a) => n + commandLooks(a.timeoutSeconds + (a.type === 'command' ? CLAIM_SECONDS : 0)), 0);
    if (looks * EVENTS_PER_LOOK > COMMAND_LOOP_EVENTS)
      ctx.addIssue({
        code: 'custom',
        path: [s.cutover.actions.some((a) => a.type === 'command') ? 'cutover' : 'rollback', 'actions'],
        message: `got jumpbox commands and restores (cutover, rollback and phases: timeoutSeconds ${looped.map((a) => a.timeoutSeconds).join(', ')}) that the state machine may look at ${looks} times, ${looks * EVENTS_PER_LOOK} history events; expected at most ${COMMAND_LOOP_EVENTS} (a fifth of an execution's 25,000): lower their timeoutSeconds, or run a longer job as a bulkCopy command`,
      });
    // A backfill chunk waits for a busy database, pauses and runs its statement inside one invocation of its function.
    if (s.backfill.busyQuery) {
      const need = (s.backfill.busyQuery.maxWaitMs + s.backfill.pauseMs) / 1000 + DATA_API_CALL_SECONDS;
      if (need > STAGE_FUNCTION_SECONDS - 60)
        ctx.addIssue({
          code: 'custom',
          path: ['backfill', 'busyQuery', 'maxWaitMs'],
          message: `got ${s.backfill.busyQuery.maxWaitMs}; with backfill.pauseMs ${s.backfill.pauseMs} and one statement (${DATA_API_CALL_SECONDS} s) a chunk may take ${Math.ceil(need)} s; expected at most ${STAGE_FUNCTION_SECONDS - 60} s, what the ${STATES.backfillChunk} function's ${STAGE_FUNCTION_SECONDS} s leave`,
        });
    }
    // Smoke runs its requests inside one Lambda invocation: together they must fit the function's timeout.
    const smokeNeed = s.smoke.checks.reduce((n, c) => n + (c.timeoutMs / 1000) * (c.replay ? 3 : 1) + (c.via === 'jumpbox' ? 30 * (c.replay ? 3 : 1) : 0) + (c.replay && 'script' in c.replay ? c.replay.timeoutSeconds + 30 : 0), 0);
    if (smokeNeed > STAGE_FUNCTION_SECONDS - 60)
      ctx.addIssue({
        code: 'custom',
        path: ['smoke', 'checks'],
        message: `got smoke checks that may take ${Math.ceil(smokeNeed)} s together; expected at most ${STAGE_FUNCTION_SECONDS - 60} s, what the Smoke function's ${STAGE_FUNCTION_SECONDS} s leave`,
      });
    // Step Functions: HeartbeatSeconds must be smaller than TimeoutSeconds (else the state fails with States.Runtime).
    if (s.approval.heartbeatSeconds !== undefined && s.approval.heartbeatSeconds >= s.approval.timeoutSeconds)
      ctx.addIssue({ code: 'custom', path: ['approval', 'heartbeatSeconds'], message: `got ${s.approval.heartbeatSeconds}; expected less than approval.timeoutSeconds (${s.approval.timeoutSeconds})` });
    if (s.approval.required > 1 && !s.approval.approvers?.length)
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'required'],
        message: `got ${s.approval.required} approvals required without approval.approvers; expected a named approvers list (each vote counts only through that approver's own signed link), or required: 1`,
      });
    if (s.approval.approvers && s.approval.required > s.approval.approvers.length)
      ctx.addIssue({ code: 'custom', path: ['approval', 'required'], message: `got ${s.approval.required} approvals required from ${s.approval.approvers.length} approvers; expected at most the number of approvers` });
    if (s.migrations && (s.migrations.location === 'bundled') !== !!s.migrations.files)
      ctx.addIssue({ code: 'custom', path: ['migrations', 'files'], message: 'expected "files" exactly when location is "bundled"' });
    const usesCommands =
      [...s.cutover.actions, ...s.rollback.actions, ...s.phases.flatMap((p) => [...p.actions, ...(p.rollback ?? [])])].some((a) => a.type === 'command') ||
      s.bulkCopy.commands.length > 0 ||
      s.checks.some((c) => c.command || c.http?.via === 'jumpbox' || c.parity?.via === 'jumpbox') ||
      s.phases.some((p) => p.soak?.monitors.some((m) => m.command)) ||
      s.smoke.checks.some((c) => c.via === 'jumpbox' || (c.replay && 'script' in c.replay));
    if (usesCommands && !s.jumpbox)
      ctx.addIssue({ code: 'custom', path: ['jumpbox'], message: 'expected a jumpbox: bulk copy commands, cutover or rollback actions of type "command", command checks and requests via the jumpbox need one' });
    // A stage runs its checks inside one invocation of its function, after its own work: together they must fit what is left.
    for (const at of CHECK_POINTS) {
      // A performance check is timed twice: at its baseline point and at its own.
      const need = checksSeconds(s, at);
      if (need > (STAGE_FUNCTION_SECONDS - 60) / 2)
        ctx.addIssue({
          code: 'custom',
          path: ['checks'],
          message: `got checks at "${at}" that may take ${Math.ceil(need)} s together; expected at most ${(STAGE_FUNCTION_SECONDS - 60) / 2} s, half of what the stage function's ${STAGE_FUNCTION_SECONDS} s leave (the other half is the stage's own work)`,
        });
    }
    // A restore brings back the backup made before Schema: there must be one, and it undoes a run, so it only rolls back.
    s.cutover.actions.forEach((a, i) => {
      if (a.type === 'restore') ctx.addIssue({ code: 'custom', path: ['cutover', 'actions', i, 'type'], message: 'got "restore" in the cutover; expected it only in rollback.actions (it undoes the run)' });
    });
    s.rollback.actions.forEach((a, i) => {
      if (a.type === 'restore' && !s.backup)
        ctx.addIssue({ code: 'custom', path: ['rollback', 'actions', i, 'type'], message: 'got "restore" without spec.backup; expected a backup before Schema to restore (backup: { "database": "target" })' });
    });
    const phaseNames = new Set<string>();
    s.phases.forEach((p, i) => {
      if (phaseNames.has(p.name)) ctx.addIssue({ code: 'custom', path: ['phases', i, 'name'], message: `got "${p.name}" twice; expected each phase name once (evidence names phases by name)` });
      phaseNames.add(p.name);
      for (const [where, list] of [['actions', p.actions], ['rollback', p.rollback ?? []]] as const)
        list.forEach((a, j) => {
          if (a.type === 'restore') ctx.addIssue({ code: 'custom', path: ['phases', i, where, j, 'type'], message: 'got "restore" in a phase; expected it only in rollback.actions (it undoes the whole run)' });
        });
      for (const [where, names] of [['entryChecks', p.entryChecks], ['exitChecks', p.exitChecks]] as const)
        names.forEach((n, j) => {
          const c = s.checks.find((x) => x.name === n);
          if (c?.at !== 'phase')
            ctx.addIssue({ code: 'custom', path: ['phases', i, where, j], message: `got ${JSON.stringify(n)}, ${c ? `a check at "${c.at}"` : 'which is not in checks'}; expected the name of a check with "at": "phase"` });
        });
      p.contract.forEach((v, j) => {
        if (!s.migrations?.contractLocation)
          ctx.addIssue({ code: 'custom', path: ['phases', i, 'contract', j], message: `got version ${v}; expected migrations.contractLocation, where the contract files are` });
        else if (s.phases.some((o, k) => k < i && o.contract.includes(v)))
          ctx.addIssue({ code: 'custom', path: ['phases', i, 'contract', j], message: `got version ${v}, which an earlier phase applies; expected each contract version in one phase` });
      });
      const signers = p.approval?.approvers ?? s.approval.approvers;
      if (p.approval && signers && p.approval.required > signers.length)
        ctx.addIssue({ code: 'custom', path: ['phases', i, 'approval', 'required'], message: `got ${p.approval.required}; expected at most the ${signers.length} approver(s) who can sign off phase "${p.name}"` });
      const monitors = new Set<string>();
      (p.soak?.monitors ?? []).forEach((m, j) => {
        if (monitors.has(m.name)) ctx.addIssue({ code: 'custom', path: ['phases', i, 'soak', 'monitors', j, 'name'], message: `got "${m.name}" twice in phase "${p.name}"; expected each monitor name once` });
        monitors.add(m.name);
        if (m.sql && splitStatements(m.sql.sql, dbRef(s, m.sql.database).engine).length !== 1)
          ctx.addIssue({ code: 'custom', path: ['phases', i, 'soak', 'monitors', j, 'sql', 'sql'], message: 'expected exactly one statement' });
      });
      // One poll probes every monitor inside one SoakPoll invocation (its function: SOAK_POLL_SECONDS).
      const need = (p.soak?.monitors ?? []).reduce((n, m) => n + (m.http ? (m.http.samples * m.http.timeoutMs) / 1000 : m.command ? m.command.timeoutSeconds + 30 : m.alarm ? 5 : DATA_API_CALL_SECONDS), 0);
      if (need > SOAK_POLL_SECONDS - 30)
        ctx.addIssue({ code: 'custom', path: ['phases', i, 'soak', 'monitors'], message: `got monitors that may take ${Math.ceil(need)} s a poll together; expected at most ${SOAK_POLL_SECONDS - 30} s (one poll runs in a ${SOAK_POLL_SECONDS} s function): fewer monitors or shorter http timeoutMs` });
      if (p.soak && p.soak.pollSeconds > p.soak.seconds)
        ctx.addIssue({ code: 'custom', path: ['phases', i, 'soak', 'pollSeconds'], message: `got ${p.soak.pollSeconds}; expected at most the soak's ${p.soak.seconds} seconds` });
    });
    const checkNames = new Set<string>();
    const named = new Set(s.phases.flatMap((p) => [...p.entryChecks, ...p.exitChecks]));
    s.checks.forEach((c, i) => {
      if (c.at === 'phase' && !named.has(c.name))
        ctx.addIssue({ code: 'custom', path: ['checks', i, 'at'], message: `got "phase" for check "${c.name}", which no phase names; expected it in a phase's entryChecks or exitChecks` });
      if (checkNames.has(c.name)) ctx.addIssue({ code: 'custom', path: ['checks', i, 'name'], message: `got "${c.name}" twice; expected each check name once (evidence names checks by name)` });
      checkNames.add(c.name);
      if (c.sql) {
        const n = splitStatements(c.sql.sql, dbRef(s, c.sql.database).engine).length;
        if (n !== 1) ctx.addIssue({ code: 'custom', path: ['checks', i, 'sql', 'sql'], message: `got ${n} statements; expected exactly one` });
      }
    });
    if (s.verify.rowCounts === 'source-vs-target' && s.verify.tables.length > 0 && !s.target)
      ctx.addIssue({
        code: 'custom',
        path: ['verify', 'rowCounts'],
        message: 'got "source-vs-target" without a target database; expected a target, or "before-vs-after" for an in-place migration',
      });
    const names = new Set<string>();
    s.backfill.tasks.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['backfill', 'tasks', i, 'name'], message: `duplicate task name "${t.name}"` });
      names.add(t.name);
      if (t.sql) {
        // Found here, before anything runs: not after the migrations changed the database.
        const dialect = dbRef(s, t.database).engine;
        const n = splitStatements(t.sql, dialect).length;
        if (n !== 1) ctx.addIssue({ code: 'custom', path: ['backfill', 'tasks', i, 'sql'], message: `got ${n} statements; expected exactly one (each chunk runs it as one Data API call)` });
      }
    });
  });
export type RunSpec = z.infer<typeof RunSpec>;
export type RunSpecInput = z.input<typeof RunSpec>;

/** The longest a check can take: its own timeout, the jumpbox's round trip, or one Data API call. */
export function checkSeconds(c: Check): number {
  if (c.command) return c.command.timeoutSeconds + 30;
  if (c.http) return c.http.timeoutMs / 1000 + (c.http.via === 'jumpbox' ? 30 : 0);
  if (c.parity) return 2 * c.parity.requests.length * (c.parity.timeoutMs / 1000 + (c.parity.via === 'jumpbox' ? 30 : 0));
  if (c.performance) return c.performance.budgetSeconds;
  return DATA_API_CALL_SECONDS;
}

/** The longest the checks of one stage may take together (a performance check's baseline counts at its own point). */
export function checksSeconds(spec: Pick<RunSpec, 'checks'>, at: Check['at']): number {
  return spec.checks.filter((c) => c.at === at || c.performance?.baselineAt === at).reduce((n, c) => n + checkSeconds(c), 0);
}

/** The database a side refers to (target defaults to the source: in-place). */
export function dbRef(spec: RunSpec, side: DbSide): DatabaseRef {
  return side === 'target' ? (spec.target ?? spec.source) : spec.source;
}

export interface SpecProblem {
  readonly path: string;
  readonly message: string;
}

/** "$.backfill.tasks[0].sql" from zod's path array. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return `$${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Every problem of a zod error as "path: got X; expected Y". */
export function describeIssues(error: z.ZodError, input: unknown): SpecProblem[] {
  return error.issues.map((issue) => {
    const path = jsonPath(issue.path);
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; expected only the fields of run spec v1`;
    } else if (issue.code !== 'custom' || !/^got /.test(message)) {
      message = `got ${show(valueAt(input, issue.path))}; ${message.replace(/^Invalid input: /, '')}`;
    }
    return { path, message };
  });
}

export type ParseResult = { ok: true; spec: RunSpec } | { ok: false; problems: SpecProblem[] };

export function parseSpec(input: unknown): ParseResult {
  const r = RunSpec.safeParse(input);
  return r.success ? { ok: true, spec: r.data } : { ok: false, problems: describeIssues(r.error, input) };
}

/** Where a run executes; some spec choices only make sense in one of them. */
export function platformProblems(spec: RunSpec, platform: 'aws' | 'local'): SpecProblem[] {
  const out: SpecProblem[] = [];
  const sides: [string, DatabaseRef | undefined][] = [
    ['source', spec.source],
    ['target', spec.target],
  ];
  for (const [side, ref] of sides) {
    if (!ref) continue;
    if (platform === 'aws' && ref.url)
      out.push({ path: `$.${side}.url`, message: `got ${show(ref.url)}; a local URL cannot be reached from Lambda, expected "dataApi"` });
    if (platform === 'local' && ref.dataApi)
      out.push({ path: `$.${side}.dataApi`, message: 'got a Data API reference; a local run expects "url" (or --source-url / --target-url)' });
  }
  if (platform === 'aws' && spec.jumpbox?.instanceId === 'local')
    out.push({ path: '$.jumpbox.instanceId', message: 'got "local"; an AWS run expects an SSM-managed instance id' });
  for (const [i, a] of spec.rollback.actions.entries())
    if (platform === 'aws' && a.type === 'restore' && !a.selector)
      out.push({
        path: `$.rollback.actions[${i}].selector`,
        message:
          'got a "restore" action without a selector; in AWS an Aurora snapshot restores to a new cluster, so the application must be pointed at it: expected "selector": { "parameter": "<the SSM parameter your application reads its database endpoint from>" }',
      });
  if (platform === 'aws' && spec.approval.channels.some((c) => c.type === 'local'))
    out.push({ path: '$.approval.channels', message: 'got a "local" channel; an AWS run expects "email" or "slack"' });
  if (platform === 'aws' && spec.migrations && !spec.migrations.location.startsWith('s3://') && spec.migrations.location !== 'bundled')
    out.push({ path: '$.migrations.location', message: `got ${show(spec.migrations.location)}; an AWS run expects s3://bucket/prefix/ or "bundled"` });
  return out;
}
