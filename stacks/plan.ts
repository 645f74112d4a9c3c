/**
 * What one installation is made of, decided without creating anything: names, the compiled state
 * machines, each function's environment and IAM statements, the CodeBuild projects, the lifecycle
 * rules. Pure data from the pipelines and the names, so it can be read and tested on its own; the
 * resources in ./install.ts are made from it one to one.
 */
import {
  type Action,
  actionPositions,
  type BuildAction,
  COMMANDS_RULE_TIMEOUT_MINUTES,
  type CodeBuildRun,
  type CompiledPipeline,
  type CompileOptions,
  ControlPrefix,
  commandsBuild,
  commandsBuildspec,
  type DeployAction,
  type EcrPushRule,
  EnvVar,
  ecrPushRules,
  type FunctionKey,
  InstallationTag,
  installationCompileOptions,
  isInlineBuildspec,
  machineManifestKey,
  type Pipeline,
  parseBuildspecText,
  pipelineManifestKey,
  projectName,
  readsLambdaAppSpec,
  ruleProjectName,
  type SourceAction,
} from '@stepline/core';
import {
  allow,
  awsRequiresWildcard,
  inlinePolicySize,
  lambdaLogs,
  listBucket,
  MAX_INLINE_POLICY_CHARS,
  type PolicyStatement,
  stateMachineObservability,
} from './iam';
import { type InstallationNames, installationNames, lambdaArn, parameterArn, stateMachineArn, topicArn } from './names';
import { compileForAws } from './pipelines';

export { ControlPrefix, FUNCTION_KEYS, type FunctionKey } from '@stepline/core';

/** The secrets an installation uses: SST secret name, SSM parameter, and who reads it as which variable. */
export const SECRETS = {
  GithubWebhookSecret: { parameter: 'github-webhook-secret', required: true, readBy: { webhook: EnvVar.GithubWebhookSecret } },
  GitlabWebhookSecret: { parameter: 'gitlab-webhook-secret', required: false, readBy: { webhook: EnvVar.GitlabWebhookSecret } },
  BitbucketWebhookSecret: { parameter: 'bitbucket-webhook-secret', required: false, readBy: { webhook: EnvVar.BitbucketWebhookSecret } },
  LinkSigningKey: {
    parameter: 'link-signing-key',
    required: true,
    readBy: { 'approval-request': EnvVar.LinkSigningKey, 'approval-response': EnvVar.LinkSigningKey },
  },
  GithubToken: { parameter: 'github-token', required: false, readBy: { source: EnvVar.GithubToken } },
  GitlabToken: { parameter: 'gitlab-token', required: false, readBy: { source: EnvVar.GitlabToken } },
  BitbucketToken: { parameter: 'bitbucket-token', required: false, readBy: { source: EnvVar.BitbucketToken } },
  SlackWebhookUrl: { parameter: 'slack-webhook-url', required: false, readBy: { 'approval-request': EnvVar.SlackWebhookUrl, notify: EnvVar.SlackWebhookUrl } },
  SlackSigningSecret: { parameter: 'slack-signing-secret', required: false, readBy: { 'approval-response': EnvVar.SlackSigningSecret } },
} as const satisfies Record<string, { parameter: string; required: boolean; readBy: Partial<Record<FunctionKey, string>> }>;
export type SecretName = keyof typeof SECRETS;

export interface PlanOptions {
  stage: string;
  region: string;
  accountId: string;
  pipelines: readonly Pipeline[];
  /** The secrets that have a value; the optional ones without are left out, with what reads them. */
  secrets: ReadonlySet<SecretName>;
  /** Days an execution's artifacts (and its approval and deployment records) are kept. @default 30 */
  artifactRetentionDays?: number;
  /**
   * The state machines' CloudWatch Logs: level, and whether inputs and outputs are logged (they can hold
   * variables and commit messages). @default { level: 'ERROR', includeExecutionData: false }
   * @see https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html
   */
  stateMachineLogs?: { level?: 'ALL' | 'ERROR' | 'FATAL' | 'OFF'; includeExecutionData?: boolean };
  /** Trace executions with X-Ray. @default false */
  tracing?: boolean;
}

export interface FunctionPlan {
  key: FunctionKey;
  name: string;
  arn: string;
  /** Handler file name without extension. */
  handler: string;
  description: string;
  timeoutSeconds: number;
  memoryMb: number;
  environment: Record<string, string>;
  statements: PolicyStatement[];
  /** Public HTTPS endpoint (Function URL, auth NONE): GitHub and approvers call it; it checks signatures itself. */
  url: boolean;
}

export interface StateMachinePlan {
  pipeline: Pipeline;
  name: string;
  arn: string;
  compiled: CompiledPipeline;
  /** The role's statements: the compiler's, and log delivery (and X-Ray when tracing). */
  statements: PolicyStatement[];
  logGroup: string;
  logging: { level: 'ALL' | 'ERROR' | 'FATAL' | 'OFF'; includeExecutionData: boolean };
  tracing: boolean;
  manifestKey: string;
  tags: Record<string, string>;
}

export interface ProjectPlan {
  name: string;
  pipeline: string;
  stage: string;
  action: string;
  source: { type: string; location?: string; buildspec?: string; auth?: { type: string; resource: string } };
  artifacts: { type: string; location?: string; packaging?: string; namespaceType?: string };
  environment: { type: string; image: string; computeType: string; privilegedMode: boolean };
  timeoutMinutes: number;
  logGroup: string;
  statements: PolicyStatement[];
  /**
   * For a batch action (`batchEnabled`): the project's batch configuration. CodeBuild starts, stops
   * and retries the batch's builds with a role of its own, apart from the builds' role, so that a
   * build cannot start more builds.
   * @see https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html#batch_security_role
   */
  batch?: { combineArtifacts: boolean; statements: PolicyStatement[] };
}

export interface LifecycleRule {
  id: string;
  prefix?: string;
  expirationDays?: number;
  noncurrentDays?: number;
  abortMultipartDays?: number;
  expiredObjectDeleteMarker?: boolean;
}

export interface InstallationPlan {
  names: InstallationNames;
  compileOptions: CompileOptions;
  bucketArn: string;
  approvalTopicArn: string;
  notificationTopicArn: string;
  functions: Record<FunctionKey, FunctionPlan>;
  stateMachines: StateMachinePlan[];
  projects: ProjectPlan[];
  lifecycle: LifecycleRule[];
  /** Parameter names of the secrets that have a value. */
  parameters: Partial<Record<SecretName, string>>;
  /** EventBridge rules that start pipelines on an ECR image push, and the role they start executions with. */
  imagePushes: { rules: ImagePushRulePlan[]; statements: PolicyStatement[] };
}

export interface ImagePushRulePlan extends EcrPushRule {
  /** Rule name: `<prefix>-<pipeline>-<action>`, within EventBridge's 64 characters. */
  name: string;
  pipeline: string;
  stateMachineArn: string;
}

export function planInstallation(options: PlanOptions): InstallationPlan {
  const { region, accountId } = options;
  const names = installationNames(options.stage, accountId, region);
  const bucket = names.bucket;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objects = (prefix: string) => `${bucketArn}/${prefix}*`;
  const approvalTopicArn = topicArn(region, accountId, names.approvalTopic);
  const notificationTopicArn = topicArn(region, accountId, names.notificationTopic);
  const fnArn = (key: FunctionKey) => lambdaArn(region, accountId, names.function(key));
  const compileOptions = installationCompileOptions(options);

  const stateMachines = options.pipelines.map((pipeline): StateMachinePlan => {
    const name = names.stateMachine(pipeline.name);
    const manifestKey = pipelineManifestKey(pipeline.name);
    const compiled = compileForAws(pipeline, compileOptions);
    const tracing = options.tracing ?? false;
    return {
      pipeline,
      name,
      arn: stateMachineArn(region, accountId, name),
      compiled,
      statements: [...compiled.iam, ...stateMachineObservability(tracing)],
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small for many log groups.
      logGroup: `/aws/vendedlogs/states/${name}`,
      logging: { level: options.stateMachineLogs?.level ?? 'ERROR', includeExecutionData: options.stateMachineLogs?.includeExecutionData ?? false },
      tracing,
      manifestKey,
      tags: {
        [InstallationTag.Pipeline]: pipeline.name,
        [InstallationTag.Installation]: options.stage,
        [InstallationTag.Manifest]: `s3://${bucket}/${manifestKey}`,
      },
    };
  });
  const machineArns = stateMachines.map((m) => m.arn);
  const executionsOf = stateMachines.map((m) => `arn:aws:states:${region}:${accountId}:execution:${m.name}:*`);

  const parameters: Partial<Record<SecretName, string>> = {};
  for (const [secret, spec] of Object.entries(SECRETS) as Array<[SecretName, (typeof SECRETS)[SecretName]]>) {
    if (options.secrets.has(secret)) parameters[secret] = names.parameter(spec.parameter);
    else if (spec.required)
      throw new Error(`stepline: the secret ${secret} has no value: set it with \`npx sst secret set ${secret} <value> --stage ${options.stage}\``);
  }
  const secretsFor = (key: FunctionKey) => {
    const environment: Record<string, string> = {};
    const arns: string[] = [];
    for (const [secret, spec] of Object.entries(SECRETS) as Array<[SecretName, (typeof SECRETS)[SecretName]]>) {
      const variable = (spec.readBy as Partial<Record<FunctionKey, string>>)[key];
      const parameter = parameters[secret];
      if (variable === undefined || parameter === undefined) continue;
      environment[variable] = parameter;
      arns.push(parameterArn(region, accountId, parameter));
    }
    return { environment, statements: arns.length > 0 ? [allow(['ssm:GetParameter'], arns)] : [] };
  };

  const positions = options.pipelines.flatMap((pipeline) => actionPositions(pipeline).map((position) => ({ pipeline, position })));
  const approvalTopics = [
    approvalTopicArn,
    ...positions.flatMap(({ position }) => (position.action.kind === 'approval' && position.action.notificationArn ? [position.action.notificationArn] : [])),
  ];
  const deploys = positions.flatMap(({ pipeline, position }) => (position.action.kind === 'deploy' ? [{ pipeline, action: position.action }] : []));
  const ecrRepositories = [
    ...new Set(
      positions.flatMap(({ position }) => (position.action.kind === 'source' && position.action.provider === 'ECR' ? [position.action.repository] : [])),
    ),
  ];
  const sourcePipelines = [...new Set(positions.flatMap(({ pipeline, position }) => (position.action.kind === 'source' ? [pipeline.name] : [])))];
  // S3 sources: their object (any key of the bucket where a start may name another), at any version.
  const s3Sources = positions.flatMap(({ position }) => {
    const action = position.action;
    if (action.kind !== 'source' || action.provider !== 'S3') return [];
    const slash = action.repository.indexOf('/');
    const bucket = action.repository.slice(0, slash);
    return [{ bucket, object: `arn:aws:s3:::${bucket}/${action.allowOverrideForS3ObjectKey ? '*' : action.repository.slice(slash + 1)}` }];
  });
  const s3Deploys = positions.flatMap(({ pipeline, position }) =>
    position.action.kind === 's3deploy' && position.action.bucket ? [{ pipeline: pipeline.name, ...position.action }] : [],
  );
  const codeDeploys = positions.flatMap(({ pipeline, position }) =>
    position.action.kind === 'codedeploy' && position.action.ec2 ? [{ pipeline: pipeline.name, ec2: position.action.ec2 }] : [],
  );
  const cloudFormationPipelines = [
    ...new Set(positions.flatMap(({ pipeline, position }) => (position.action.kind === 'cloudformation' ? [pipeline.name] : []))),
  ];
  const conditions = options.pipelines.flatMap((pipeline) =>
    pipeline.stages.flatMap((stage) =>
      (['beforeEntry', 'onSuccess', 'onFailure'] as const).flatMap((kind) => (stage[kind]?.rules ?? []).map((rule) => ({ pipeline, stage, kind, rule }))),
    ),
  );
  const rules = conditions.map((c) => c.rule);
  // A Commands rule runs as a build of a project of its own, started by the conditions function.
  const ruleProjects = conditions.flatMap(({ pipeline, stage, kind, rule }) =>
    rule.provider === 'Commands' ? [{ pipeline, stage, kind, rule, name: ruleProjectName(names.prefix, pipeline.name, stage.name, kind, rule.name) }] : [],
  );
  const conditionPipelines = [...new Set(conditions.map((c) => c.pipeline.name))];
  const ruleFunctions = [
    ...new Set(
      rules.flatMap((r) =>
        r.provider === 'LambdaInvoke' && r.functionName !== undefined
          ? [r.functionName.startsWith('arn:') ? r.functionName : lambdaArn(region, accountId, r.functionName)]
          : [],
      ),
    ),
  ];
  // An automatic ROLLBACK: the conditions function reads the pipeline's executions (each through the
  // manifest of its own machine), copies the good execution's artifacts and starts the rollback.
  const rollbackMachines = stateMachines.filter((m) => m.pipeline.stages.some((s) => s.onFailure?.result === 'ROLLBACK' || s.onSuccess?.result === 'ROLLBACK'));
  const rollbackStatements: PolicyStatement[] =
    rollbackMachines.length === 0
      ? []
      : [
          allow(
            ['states:ListExecutions', 'states:StartExecution'],
            rollbackMachines.map((m) => m.arn),
          ),
          allow(
            ['states:DescribeExecution', 'states:GetExecutionHistory', 'states:DescribeStateMachineForExecution'],
            rollbackMachines.map((m) => `arn:aws:states:${region}:${accountId}:execution:${m.name}:*`),
          ),
          allow(
            ['s3:GetObject'],
            rollbackMachines.flatMap((m) => [`${bucketArn}/${m.manifestKey}`, `${bucketArn}/${machineManifestKey(m.manifestKey, '*')}`]),
          ),
          allow(
            ['s3:GetObject', 's3:PutObject'],
            rollbackMachines.map((m) => `${bucketArn}/${m.pipeline.name}/*`),
          ),
        ];
  const stateMachinePrefix = `${names.prefix}-`;
  const machinesByPipeline = JSON.stringify(Object.fromEntries(stateMachines.map((m) => [m.pipeline.name, m.arn])));

  const fn = (
    key: FunctionKey,
    spec: Omit<FunctionPlan, 'key' | 'name' | 'arn' | 'handler' | 'statements' | 'environment' | 'url'> & {
      environment?: Record<string, string>;
      statements?: PolicyStatement[];
      url?: boolean;
    },
  ): FunctionPlan => {
    const name = names.function(key);
    const secrets = secretsFor(key);
    return {
      key,
      name,
      arn: fnArn(key),
      handler: key,
      description: spec.description,
      timeoutSeconds: spec.timeoutSeconds,
      memoryMb: spec.memoryMb,
      environment: { ...spec.environment, ...secrets.environment },
      statements: [lambdaLogs(region, accountId, name), ...(spec.statements ?? []), ...secrets.statements],
      url: spec.url ?? false,
    };
  };

  const taskTokenAnswers = awsRequiresWildcard('TaskTokenAnswers', allow(['states:SendTaskSuccess', 'states:SendTaskFailure'], ['*']));

  const functions: Record<FunctionKey, FunctionPlan> = {
    gate: fn('gate', {
      description: 'stepline: stage gates (execution modes, disabled transitions)',
      timeoutSeconds: 30,
      memoryMb: 256,
      environment: { [EnvVar.ArtifactBucket]: bucket, [EnvVar.StateMachinePrefix]: stateMachinePrefix },
      // The gate object does not exist until the first execution writes it: reading it needs ListBucket.
      statements: [allow(['s3:GetObject', 's3:PutObject'], [objects(ControlPrefix.gates)]), listBucket(bucketArn), taskTokenAnswers],
    }),
    webhook: fn('webhook', {
      description: 'stepline: GitHub webhook (starts pipelines)',
      // GitHub gives a delivery 10 seconds.
      timeoutSeconds: 10,
      memoryMb: 512,
      environment: {
        [EnvVar.Pipelines]: `s3://${bucket}/${ControlPrefix.pipelineList}`,
        [EnvVar.StateMachinePrefix]: stateMachinePrefix,
        // Lambda allows 4 KB of environment in all; beyond that the prefix alone finds the machines.
        ...(machinesByPipeline.length <= 2048 && { [EnvVar.StateMachineArns]: machinesByPipeline }),
      },
      statements: [
        allow(['s3:GetObject'], [`${bucketArn}/${ControlPrefix.pipelineList}`]),
        ...(machineArns.length > 0 ? [allow(['states:StartExecution'], machineArns), allow(['states:DescribeExecution'], executionsOf)] : []),
      ],
      url: true,
    }),
    source: fn('source', {
      description: 'stepline: source actions (resolves the commit and stores it as the source artifact)',
      // Downloading and storing a repository's tree takes longer than resolving a commit.
      timeoutSeconds: 300,
      memoryMb: 1024,
      environment: { [EnvVar.ArtifactBucket]: bucket },
      // The artifact's manifest is looked for before it is written (a retried Task finds it stored).
      statements:
        sourcePipelines.length > 0
          ? [
              allow(
                ['s3:GetObject', 's3:PutObject'],
                sourcePipelines.map((p) => `${bucketArn}/${p}/*`),
              ),
              listBucket(bucketArn),
              ...(s3Sources.length > 0
                ? [
                    allow(['s3:GetObject', 's3:GetObjectVersion'], [...new Set(s3Sources.map((o) => o.object))]),
                    // A missing object or version must answer 404, not 403, to be said as missing.
                    allow(['s3:ListBucket'], [...new Set(s3Sources.map((o) => `arn:aws:s3:::${o.bucket}`))]),
                  ]
                : []),
              ...(ecrRepositories.length > 0
                ? [
                    allow(
                      ['ecr:DescribeImages'],
                      ecrRepositories.map((r) => `arn:aws:ecr:${region}:${accountId}:repository/${r}`),
                    ),
                  ]
                : []),
            ]
          : [],
    }),
    'approval-request': fn('approval-request', {
      description: 'stepline: manual approval requests (links by SNS and Slack)',
      timeoutSeconds: 30,
      memoryMb: 256,
      environment: { [EnvVar.ApprovalBucket]: bucket, [EnvVar.ApprovalTopicArn]: approvalTopicArn },
      statements: [
        allow(['s3:GetObject', 's3:PutObject'], [objects(ControlPrefix.approvals)]),
        listBucket(bucketArn),
        allow(['sns:Publish'], [...new Set(approvalTopics)]),
      ],
    }),
    'approval-response': fn('approval-response', {
      description: 'stepline: approval links and Slack buttons (decides approvals)',
      timeoutSeconds: 30,
      memoryMb: 256,
      environment: { [EnvVar.ApprovalBucket]: bucket },
      statements: [allow(['s3:GetObject', 's3:PutObject'], [objects(ControlPrefix.approvals)]), listBucket(bucketArn), taskTokenAnswers],
      url: true,
    }),
    notify: fn('notify', {
      description: 'stepline: execution notifications (SNS and Slack)',
      timeoutSeconds: 30,
      memoryMb: 256,
      environment: { [EnvVar.NotificationTopicArn]: notificationTopicArn },
      statements: [allow(['sns:Publish'], [notificationTopicArn]), ...(executionsOf.length > 0 ? [allow(['states:DescribeExecution'], executionsOf)] : [])],
    }),
    canary: fn('canary', {
      description: 'stepline: ECS blue/green and Lambda alias deployments (weights, alarms, hooks)',
      // Prepare waits for green's tasks and targets to be healthy.
      timeoutSeconds: 900,
      memoryMb: 512,
      environment: { [EnvVar.ArtifactBucket]: bucket, [EnvVar.StateMachinePrefix]: stateMachinePrefix },
      statements: canaryStatements({ region, accountId, bucketArn, deploys }),
    }),
    conditions: fn('conditions', {
      description: 'stepline: stage conditions (alarm, function and commands rules; overrides; automatic rollbacks)',
      // A LambdaInvoke rule's function may take Lambda's whole limit.
      timeoutSeconds: 900,
      memoryMb: 256,
      environment: { [EnvVar.ArtifactBucket]: bucket, [EnvVar.ProjectPrefix]: names.prefix },
      statements: [
        // DescribeAlarms answers composite alarms only when allowed on every resource.
        ...(rules.some((r) => r.provider === 'CloudWatchAlarm') ? [awsRequiresWildcard('CompositeAlarms', allow(['cloudwatch:DescribeAlarms'], ['*']))] : []),
        ...(ruleFunctions.length > 0 ? [allow(['lambda:InvokeFunction'], ruleFunctions)] : []),
        // A retried check finds the build it started (ListBuildsForProject); a build whose rule no longer matters is stopped.
        ...(ruleProjects.length > 0
          ? [
              allow(
                ['codebuild:StartBuild', 'codebuild:BatchGetBuilds', 'codebuild:ListBuildsForProject', 'codebuild:StopBuild'],
                ruleProjects.map((p) => `arn:aws:codebuild:${region}:${accountId}:project/${p.name}`),
              ),
              // An execution that ended without success: its last check names the builds it waited on.
              allow(
                ['states:GetExecutionHistory'],
                [
                  ...new Set(
                    ruleProjects.flatMap((p) =>
                      stateMachines
                        .filter((m) => m.pipeline.name === p.pipeline.name)
                        .map((m) => `arn:aws:states:${region}:${accountId}:execution:${m.name}:*`),
                    ),
                  ),
                ],
              ),
            ]
          : []),
        // Each check looks for an override (override-stage-condition) that is usually absent.
        ...(conditionPipelines.length > 0
          ? [
              allow(
                ['s3:GetObject'],
                conditionPipelines.map((p) => objects(`${ControlPrefix.conditionOverrides}${p}/`)),
              ),
            ]
          : []),
        ...rollbackStatements,
        // An absent override or manifest must answer 404, not 403; a rollback lists a build's output (it has no stepline manifest).
        ...(conditionPipelines.length > 0 || rollbackMachines.length > 0 ? [listBucket(bucketArn)] : []),
      ],
    }),
    's3-deploy': fn('s3-deploy', {
      description: 'stepline: S3 deploy actions (the artifact into their buckets)',
      timeoutSeconds: 900,
      memoryMb: 1024,
      // Only the artifacts of pipelines that deploy to S3, and only the buckets (and keys) their actions name.
      statements:
        s3Deploys.length === 0
          ? []
          : [
              allow(['s3:GetObject'], [...new Set(s3Deploys.map((a) => `${bucketArn}/${a.pipeline}/*`))]),
              // A build's output has no stepline manifest: reading one that is absent must answer 404, not 403.
              listBucket(bucketArn),
              allow(['s3:PutObject', 's3:PutObjectAcl'], [...new Set(s3Deploys.map((a) => `arn:aws:s3:::${a.bucket}/*`))]),
              ...(s3Deploys.some((a) => a.kmsEncryptionKeyArn)
                ? [allow(['kms:GenerateDataKey'], [...new Set(s3Deploys.flatMap((a) => (a.kmsEncryptionKeyArn ? [a.kmsEncryptionKeyArn] : [])))])]
                : []),
            ],
    }),
    'code-deploy': fn('code-deploy', {
      description: 'stepline: codedeploy actions (in-place deployments to EC2 and on-premises instances through SSM Run Command)',
      timeoutSeconds: 300,
      memoryMb: 512,
      environment: { [EnvVar.ArtifactBucket]: bucket, [EnvVar.StateMachinePrefix]: stateMachinePrefix },
      statements: codeDeployStatements({ region, accountId, bucketArn, codeDeploys }),
    }),
    cloudformation: fn('cloudformation', {
      description: 'stepline: CloudFormation actions (template configuration and parameter files in, outputs file out)',
      timeoutSeconds: 60,
      memoryMb: 256,
      // Only the artifacts of pipelines with CloudFormation actions: read their inputs, write their outputs file.
      statements:
        cloudFormationPipelines.length === 0
          ? []
          : [
              allow(
                ['s3:GetObject', 's3:PutObject'],
                cloudFormationPipelines.map((p) => `${bucketArn}/${p}/*`),
              ),
              // A build's output has no stepline manifest: reading one that is absent must answer 404, not 403.
              listBucket(bucketArn),
            ],
    }),
  };

  const projects = positions.flatMap(({ pipeline, position }): ProjectPlan[] => {
    const action = createdProjectBuild(position.action);
    if (action === undefined) return [];
    const name = projectName({ pipeline, position, options: resolvedForProjectName(compileOptions) }, action);
    const logGroup = `/aws/codebuild/${name}`;
    const primary = action.primarySource ?? action.inputArtifacts[0];
    const producer = positions.find(
      (p) => p.pipeline === pipeline && p.position.action.kind === 'source' && primary !== undefined && p.position.action.outputArtifacts.includes(primary),
    )?.position.action as SourceAction | undefined;
    const environment = action.environment ?? DEFAULT_BUILD_ENVIRONMENT;
    const connection = producer?.connectionArn;
    return [
      {
        name,
        pipeline: pipeline.name,
        stage: position.stage,
        action: action.name,
        source: projectSource(producer, bucket, pipeline.name, region, action.buildspec),
        artifacts: action.outputArtifacts.length > 0 ? { type: 'S3', location: bucket, packaging: 'NONE', namespaceType: 'NONE' } : { type: 'NO_ARTIFACTS' },
        environment: {
          type: environment.image.includes('aarch64') ? 'ARM_CONTAINER' : 'LINUX_CONTAINER',
          image: environment.image,
          computeType: environment.computeType,
          privilegedMode: environment.privilegedMode,
        },
        timeoutMinutes: action.timeoutMinutes ?? 60,
        logGroup,
        statements: [
          allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [`arn:aws:logs:${region}:${accountId}:log-group:${logGroup}:*`]),
          allow(['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'], [`${bucketArn}/${pipeline.name}/*`]),
          // A folder source (an artifact prefix) is downloaded by listing it.
          listBucket(bucketArn),
          allow(['s3:GetBucketAcl', 's3:GetBucketLocation'], [bucketArn]),
          allow(
            [
              'codebuild:CreateReportGroup',
              'codebuild:CreateReport',
              'codebuild:UpdateReport',
              'codebuild:BatchPutTestCases',
              'codebuild:BatchPutCodeCoverages',
            ],
            [`arn:aws:codebuild:${region}:${accountId}:report-group/${name}-*`],
          ),
          ...(connection ? [connectionStatement(connection)] : []),
          ...variableSourceStatements(buildVariableSources(action, `${pipeline.name}: ${position.path}.buildspec`), region, accountId),
        ],
        ...(action.batchEnabled && {
          batch: {
            combineArtifacts: action.combineArtifacts ?? false,
            statements: [
              allow(['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:RetryBuild'], [`arn:aws:codebuild:${region}:${accountId}:project/${name}`]),
            ],
          },
        }),
      },
    ];
  });

  // A Commands rule's project: the rule's commands are its buildspec; each build gets its input
  // artifacts from the artifact store as its source (StartBuild's overrides), which its role reads; no artifacts out.
  projects.push(
    ...ruleProjects.map(({ pipeline, stage, kind, rule, name }): ProjectPlan => {
      const logGroup = `/aws/codebuild/${name}`;
      return {
        name,
        pipeline: pipeline.name,
        stage: stage.name,
        action: `${kind}-${rule.name}`,
        source: { type: 'NO_SOURCE', buildspec: rule.provider === 'Commands' ? commandsBuildspec({ commands: rule.commands }) : '' },
        artifacts: { type: 'NO_ARTIFACTS' },
        environment: { type: 'LINUX_CONTAINER', ...DEFAULT_BUILD_ENVIRONMENT },
        timeoutMinutes: COMMANDS_RULE_TIMEOUT_MINUTES,
        logGroup,
        statements: [
          allow(['logs:CreateLogStream', 'logs:PutLogEvents'], [`arn:aws:logs:${region}:${accountId}:log-group:${logGroup}:*`]),
          allow(['s3:GetObject', 's3:GetObjectVersion'], [`${bucketArn}/${pipeline.name}/*`]),
          // A folder source (an artifact prefix) is downloaded by listing it.
          listBucket(bucketArn),
          allow(['s3:GetBucketAcl', 's3:GetBucketLocation'], [bucketArn]),
        ],
      };
    }),
  );

  const days = options.artifactRetentionDays ?? 30;
  const lifecycle: LifecycleRule[] = [
    ...options.pipelines.map((p) => ({ id: `artifacts-${p.name}`.slice(0, 255), prefix: `${p.name}/`, expirationDays: days })),
    { id: 'approval-records', prefix: ControlPrefix.approvals, expirationDays: days },
    { id: 'deployment-records', prefix: ControlPrefix.deployments, expirationDays: days },
    { id: 'condition-overrides', prefix: ControlPrefix.conditionOverrides, expirationDays: days },
    // Gate state and manifests are rewritten in place: only their old versions go.
    { id: 'old-versions', noncurrentDays: 7, expiredObjectDeleteMarker: true, abortMultipartDays: 1 },
  ];

  // CodePipeline's console makes the same rule for an ECR source; here the state machine is its target.
  const imagePushRules = stateMachines.flatMap((m) =>
    ecrPushRules(m.pipeline).map((rule) => ({
      ...rule,
      name: `${names.prefix}-${m.pipeline.name}-${rule.action}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
      pipeline: m.pipeline.name,
      stateMachineArn: m.arn,
    })),
  );
  const imagePushes = {
    rules: imagePushRules,
    statements: imagePushRules.length > 0 ? [allow(['states:StartExecution'], [...new Set(imagePushRules.map((r) => r.stateMachineArn))])] : [],
  };
  const plan = {
    names,
    compileOptions,
    bucketArn,
    approvalTopicArn,
    notificationTopicArn,
    functions,
    stateMachines,
    projects,
    lifecycle,
    parameters,
    imagePushes,
  };
  checkInlinePolicies(plan);
  return plan;
}

/**
 * IAM refuses a role whose inline policies exceed 10,240 characters, and `sst deploy` would stop half
 * way: the plan refuses it first, saying what to split. A state machine's role grows with its build
 * projects and functions; the canary's with every deploy action's services, listeners, alarms and hooks.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 */
export function checkInlinePolicies(plan: Pick<InstallationPlan, 'functions' | 'stateMachines' | 'projects'>): void {
  const problems: string[] = [];
  const check = (role: string, statements: readonly PolicyStatement[], split: string) => {
    const size = inlinePolicySize(statements);
    if (size > MAX_INLINE_POLICY_CHARS)
      problems.push(`the role of ${role} needs ${size} characters of inline policy; IAM allows ${MAX_INLINE_POLICY_CHARS}: ${split}`);
  };
  for (const machine of plan.stateMachines)
    check(
      `the state machine ${machine.name}`,
      machine.statements,
      `split the pipeline ${machine.pipeline.name} into two pipelines (each gets its own role), or have its build actions share CodeBuild projects`,
    );
  for (const fn of Object.values(plan.functions)) {
    const split =
      fn.key === 'canary'
        ? 'install the pipelines that deploy to different ECS services as separate installations (sst stages), or use fewer alarms and hook functions per installation'
        : `install the pipelines as separate installations (sst stages)`;
    check(`the ${fn.key} function (${fn.name})`, fn.statements, split);
  }
  for (const project of plan.projects) check(`the CodeBuild project ${project.name}`, project.statements, 'give the action a project of its own (`project:`)');
  if (problems.length > 0) throw new Error(`stepline: cannot install: ${problems.join('; ')}`);
}

/** The options `projectName` reads; it only uses the prefix, but takes the compiler's resolved options. */
function resolvedForProjectName(options: CompileOptions) {
  return {
    target: 'aws' as const,
    region: options.region ?? '',
    accountId: options.accountId ?? '',
    artifactBucket: options.artifactBucket ?? '',
    projectPrefix: options.projectPrefix ?? 'stepline',
    approvalTopicArn: options.approvalTopicArn,
    functions: { source: '', approval: '', gate: '', canary: '', s3Deploy: '', cloudFormation: '', codeDeploy: '', conditions: '', ...options.functions },
  };
}

/**
 * A created project's own source: the repository of the source action whose artifact is the build's
 * primary input (the compiled Task sets `SourceVersion` to the commit), else the artifact store (the
 * Task overrides the location per execution).
 */
function projectSource(producer: SourceAction | undefined, bucket: string, pipeline: string, region: string, buildspec: string): ProjectPlan['source'] {
  const spec = { buildspec };
  if (producer?.provider === 'GitHub' || producer?.provider === 'CodeStarSourceConnection') {
    return {
      type: 'GITHUB',
      location: `https://github.com/${producer.repository}.git`,
      ...spec,
      ...(producer.connectionArn && { auth: { type: 'CODECONNECTIONS', resource: producer.connectionArn } }),
    };
  }
  // CodeBuild reads GitLab and Bitbucket Cloud through the action's CodeConnections connection, as GitHub.
  if (producer?.provider === 'GitLab' || producer?.provider === 'Bitbucket') {
    const host = producer.provider === 'GitLab' ? 'gitlab.com' : 'bitbucket.org';
    return {
      type: producer.provider.toUpperCase(),
      location: `https://${host}/${producer.repository}.git`,
      ...spec,
      ...(producer.connectionArn && { auth: { type: 'CODECONNECTIONS', resource: producer.connectionArn } }),
    };
  }
  if (producer?.provider === 'CodeCommit')
    return { type: 'CODECOMMIT', location: `https://git-codecommit.${region}.amazonaws.com/v1/repos/${producer.repository}`, ...spec };
  if (producer?.provider === 'S3') return { type: 'S3', location: producer.repository, ...spec };
  return { type: 'S3', location: `${bucket}/${pipeline}/`, ...spec };
}

/**
 * What CodeBuild does with a project's CodeConnections source: reads the connection and gets a token
 * for it. A connection made before the service was renamed has a `codestar-connections` ARN, and its
 * actions carry that prefix.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/connections-github-app.html
 */
export function connectionStatement(connection: string): PolicyStatement {
  const service = connection.startsWith('arn:aws:codestar-connections:') ? 'codestar-connections' : 'codeconnections';
  return allow(
    ['GetConnection', 'GetConnectionToken', 'UseConnection'].map((a) => `${service}:${a}`),
    [connection],
  );
}

const nameOf = (nameOrArn: string) => nameOrArn.split(/[:/]/).at(-1) ?? nameOrArn;

/** What the canary function does to the ECS services, listeners, Lambda aliases and alarms the deploy actions name. */
function canaryStatements(options: {
  region: string;
  accountId: string;
  bucketArn: string;
  deploys: Array<{ pipeline: Pipeline; action: DeployAction }>;
}): PolicyStatement[] {
  const { region, accountId, bucketArn, deploys } = options;
  // Deployment records are read before they exist, and listed when an execution ends (abort); the input
  // artifact's stepline manifest may be absent too (a CodeBuild upload has none).
  const statements: PolicyStatement[] = [allow(['s3:GetObject', 's3:PutObject'], [`${bucketArn}/${ControlPrefix.deployments}*`]), listBucket(bucketArn)];
  if (deploys.length === 0) return statements;

  const pipelines = [...new Set(deploys.map((d) => d.pipeline.name))];
  statements.push(
    allow(
      ['s3:GetObject'],
      pipelines.map((p) => `${bucketArn}/${p}/*`),
    ),
  );

  const ecs = deploys.flatMap(({ action }) =>
    action.ecs?.cluster && action.ecs.service ? [{ cluster: nameOf(action.ecs.cluster), service: nameOf(action.ecs.service) }] : [],
  );
  if (ecs.length > 0) {
    const services = ecs.map((e) => `arn:aws:ecs:${region}:${accountId}:service/${e.cluster}/${e.service}`);
    const taskSets = ecs.map((e) => `arn:aws:ecs:${region}:${accountId}:task-set/${e.cluster}/${e.service}/*`);
    // CreateTaskSet and DeleteTaskSet authorize on the task-set resource type; the service is named too,
    // which is harmless where it is not needed and covers a service-level check.
    statements.push(allow(['ecs:CreateTaskSet', 'ecs:DeleteTaskSet'], [...services, ...taskSets]));
    statements.push(allow(['ecs:DescribeTaskSets', 'ecs:UpdateServicePrimaryTaskSet'], [...services, ...taskSets]));
    statements.push(awsRequiresWildcard('TaskDefinitions', allow(['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'], ['*'])));
    statements.push(
      awsRequiresWildcard('TagOnCreate', {
        ...allow(['ecs:TagResource'], [...taskSets, `arn:aws:ecs:${region}:${accountId}:task-definition/*`]),
        Condition: { StringEquals: { 'ecs:CreateAction': ['CreateTaskSet', 'RegisterTaskDefinition'] } },
      }),
    );
    statements.push(
      awsRequiresWildcard('PassTaskRoles', {
        ...allow(['iam:PassRole'], [`arn:aws:iam::${accountId}:role/*`]),
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
  }

  const listeners = deploys.flatMap(({ action }) => [action.ecs?.listenerArn, action.ecs?.testListenerArn].filter((a): a is string => a !== undefined));
  const rules = deploys.flatMap(({ action }) => (action.ecs?.ruleArn ? [action.ecs.ruleArn] : []));
  if (listeners.length > 0) statements.push(allow(['elasticloadbalancing:ModifyListener'], [...new Set(listeners)]));
  if (rules.length > 0) statements.push(allow(['elasticloadbalancing:ModifyRule'], [...new Set(rules)]));
  if (listeners.length > 0 || rules.length > 0) {
    statements.push(
      awsRequiresWildcard(
        'LoadBalancerReads',
        allow(['elasticloadbalancing:DescribeListeners', 'elasticloadbalancing:DescribeRules', 'elasticloadbalancing:DescribeTargetHealth'], ['*']),
      ),
    );
  }

  // A Lambda deployment publishes a version and moves its alias; alias and version actions authorize on
  // the function, and a qualified ARN (function:name:alias) covers calls that name a version or alias.
  const lambdaFunctions = [
    ...new Set(
      deploys.flatMap(({ action }) => {
        const fnName = action.lambda?.functionName;
        return fnName === undefined ? [] : [fnName.startsWith('arn:') ? fnName.split(':').slice(0, 7).join(':') : lambdaArn(region, accountId, fnName)];
      }),
    ),
  ];
  const aliasActions = [
    'lambda:GetAlias',
    'lambda:CreateAlias',
    'lambda:UpdateAlias',
    'lambda:DeleteAlias',
    'lambda:PublishVersion',
    'lambda:GetFunctionConfiguration',
  ];
  if (lambdaFunctions.length > 0)
    statements.push(
      allow(
        aliasActions,
        lambdaFunctions.flatMap((arn) => [arn, `${arn}:*`]),
      ),
    );
  if (deploys.some(({ action }) => action.lambda && action.lambda.functionName === undefined)) {
    const anyFunction = lambdaArn(region, accountId, '*');
    statements.push(awsRequiresWildcard('LambdaFromAppSpec', allow(aliasActions, [anyFunction, `${anyFunction}:*`])));
  }

  const alarms = [...new Set(deploys.flatMap(({ action }) => action.alarms))];
  if (alarms.length > 0) statements.push(awsRequiresWildcard('CompositeAlarms', allow(['cloudwatch:DescribeAlarms'], ['*'])));

  const hooks = [
    ...new Set(
      deploys.flatMap(({ action }) =>
        Object.values(action.hooks).flatMap((h) => {
          const fnName = typeof h === 'string' ? h : h.function;
          return fnName === undefined ? [] : [fnName.startsWith('arn:') ? fnName : lambdaArn(region, accountId, fnName)];
        }),
      ),
    ),
  ];
  if (hooks.length > 0) statements.push(allow(['lambda:InvokeFunction'], hooks));
  // An appspec read at deploy time names its hook functions then: any function of the account and region.
  if (deploys.some(({ action }) => readsLambdaAppSpec(action))) {
    const anyFunction = lambdaArn(region, accountId, '*');
    statements.push(awsRequiresWildcard('LambdaHooksFromAppSpec', allow(['lambda:InvokeFunction'], [anyFunction, `${anyFunction}:*`])));
  }
  return statements;
}

/**
 * What the code-deploy function does: read the revisions (and their appspec) of the pipelines that
 * deploy in place, keep each action's last good revision, find the instances by tag, and run the
 * lifecycle on them with AWS-RunShellScript: only on instances carrying a tag an action names, or whose
 * id it names. The instances read the revision themselves, with their instance profile.
 * @see https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-rc-setting-up-cmdsec.html
 */
function codeDeployStatements(options: {
  region: string;
  accountId: string;
  bucketArn: string;
  codeDeploys: Array<{ pipeline: string; ec2: { tagFilters: Array<{ key: string; value: string }>; instanceIds: string[] } }>;
}): PolicyStatement[] {
  const { region, accountId, bucketArn, codeDeploys } = options;
  if (codeDeploys.length === 0) return [];
  const pipelines = [...new Set(codeDeploys.map((d) => d.pipeline))];
  const statements: PolicyStatement[] = [
    allow(
      ['s3:GetObject'],
      pipelines.map((p) => `${bucketArn}/${p}/*`),
    ),
    // The last good revision is read before the first one is written.
    allow(
      ['s3:GetObject', 's3:PutObject'],
      pipelines.map((p) => `${bucketArn}/${ControlPrefix.revisions}${p}/*`),
    ),
    listBucket(bucketArn),
    awsRequiresWildcard('InstanceLookup', allow(['ec2:DescribeInstances'], ['*'])),
    // ListCommands finds a batch already sent (idempotent sends) and the commands a stopped execution left running; CancelCommand stops those.
    awsRequiresWildcard('CommandResults', allow(['ssm:GetCommandInvocation', 'ssm:ListCommands', 'ssm:CancelCommand'], ['*'])),
    awsRequiresWildcard('AwsOwnedDocument', allow(['ssm:SendCommand'], [`arn:aws:ssm:${region}:*:document/AWS-RunShellScript`])),
  ];
  const tags = new Map<string, Set<string>>();
  for (const { ec2 } of codeDeploys) for (const t of ec2.tagFilters) tags.set(t.key, (tags.get(t.key) ?? new Set()).add(t.value));
  for (const [key, values] of tags)
    statements.push(
      awsRequiresWildcard('TaggedInstances', {
        ...allow(['ssm:SendCommand'], [`arn:aws:ec2:${region}:${accountId}:instance/*`, `arn:aws:ssm:${region}:${accountId}:managed-instance/*`]),
        Condition: { StringEquals: { [`ssm:resourceTag/${key}`]: [...values].sort() } },
      }),
    );
  const ids = [...new Set(codeDeploys.flatMap(({ ec2 }) => ec2.instanceIds))].sort();
  if (ids.length > 0)
    statements.push(
      allow(
        ['ssm:SendCommand'],
        ids.map((id) =>
          id.startsWith('mi-') ? `arn:aws:ssm:${region}:${accountId}:managed-instance/${id}` : `arn:aws:ec2:${region}:${accountId}:instance/${id}`,
        ),
      ),
    );
  return statements;
}

/** What a project the installation creates builds on, unless its action says otherwise. */
const DEFAULT_BUILD_ENVIRONMENT = { image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0', computeType: 'BUILD_GENERAL1_SMALL', privilegedMode: false };

/**
 * The builds the installation creates a CodeBuild project for: build and test actions that name none,
 * and every commands action (CodePipeline runs those on compute it manages).
 */
function createdProjectBuild(action: Action): (CodeBuildRun & Pick<BuildAction, 'environment'>) | undefined {
  if (action.kind === 'commands') return commandsBuild(action);
  if ((action.kind === 'build' || action.kind === 'test') && action.project === undefined) return action;
  return undefined;
}

/** Actions of a pipeline, for tests and summaries. */
export const actionsOf = (pipeline: Pipeline): Action[] => pipeline.stages.flatMap((s) => s.actions);

/**
 * What a build project reads from SSM and Secrets Manager: the action's `parameterStore` and
 * `secretsManager` (the build's overrides, which win by name, as in CodeBuild), and an inline
 * buildspec's `env.parameter-store` and `env.secrets-manager` (an imported CodeBuild project's BuildSpec
 * is inline). A buildspec file is read by CodeBuild from the commit it builds, which `sst deploy` does not
 * have and which may change after it: its `env` cannot be granted here and is declared on the action
 * (docs/install-aws.md).
 */
export function buildVariableSources(
  action: { buildspec: string; parameterStore?: Record<string, string>; secretsManager?: Record<string, string> },
  source: string,
): { parameterStore: Record<string, string>; secretsManager: Record<string, string> } {
  const env = isInlineBuildspec(action.buildspec) ? parseBuildspecText(action.buildspec, source).buildspec.env : undefined;
  return {
    parameterStore: { ...env?.parameterStore, ...action.parameterStore },
    secretsManager: { ...env?.secretsManager, ...action.secretsManager },
  };
}

/**
 * CodeBuild reads a project's PARAMETER_STORE and SECRETS_MANAGER variables with the project's role
 * (`ssm:GetParameters`, `secretsmanager:GetSecretValue`); without them the build fails before its first
 * phase. A value holding a `#{…}` reference is known only at run time: the grant stops at the reference.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.env.parameter-store
 */
export function variableSourceStatements(
  action: { parameterStore?: Record<string, string>; secretsManager?: Record<string, string> },
  region: string,
  accountId: string,
): PolicyStatement[] {
  const upToReference = (value: string) => (value.includes('#{') ? `${value.slice(0, value.indexOf('#{'))}*` : value);
  const parameters = Object.values(action.parameterStore ?? {}).map((name) => {
    if (name.startsWith('arn:')) return upToReference(name);
    const path = upToReference(name);
    return `arn:aws:ssm:${region}:${accountId}:parameter${path.startsWith('/') ? '' : '/'}${path}`;
  });
  const secrets = Object.values(action.secretsManager ?? {}).map((reference) => {
    // secret-id:json-key:version-stage:version-id, where the secret id may be an ARN (itself 7 fields).
    const id = reference.startsWith('arn:') ? reference.split(':').slice(0, 7).join(':') : (reference.split(':')[0] ?? reference);
    if (id.startsWith('arn:')) return upToReference(id);
    // Secrets Manager appends a dash and six characters to a secret's name in its ARN.
    return `arn:aws:secretsmanager:${region}:${accountId}:secret:${upToReference(id)}${id.includes('#{') ? '' : '-??????'}`;
  });
  return [
    ...(parameters.length > 0 ? [allow(['ssm:GetParameters'], [...new Set(parameters)])] : []),
    ...(secrets.length > 0 ? [allow(['secretsmanager:GetSecretValue'], [...new Set(secrets)])] : []),
  ];
}
