/**
 * One team's stepline on AWS: the resources made from the installation plan (./plan.ts), with plain
 * inputs so that it runs the same under `sst deploy` and under Pulumi mocks in the tests.
 *
 *   artifact bucket (private, encrypted, versioned, lifecycle)   SNS: approvals, notifications
 *   SSM SecureString parameters for the secrets                  Lambda functions (+ Function URLs)
 *   one state machine per pipeline, each with its own role        CodeBuild projects for build/test actions
 *   EventBridge: execution status changes → gate, notify (and canary rollback)
 *
 * Uses the `aws` and `$util` globals that sst defines (the tests define them too), so that the same
 * @pulumi/aws as sst's own components is used at deploy time.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EnvVar, machineHash, machineManifestKey, type Pipeline } from '@stepline/core';
import { assumedBy, type PolicyStatement, policyDocument } from './iam';
import { pipelineList, pipelineManifest } from './manifest';
import { ControlPrefix, FUNCTION_KEYS, type FunctionKey, type InstallationPlan, type PlanOptions, planInstallation, type SecretName } from './plan';

export interface SteplineArgs extends Omit<PlanOptions, 'secrets'> {
  /** Secret values (SST secrets at deploy time); optional ones may be left out. */
  secrets: Partial<Record<SecretName, $util.Input<string>>>;
  /** packages/functions/src/handlers: one `<function>.ts` per function. */
  handlersDir: string;
  /** Turns a handler file into the function's code (esbuild at deploy time, a stub in tests). */
  bundle: (entry: string) => $util.asset.Archive;
  /** Keep the bucket and its objects when the stage is removed. @default false */
  retain?: boolean;
  /** Days function and build logs are kept. @default 30 */
  logRetentionDays?: number;
  /** E-mail addresses subscribed to the approvals topic (each confirms by mail). */
  approvalEmails?: string[];
  /** E-mail addresses subscribed to the notifications topic. */
  notificationEmails?: string[];
}

export interface Stepline {
  plan: InstallationPlan;
  bucket: aws.s3.Bucket;
  functions: Record<FunctionKey, aws.lambda.Function>;
  stateMachines: Record<string, aws.sfn.StateMachine>;
  projects: Record<string, aws.codebuild.Project>;
  /** Paste into GitHub: Settings → Webhooks → Payload URL. */
  webhookUrl: $util.Output<string>;
  /** Approve and reject links point here; also Slack's interactivity Request URL. */
  approvalUrl: $util.Output<string>;
  /** Where to watch the pipelines run: the Step Functions console of this account and region. */
  dashboardUrl: string;
  /** Everything created, for tests that wait for it. */
  resources: $util.Resource[];
}

/** Statuses after which an execution holds no gate (a redriven one is let in again when it enters a stage). */
const TERMINAL = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

export function installStepline(args: SteplineArgs): Stepline {
  const present = new Set(Object.entries(args.secrets).flatMap(([name, value]) => (value === undefined ? [] : [name as SecretName])));
  const plan = planInstallation({ ...args, secrets: present });
  const { names } = plan;
  const tags = { 'stepline:installation': args.stage };
  const resources: $util.Resource[] = [];
  const track = <T extends $util.Resource>(resource: T): T => {
    resources.push(resource);
    return resource;
  };
  const logDays = args.logRetentionDays ?? 30;

  for (const key of FUNCTION_KEYS) {
    const file = join(args.handlersDir, `${plan.functions[key].handler}.ts`);
    if (!existsSync(file)) throw new Error(`stepline: the ${key} function's handler is missing: ${file}`);
  }

  // Artifact store: never public, encrypted at rest, versioned, old executions expire.
  const bucket = track(new aws.s3.Bucket('Artifacts', { bucket: names.bucket, forceDestroy: !args.retain, tags }));
  const publicAccess = track(
    new aws.s3.BucketPublicAccessBlock('ArtifactsPublicAccess', {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    }),
  );
  track(new aws.s3.BucketOwnershipControls('ArtifactsOwnership', { bucket: bucket.id, rule: { objectOwnership: 'BucketOwnerEnforced' } }));
  track(
    new aws.s3.BucketServerSideEncryptionConfiguration('ArtifactsEncryption', {
      bucket: bucket.id,
      rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }],
    }),
  );
  const versioning = track(new aws.s3.BucketVersioning('ArtifactsVersioning', { bucket: bucket.id, versioningConfiguration: { status: 'Enabled' } }));
  track(
    new aws.s3.BucketLifecycleConfiguration(
      'ArtifactsLifecycle',
      {
        bucket: bucket.id,
        rules: plan.lifecycle.map((rule) => ({
          id: rule.id,
          status: 'Enabled',
          filter: rule.prefix === undefined ? {} : { prefix: rule.prefix },
          ...(rule.expirationDays !== undefined && { expiration: { days: rule.expirationDays } }),
          ...(rule.expiredObjectDeleteMarker && { expiration: { expiredObjectDeleteMarker: true } }),
          ...(rule.noncurrentDays !== undefined && { noncurrentVersionExpiration: { noncurrentDays: rule.noncurrentDays } }),
          ...(rule.abortMultipartDays !== undefined && { abortIncompleteMultipartUpload: { daysAfterInitiation: rule.abortMultipartDays } }),
        })),
      },
      { dependsOn: [versioning] },
    ),
  );
  track(
    new aws.s3.BucketPolicy(
      'ArtifactsPolicy',
      {
        bucket: bucket.id,
        policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [plan.bucketArn, `${plan.bucketArn}/*`],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        }),
      },
      { dependsOn: [publicAccess] },
    ),
  );

  // What the CLI and the webhook read: manifests and the pipeline list.
  // Each machine's manifest is also kept under its hash, and kept when a later deploy replaces the
  // machine: an execution is read through the manifest of the machine it ran (see the CLI's backend).
  const objects = [
    ...plan.stateMachines.flatMap((machine) => {
      const content = JSON.stringify(pipelineManifest(machine, args.stage, names.bucket));
      const hash = machineHash(machine.compiled.definition);
      return [
        track(
          new aws.s3.BucketObjectv2(`Manifest-${machine.pipeline.name}`, {
            bucket: bucket.id,
            key: machine.manifestKey,
            content,
            contentType: 'application/json',
          }),
        ),
        track(
          new aws.s3.BucketObjectv2(
            `Manifest-${machine.pipeline.name}-${hash.slice(0, 16)}`,
            { bucket: bucket.id, key: machineManifestKey(machine.manifestKey, hash), content, contentType: 'application/json' },
            { retainOnDelete: true },
          ),
        ),
      ];
    }),
    track(
      new aws.s3.BucketObjectv2('PipelineList', {
        bucket: bucket.id,
        key: ControlPrefix.pipelineList,
        content: JSON.stringify(pipelineList(plan.stateMachines.map((m) => m.pipeline))),
        contentType: 'application/json',
      }),
    ),
  ];

  const approvalTopic = track(new aws.sns.Topic('ApprovalTopic', { name: names.approvalTopic, tags }));
  const notificationTopic = track(new aws.sns.Topic('NotificationTopic', { name: names.notificationTopic, tags }));
  const subscribe = (topic: aws.sns.Topic, id: string, emails: readonly string[] = []) => {
    emails.forEach((email, i) => {
      track(new aws.sns.TopicSubscription(`${id}${i}`, { topic: topic.arn, protocol: 'email', endpoint: email }));
    });
  };
  subscribe(approvalTopic, 'ApprovalEmail', args.approvalEmails);
  subscribe(notificationTopic, 'NotificationEmail', args.notificationEmails);

  const parameters = Object.entries(plan.parameters).map(([secret, name]) =>
    track(
      new aws.ssm.Parameter(`Secret-${secret}`, {
        name,
        type: 'SecureString',
        value: args.secrets[secret as SecretName] ?? '',
        description: `stepline ${args.stage}: ${secret} (set with: npx sst secret set ${secret} … --stage ${args.stage})`,
        tags,
      }),
    ),
  );

  const role = (id: string, service: string, statements: readonly PolicyStatement[]) => {
    const created = track(new aws.iam.Role(`${id}Role`, { assumeRolePolicy: JSON.stringify(assumedBy(service, args.accountId)), tags }));
    const policy = track(new aws.iam.RolePolicy(`${id}Policy`, { role: created.id, policy: JSON.stringify(policyDocument(statements)) }));
    return { role: created, policy };
  };

  // Functions. Function URLs are public (auth NONE) by design: GitHub and approvers' browsers call them,
  // and each checks a signature itself (X-Hub-Signature-256, signed links, Slack's signature).
  const functions = {} as Record<FunctionKey, aws.lambda.Function>;
  const urls: Partial<Record<FunctionKey, aws.lambda.FunctionUrl>> = {};
  const makeFunction = (key: FunctionKey, extraEnvironment: Record<string, $util.Input<string>> = {}) => {
    const spec = plan.functions[key];
    const id = `Fn${pascal(key)}`;
    const { policy, role: created } = role(id, 'lambda.amazonaws.com', spec.statements);
    const logGroup = track(new aws.cloudwatch.LogGroup(`${id}Logs`, { name: `/aws/lambda/${spec.name}`, retentionInDays: logDays, tags }));
    const fn = track(
      new aws.lambda.Function(
        id,
        {
          name: spec.name,
          description: spec.description,
          runtime: 'nodejs22.x',
          architectures: ['arm64'],
          handler: 'index.handler',
          code: args.bundle(join(args.handlersDir, `${spec.handler}.ts`)),
          role: created.arn,
          timeout: spec.timeoutSeconds,
          memorySize: spec.memoryMb,
          environment: { variables: { NODE_OPTIONS: '--enable-source-maps', ...spec.environment, ...extraEnvironment } },
          loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
          tags,
        },
        { dependsOn: [policy, logGroup, ...parameters] },
      ),
    );
    functions[key] = fn;
    if (spec.url) {
      urls[key] = track(new aws.lambda.FunctionUrl(`${id}Url`, { functionName: fn.name, authorizationType: 'NONE' }));
      // A public Function URL needs both grants (since October 2025), to anyone ("*"), through the URL only.
      track(
        new aws.lambda.Permission(`${id}UrlPublic`, { function: fn.name, action: 'lambda:InvokeFunctionUrl', principal: '*', functionUrlAuthType: 'NONE' }),
      );
      track(new aws.lambda.Permission(`${id}UrlInvoke`, { function: fn.name, action: 'lambda:InvokeFunction', principal: '*', invokedViaFunctionUrl: true }));
    }
    return fn;
  };
  for (const key of FUNCTION_KEYS) if (key !== 'approval-request') makeFunction(key);
  const approvalUrl = urls['approval-response']?.functionUrl ?? $util.output('');
  makeFunction('approval-request', { [EnvVar.PublicUrl]: approvalUrl });

  // CodeBuild projects for build and test actions that name none.
  const projects: Record<string, aws.codebuild.Project> = {};
  for (const project of plan.projects) {
    const id = `Project${pascal(project.pipeline)}${pascal(project.stage)}${pascal(project.action)}`;
    const { policy, role: created } = role(id, 'codebuild.amazonaws.com', project.statements);
    const logGroup = track(new aws.cloudwatch.LogGroup(`${id}Logs`, { name: project.logGroup, retentionInDays: logDays, tags }));
    const batch = project.batch && role(`${id}Batch`, 'codebuild.amazonaws.com', project.batch.statements);
    projects[project.name] = track(
      new aws.codebuild.Project(
        id,
        {
          name: project.name,
          description: `stepline ${args.stage}: ${project.pipeline} · ${project.stage} · ${project.action}`,
          serviceRole: created.arn,
          source: project.source,
          artifacts: project.artifacts,
          environment: project.environment,
          buildTimeout: project.timeoutMinutes,
          ...(batch && project.batch && { buildBatchConfig: { serviceRole: batch.role.arn, combineArtifacts: project.batch.combineArtifacts } }),
          logsConfig: { cloudwatchLogs: { status: 'ENABLED', groupName: project.logGroup } },
          tags,
        },
        { dependsOn: [policy, logGroup, ...(batch ? [batch.policy] : [])] },
      ),
    );
  }

  // One state machine per pipeline, each with a role holding exactly the compiler's statements.
  const stateMachines: Record<string, aws.sfn.StateMachine> = {};
  for (const machine of plan.stateMachines) {
    const id = `Pipeline${pascal(machine.pipeline.name)}`;
    const { policy, role: created } = role(id, 'states.amazonaws.com', machine.statements);
    // A failing installation is not blind: errors (and, when asked, inputs and outputs) go to CloudWatch Logs.
    const logGroup = track(new aws.cloudwatch.LogGroup(`${id}Logs`, { name: machine.logGroup, retentionInDays: logDays, tags }));
    const own = plan.projects.filter((p) => p.pipeline === machine.pipeline.name).map((p) => projects[p.name]);
    stateMachines[machine.pipeline.name] = track(
      new aws.sfn.StateMachine(
        id,
        {
          name: machine.name,
          type: 'STANDARD',
          roleArn: created.arn,
          definition: JSON.stringify(machine.compiled.definition),
          loggingConfiguration: {
            level: machine.logging.level,
            includeExecutionData: machine.logging.includeExecutionData,
            logDestination: $util.interpolate`${logGroup.arn}:*`,
          },
          tracingConfiguration: { enabled: machine.tracing },
          tags: { ...tags, ...machine.tags },
        },
        {
          dependsOn: [
            policy,
            logGroup,
            functions.source,
            functions['approval-request'],
            functions.gate,
            functions.canary,
            functions['s3-deploy'],
            functions.cloudformation,
            functions['code-deploy'],
            ...objects,
            ...own.filter(isDefined),
          ],
        },
      ),
    );
  }

  // Execution status changes: the gate frees what an ended execution held, notify tells people, and the canary rolls back a deployment an execution that ended without
  // success left behind (its `abortExecution`, see docs/canary.md).
  const machineArns = plan.stateMachines.map((m) => m.arn);
  if (machineArns.length > 0) {
    const rule = track(
      new aws.cloudwatch.EventRule('ExecutionStatus', {
        name: `${names.prefix}-execution-status`,
        description: `stepline ${args.stage}: pipeline executions that ended`,
        eventPattern: JSON.stringify(statusPattern(machineArns)),
        tags,
      }),
    );
    for (const key of ['gate', 'notify'] as const) target(rule, 'ExecutionStatus', key);
    // What the ASL cannot do once an execution has ended without success, each function does for the machines that need it.
    const cleanUp = (id: string, suffix: string, why: string, needs: (pipeline: Pipeline) => boolean, key: FunctionKey) => {
      const machines = plan.stateMachines.filter((m) => needs(m.pipeline)).map((m) => m.arn);
      if (machines.length === 0) return;
      const ended = track(
        new aws.cloudwatch.EventRule(id, {
          name: `${names.prefix}-${suffix}`,
          description: `stepline ${args.stage}: executions that ended without success, ${why}`,
          eventPattern: JSON.stringify(endedWithoutSuccess(machines)),
          tags,
        }),
      );
      target(ended, id, key);
    };
    // docs/canary.md: an execution that ended without success rolls back what it left in flight.
    cleanUp('DeploymentRollback', 'deployment-rollback', 'maybe mid-deployment', hasDeploy, 'canary');
    // docs/aws-functions.md: its Commands rule builds are stopped, its SSM commands cancelled.
    cleanUp('RuleBuildStop', 'rule-build-stop', "maybe with a Commands rule's build running", hasCommandsRule, 'conditions');
    cleanUp('InPlaceStop', 'in-place-stop', 'maybe with SSM commands running', hasCodeDeploy, 'code-deploy');
  }

  // ECR image pushes start the pipelines whose ECR source watches that repository and tag.
  if (plan.imagePushes.rules.length > 0) {
    const { role: pushRole } = role('ImagePush', 'events.amazonaws.com', plan.imagePushes.statements);
    for (const push of plan.imagePushes.rules) {
      const id = `ImagePush${pascal(push.pipeline)}${pascal(push.action)}`;
      const rule = track(
        new aws.cloudwatch.EventRule(id, {
          name: push.name,
          description: `stepline ${args.stage}: a push of ${push.repository}:${push.imageTag} starts ${push.pipeline}`,
          eventPattern: JSON.stringify(push.eventPattern),
          tags,
        }),
      );
      track(
        new aws.cloudwatch.EventTarget(`${id}Target`, {
          rule: rule.name,
          arn: push.stateMachineArn,
          roleArn: pushRole.arn,
          inputTransformer: { inputPaths: push.inputPaths, inputTemplate: push.inputTemplate },
        }),
      );
    }
  }

  function target(rule: aws.cloudwatch.EventRule, ruleId: string, key: FunctionKey): void {
    const fn = functions[key];
    const id = `${ruleId}To${pascal(key)}`;
    track(
      new aws.lambda.Permission(`${id}Permission`, {
        function: fn.name,
        action: 'lambda:InvokeFunction',
        principal: 'events.amazonaws.com',
        sourceArn: rule.arn,
      }),
    );
    track(new aws.cloudwatch.EventTarget(id, { rule: rule.name, arn: fn.arn, retryPolicy: { maximumRetryAttempts: 20, maximumEventAgeInSeconds: 3600 } }));
  }

  return {
    plan,
    bucket,
    functions,
    stateMachines,
    projects,
    webhookUrl: urls.webhook?.functionUrl ?? $util.output(''),
    approvalUrl,
    dashboardUrl: `https://${args.region}.console.aws.amazon.com/states/home?region=${args.region}#/statemachines`,
    resources,
  };
}

/** EventBridge pattern: the installation's executions that ended. */
export function statusPattern(machineArns: readonly string[]) {
  return {
    source: ['aws.states'],
    'detail-type': ['Step Functions Execution Status Change'],
    detail: { stateMachineArn: [...machineArns], status: TERMINAL },
  };
}

const hasDeploy = (pipeline: Pipeline) => pipeline.stages.some((s) => s.actions.some((a) => a.kind === 'deploy'));
const hasCodeDeploy = (pipeline: Pipeline) => pipeline.stages.some((s) => s.actions.some((a) => a.kind === 'codedeploy'));
const hasCommandsRule = (pipeline: Pipeline) =>
  pipeline.stages.some((s) => [s.beforeEntry, s.onSuccess, s.onFailure].some((c) => c?.rules?.some((r) => r.provider === 'Commands')));

/** The executions of `machines` that ended without success: what a deployment in flight must be cleaned up after. */
const endedWithoutSuccess = (machines: string[]) => ({
  source: ['aws.states'],
  'detail-type': ['Step Functions Execution Status Change'],
  detail: { stateMachineArn: machines, status: ['ABORTED', 'TIMED_OUT', 'FAILED'] },
});
const isDefined = <T>(value: T | undefined): value is T => value !== undefined;

/** `approval-request` → `ApprovalRequest`, for Pulumi logical names. */
export function pascal(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');
}
