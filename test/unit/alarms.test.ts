/** The alarms a soak watches: CloudWatch DescribeAlarms through the real client (aws-sdk-client-mock), and the local file standing in. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloudWatchAlarms } from '../../lambdas/adapters/aws/alarms';
import { FileAlarms } from '../../lambdas/adapters/local/alarms-file';
import { tempDir } from '../support/local-run';

const cw = mockClient(CloudWatchClient);
beforeEach(() => cw.reset());

describe('CloudWatch alarms', () => {
  it('metric and composite alarms by name, every page, at most 100 names a call; an alarm AWS does not return is absent', async () => {
    const names = Array.from({ length: 120 }, (_, i) => `a${i}`);
    cw.on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [{ AlarmName: 'a0', StateValue: 'ALARM' }], NextToken: 't' })
      .resolvesOnce({ CompositeAlarms: [{ AlarmName: 'a1', StateValue: 'OK' }] })
      .resolvesOnce({ MetricAlarms: [{ AlarmName: 'a110', StateValue: 'INSUFFICIENT_DATA' }] });
    const states = await new CloudWatchAlarms(new CloudWatchClient({ region: 'eu-west-1' })).states(names);
    expect([...states.entries()]).toEqual([
      ['a0', 'ALARM'],
      ['a1', 'OK'],
      ['a110', 'INSUFFICIENT_DATA'],
    ]);
    const calls = cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => [c.AlarmNames?.length, c.NextToken])).toEqual([
      [100, undefined],
      [100, 't'],
      [20, undefined],
    ]);
    expect(calls[0]!.AlarmTypes).toEqual(['MetricAlarm', 'CompositeAlarm']);
  });
});

describe('the local alarms file', () => {
  it('read at every call; no file or no entry: no alarm; a bad file or state is an error naming it', async () => {
    const file = path.join(await tempDir('cutline-alarms-'), 'alarms.json');
    const a = new FileAlarms(file);
    expect(await a.states(['x'])).toEqual(new Map());
    await writeFile(file, JSON.stringify({ x: 'OK' }));
    expect(await a.states(['x', 'y'])).toEqual(new Map([['x', 'OK']]));
    await writeFile(file, JSON.stringify({ x: 'ALARM' }));
    expect(await a.states(['x'])).toEqual(new Map([['x', 'ALARM']]));
    await writeFile(file, JSON.stringify({ x: 'RED' }));
    await expect(a.states(['x'])).rejects.toThrow(`alarms file ${file}: "x" is "RED"; expected "OK", "ALARM" or "INSUFFICIENT_DATA"`);
    await writeFile(file, '{');
    await expect(a.states(['x'])).rejects.toThrow(/^alarms file .* is not JSON/);
  });
});
