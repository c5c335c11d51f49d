/**
 * Work a function hands to itself, to run after it answered: an asynchronous invocation (InvocationType Event) of
 * the running function (AWS_LAMBDA_FUNCTION_NAME) with the job as its event. Lambda queues it and retries a failed
 * one twice.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';


/** `lambda`: the client, built when the first job is handed over. */
export function selfInvoker<T>(lambda: () => LambdaClient, wrap: (job: T) => Record<string, unknown>): (job: T) => Promise<void> {
  return async (job) => {
    const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME;
    if (!functionName) throw new Error('environment variable AWS_LAMBDA_FUNCTION_NAME is not set; expected to run inside Lambda');
    const r = await lambda().send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(wrap(job))) }));
    if (r.StatusCode !== 202) throw new Error(`asynchronous invocation of ${functionName} answered ${r.StatusCode}; expected 202 (queued)`);
  };
}
