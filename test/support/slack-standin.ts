/**
 * A Slack incoming-webhook stand-in at least as strict as Slack: it answers 400 `invalid_blocks` (as Slack does)
 * for a message Block Kit refuses: more than 50 blocks, a section text over 3,000 characters, a header over 150, a
 * button text over 75, a button value over 2,000, a confirm text over 300. What it accepted is kept for assertions.
 */
import type { HttpClient } from '../../lambdas/ports';

type Text = { text?: string };
type Block = { type: string; text?: Text; elements?: { type: string; text?: Text; value?: string; url?: string; confirm?: { text?: Text } }[] };

export function blockKitProblems(body: { text?: string; blocks?: Block[] }): string[] {
  const out: string[] = [];
  const blocks = body.blocks ?? [];
  if (blocks.length > 50) out.push(`${blocks.length} blocks; at most 50`);
  for (const [i, b] of blocks.entries()) {
    const len = b.text?.text?.length ?? 0;
    if (b.type === 'section' && len > 3000) out.push(`blocks[${i}] section text is ${len} characters; at most 3,000`);
    if (b.type === 'header' && len > 150) out.push(`blocks[${i}] header text is ${len} characters; at most 150`);
    for (const [j, e] of (b.elements ?? []).entries()) {
      if ((e.text?.text?.length ?? 0) > 75) out.push(`blocks[${i}].elements[${j}] button text over 75 characters`);
      if ((e.value?.length ?? 0) > 2000) out.push(`blocks[${i}].elements[${j}] value over 2,000 characters`);
      if ((e.url?.length ?? 0) > 3000) out.push(`blocks[${i}].elements[${j}] url over 3,000 characters`);
      if ((e.confirm?.text?.text?.length ?? 0) > 300) out.push(`blocks[${i}].elements[${j}] confirm text over 300 characters`);
    }
  }
  if ((body.text?.length ?? 0) > 40_000) out.push('text over 40,000 characters');
  return out;
}

export function slackStandIn(): HttpClient & { accepted: { blocks: Block[] }[] } {
  const accepted: { blocks: Block[] }[] = [];
  return {
    accepted,
    request: async (_url, o) => {
      const body = JSON.parse(o.body ?? '{}');
      const problems = blockKitProblems(body);
      if (problems.length) return { status: 400, body: `invalid_blocks: ${problems.join('; ')}` };
      accepted.push(body);
      return { status: 200, body: 'ok' };
    },
  };
}
