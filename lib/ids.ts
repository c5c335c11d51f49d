/** Construct ids in one place (CDK guidelines): renaming one replaces a resource. */
export const CONSTRUCT_IDS = {
  pipeline: 'Pipeline',
  evidence: 'Evidence',
  work: 'Work',
  approvalTopic: 'ApprovalTopic',
  approvalTopicKey: 'ApprovalTopicKey',
  approvals: 'Approvals',
  approvalsKey: 'ApprovalsKey',
  signingKey: 'SigningKey',
  stateMachine: 'StateMachine',
  stateMachineLogs: 'StateMachineLogs',
} as const;
