/** Step Functions task tokens. */
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { TaskTokens } from '../../ports';

export class SfnTaskTokens implements TaskTokens {
  constructor(private readonly sfn: SFNClient) {}
  async succeed(token: string, output: unknown): Promise<void> {
    await this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
  }
  async heartbeat(token: string): Promise<void> {
    await this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
  }
  async fail(token: string, error: string, cause: string): Promise<void> {
    await this.sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause: cause.slice(0, 32_768) }));
  }
}
