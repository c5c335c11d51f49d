/** `npm run asl`: write the generated Retry / Catch blocks (lib/error-policy.ts) into statemachines/cutover.asl.json. */
import { readFileSync, writeFileSync } from 'node:fs';
import { ASL_FILE } from '../cli/runner/definition';
import { withErrorPolicy } from '../lib/error-policy';

const text = readFileSync(ASL_FILE, 'utf8');
const next = `${JSON.stringify(withErrorPolicy(JSON.parse(text)), null, 2)}\n`;
if (next === text) console.log(`${ASL_FILE}: Retry and Catch already as the tables say`);
else {
  writeFileSync(ASL_FILE, next);
  console.log(`${ASL_FILE}: Retry and Catch written from the tables`);
}
