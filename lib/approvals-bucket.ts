/**
 * Pending approvals hold Step Functions task tokens: whoever reads one can call
 * SendTaskSuccess and skip every approval check. They live in a bucket of their
 * own, encrypted with a dedicated KMS key, whose policy denies every object
 * action to every principal except the roles that must touch them (GoNoGo, the
 * approval API, the operators allowed to run `cutline approve`).
 */
import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CONSTRUCT_IDS } from './ids';

export interface ApprovalsBucketProps {
  /** Where S3 server access logs go. */
  readonly accessLogs: s3.IBucket;
  /** Keep the bucket when the stack is deleted. Default: true. */
  readonly retain?: boolean;
}

export class ApprovalsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;
  private readonly principalArns: string[] = [];

  constructor(scope: Construct, id: string, props: ApprovalsBucketProps) {
    super(scope, id);
    const removalPolicy = props.retain === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.key = new kms.Key(this, CONSTRUCT_IDS.approvalsKey, { enableKeyRotation: true, description: 'cutline pending approvals (task tokens)', removalPolicy });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'approvals/',
      removalPolicy,
      // A task token is good for at most a year (the longest go/no-go timeout).
      lifecycleRules: [{ expiration: Duration.days(400), noncurrentVersionExpiration: Duration.days(30) }],
    });
    // Resolved at synth: the deny exempts exactly the principals allow() and allowPrincipalArns() named.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyTheApprovalRolesTouchPendingApprovals',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject*', 's3:PutObject*', 's3:DeleteObject*', 's3:RestoreObject', 's3:ReplicateObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { ArnNotLike: { 'aws:PrincipalArn': Lazy.list({ produce: () => this.principalArns }) } },
      }),
    );
  }

  /** Let a role read and write pending approvals (and use the key); every other principal stays denied. */
  allow(role: iam.IRole, actions: readonly string[] = ['s3:GetObject', 's3:PutObject']): void {
    this.principalArns.push(role.roleArn);
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions], resources: [this.bucket.arnForObjects('private/approvals/*')] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': ['private/approvals/*'] } } }),
    );
    this.key.grantEncryptDecrypt(role);
  }

  /** Operators' principals (ARNs from the deploy config) exempt from the deny; their own IAM policies grant the access. */
  allowPrincipalArns(arns: readonly string[]): void {
    this.principalArns.push(...arns);
  }
}
