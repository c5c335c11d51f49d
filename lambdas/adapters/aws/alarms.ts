/** CloudWatch alarms a soak watches (DescribeAlarms): each alarm's state by name, metric and composite alike. */
import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import type { AlarmSource } from '../../ports';

export class CloudWatchAlarms implements AlarmSource {
  constructor(private readonly cw: CloudWatchClient) {}

  async states(names: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    // DescribeAlarms takes at most 100 names a call.
    for (let i = 0; i < names.length; i += 100) {
      let token: string | undefined;
      do {
        const r = await this.cw.send(new DescribeAlarmsCommand({ AlarmNames: names.slice(i, i + 100), AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken: token }));
        for (const a of [...(r.MetricAlarms ?? []), ...(r.CompositeAlarms ?? [])]) if (a.AlarmName && a.StateValue) out.set(a.AlarmName, a.StateValue);
        token = r.NextToken;
      } while (token);
    }
    return out;
  }
}
