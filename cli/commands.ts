/**
 * cutline CLI commands. Exit codes:
 *   0  success: spec valid / run ended GO / execution started / run running or
 *      succeeded (status, watch) / evidence matches its manifest
 *   1  the run ended NO_GO (classification printed), the run failed (status,
 *      watch), evidence does not match its manifest (verify)
 *   2  bad input: invalid spec, unreadable file, bad argument, unknown run
 *   3  unexpected error
 */
import { Command, InvalidArgumentError } from 'commander';
import { approveCommands } from './commands/approve';
import { phaseControlCommands } from './commands/phase-control';
import { evidenceCommands } from './commands/evidence';
import { estimateCommands } from './commands/estimate';
import { planCommands } from './commands/plan';
import { rollbackCommand } from './commands/rollback';
import { runCommands } from './commands/run';
import { statusCommands } from './commands/status';
import { EXIT, type Io, UsageError } from './io';
import { RunnerBusyError } from './runner-lock';
import { SpecFileError } from './spec-file';

export function buildCli(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('cutline')
    .description('Gated database cutovers: preflight, schema, backfill, verify, gates, go/no-go, cutover, smoke, evidence.')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  $ cutline validate examples/agent-uuid/spec.json
  $ cutline run examples/agent-uuid/spec.json --local --auto-approve
  $ cutline run spec.json --local --source-url postgres://postgres@127.0.0.1:5432/app
  $ cutline lint examples/agent-uuid/migrations
  $ cutline plan examples/agent-uuid/spec.json
  $ cutline plan uuid --source-url postgres://postgres@127.0.0.1:5432/app --out uuid-plan
  $ cutline start spec.json --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline approve prod-2026-11-21 --comment "counts and hashes match" --bucket cutline-evidence --approvals-bucket cutline-approvals
  $ cutline watch prod-2026-11-21 --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline status demo-agent-uuid-20261121T020000 --json
  $ cutline resume prod-2026-11-21 --state-machine-arn arn:aws:states:eu-west-1:123456789012:stateMachine:cutline
  $ cutline evidence verify demo-agent-uuid-20261121T020000
  $ cutline evidence verify prod-2026-11-21 --bucket cutline-evidence

Exit codes: 0 valid / GO / started / running or succeeded / evidence intact,
1 NO_GO / run failed / evidence tampered, 2 bad input, 3 unexpected error.
Every command takes --json. Colors only on a terminal (NO_COLOR honored).`,
    );

  runCommands(program, io, setExit);
  planCommands(program, io, setExit);
  estimateCommands(program, io, setExit);
  rollbackCommand(program, io, setExit);
  statusCommands(program, io, setExit);
  evidenceCommands(program, io, setExit);
  approveCommands(program, io, setExit);
  phaseControlCommands(program, io, setExit);

  const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cutline';
  const examples: Record<string, string[]> = {
    validate: ['cutline validate spec.json', 'cutline validate spec.json --platform aws --json'],
    run: ['cutline run spec.json --local', 'cutline run spec.json --local --auto-approve --evidence-dir evidence'],
    start: [`cutline start spec.json --state-machine-arn ${SM}`],
    plan: ['cutline plan spec.json', 'cutline plan uuid --source-url postgres://postgres@127.0.0.1:5432/app --out uuid-plan'],
    lint: ['cutline lint migrations/'],
    status: ['cutline status demo-agent-uuid-20261121T020000', `cutline status prod-2026-11-21 --state-machine-arn ${SM} --json`],
    watch: [`cutline watch prod-2026-11-21 --state-machine-arn ${SM} --interval 10`],
    resume: [`cutline resume prod-2026-11-21 --state-machine-arn ${SM}`],
    approve: ['cutline approve prod-2026-11-21 --comment "counts and hashes match" --bucket cutline-evidence --approvals-bucket cutline-approvals'],
    reject: ['cutline reject prod-2026-11-21 --comment "orders differ: see 07_gates/diff.txt" --bucket cutline-evidence --approvals-bucket cutline-approvals'],
    abort: ['cutline abort canary-2026-12-01 --comment "p95 alarm on the canary fleet" --evidence-dir evidence', 'cutline abort prod-2026-12-01 --comment "error spike" --bucket cutline-evidence'],
    promote: ['cutline promote canary-2026-12-01 --comment "24 h clean, ship it" --evidence-dir evidence', 'cutline promote prod-2026-12-01 --comment "soak held" --bucket cutline-evidence'],
    rollback: ['cutline rollback demo-agent-uuid-20261121T020000', 'cutline rollback prod-2026-11-21 --function <RollbackFunctionName> --bucket cutline-evidence'],
    ls: ['cutline evidence ls demo-agent-uuid-20261121T020000', 'cutline evidence ls prod-2026-11-21 --bucket cutline-evidence --json'],
    get: ['cutline evidence get prod-2026-11-21 07_gates/diff.txt --bucket cutline-evidence'],
    verify: ['cutline evidence verify demo-agent-uuid-20261121T020000', 'cutline evidence verify prod-2026-11-21 --bucket cutline-evidence --json'],
    open: ['cutline evidence open demo-agent-uuid-20261121T020000'],
  };
  const walk = (c: Command) => {
    const ex = examples[c.name()];
    if (ex && c !== program) c.addHelpText('after', `\nExamples:\n${ex.map((e) => `  $ ${e}`).join('\n')}`);
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildCli(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string; name?: string };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT.OK;
    if (e instanceof UsageError || e instanceof SpecFileError || e instanceof RunnerBusyError || err.name === 'MigrationFailed') {
      io.err(`error: ${err.message}`);
      return EXIT.BAD_INPUT;
    }
    if (err.code?.startsWith('commander.')) return EXIT.BAD_INPUT;
    if (e instanceof InvalidArgumentError) {
      io.err(`error: ${err.message}`);
      return EXIT.BAD_INPUT;
    }
    io.err(`unexpected error: ${err.name}: ${err.message}`);
    return EXIT.ERROR;
  }
}
