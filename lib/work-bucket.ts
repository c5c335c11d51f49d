/**
 * The work bucket: what the state machine and the jumpbox write on the way, which is not evidence and must not sit
 * under the evidence bucket's Object Lock (WORM) retention: Distributed Map results (ResultWriter's manifest and
 * SUCCEEDED_/FAILED_ files; every chunk's checkpoint is in the evidence already) and the full output of jumpbox
 * commands (SSM's OutputS3BucketName; the evidence keeps the first 24,000 characters and the full output's hash).
 * Encrypted, TLS-only, no public access, access-logged; objects expire after `expireDays`.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface WorkBucketProps {
  /** The access-log bucket (the evidence bucket's). */
  readonly accessLogs: s3.IBucket;
  /** Days until an object expires. Default: 30. */
  readonly expireDays?: number;
  /** Keep the bucket when the stack is deleted. Default: true. */
  readonly retain?: boolean;
}

export class WorkBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: WorkBucketProps) {
    super(scope, id);
    const days = props.expireDays ?? 30;
    if (!Number.isInteger(days) || days < 1) throw new Error(`work.expireDays is ${days}; expected a whole number of days >= 1`);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'work/',
      removalPolicy: props.retain === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: Duration.days(days), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
  }
}
