/** Evidence: the manifest and its addenda, and a summary.md inert to what people type. */
import { describe, expect, it } from 'vitest';
import { FsEvidenceStore } from '../../lambdas/adapters/local/evidence-fs';
import { buildManifest, DIGESTS_SUFFIX, listEvidence, renderDigests, sha256Hex, verifyManifest } from '../../lambdas/core/evidence';
import { tempDir } from '../support/local-run';

describe('manifest', () => {
  it('chains every file: changing one changes every later link and the root', () => {
    const a = buildManifest('r', [
      { file: 'a.json', sha256: '1', size: 1 },
      { file: 'b.json', sha256: '2', size: 1 },
    ]);
    const b = buildManifest('r', [
      { file: 'a.json', sha256: 'X', size: 1 },
      { file: 'b.json', sha256: '2', size: 1 },
    ]);
    expect(a.files[1]!.chain).not.toBe(b.files[1]!.chain);
    expect(a.root).not.toBe(b.root);
  });
});

describe('listEvidence: every file hashed, none read twice', () => {
  it('files a digest ledger names are sealed from it unread; the rest are read once; a named file changed after is caught by verify', async () => {
    const store = new FsEvidenceStore(await tempDir());
    const a = await store.put('r/07_gates/chunks/t/000000.jsonl', 'a\n');
    const b = await store.put('r/07_gates/chunks/t/000120.jsonl', 'b\n');
    // A ledger line that is not a digest (cut short, edited) names nothing; the rest of the ledger still counts.
    await store.put(`r/07_gates/chunks${DIGESTS_SUFFIX}`, `${renderDigests([a, b])}{"key":"r/01_pre\nnull\n`);
    const other = await store.put('r/01_preflight.json', '{}\n');
    const got: string[] = [];
    const counting = {
      keys: (p: string) => store.keys(p),
      get: (k: string) => {
        got.push(k);
        return store.get(k);
      },
    };
    const listed = await listEvidence(counting, 'r/');
    expect(got.sort()).toEqual([`r/07_gates/chunks${DIGESTS_SUFFIX}`, 'r/01_preflight.json'].sort());
    expect(listed.map((o) => o.key)).toEqual(await store.keys('r/'));
    expect(listed.find((o) => o.key === a.key)).toEqual({ key: a.key, sha256: sha256Hex('a\n'), size: 2 });
    expect(listed.find((o) => o.key === other.key)?.sha256).toBe(sha256Hex('{}\n'));
    // Sealed from the ledger, then changed: the manifest holds what the gate read, and verify says the file changed.
    const manifest = buildManifest('r', listed.map((o) => ({ file: o.key.slice(2), sha256: o.sha256, size: o.size })));
    await store.put(a.key, 'edited\n');
    const now = new Map((await store.list('r/')).map((o) => [o.key.slice(2), o.sha256]));
    expect(verifyManifest(manifest, now).map((p) => [p.file, p.problem])).toEqual([['07_gates/chunks/t/000000.jsonl', 'changed']]);
  });
});

describe('summary.md is inert to what people type', () => {
  it('an approval comment with newlines, a table row and a <script> stays one line of text', async () => {
    const { renderSummary } = await import('../../lambdas/core/summary');
    const md = renderSummary({
      runId: 'r1',
      owner: 'ops',
      outcome: 'GO',
      classification: 'GO',
      reason: 'ok',
      classify: undefined,
      results: { goNoGo: { approver: 'alice', via: 'approval page', decidedAt: '2026-11-21T01:00:00Z', comment: 'fine\n\n| Cutover | **skipped** |\n<script>alert(1)</script>\n# GO' } },
      now: new Date('2026-11-21T01:00:00Z'),
    });
    const approval = md.slice(md.indexOf('## Approval'));
    expect(approval.split('\n').filter((l) => l.trim())).toHaveLength(3); // heading, the line, the footer
    expect(md).not.toContain('<script>');
    expect(md).not.toMatch(/^\| Cutover \| \*\*skipped/m);
    expect(md).not.toMatch(/^# GO/m);
    expect(approval).toContain('&lt;script&gt;');
  });
});

describe('manifest addenda', () => {
  it('records after Summary verify through an addendum; editing the record, the addendum or an earlier file is caught', async () => {
    const { buildManifest, buildAddendum, verifyEvidence, sha256Hex } = await import('../../lambdas/core/evidence');
    const files = new Map([
      ['01_validate.json', sha256Hex('a')],
      ['99_summary.json', sha256Hex('b')],
    ]);
    const manifest = buildManifest('r1', [...files].map(([file, sha256]) => ({ file, sha256, size: 1 })));
    const late = { file: '12_rollback_manual_x.json', sha256: sha256Hex('rollback'), size: 8 };
    const a = buildAddendum('r1', 1, manifest.root, [late], 'rollback by hand by ops', new Date('2026-11-22T00:00:00Z'));
    const now = new Map([...files, [late.file, late.sha256], ['manifest-addenda/001.json', sha256Hex('x')]]);
    expect(verifyEvidence(manifest, [a], now)).toEqual([]);
    // without the addendum the late record is an added file
    expect(verifyEvidence(manifest, [], now).map((p) => p.problem)).toContain('added');
    // the late record changed
    expect(verifyEvidence(manifest, [a], new Map([...now, [late.file, sha256Hex('other')]])).map((p) => p.problem)).toEqual(['changed']);
    // the addendum edited (its reason), or made to continue another root
    expect(verifyEvidence(manifest, [{ ...a, reason: 'nothing happened' }], now).map((p) => p.problem)).toEqual(['chain']);
    expect(verifyEvidence(manifest, [{ ...a, previous_root: sha256Hex('forged') }], now).map((p) => p.problem)).toContain('chain');
  });
});
