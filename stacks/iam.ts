/**
 * IAM policies as data, so each role's grants can be read, tested and reasoned about. Statements name
 * the resources they need. Where AWS allows no narrower resource, the statement says so: it is made with
 * `awsRequiresWildcard`, which records why under its Sid, and the tests refuse any other wildcard.
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[] | boolean>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Why a statement needs `*`: the reasons, by Sid. The tests check every wildcard statement is here. */
export const WILDCARD_EXCEPTIONS = {
  // SendTaskSuccess and SendTaskFailure take a task token, not an ARN: the Service Authorization
  // Reference lists no resource type for them, so the only Resource they accept is "*".
  TaskTokenAnswers: 'states:SendTaskSuccess/SendTaskFailure support no resource-level permissions',
  // Describe calls of ELBv2 list no resource types either; they are read-only.
  LoadBalancerReads: 'elasticloadbalancing:Describe* support no resource-level permissions',
  // ECS task definitions are registered from the deployed artifact, with a family only known then;
  // RegisterTaskDefinition and DescribeTaskDefinition take no resource-level permissions.
  TaskDefinitions: 'ecs:RegisterTaskDefinition/DescribeTaskDefinition support no resource-level permissions',
  // CreateTaskSet and RegisterTaskDefinition carry tags, which needs ecs:TagResource on what they create;
  // a task definition's family is only known at deploy time. Limited to tagging while creating.
  TagOnCreate: 'ecs:TagResource on the task set or task definition being created (condition ecs:CreateAction)',
  // The task and execution roles are named in the task definition the artifact carries; the grant is
  // limited to this account's roles, and only when passed to ECS tasks.
  PassTaskRoles: 'iam:PassRole for the roles a deployed task definition names (known only at deploy time)',
  // A Lambda deploy action that leaves lambda.functionName out takes it from the appspec in its input
  // artifact, which exists only at deploy time. Limited to this account's functions in this region.
  LambdaFromAppSpec: 'lambda alias and version calls on the function the deployed appspec names (known only at deploy time)',
  LambdaHooksFromAppSpec: 'lambda:InvokeFunction on the hook functions the deployed appspec names (known only at deploy time)',
  // DescribeAlarms answers with composite alarms only when it is allowed on "*": allowed on the alarms'
  // ARNs, a composite alarm reads as missing (and a missing alarm counts as firing).
  CompositeAlarms: 'cloudwatch:DescribeAlarms returns composite alarms only when allowed on *',
  // An in-place deployment finds its instances by tag and reads the results of the commands it sent;
  // neither call takes a resource.
  InstanceLookup: 'ec2:DescribeInstances supports no resource-level permissions',
  CommandResults: 'ssm:GetCommandInvocation, ListCommands and CancelCommand support no resource-level permissions',
  // AWS-RunShellScript is owned by AWS, not by the account: its ARN's account is not ours to name.
  AwsOwnedDocument: 'ssm:SendCommand with the AWS-owned AWS-RunShellScript document (no account of ours in its ARN)',
  // The instances are found by tag at deploy time: the grant holds only for instances carrying a tag a
  // codedeploy action names (condition ssm:resourceTag/<key>).
  TaggedInstances: 'ssm:SendCommand on instances carrying a tag a codedeploy action names (condition ssm:resourceTag)',
  // A state machine's CloudWatch Logs delivery is set up through these log-delivery APIs, which
  // support no resource-level permissions.
  LogDelivery: 'logs:*LogDelivery and the resource-policy calls Step Functions logging needs support no resource-level permissions',
  // X-Ray's PutTraceSegments and sampling calls support no resource-level permissions.
  Tracing: 'xray:PutTraceSegments/PutTelemetryRecords/GetSampling* support no resource-level permissions',
} as const;
export type WildcardException = keyof typeof WILDCARD_EXCEPTIONS;

export function allow(actions: string[], resources: string[]): PolicyStatement {
  return { Effect: 'Allow', Action: actions, Resource: resources };
}

/**
 * Listing the bucket. Whoever reads a key that may not exist needs it: without `s3:ListBucket` "on the
 * bucket", S3 answers a missing key with 403 AccessDenied instead of 404 NoSuchKey. The documentation
 * does not say that S3 evaluates an `s3:prefix` condition for that check (it has no prefix to offer), so
 * the grant is unconditioned: the form that cannot fail. It reveals key names of this installation's
 * own bucket only, to its own functions and projects.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_Permissions
 */
export function listBucket(bucketArn: string): PolicyStatement {
  return allow(['s3:ListBucket'], [bucketArn]);
}

/** IAM's limit on all inline policies of one role, in characters (whitespace not counted). */
export const MAX_INLINE_POLICY_CHARS = 10_240;

/** Characters IAM counts for an inline policy: its JSON without whitespace outside strings. */
export const inlinePolicySize = (statements: readonly PolicyStatement[]) => JSON.stringify(policyDocument(statements)).length;

/** A statement whose resource AWS only accepts as (or with) `*`; the Sid names the reason. */
export function awsRequiresWildcard(exception: WildcardException, statement: PolicyStatement): PolicyStatement {
  return { Sid: exception, ...statement };
}

export function policyDocument(statements: readonly PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: [...statements] };
}

export interface TrustPolicy {
  Version: '2012-10-17';
  Statement: Array<{ Effect: 'Allow'; Principal: { Service: string }; Action: 'sts:AssumeRole'; Condition?: Record<string, Record<string, string>> }>;
}

/**
 * Services whose documentation says they send `aws:SourceAccount` when they assume a role, so that a
 * trust policy can require it (cross-service confused deputy prevention). Lambda's documentation of the
 * execution role asks for the service principal only and does not say that Lambda sets the key: a
 * condition on it could stop Lambda from assuming the role, and then no function runs. Where the
 * documentation is silent, the trust policy takes the form that cannot fail.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/cross-service-confused-deputy-prevention.html
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html
 * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html
 */
export const SETS_SOURCE_ACCOUNT: ReadonlySet<string> = new Set(['states.amazonaws.com', 'codebuild.amazonaws.com']);

/** Who may assume a role: one AWS service, acting for this account where the service says which account it acts for. */
export function assumedBy(service: string, accountId: string): TrustPolicy {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: service },
        Action: 'sts:AssumeRole',
        ...(SETS_SOURCE_ACCOUNT.has(service) && { Condition: { StringEquals: { 'aws:SourceAccount': accountId } } }),
      },
    ],
  };
}

/**
 * What a state machine's role needs to deliver its logs to CloudWatch Logs and its traces to X-Ray.
 * The log-delivery calls take no resource-level permissions.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
 */
export function stateMachineObservability(tracing: boolean): PolicyStatement[] {
  return [
    awsRequiresWildcard(
      'LogDelivery',
      allow(
        [
          'logs:CreateLogDelivery',
          'logs:GetLogDelivery',
          'logs:UpdateLogDelivery',
          'logs:DeleteLogDelivery',
          'logs:ListLogDeliveries',
          'logs:PutResourcePolicy',
          'logs:DescribeResourcePolicies',
          'logs:DescribeLogGroups',
        ],
        ['*'],
      ),
    ),
    ...(tracing
      ? [
          awsRequiresWildcard(
            'Tracing',
            allow(['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'], ['*']),
          ),
        ]
      : []),
  ];
}

/** Writing a function's own logs: its log group, and the streams in it (named by Lambda at run time). */
export function lambdaLogs(region: string, accountId: string, functionName: string): PolicyStatement {
  const group = `arn:aws:logs:${region}:${accountId}:log-group:/aws/lambda/${functionName}`;
  return allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [`${group}:*`]);
}
