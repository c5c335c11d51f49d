/** `evidence ls | get | verify | open`: read a run's evidence (a local folder, or S3) and check it against its manifest, signature and history. */
import { manifestKey } from '../../lambdas/core/evidence-layout';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { S3EvidenceStore } from '../../lambdas/adapters/aws/s3';
import { kmsPublicKeyPem } from '../../lambdas/adapters/aws/signer-kms';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { defaultSigningKeyPath, publicKeyPathOf } from '../../lambdas/adapters/local/signer-file';
import { errorMessage } from '../../lambdas/core/errors';
import { addendumKey, type Manifest, readAddenda, readEvidenceJson, sha256Hex, verifyEvidence } from '../../lambdas/core/evidence';
import { checkRootSignature, sealedLabel } from '../../lambdas/core/signature';
import type { EvidenceStore } from '../../lambdas/ports';
import { aws, EXIT, type Io, type SetExit, UsageError } from '../io';
import { recordedManifestRoot } from '../progress';
import { runHistory } from './status';

export function evidenceCommands(program: Command, io: Io, setExit: SetExit): void {
  const evidence = program.command('evidence').description('read and verify run evidence (a local folder, or S3 with --bucket)');
  const store = (o: { bucket?: string; evidenceDir: string }): EvidenceStore =>
    o.bucket ? new S3EvidenceStore(aws(io, 's3'), o.bucket) : new FsEvidenceStore(path.resolve(o.evidenceDir));
  const evidenceOpts = (c: Command) =>
    c.option('--bucket <name>', 'the evidence bucket (S3); default: the local folder').option('--evidence-dir <dir>', 'local evidence folder', 'evidence').option('--json', 'machine-readable output');
  evidenceOpts(evidence.command('ls').description("list a run's evidence files with their SHA-256").argument('<runId>')).action(async (runId: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
    const files = await store(o).list(`${runId}/`);
    if (!files.length) throw new UsageError(`no evidence for run ${runId} in ${store(o).location}`);
    if (o.json) io.out(JSON.stringify(files.map((f) => ({ file: f.key.slice(runId.length + 1), sha256: f.sha256, size: f.size })), null, 2));
    else for (const f of files) io.out(`${f.sha256.slice(0, 16)}  ${String(f.size).padStart(9)}  ${f.key.slice(runId.length + 1)}`);
    setExit(EXIT.OK);
  });
  evidenceOpts(evidence.command('get').description('print one evidence file').argument('<runId>').argument('<file>', 'e.g. 07_gates.json, summary.md')).action(
    async (runId: string, file: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
      const body = await store(o).get(`${runId}/${file}`);
      if (!body) throw new UsageError(`no file ${file} in the evidence of run ${runId} (${store(o).location}); try \`cutline evidence ls ${runId}\``);
      const text = Buffer.from(body).toString('utf8');
      io.out(o.json ? JSON.stringify({ runId, file, sha256: sha256Hex(body), size: body.length, body: text }) : text.trimEnd());
      setExit(EXIT.OK);
    },
  );
  evidenceOpts(
    evidence
      .command('verify')
      .description('recompute the manifest: name every changed, missing or added file, and check its root against the execution history (exit 1 if anything differs)')
      .argument('<runId>')
      .option('--public-key <file>', 'PEM public key the roots must be signed with (default: a local folder uses ~/.config/cutline/signing-key.pub.pem or $CUTLINE_SIGNING_KEY next to it)')
      .option('--signing-key-arn <arn>', 'AWS: the KMS signing key (stack output SigningKeyArn); its public key is fetched; default $CUTLINE_SIGNING_KEY_ARN')
      .option('--state-machine-arn <arn>', 'also check the root against the AWS execution history; default $CUTLINE_STATE_MACHINE_ARN (a local folder uses its execution-history.jsonl)')
      .option('--no-anchor', 'accept roots that are unsigned or cannot be checked (drops the guarantee that the manifest itself was not rebuilt over forged files)'),
  ).action(async (runId: string, o: { bucket?: string; evidenceDir: string; stateMachineArn?: string; publicKey?: string; signingKeyArn?: string; json?: boolean; anchor: boolean }) => {
    const s = store(o);
    const manifest = await readEvidenceJson<Manifest>(s, manifestKey(runId));
    if (!manifest) throw new UsageError(`no manifest.json for run ${runId} in ${s.location}; expected a run that reached Summary`);
    const now = new Map((await s.list(`${runId}/`)).map((f) => [f.key.slice(runId.length + 1), f.sha256]));
    const addenda = await readAddenda(s, runId);
    const problems = verifyEvidence(manifest, addenda, now);
    // The anchor: AWS history when asked for (its errors are errors), else a local folder's execution-history.jsonl when there is one.
    const aws = !!(o.stateMachineArn ?? io.env.CUTLINE_STATE_MACHINE_ARN);
    const history = aws ? await runHistory(io, runId, o) : o.bucket ? undefined : await runHistory(io, runId, o).catch((e) => (e instanceof UsageError ? undefined : Promise.reject(e)));
    const anchor = history ? recordedManifestRoot(history.events) : undefined;
    if (aws && !anchor && o.anchor)
      problems.push({ file: 'manifest.json', problem: 'anchor', detail: 'the execution history has no Summary result to check the root against; pass --no-anchor to accept that' });
    // The signature: without it (or without a key to check it), a manifest rebuilt over forged files verifies; a failure unless --no-anchor.
    const key = await verifyingKey(io, o);
    const sealed = [
      { file: 'manifest.json', name: 'manifest' as const, sig: manifest.signature, root: manifest.root },
      ...addenda.map((a) => ({ file: addendumKey(runId, a.sequence).slice(runId.length + 1), name: `addendum ${a.sequence}` as const, sig: a.signature, root: a.root })),
    ];
    for (const x of sealed) {
      if (x.sig && key) {
        const c = checkRootSignature(x.sig, key.pem, runId, x.name, x.root);
        if (!c.ok) problems.push({ file: x.file, problem: 'signature', detail: c.detail });
      } else if (o.anchor)
        problems.push({
          file: x.file,
          problem: 'signature',
          detail: x.sig
            ? `${sealedLabel(x.name)} is signed by ${x.sig.keyId}, but there is no public key to check it with (pass --public-key FILE or --signing-key-arn ARN); pass --no-anchor to accept an unchecked root`
            : `${sealedLabel(x.name)} is not signed: rebuilt over forged files, it would go unnoticed; pass --no-anchor to accept that`,
        });
    }
    // Only regular files are evidence: a symlink or any other kind of entry in a run's folder is tampering.
    if (!o.bucket) for (const odd of await irregularEntries(path.resolve(o.evidenceDir, runId))) problems.push({ file: odd, problem: 'added', detail: `${odd} is not a regular file (a link or device): tampering` });
    if (anchor && anchor !== manifest.root)
      problems.push({ file: 'manifest.json', problem: 'anchor', detail: `the manifest root ${manifest.root.slice(0, 12)}… differs from ${anchor.slice(0, 12)}…, the root the run recorded in its execution history: the manifest was replaced` });
    const later = addenda.map((a) => ({ sequence: a.sequence, reason: a.reason, written_utc: a.written_utc, files: a.files.map((f) => f.file) }));
    const signedBy = key && manifest.signature ? { keyId: manifest.signature.keyId, checkedWith: key.source } : undefined;
    if (o.json) io.out(JSON.stringify({ runId, files: manifest.files.length, root: manifest.root, signedBy, anchoredInHistory: !!anchor, addenda: later, ok: problems.length === 0, problems }, null, 2));
    else if (!problems.length) {
      io.out(
        `${runId}: ${manifest.files.length} files match the manifest (chain root ${manifest.root.slice(0, 16)}…${signedBy ? `, signed by ${signedBy.keyId}, checked with ${signedBy.checkedWith}` : ''}${anchor ? ', the root the execution history recorded' : ''})`,
      );
      if (!o.anchor && !signedBy) io.out('  --no-anchor: the root was not checked against a signature, so a manifest rebuilt over forged files would also pass');
      for (const a of later) io.out(`  addendum ${a.sequence} (${a.written_utc}, ${a.reason}): ${a.files.join(', ')} — chained after the manifest`);
    } else for (const p of problems) io.err(`${p.problem.toUpperCase()}: ${p.detail}`);
    setExit(problems.length ? EXIT.NO_GO : EXIT.OK);
  });
  evidenceOpts(evidence.command('open').description("print where to read a run's report (report.html, or the S3 console)").argument('<runId>')).action(
    async (runId: string, o: { bucket?: string; evidenceDir: string; json?: boolean }) => {
      const s = store(o);
      const url = o.bucket ? s.browseUrl(`${runId}/`) : pathToFileURL(path.resolve(o.evidenceDir, runId, 'report.html')).toString();
      io.out(o.json ? JSON.stringify({ runId, url }) : url);
      setExit(EXIT.OK);
    },
  );
}

/** The public key roots must be signed with: a file, a KMS key, or (local folder) the local signing key's public half. */
async function verifyingKey(io: Io, o: { bucket?: string; publicKey?: string; signingKeyArn?: string }): Promise<{ pem: string; source: string } | undefined> {
  if (o.publicKey) {
    try {
      return { pem: await readFile(o.publicKey, 'utf8'), source: o.publicKey };
    } catch (e) {
      throw new UsageError(`--public-key ${o.publicKey} cannot be read (${errorMessage(e)}); expected a PEM public key file`);
    }
  }
  const arn = o.signingKeyArn ?? io.env.CUTLINE_SIGNING_KEY_ARN;
  if (arn) return { pem: await kmsPublicKeyPem(aws(io, 'kms'), arn), source: `the public key of ${arn}` };
  if (o.bucket) return undefined;
  const local = publicKeyPathOf(defaultSigningKeyPath({ ...process.env, ...io.env }));
  const pem = await readFile(local, 'utf8').catch(() => undefined);
  return pem ? { pem, source: local } : undefined;
}

/** Entries of a folder (recursively) that are neither regular files nor folders: symlinks, fifos, devices. */
async function irregularEntries(dir: string, base = dir): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const out: string[] = [];
  let entries: import('node:fs').Dirent[] = [];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await irregularEntries(p, base)));
    else if (!e.isFile()) out.push(path.relative(base, p));
  }
  return out;
}

