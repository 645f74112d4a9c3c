/**
 * The pipeline definition as users write it (YAML, JSON or `definePipeline()`), parsed once with zod.
 *
 * Names and limits follow CodePipeline V2 where a user would look for them: `runOrder`, `namespace`,
 * `inputArtifacts`, `executionMode`, trigger `includes`/`excludes`. Stages and actions are plain data;
 * actions are a discriminated union on `kind`.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html
 */
import * as z from 'zod';
import { SERVER_DEPLOYMENT_CONFIG_NAMES } from '../codedeploy/host-batches';
import { DEPLOYMENT_CONFIG_NAMES, type PredefinedConfigName, platformOfConfig } from '../deploy/deployment-configs';
import { BeforeEntrySchema, OnFailureSchema, OnSuccessSchema } from './conditions';

const named = (what: string, pattern: RegExp, max: number, allowed: string) =>
  z
    .string({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}, got an empty string` })
    .max(max, { error: `expected ${what} of at most ${max} characters` })
    .regex(pattern, { error: `expected ${what} made of ${allowed}` });

/** Stage and action names: CodePipeline's character set. */
export const NameSchema = named('a name', /^[A-Za-z0-9.@_-]+$/, 100, 'letters, digits and . @ _ -');
export const ArtifactNameSchema = named('an artifact name', /^[A-Za-z0-9_-]+$/, 100, 'letters, digits, _ and -');
export const NamespaceSchema = named('a namespace', /^[A-Za-z0-9@_-]+$/, 100, 'letters, digits and @ _ -');
export const VariableNameSchema = named('a variable name', /^[A-Za-z0-9@_-]+$/, 128, 'letters, digits and @ _ -');
/** Pipeline variables also reach builds as environment variables, so they must be valid shell names. */
export const EnvNameSchema = named('a variable name', /^[A-Za-z_][A-Za-z0-9_]*$/, 128, 'letters, digits and _, not starting with a digit');

const positiveInt = (what = 'a positive integer') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .positive({ error: `expected ${what}` });
const text = (what = 'a string') => z.string({ error: `expected ${what}` });
const list = <T extends z.ZodType>(item: T, what: string) => z.array(item, { error: `expected a list of ${what}` });

/** Minutes, bounded by what the target service allows. */
const minutes = (max: number) => positiveInt('a positive whole number of minutes').max(max, { error: `expected at most ${max} minutes` });

export const ExecutionMode = { Superseded: 'SUPERSEDED', Queued: 'QUEUED', Parallel: 'PARALLEL' } as const;
export type ExecutionMode = (typeof ExecutionMode)[keyof typeof ExecutionMode];

const actionBase = {
  name: NameSchema,
  /** Actions of a stage with the same runOrder run in parallel; lower numbers run first. @default 1 */
  runOrder: positiveInt().max(999, { error: 'expected a positive integer of at most 999' }).default(1),
  /** Makes the action's output variables referable as `#{Namespace.Variable}`. */
  namespace: NamespaceSchema.optional(),
  inputArtifacts: list(ArtifactNameSchema, 'artifact names').default([]),
  outputArtifacts: list(ArtifactNameSchema, 'artifact names').default([]),
  /** How long the action may run before it fails with States.Timeout. Defaults depend on the kind. */
  timeoutMinutes: minutes(60 * 24 * 30).optional(),
};

export const SourceProvider = {
  GitHub: 'GitHub',
  CodeStarSourceConnection: 'CodeStarSourceConnection',
  GitLab: 'GitLab',
  Bitbucket: 'Bitbucket',
  CodeCommit: 'CodeCommit',
  S3: 'S3',
  ECR: 'ECR',
} as const;

/** ECR's repository names: lower-case path segments of letters and digits joined by `.`, `_`, `-`. */
const ECR_REPOSITORY = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

export const SourceActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('source'),
    /**
     * Where the source comes from on AWS. GitLab and Bitbucket (Cloud) repositories are read through a
     * CodeConnections connection (`connectionArn`), as CodePipeline's CodeStarSourceConnection. Locally
     * every git source is a git repository on disk. @default GitHub
     */
    provider: z.enum(Object.values(SourceProvider), { error: `expected one of ${Object.values(SourceProvider).join(', ')}` }).default('GitHub'),
    /** `owner/repo` for GitHub and Bitbucket, `group/project` for GitLab, the repository name for CodeCommit and ECR, `bucket/key` for S3. */
    repository: text('a repository such as owner/repo').min(1, { error: 'expected a repository such as owner/repo' }),
    /** The branch a manual start builds. @default main */
    branch: text('a branch name').default('main'),
    /** CodeConnections (CodeStar) connection used to read the repository on AWS. */
    connectionArn: text('a connection ARN').optional(),
    /**
     * S3 only: whether a start may name another object key (`S3_OBJECT_KEY`), as CodePipeline's
     * AllowOverrideForS3ObjectKey. @default false
     */
    allowOverrideForS3ObjectKey: z.boolean({ error: 'expected true or false' }).optional(),
    /** ECR only: the image tag whose pushes start the pipeline and whose image is the source. @default latest */
    imageTag: text('an image tag')
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: 'expected an image tag: letters, digits, _ . -, at most 128 characters' })
      .optional(),
    /**
     * ECR only, on one machine: a command that prints the image's digest (`sha256:…`), such as
     * `docker inspect --format '{{index .RepoDigests 0}}' app:latest`; the source's variables and
     * imageDetail.json are made from it.
     */
    local: z.strictObject({ command: text('a shell command').min(1, { error: 'expected a shell command' }) }).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.provider === 'ECR') {
      if (!ECR_REPOSITORY.test(a.repository) || a.repository.length > 256)
        ctx.addIssue({
          code: 'custom',
          path: ['repository'],
          message: `expected an ECR repository name (lower-case letters, digits, . _ - and /), got ${a.repository}`,
        });
      return;
    }
    for (const key of ['imageTag', 'local'] as const)
      if (a[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `only an ECR source takes ${key} (this one is ${a.provider})` });
    if (a.provider === 'S3' && !/^[^/]+\/.+$/.test(a.repository))
      ctx.addIssue({
        code: 'custom',
        path: ['repository'],
        message: `expected bucket/key for an S3 source (its S3Bucket and S3ObjectKey), got ${a.repository}`,
      });
    if (a.allowOverrideForS3ObjectKey !== undefined && a.provider !== 'S3')
      ctx.addIssue({
        code: 'custom',
        path: ['allowOverrideForS3ObjectKey'],
        message: `only an S3 source takes allowOverrideForS3ObjectKey (this one is ${a.provider})`,
      });
    if ((a.provider === 'GitLab' || a.provider === 'Bitbucket') && !a.repository.includes('/'))
      ctx.addIssue({
        code: 'custom',
        path: ['repository'],
        message: `expected ${a.provider === 'GitLab' ? 'group/project' : 'workspace/repo'} for a ${a.provider} source`,
      });
  });

/** Environment variables passed to a build, values may hold `#{Namespace.Variable}` references. */
const EnvironmentVariablesSchema = z.record(EnvNameSchema, text('a string value'), { error: 'expected a map of NAME: value' });

const buildLike = {
  ...actionBase,
  /** Path of the buildspec inside the primary input artifact, or an inline buildspec (YAML text). @default buildspec.yml */
  buildspec: text('a buildspec path or inline YAML').min(1).default('buildspec.yml'),
  /** An existing CodeBuild project. When absent, `sst deploy` creates one for this action. */
  project: text('a CodeBuild project name').min(2).max(255).optional(),
  environmentVariables: EnvironmentVariablesSchema.default({}),
  /**
   * Variables read from SSM Parameter Store when the build starts, NAME: parameter name, as CodeBuild's
   * PARAMETER_STORE type. On one machine, as the buildspec's `env.parameter-store`: the environment
   * variable of the same name, else `.stepline/secrets.json`.
   */
  parameterStore: z.record(EnvNameSchema, text('a parameter name'), { error: 'expected a map of NAME: parameter name' }).optional(),
  /** Variables read from Secrets Manager (`secret-id:json-key:version-stage:version-id`), as CodeBuild's SECRETS_MANAGER type. */
  secretsManager: z.record(EnvNameSchema, text('a secret reference'), { error: 'expected a map of NAME: secret reference' }).optional(),
  /** Which input artifact is the build's primary source when there are several. @default the first */
  primarySource: ArtifactNameSchema.optional(),
  /** Variables the buildspec exports, so references to them can be checked before running. */
  outputVariables: list(VariableNameSchema, 'variable names').optional(),
  /**
   * Runs the buildspec's `batch` (its build-list, build-matrix or build-graph) as one CodeBuild batch
   * build instead of one build, as CodePipeline's `BatchEnabled`. On one machine its builds run in
   * parallel within the cores.
   * @default false
   * @see https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html
   */
  batchEnabled: z.boolean({ error: 'expected true or false' }).optional(),
  /**
   * With `batchEnabled`: the primary artifacts of every build of the batch go into the action's one
   * output artifact, each in a folder named by the build's identifier, as CodePipeline's `CombineArtifacts`.
   * @default false
   */
  combineArtifacts: z.boolean({ error: 'expected true or false' }).optional(),
  /** Build environment of the project `sst deploy` creates. */
  environment: z
    .strictObject({
      image: text().default('aws/codebuild/amazonlinux-x86_64-standard:5.0'),
      computeType: text().default('BUILD_GENERAL1_SMALL'),
      privilegedMode: z.boolean().default(false),
    })
    .optional(),
};

export const BuildActionSchema = z.strictObject({ ...buildLike, kind: z.literal('build') });
export const TestActionSchema = z.strictObject({ ...buildLike, kind: z.literal('test') });

export const ApprovalActionSchema = z.strictObject({
  ...actionBase,
  kind: z.literal('approval'),
  /** Shown to the approver, as CodePipeline's CustomData. */
  customData: text().max(500, { error: 'expected at most 500 characters' }).optional(),
  /** A link for the approver to review, as CodePipeline's ExternalEntityLink. */
  externalEntityLink: text('a URL').url({ error: 'expected a URL' }).optional(),
  /** SNS topic for the request; the installation's approvals topic when absent. */
  notificationArn: text('an SNS topic ARN').optional(),
  /** Who may decide; anyone holding a valid link when absent. */
  approvers: z
    .strictObject({
      emailDomains: list(text('an e-mail domain'), 'e-mail domains').optional(),
      slackUserIds: list(text('a Slack user id'), 'Slack user ids').optional(),
    })
    .optional(),
});

/** A Lambda function name/ARN on AWS, or a shell command on one machine (or both). */
const FunctionOrCommandSchema = z.union(
  [
    text('a function name').min(1),
    z
      .strictObject({ function: text('a function name').optional(), command: text('a shell command').optional() })
      .refine((v) => v.function !== undefined || v.command !== undefined, { error: 'expected a function, a command or both' }),
  ],
  { error: 'expected a function name, or { function, command }' },
);

export const LifecycleHook = {
  BeforeInstall: 'BeforeInstall',
  AfterInstall: 'AfterInstall',
  AfterAllowTestTraffic: 'AfterAllowTestTraffic',
  BeforeAllowTraffic: 'BeforeAllowTraffic',
  AfterAllowTraffic: 'AfterAllowTraffic',
} as const;
export type LifecycleHook = (typeof LifecycleHook)[keyof typeof LifecycleHook];

/** The hooks of CodeDeploy's Lambda deployments: the others concern installing a task set. */
export const LAMBDA_LIFECYCLE_HOOKS: readonly LifecycleHook[] = [LifecycleHook.BeforeAllowTraffic, LifecycleHook.AfterAllowTraffic];

const percent = z
  .number({ error: 'expected a percentage' })
  .int({ error: 'expected a whole percentage' })
  .min(1, { error: 'expected a percentage from 1 to 99' })
  .max(99, { error: 'expected a percentage from 1 to 99' });

/** One step of an explicit canary, exactly one of `setWeight`, `pause`, `checkAlarms` (as Argo Rollouts). */
export const CanaryStepSchema = z
  .strictObject(
    {
      setWeight: z.number({ error: 'expected a weight from 0 to 100' }).int().min(0).max(100, { error: 'expected a weight from 0 to 100' }).optional(),
      pause: z.strictObject({ minutes: z.number({ error: 'expected minutes' }).positive({ error: 'expected a positive number of minutes' }) }).optional(),
      checkAlarms: z.strictObject({}).optional(),
    },
    { error: 'expected a step with one of setWeight, pause, checkAlarms' },
  )
  .superRefine((step, ctx) => {
    const keys = (['setWeight', 'pause', 'checkAlarms'] as const).filter((k) => step[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          keys.length === 0
            ? 'expected exactly one of setWeight, pause, checkAlarms'
            : `expected exactly one of setWeight, pause, checkAlarms, got ${keys.join(' and ')}`,
      });
    }
  });

export const DeploymentStrategySchema = z.union(
  [
    z.enum(DEPLOYMENT_CONFIG_NAMES, { error: `expected one of ${DEPLOYMENT_CONFIG_NAMES.join(', ')}` }),
    z.strictObject({ canary: z.strictObject({ percentage: percent, intervalMinutes: minutes(2880) }) }),
    z.strictObject({ linear: z.strictObject({ percentage: percent, intervalMinutes: minutes(2880) }) }),
    z.strictObject({ steps: list(CanaryStepSchema, 'steps').min(1, { error: 'expected at least one step' }) }),
  ],
  { error: 'expected a CodeDeployDefault.ECS* or CodeDeployDefault.Lambda* name, { canary }, { linear } or { steps }' },
);

export const DeployActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('deploy'),
    /**
     * Traffic shifting, as CodeDeploy's deployment configuration: an ECS name for an ECS target, a
     * Lambda name for a Lambda target. @default all at once (ECSAllAtOnce, LambdaAllAtOnce)
     */
    strategy: DeploymentStrategySchema.optional(),
    /** CloudWatch alarms checked during every bake; any in ALARM rolls back. */
    alarms: list(text('an alarm name'), 'alarm names').default([]),
    hooks: z.partialRecord(z.enum(Object.values(LifecycleHook)), FunctionOrCommandSchema).default({}),
    /** How long blue keeps running after all traffic moved to green. @default 5 */
    terminationWaitMinutes: z.number().int().min(0).max(2880).default(5),
    /** How often alarms are checked while traffic bakes. @default 60 */
    checkIntervalSeconds: positiveInt().max(3600).default(60),
    /**
     * The ECS service (EXTERNAL deployment controller) and its ALB, on AWS. Every field is needed to
     * deploy on AWS; an imported pipeline may leave some to be filled in, which `compile --target aws` reports.
     */
    ecs: z
      .strictObject({
        cluster: text('a cluster name or ARN').optional(),
        service: text('a service name or ARN').optional(),
        /** A task definition file in the input artifact, as CodeDeploy's taskdef.json. @default taskdef.json */
        taskDefinitionFile: text().default('taskdef.json'),
        /** Image definitions (imagedefinitions.json) applied to the service's current task definition instead. */
        imageDefinitionsFile: text().optional(),
        containerName: text('a container name').optional(),
        containerPort: positiveInt('a port').max(65535, { error: 'expected a port' }).optional(),
        listenerArn: text('a listener ARN').optional(),
        /** Use a listener rule instead of the listener's default action. */
        ruleArn: text('a rule ARN').optional(),
        testListenerArn: text('a listener ARN').optional(),
        targetGroups: z.strictObject({ blue: text('a target group ARN'), green: text('a target group ARN') }).optional(),
        subnets: list(text('a subnet id'), 'subnet ids').optional(),
        securityGroups: list(text('a security group id'), 'security group ids').optional(),
        assignPublicIp: z.boolean().default(false),
      })
      .optional(),
    /**
     * A Lambda function's alias, whose traffic moves from the version it points to (blue) to a new
     * version (green) by its routing weights, as CodeDeploy's Lambda deployments (appspec `Resources`:
     * Name, Alias, CurrentVersion, TargetVersion).
     * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
     */
    lambda: z
      .strictObject({
        functionName: text('a function name or ARN').min(1, { error: 'expected a function name or ARN' }).optional(),
        alias: text('an alias name')
          .regex(/^(?!^[0-9]+$)[a-zA-Z0-9-_]{1,128}$/, { error: 'expected an alias name: letters, digits, - and _, not only digits' })
          .optional(),
        /** The version the alias must point to when the deployment starts. @default whatever it points to */
        currentVersion: text('a version number')
          .regex(/^[0-9]+$/, { error: 'expected a published version number such as 3' })
          .optional(),
        /** An already published version to shift to. @default a version published from $LATEST */
        targetVersion: text('a version number')
          .regex(/^[0-9]+$/, { error: 'expected a published version number such as 4' })
          .optional(),
      })
      .optional(),
    /** The same deployment on one machine: blue and green as local processes behind a weighted proxy. */
    local: z
      .strictObject({
        /** Starts the app from the input artifact; it listens on $PORT. */
        command: text('a shell command'),
        /** Port the local proxy (the local ALB) listens on. @default 8080 */
        port: positiveInt('a port').max(65535).default(8080),
        healthPath: text('a path such as /health').default('/health'),
        /** Share of 5xx answers from green, over the last check interval, that counts as an alarm. @default 0.05 */
        errorRateThreshold: z.number().min(0).max(1).default(0.05),
      })
      .optional(),
  })
  .superRefine((a, ctx) => {
    if (a.ecs === undefined && a.lambda === undefined && a.local === undefined)
      ctx.addIssue({ code: 'custom', message: 'expected an ecs or lambda target, a local target, or both' });
    if (a.ecs !== undefined && a.lambda !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['lambda'],
        message: 'expected an ecs target or a lambda target, not both: one deployment shifts one kind of traffic',
      });
    const platform = a.lambda !== undefined ? 'Lambda' : a.ecs !== undefined ? 'ECS' : undefined;
    if (typeof a.strategy === 'string' && platform !== undefined && platformOfConfig(a.strategy as PredefinedConfigName) !== platform) {
      const other = platform === 'Lambda' ? 'ECS' : 'Lambda';
      ctx.addIssue({
        code: 'custom',
        path: ['strategy'],
        message: `${a.strategy} is for ${other}; ${platform === 'ECS' ? 'an' : 'a'} ${platform} target takes a CodeDeployDefault.${platform}* configuration`,
      });
    }
    if (a.lambda !== undefined) {
      for (const hook of Object.keys(a.hooks) as LifecycleHook[]) {
        if (!LAMBDA_LIFECYCLE_HOOKS.includes(hook))
          ctx.addIssue({ code: 'custom', path: ['hooks', hook], message: `a Lambda deployment runs only ${LAMBDA_LIFECYCLE_HOOKS.join(' and ')} hooks` });
      }
    }
  });

/**
 * CodeDeploy's in-place deployment to EC2 or on-premises instances (CodePipeline's `CodeDeploy`
 * provider with a server deployment group): the revision (the input artifact) with its appspec.yml
 * `files` and `hooks` goes to each instance, batch by batch, as the deployment configuration allows;
 * a failure rolls back to the last good revision. On AWS the instances run it through SSM Run Command;
 * on one machine it installs under `local.root` as the CodeDeploy agent would.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-server.html
 */
export const CodeDeployActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('codedeploy'),
    /** CodeDeploy's application name: passed to hooks as $APPLICATION_NAME. @default the pipeline's name */
    applicationName: text('an application name').min(1).max(100).optional(),
    /** The deployment group: passed to hooks as $DEPLOYMENT_GROUP_NAME. @default the action's name */
    deploymentGroupName: text('a deployment group name').min(1).max(100).optional(),
    /** Path of the AppSpec file in the revision. @default appspec.yml */
    appspec: text('a path in the revision').min(1).default('appspec.yml'),
    /** How many instances at a time, and how many must succeed. @default CodeDeployDefault.OneAtATime */
    deploymentConfig: z
      .union(
        [
          z.enum(SERVER_DEPLOYMENT_CONFIG_NAMES, { error: `expected one of ${SERVER_DEPLOYMENT_CONFIG_NAMES.join(', ')}` }),
          z.strictObject({
            minimumHealthyHosts: z.strictObject({
              type: z.enum(['HOST_COUNT', 'FLEET_PERCENT'], { error: 'expected HOST_COUNT or FLEET_PERCENT' }),
              value: z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' }).min(0, { error: 'expected 0 or more' }),
            }),
          }),
        ],
        { error: `expected one of ${SERVER_DEPLOYMENT_CONFIG_NAMES.join(', ')}, or { minimumHealthyHosts: { type, value } }` },
      )
      .default('CodeDeployDefault.OneAtATime')
      .refine((c) => typeof c === 'string' || c.minimumHealthyHosts.type !== 'FLEET_PERCENT' || c.minimumHealthyHosts.value <= 99, {
        error: 'expected a FLEET_PERCENT from 0 to 99',
      }),
    /** Redeploy the last good revision when the deployment fails. @default true */
    autoRollback: z.boolean({ error: 'expected true or false' }).default(true),
    /** The instances on AWS: EC2 instances (running) with any of these tags, and managed instances by id (on-premises). */
    ec2: z
      .strictObject({
        tagFilters: list(z.strictObject({ key: text('a tag key').min(1), value: text('a tag value') }), 'tag filters').default([]),
        /** SSM managed instances (`i-…` or on-premises `mi-…`), deployed besides the tagged ones. */
        instanceIds: list(
          text('an instance id').regex(/^m?i-[0-9a-f]+$/, { error: 'expected an instance id such as i-0abc or mi-0abc' }),
          'instance ids',
        ).default([]),
      })
      .optional(),
    /** The same deployment on one machine: an instance whose file system root is this directory. */
    local: z.strictObject({ root: text('a directory').min(1, { error: 'expected a directory' }) }).optional(),
  })
  .refine((a) => a.ec2 !== undefined || a.local !== undefined, { error: 'expected ec2 instances, a local root or both' });

export const InvokeActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('invoke'),
    /** Lambda function name or ARN invoked on AWS. */
    function: text('a function name or ARN').optional(),
    /** Shell command run on one machine, in the primary input artifact. */
    command: text('a shell command').optional(),
    /** Passed to the function (and as $USER_PARAMETERS to the command), as CodePipeline's UserParameters. */
    userParameters: text().optional(),
    outputVariables: list(VariableNameSchema, 'variable names').optional(),
  })
  .refine((a) => a.function !== undefined || a.command !== undefined, { error: 'expected a function, a command or both' });

/** How a Step Functions action's `input` is read, as CodePipeline's `InputType`. */
export const StepFunctionsInputType = { Literal: 'Literal', FilePath: 'FilePath' } as const;

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;

/**
 * Starts a Step Functions state machine and waits for it to end, as CodePipeline's StepFunctions
 * invoke action (`states:startExecution.sync:2` on AWS). Its variables are `ExecutionArn`,
 * `StateMachineArn` and each top-level field of the execution's output. On one machine, the ASL file
 * `local.definition` runs in the local engine instead.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StepFunctions.html
 */
export const StepFunctionsActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('stepfunctions'),
    /** The state machine started on AWS. */
    stateMachineArn: text('a state machine ARN')
      .regex(STATE_MACHINE_ARN, { error: 'expected arn:aws:states:<region>:<account>:stateMachine:<name>' })
      .optional(),
    /** Execution names are `<prefix>-<uuid>`; a uuid alone without it. */
    executionNamePrefix: text('a prefix')
      .regex(/^[A-Za-z0-9_-]{1,43}$/, { error: 'expected at most 43 letters, digits, _ and - (the name is <prefix>-<uuid>, at most 80)' })
      .optional(),
    /** Literal: `input` is the execution's input (JSON). FilePath: `input` is a JSON file's path in the input artifact. @default Literal */
    inputType: z.enum(Object.values(StepFunctionsInputType), { error: 'expected Literal or FilePath' }).default('Literal'),
    /** The execution's input (Literal, may hold `#{Namespace.Variable}`), or a path in the input artifact (FilePath). @default {} */
    input: text('a JSON value or a file path').optional(),
    /** Fields of the execution's output that later actions reference, so references can be checked before running. */
    outputVariables: list(VariableNameSchema, 'variable names').optional(),
    /** The same on one machine: an ASL file (JSON) in the repository, run in the local engine. */
    local: z.strictObject({ definition: text('a path to an ASL JSON file').min(1, { error: 'expected a path to an ASL JSON file' }) }).optional(),
  })
  .superRefine((a, ctx) => {
    if (a.stateMachineArn === undefined && a.local === undefined)
      ctx.addIssue({ code: 'custom', path: ['stateMachineArn'], message: 'expected a stateMachineArn, a local definition or both' });
    if (a.inputType === 'FilePath' && (a.input === undefined || a.input.trim() === ''))
      ctx.addIssue({ code: 'custom', path: ['input'], message: 'expected the path of a JSON file in the input artifact (inputType FilePath)' });
    if (a.inputType === 'Literal' && a.input !== undefined && !a.input.includes('#{')) {
      try {
        JSON.parse(a.input);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['input'], message: `expected JSON (inputType Literal): ${(error as Error).message}` });
      }
    }
  });

/** S3's canned ACLs, as CodePipeline's S3 deploy action takes them. */
export const CANNED_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'aws-exec-read',
  'authenticated-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
  'log-delivery-write',
] as const;

/**
 * Copies the input artifact into an S3 bucket (each file under its path, or one zip at `objectKey`),
 * as CodePipeline's S3 deploy action; on one machine, into `local.directory`.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3Deploy.html
 */
export const S3DeployActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('s3deploy'),
    /** The bucket the files go to, on AWS. */
    bucket: text('a bucket name').min(3, { error: 'expected a bucket name' }).max(63, { error: 'expected a bucket name' }).optional(),
    /** Each file of the artifact under its own key (true), or the artifact as one zip at `objectKey` (false). @default true */
    extract: z.boolean({ error: 'expected true or false' }).default(true),
    /** With extract, the key prefix the files go under; without, the zip's key. */
    objectKey: text('an object key').optional(),
    /** Encrypts the objects with this KMS key (SSE-KMS); the bucket's default encryption otherwise. */
    kmsEncryptionKeyArn: text('a KMS key ARN').optional(),
    cannedAcl: z.enum(CANNED_ACLS, { error: `expected one of ${CANNED_ACLS.join(', ')}` }).optional(),
    /** The Cache-Control header of every object, such as `max-age=300`. */
    cacheControl: text('a Cache-Control value').optional(),
    /** The same deploy on one machine: the files (or the zip) go into this directory. */
    local: z.strictObject({ directory: text('a directory').min(1, { error: 'expected a directory' }) }).optional(),
  })
  .refine((a) => a.bucket !== undefined || a.local !== undefined, { error: 'expected a bucket, a local directory or both' })
  .refine((a) => a.extract || a.objectKey !== undefined, { error: 'expected objectKey: without extract the artifact goes to one object' });

/** How long a Commands action's build may run: CodePipeline's limit, and the default. */
export const COMMANDS_TIMEOUT_MINUTES = 55;

/**
 * Shell commands run in one shell session with the input artifacts, as CodePipeline's Commands action
 * (category Compute): on AWS in a CodeBuild project that `sst deploy` creates (CodePipeline's managed
 * compute), on one machine with the buildspec runner. Each command is one line.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Commands.html
 */
export const CommandsActionSchema = z.strictObject({
  ...actionBase,
  kind: z.literal('commands'),
  /** A Commands action's build may run 55 minutes, as CodePipeline's managed compute allows. @default 55 */
  timeoutMinutes: minutes(COMMANDS_TIMEOUT_MINUTES).optional(),
  commands: list(
    text('a shell command')
      .min(1, { error: 'expected a shell command, got an empty string' })
      .max(1000, { error: 'expected a command of at most 1000 characters' })
      .refine((c) => !/[\r\n]/.test(c), { error: 'expected one line: the Commands action takes no multi-line commands, write one command per entry' }),
    'shell commands',
  )
    .min(1, { error: 'expected at least one command' })
    .max(50, { error: 'expected at most 50 commands' }),
  /** Environment variables of the commands exported as the action's variables (`#{Namespace.NAME}`). */
  outputVariables: list(VariableNameSchema, 'variable names').optional(),
  environmentVariables: EnvironmentVariablesSchema.default({}),
  /** Variables read from Secrets Manager when the commands start, as the action's SECRETS_MANAGER environment variables. */
  secretsManager: z.record(EnvNameSchema, text('a secret reference'), { error: 'expected a map of NAME: secret reference' }).optional(),
  /**
   * The files of the output artifact, as CodePipeline's OutputArtifact `files`: paths or globs relative
   * to the primary input's directory. @default every file of that directory
   */
  outputFiles: list(
    text('a path or glob').min(1, { error: 'expected a path or glob' }).max(128, { error: 'expected a path or glob of at most 128 characters' }),
    'paths or globs',
  )
    .min(1, { error: 'expected at least one path or glob' })
    .max(10, { error: 'expected at most 10 paths or globs' })
    .optional(),
});

/** CodePipeline's CloudFormation action modes. */
export const CloudFormationActionMode = {
  CreateUpdate: 'CREATE_UPDATE',
  DeleteOnly: 'DELETE_ONLY',
  ReplaceOnFailure: 'REPLACE_ON_FAILURE',
  ChangeSetReplace: 'CHANGE_SET_REPLACE',
  ChangeSetExecute: 'CHANGE_SET_EXECUTE',
} as const;
export type CloudFormationActionMode = (typeof CloudFormationActionMode)[keyof typeof CloudFormationActionMode];
const ARTIFACT_FILE = /^[A-Za-z0-9_-]+::.+$/;

/**
 * Creates, updates or deletes a CloudFormation stack, or creates and executes a change set, as
 * CodePipeline's CloudFormation action. The stack's outputs are the action's variables.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html
 */
export const CloudFormationActionSchema = z
  .strictObject({
    ...actionBase,
    kind: z.literal('cloudformation'),
    actionMode: z.enum(Object.values(CloudFormationActionMode), { error: `expected one of ${Object.values(CloudFormationActionMode).join(', ')}` }),
    stackName: text('a stack name').regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, { error: 'expected a stack name: letters, digits and -, starting with a letter' }),
    changeSetName: text('a change set name').optional(),
    /** `Artifact::path/to/template.yml` in an input artifact. */
    templatePath: text().regex(ARTIFACT_FILE, { error: 'expected Artifact::path' }).optional(),
    /** `Artifact::path/to/config.json`: Parameters, Tags, StackPolicy. */
    templateConfiguration: text().regex(ARTIFACT_FILE, { error: 'expected Artifact::path' }).optional(),
    /** Template parameters, overriding the template configuration's; a value may be `{"Fn::GetParam": [...]}` or `{"Fn::GetArtifactAtt": [...]}` as JSON text (see cloudformation-input.ts). */
    parameterOverrides: z.record(text(), text('a string value'), { error: 'expected a map of Name: value' }).optional(),
    capabilities: list(
      z.enum(['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM', 'CAPABILITY_AUTO_EXPAND'], {
        error: 'expected CAPABILITY_IAM, CAPABILITY_NAMED_IAM or CAPABILITY_AUTO_EXPAND',
      }),
      'capabilities',
    ).optional(),
    /** The role CloudFormation acts with. */
    roleArn: text('a role ARN').optional(),
    /** A JSON file of the stack's outputs, in the action's output artifact. */
    outputFileName: text('a file name').optional(),
    /** On one machine this command runs instead of the deploy, credentials or not (like a deploy action's local command); without it the stack is deployed with the user's own AWS credentials. */
    local: z.strictObject({ command: text('a shell command') }).optional(),
  })
  .superRefine((a, ctx) => {
    const needsTemplate = a.actionMode === 'CREATE_UPDATE' || a.actionMode === 'REPLACE_ON_FAILURE' || a.actionMode === 'CHANGE_SET_REPLACE';
    if (needsTemplate && a.templatePath === undefined)
      ctx.addIssue({ code: 'custom', path: ['templatePath'], message: `expected Artifact::file: ${a.actionMode} needs a template` });
    if (a.actionMode.startsWith('CHANGE_SET') && a.changeSetName === undefined)
      ctx.addIssue({ code: 'custom', path: ['changeSetName'], message: `expected a change set name for ${a.actionMode}` });
  });

export const ACTION_KINDS = [
  'source',
  'build',
  'test',
  'approval',
  'deploy',
  'codedeploy',
  'invoke',
  's3deploy',
  'cloudformation',
  'stepfunctions',
  'commands',
] as const;

export const ActionSchema = z.discriminatedUnion(
  'kind',
  [
    SourceActionSchema,
    BuildActionSchema,
    TestActionSchema,
    ApprovalActionSchema,
    DeployActionSchema,
    CodeDeployActionSchema,
    InvokeActionSchema,
    S3DeployActionSchema,
    CloudFormationActionSchema,
    StepFunctionsActionSchema,
    CommandsActionSchema,
  ],
  {
    error: (issue) => (issue.code === 'invalid_union' ? `expected kind to be one of ${ACTION_KINDS.join(', ')}` : undefined),
  },
);

export const StageSchema = z.strictObject({
  name: NameSchema,
  actions: list(ActionSchema, 'actions').min(1, { error: 'expected at least one action' }).max(50, { error: 'expected at most 50 actions' }),
  /** Rules checked before the stage is entered; when one does not pass, the stage fails or is skipped. */
  beforeEntry: BeforeEntrySchema.optional(),
  /** Rules checked once the stage succeeded; when one does not pass, the stage fails or rolls back. */
  onSuccess: OnSuccessSchema.optional(),
  /** What a failed stage does: fail, retry itself once, or roll back. */
  onFailure: OnFailureSchema.optional(),
});

const FilterCriteriaSchema = z.strictObject({
  includes: list(text('a glob'), 'globs').max(8).optional(),
  excludes: list(text('a glob'), 'globs').max(8).optional(),
});

export const PullRequestEvent = { Open: 'OPEN', Updated: 'UPDATED', Closed: 'CLOSED' } as const;

const PushFilterSchema = z
  .strictObject({ branches: FilterCriteriaSchema.optional(), tags: FilterCriteriaSchema.optional(), filePaths: FilterCriteriaSchema.optional() })
  .refine((f) => !(f.branches && f.tags), { error: 'expected branches or tags in one push filter, not both' });

const PullRequestFilterSchema = z.strictObject({
  events: list(z.enum(Object.values(PullRequestEvent), { error: 'expected OPEN, UPDATED or CLOSED' }), 'events')
    .min(1)
    .default(['OPEN', 'UPDATED']),
  branches: FilterCriteriaSchema.optional(),
  filePaths: FilterCriteriaSchema.optional(),
});

/** What starts the pipeline, as CodePipeline V2's trigger `gitConfiguration`. */
export const TriggerSchema = z.strictObject({
  /** The source action whose repository the trigger watches. @default the first source action */
  sourceAction: NameSchema.optional(),
  push: list(PushFilterSchema, 'push filters').max(3).optional(),
  pullRequest: list(PullRequestFilterSchema, 'pull request filters').max(3).optional(),
});

export const VariableSchema = z.strictObject({
  name: EnvNameSchema,
  default: z.union([text(), z.number(), z.boolean()], { error: 'expected a string' }).transform(String).optional(),
  description: text().max(200).optional(),
});

export const PipelineSchema = z.strictObject({
  version: z.literal(1, { error: 'expected version 1' }).default(1),
  name: NameSchema,
  description: text().optional(),
  /** How executions that overlap are handled. @default SUPERSEDED */
  executionMode: z.enum(Object.values(ExecutionMode), { error: 'expected SUPERSEDED, QUEUED or PARALLEL' }).default('SUPERSEDED'),
  /** The whole execution's limit. @default none beyond each action's */
  timeoutMinutes: minutes(60 * 24 * 365).optional(),
  variables: list(VariableSchema, 'variables').max(50).default([]),
  triggers: list(TriggerSchema, 'triggers').max(50).default([]),
  stages: list(StageSchema, 'stages').min(1, { error: 'expected at least one stage' }),
});

/** A parsed, defaulted pipeline: what every other part of stepline consumes. */
export type Pipeline = z.output<typeof PipelineSchema>;
/** What a user writes: defaults may be left out. */
export type PipelineDefinition = z.input<typeof PipelineSchema>;
export type Stage = Pipeline['stages'][number];
export type Action = Stage['actions'][number];
export type ActionKind = Action['kind'];
export type SourceAction = z.output<typeof SourceActionSchema>;
export type BuildAction = z.output<typeof BuildActionSchema> | z.output<typeof TestActionSchema>;
export type ApprovalAction = z.output<typeof ApprovalActionSchema>;
export type DeployAction = z.output<typeof DeployActionSchema>;
export type CodeDeployAction = z.output<typeof CodeDeployActionSchema>;
export type InvokeAction = z.output<typeof InvokeActionSchema>;
export type S3DeployAction = z.output<typeof S3DeployActionSchema>;
export type CloudFormationAction = z.output<typeof CloudFormationActionSchema>;
export type StepFunctionsAction = z.output<typeof StepFunctionsActionSchema>;
export type CommandsAction = z.output<typeof CommandsActionSchema>;
export type Trigger = z.output<typeof TriggerSchema>;
export type DeploymentStrategy = z.output<typeof DeploymentStrategySchema>;
export type CanaryStep = z.output<typeof CanaryStepSchema>;
export type FunctionOrCommand = z.output<typeof FunctionOrCommandSchema>;
