/** What an import of a CloudFormation template carries over from the resources a pipeline uses, and what it notes. */
import { describe, expect, it } from 'vitest';
import { importCodePipeline } from './codepipeline';

const SOURCE_STAGE = `
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: { Category: Source, Owner: AWS, Provider: CodeCommit, Version: '1' }
              Configuration: { RepositoryName: web, BranchName: main }
              OutputArtifacts: [{ Name: Code }]`;

const pipeline = (stages: string, extra = '') => `
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: web${extra}
      Stages:${SOURCE_STAGE}${stages}`;

/** A CodeDeploy application on `platform` and the head of its deployment group, whose other properties follow. */
const codeDeployGroup = (app: string, platform: string, group: string, config: string) => `
Resources:
  App:
    Type: AWS::CodeDeploy::Application
    Properties: { ApplicationName: ${app}, ComputePlatform: ${platform} }
  Group:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      ApplicationName: !Ref App
      DeploymentGroupName: ${group}
      DeploymentConfigName: ${config}
      ServiceRoleArn: arn:aws:iam::111122223333:role/codedeploy`;

/** A template whose pipeline has a second stage, `stage`, with one action (its YAML, indented as a list item's). */
const withAction = (stage: string, action: string) => `
Resources:${pipeline(`
        - Name: ${stage}
          Actions:
            - ${action}`)}
`;

describe('CodeBuild projects of the same template', () => {
  const template = `
Resources:
  DeployProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: deploy-beta
      ServiceRole: arn:aws:iam::111122223333:role/build
      Artifacts: { Type: CODEPIPELINE }
      TimeoutInMinutes: 20
      Cache: { Type: LOCAL, Modes: [LOCAL_SOURCE_CACHE] }
      Environment:
        Type: LINUX_CONTAINER
        Image: aws/codebuild/standard:7.0
        ComputeType: BUILD_GENERAL1_LARGE
        PrivilegedMode: true
        EnvironmentVariables:
          - { Name: BUILD_PHASE, Value: beta }
          - { Name: TOKEN, Value: /ci/token, Type: PARAMETER_STORE }
      Source:
        Type: CODEPIPELINE
        BuildSpec: |
          version: 0.2
          phases:
            build:
              commands: [./deploy.sh "$BUILD_PHASE"]
  DeployProdProject:
    Type: AWS::CodeBuild::Project
    Properties:
      Name: deploy-prod
      Artifacts: { Type: CODEPIPELINE }
      Environment:
        Type: LINUX_CONTAINER
        Image: aws/codebuild/standard:7.0
        ComputeType: BUILD_GENERAL1_SMALL
        EnvironmentVariables:
          - { Name: BUILD_PHASE, Value: prod }
      Source: { Type: CODEPIPELINE, BuildSpec: deploy.yml }
${pipeline(`
        - Name: Deploy
          Actions:
            - Name: Beta
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration:
                ProjectName: !Ref DeployProject
                EnvironmentVariables: '[{"name":"TOKEN","value":"override","type":"PLAINTEXT"}]'
              InputArtifacts: [{ Name: Code }]
            - Name: Prod
              RunOrder: 2
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: deploy-prod }
              InputArtifacts: [{ Name: Code }]`)}
`;

  it('carries the inline buildspec, image, compute type, timeout and variables, the action’s variables winning', () => {
    const [imported] = importCodePipeline(template, 't.yml');
    const [beta, prod] = imported?.definition.stages[1]?.actions ?? [];
    expect(beta).toStrictEqual({
      name: 'Beta',
      timeoutMinutes: 20,
      inputArtifacts: ['Code'],
      kind: 'build',
      buildspec: 'version: 0.2\nphases:\n  build:\n    commands: [./deploy.sh "$BUILD_PHASE"]\n',
      environment: { image: 'aws/codebuild/standard:7.0', computeType: 'BUILD_GENERAL1_LARGE', privilegedMode: true },
      environmentVariables: { BUILD_PHASE: 'beta', TOKEN: 'override' },
    });
    // Found by its Name as well as by !Ref: two projects that differ by one variable stay different.
    expect(prod).toMatchObject({ name: 'Prod', buildspec: 'deploy.yml', environmentVariables: { BUILD_PHASE: 'prod' } });
  });

  it('notes every project field it does not carry over, once, with its path', () => {
    const [imported] = importCodePipeline(template, 't.yml');
    const notes = imported?.notes.filter((n) => n.startsWith('Resources.Deploy')) ?? [];
    expect(notes).toStrictEqual([
      "Resources.DeployProject.Properties.ServiceRole: not carried over: the project stepline creates has the installation's build role",
      'Resources.DeployProject.Properties.Cache: not carried over: use the buildspec’s cache.paths',
    ]);
  });
});

describe('CodeDeploy (EC2/on-premises) deployment groups of the same template', () => {
  const template = (
    config: string,
    extra = '',
    filter = '{ Key: App, Value: web, Type: KEY_AND_VALUE }',
  ) => `${codeDeployGroup('web', 'Server', 'web-servers', config)}
      Ec2TagFilters: [${filter}]
      AutoScalingGroups: [web-asg]
      AutoRollbackConfiguration: { Enabled: true, Events: [DEPLOYMENT_FAILURE] }
${extra}
${pipeline(`
        - Name: Release
          Actions:
            - Name: Servers
              ActionTypeId: { Category: Deploy, Owner: AWS, Provider: CodeDeploy, Version: '1' }
              Configuration: { ApplicationName: !Ref App, DeploymentGroupName: !Ref Group }
              InputArtifacts: [{ Name: Code }]`)}
`;

  it('takes the tag filters, deployment configuration and rollback from a group named by !Ref', () => {
    const [imported] = importCodePipeline(template('CodeDeployDefault.HalfAtATime'), 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Servers',
      inputArtifacts: ['Code'],
      kind: 'codedeploy',
      applicationName: 'web',
      deploymentGroupName: 'web-servers',
      ec2: { tagFilters: [{ key: 'App', value: 'web' }] },
      deploymentConfig: 'CodeDeployDefault.HalfAtATime',
      autoRollback: true,
    });
    expect(imported?.notes).toContain(
      'Resources.Group.Properties.AutoScalingGroups: not carried over: stepline finds instances by EC2 tag filters; list on-premises (mi-…) and other instances in ec2.instanceIds',
    );
  });

  it('turns a custom deployment configuration of the template into minimumHealthyHosts', () => {
    const custom = `  Fleet:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      MinimumHealthyHosts: { Type: FLEET_PERCENT, Value: 75 }`;
    const [imported] = importCodePipeline(template('!Ref Fleet', custom), 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toMatchObject({ deploymentConfig: { minimumHealthyHosts: { type: 'FLEET_PERCENT', value: 75 } } });
  });

  it('refuses an application on another compute platform, naming it', () => {
    expect(() => importCodePipeline(template('CodeDeployDefault.OneAtATime').replace('ComputePlatform: Server', 'ComputePlatform: ECS'), 't.yml')).toThrow(
      'Resources.Pipeline.Properties.Stages[1].Actions[0].Configuration.ApplicationName: web deploys to ECS: the CodeDeploy provider is imported for Server (EC2/on-premises) and Lambda applications; ECS blue/green is the CodeDeployToECS provider',
    );
  });

  it('refuses a tag filter it cannot apply, with its path', () => {
    expect(() => importCodePipeline(template('CodeDeployDefault.OneAtATime', '', '{ Key: App, Type: KEY_ONLY }'), 't.yml')).toThrow(
      "Resources.Group.Properties.Ec2TagFilters[0]: a KEY_ONLY tag filter is not imported: stepline finds instances by a tag's key and value",
    );
  });
});

describe('CodeDeploy deployment groups of the same template', () => {
  const group = (config: string, extra = '') => `${codeDeployGroup('web', 'ECS', 'web-dg', config)}
      DeploymentStyle: { DeploymentType: BLUE_GREEN, DeploymentOption: WITH_TRAFFIC_CONTROL }
      AlarmConfiguration:
        Enabled: true
        Alarms: [{ Name: web-5xx }, { Name: web-latency }]
      AutoRollbackConfiguration: { Enabled: false }
      BlueGreenDeploymentConfiguration:
        TerminateBlueInstancesOnDeploymentSuccess: { Action: TERMINATE, TerminationWaitTimeInMinutes: 15 }
        DeploymentReadyOption: { ActionOnTimeout: CONTINUE_DEPLOYMENT }
      ECSServices: [{ ClusterName: prod, ServiceName: web }]
      LoadBalancerInfo:
        TargetGroupPairInfoList:
          - TargetGroups: [{ Name: web-blue }, { Name: web-green }]
            ProdTrafficRoute: { ListenerArns: [arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/1/2] }
${extra}
${pipeline(`
        - Name: Release
          Actions:
            - Name: Release
              ActionTypeId: { Category: Deploy, Owner: AWS, Provider: CodeDeployToECS, Version: '1' }
              Configuration:
                ApplicationName: !Ref App
                DeploymentGroupName: !Ref Group
                TaskDefinitionTemplateArtifact: Code
                TaskDefinitionTemplatePath: taskdef.json
                AppSpecTemplateArtifact: Code
                AppSpecTemplatePath: appspec.yaml
                Image1ArtifactName: Code
                Image1ContainerName: IMAGE1_NAME
              InputArtifacts: [{ Name: Code }]`)}
`;

  it('takes the strategy, alarms, termination wait and ECS target from a group named by !Ref', () => {
    const [imported] = importCodePipeline(group('CodeDeployDefault.ECSLinear10PercentEvery1Minutes'), 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Release',
      inputArtifacts: ['Code'],
      kind: 'deploy',
      strategy: 'CodeDeployDefault.ECSLinear10PercentEvery1Minutes',
      alarms: ['web-5xx', 'web-latency'],
      terminationWaitMinutes: 15,
      ecs: {
        cluster: 'prod',
        service: 'web',
        listenerArn: 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/1/2',
        targetGroups: { blue: 'web-blue', green: 'web-green' },
        taskDefinitionFile: 'taskdef.json',
      },
    });
    // IMAGE1_NAME is the placeholder in taskdef.json, which stepline fills too: no note, and no container name.
    expect(imported?.notes.some((n) => n.includes('Image1'))).toBe(false);
    expect(imported?.notes).toContain(
      'Resources.Group.Properties.AutoRollbackConfiguration: disabled: stepline always rolls back a deployment that fails or meets an alarm',
    );
    expect(imported?.notes).toContain(
      "Resources.Group.Properties.ServiceRoleArn: not carried over: stepline's canary function holds the deployment's permissions",
    );
  });

  it('turns a custom deployment configuration of the template into the same canary or linear strategy', () => {
    const custom = `  Shift:
    Type: AWS::CodeDeploy::DeploymentConfig
    Properties:
      ComputePlatform: ECS
      TrafficRoutingConfig:
        Type: TimeBasedCanary
        TimeBasedCanary: { CanaryPercentage: 20, CanaryInterval: 10 }`;
    const [imported] = importCodePipeline(group('!Ref Shift', custom), 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toMatchObject({ strategy: { canary: { percentage: 20, intervalMinutes: 10 } } });
  });

  it('spells keys in notes as the schema does, and keeps file names as they are', () => {
    const [imported] = importCodePipeline(group('CodeDeployDefault.ECSAllAtOnce'), 't.yml');
    expect(imported?.notes).toContain(
      "Resources.Pipeline.Properties.Stages[1].Actions[0].Configuration.AppSpecTemplatePath: lifecycle hooks come from the action's hooks, not from appspec.yaml; container name and port from ecs.containerName and ecs.containerPort",
    );
  });

  it('names a placeholder other than IMAGE1_NAME as a placeholder, never as the container', () => {
    const [imported] = importCodePipeline(
      group('CodeDeployDefault.ECSAllAtOnce').replace('Image1ContainerName: IMAGE1_NAME', 'Image1ContainerName: APP_IMAGE'),
      't.yml',
    );
    expect(JSON.stringify(imported?.definition)).not.toContain('APP_IMAGE');
    expect(imported?.notes).toContain(
      'Resources.Pipeline.Properties.Stages[1].Actions[0].Configuration.Image1ContainerName: APP_IMAGE is the placeholder in the task definition that CodeDeploy fills with the image of Code; stepline fills only <IMAGE1_NAME>, from imageDetail.json in Code: rename the placeholder or write the image into the task definition',
    );
  });
});

describe('CodeDeploy to Lambda, with the deployment group in the same template', () => {
  const template = (platform: string, configName: string) => `${codeDeployGroup('orders', platform, 'orders-dg', configName)}
      DeploymentStyle: { DeploymentType: BLUE_GREEN, DeploymentOption: WITH_TRAFFIC_CONTROL }
      AlarmConfiguration: { Enabled: true, Alarms: [{ Name: orders-errors }] }
      AutoRollbackConfiguration: { Enabled: true, Events: [DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM] }
${pipeline(`
        - Name: Release
          Actions:
            - Name: Shift
              ActionTypeId: { Category: Deploy, Owner: AWS, Provider: CodeDeploy, Version: '1' }
              Configuration: { ApplicationName: !Ref App, DeploymentGroupName: !Ref Group }
              InputArtifacts: [{ Name: Code }]`)}
`;

  it('becomes a deploy action with a lambda target, the group’s configuration and alarms', () => {
    const [imported] = importCodePipeline(template('Lambda', 'CodeDeployDefault.LambdaCanary10Percent10Minutes'), 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Shift',
      inputArtifacts: ['Code'],
      kind: 'deploy',
      strategy: 'CodeDeployDefault.LambdaCanary10Percent10Minutes',
      alarms: ['orders-errors'],
      lambda: {},
    });
    expect(imported?.notes).toContain(
      'Resources.Pipeline.Properties.Stages[1].Actions[0]: a Lambda deployment: the function, alias, versions and Hooks are read from the appspec in the input artifact at deploy time, as CodeDeploy does; a hook function answers with its status (it has no CodeDeploy deployment to report to)',
    );
  });

  it('shifts all at once when the group names no configuration of its own, and deploys an EC2 group in place', () => {
    const [allAtOnce] = importCodePipeline(template('Lambda', 'none').replace(/\n {6}DeploymentConfigName: none/, ''), 't.yml');
    expect(allAtOnce?.definition.stages[1]?.actions[0]).toMatchObject({ strategy: 'CodeDeployDefault.LambdaAllAtOnce', lambda: {} });
    expect(importCodePipeline(template('Server', 'CodeDeployDefault.OneAtATime'), 't.yml')[0]?.definition.stages[1]?.actions[0]).toMatchObject({
      kind: 'codedeploy',
    });
  });
});

describe('fields without a stepline equivalent', () => {
  it('notes every field it does not carry over, each with its path', () => {
    const declaration = {
      pipeline: {
        name: 'web',
        pipelineType: 'V2',
        roleArn: 'arn:aws:iam::111122223333:role/pipeline',
        artifactStore: { type: 'S3', location: 'bucket' },
        version: 3,
        stages: [
          {
            name: 'Source',
            actions: [
              {
                name: 'Src',
                actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
                configuration: { RepositoryName: 'web', BranchName: 'main', PollForSourceChanges: 'false' },
                outputArtifacts: [{ name: 'Code' }],
                region: 'eu-west-1',
              },
            ],
          },
          {
            name: 'Build',
            actions: [
              {
                name: 'Build',
                actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
                configuration: { ProjectName: 'web-build', Unknown: 'x' },
                inputArtifacts: [{ name: 'Code' }],
                roleArn: 'arn:aws:iam::111122223333:role/action',
              },
            ],
          },
        ],
      },
      metadata: { pipelineArn: 'arn:aws:codepipeline:eu-west-1:111122223333:web' },
    };
    const [imported] = importCodePipeline(JSON.stringify(declaration), 'p.json');
    expect(imported?.notes).toStrictEqual([
      'pipeline.stages[0].actions[0].configuration.PollForSourceChanges: not carried over: stepline learns of pushes from its webhook (or triggers), it never polls',
      'pipeline.stages[0].actions[0].region: not carried over: every action runs in the installation’s region',
      'pipeline.stages[1].actions[0].configuration.Unknown: not carried over',
      "pipeline.stages[1].actions[0].roleArn: not carried over: stepline's installation brings its own roles",
      "pipeline.roleArn: not carried over: stepline's installation brings its own roles",
      "pipeline.artifactStore: not carried over: artifacts live in the installation's bucket",
      'pipeline.version: not carried over: CodePipeline keeps this number itself',
      'metadata: not carried over: get-pipeline metadata (ARN, dates) describes the AWS pipeline, not its definition',
    ]);
  });

  it('fills %Name% placeholders of a get-pipeline file from --parameter, and refuses them otherwise', () => {
    const declaration = JSON.stringify({
      pipeline: {
        name: '%ServiceName%',
        stages: [
          {
            name: 'Source',
            actions: [
              {
                name: 'Src',
                actionTypeId: { category: 'Source', owner: 'AWS', provider: 'CodeCommit', version: '1' },
                configuration: { RepositoryName: '%ServiceName%-repo', BranchName: 'main' },
                outputArtifacts: [{ name: 'Code' }],
              },
            ],
          },
          {
            name: 'Build',
            actions: [
              {
                name: 'Build',
                actionTypeId: { category: 'Build', owner: 'AWS', provider: 'CodeBuild', version: '1' },
                configuration: { ProjectName: 'build' },
                inputArtifacts: [{ name: 'Code' }],
              },
            ],
          },
        ],
      },
    });
    expect(() => importCodePipeline(declaration, 'p.json')).toThrow(
      'pipeline.name: cannot be known here: %ServiceName% is a placeholder this file leaves to be filled; give it with --parameter ServiceName=<value>',
    );
    const [imported] = importCodePipeline(declaration, 'p.json', { parameters: { ServiceName: 'pay' } });
    expect(imported?.definition.name).toBe('pay');
    expect(imported?.definition.stages[0]?.actions[0]).toMatchObject({ repository: 'pay-repo' });
  });
});

describe('S3 deploy actions', () => {
  it('import as s3deploy actions, with every field of the configuration', () => {
    const template = withAction(
      'Deploy',
      `Name: Publish
              ActionTypeId: { Category: Deploy, Owner: AWS, Provider: S3, Version: '1' }
              Configuration:
                BucketName: www.example.com
                Extract: 'false'
                ObjectKey: site.zip
                KMSEncryptionKeyARN: arn:aws:kms:eu-west-1:111122223333:key/k
                CannedACL: bucket-owner-full-control
                CacheControl: max-age=60
              InputArtifacts: [{ Name: Code }]`,
    );
    const [imported] = importCodePipeline(template, 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Publish',
      inputArtifacts: ['Code'],
      kind: 's3deploy',
      bucket: 'www.example.com',
      extract: false,
      objectKey: 'site.zip',
      kmsEncryptionKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/k',
      cannedAcl: 'bucket-owner-full-control',
      cacheControl: 'max-age=60',
    });
    expect(imported?.notes).toStrictEqual([
      'Resources.Pipeline.Properties.Stages[1].Actions[0]: an S3 deploy runs on AWS as is; add local.directory to run it on one machine',
    ]);
  });
});

describe('Commands actions (V2, category Compute)', () => {
  it('come across from a CloudFormation template: commands, output variables, environment variables, the output artifact and its files', () => {
    const template = withAction(
      'Package',
      `Name: Bundle
              ActionTypeId: { Category: Compute, Owner: AWS, Provider: Commands, Version: '1' }
              Namespace: BundleVars
              Commands: [npm ci, npm run build, "export VERSION=$(cat VERSION)"]
              OutputVariables: [VERSION]
              EnvironmentVariables:
                - { Name: STAGE, Value: beta }
                - { Name: TOKEN, Value: ci/token, Type: SECRETS_MANAGER }
              InputArtifacts: [{ Name: Code }]
              OutputArtifacts: [{ Name: Site, Files: ["public/**/*"] }]`,
    );
    const [imported] = importCodePipeline(template, 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Bundle',
      namespace: 'BundleVars',
      inputArtifacts: ['Code'],
      outputArtifacts: ['Site'],
      kind: 'commands',
      commands: ['npm ci', 'npm run build', 'export VERSION=$(cat VERSION)'],
      outputVariables: ['VERSION'],
      environmentVariables: { STAGE: 'beta' },
      secretsManager: { TOKEN: 'ci/token' },
      outputFiles: ['public/**/*'],
    });
    expect(imported?.notes).toStrictEqual([]);
  });

  it('are refused in another category, and with a PARAMETER_STORE variable, naming the path', () => {
    const template = (typeId: string, env = '') =>
      withAction(
        'Package',
        `Name: Bundle
              ActionTypeId: ${typeId}
              Commands: [make]${env}
              InputArtifacts: [{ Name: Code }]`,
      );
    expect(() => importCodePipeline(template("{ Category: Build, Owner: AWS, Provider: Commands, Version: '1' }"), 't.yml')).toThrow(
      'Resources.Pipeline.Properties.Stages[1].Actions[0].ActionTypeId: stage Package, action Bundle: provider Commands (category Build) is not supported: Commands is imported in the Compute categories only, not Build',
    );
    expect(() =>
      importCodePipeline(
        template(
          "{ Category: Compute, Owner: AWS, Provider: Commands, Version: '1' }",
          '\n              EnvironmentVariables: [{ Name: T, Value: /p, Type: PARAMETER_STORE }]',
        ),
        't.yml',
      ),
    ).toThrow("Resources.Pipeline.Properties.Stages[1].Actions[0].EnvironmentVariables: T: a Commands action's variables are PLAINTEXT or SECRETS_MANAGER");
  });
});

describe('CloudFormation actions', () => {
  it('import as cloudformation actions: mode, stack, change set, template, parameters, capabilities, role', () => {
    const template = `
Parameters:
  Env: { Type: String, Default: prod }
Resources:${pipeline(`
        - Name: Deploy
          Actions:
            - Name: Plan
              ActionTypeId: { Category: Deploy, Owner: AWS, Provider: CloudFormation, Version: '1' }
              Configuration:
                ActionMode: CHANGE_SET_REPLACE
                StackName: !Sub 'web-\${Env}'
                ChangeSetName: web-cs
                TemplatePath: Code::stack.yml
                Capabilities: CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND
                RoleArn: arn:aws:iam::111122223333:role/cfn
                ParameterOverrides: !Sub '{"Env": "\${Env}", "Image": {"Fn::GetParam": ["Code", "image.json", "uri"]}}'
              InputArtifacts: [{ Name: Code }]`)}
`;
    const [imported] = importCodePipeline(template, 't.yml');
    expect(imported?.definition.stages[1]?.actions[0]).toStrictEqual({
      name: 'Plan',
      inputArtifacts: ['Code'],
      kind: 'cloudformation',
      actionMode: 'CHANGE_SET_REPLACE',
      stackName: 'web-prod',
      changeSetName: 'web-cs',
      templatePath: 'Code::stack.yml',
      parameterOverrides: { Env: 'prod', Image: '{"Fn::GetParam":["Code","image.json","uri"]}' },
      capabilities: ['CAPABILITY_IAM', 'CAPABILITY_AUTO_EXPAND'],
      roleArn: 'arn:aws:iam::111122223333:role/cfn',
    });
    // The function is resolved when the action runs (core's resolveParameterOverrides): nothing to note.
    expect(imported?.notes.filter((n) => n.includes('ParameterOverrides'))).toStrictEqual([]);
  });
});

describe('malformed documents', () => {
  it('refuses a YAML alias inside its own anchor instead of looping', () => {
    expect(() => importCodePipeline('Resources: &a { X: *a }\n', 't.yml')).toThrow('an alias refers to the node it is inside of');
  });
});

describe('several pipelines in one template', () => {
  it('imports each to its own definition', () => {
    const template = `
Resources:${pipeline(
      `
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: web-build }
              InputArtifacts: [{ Name: Code }]`,
      '-main',
    )}
${pipeline(
  `
        - Name: Test
          Actions:
            - Name: Test
              ActionTypeId: { Category: Test, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: web-test }
              InputArtifacts: [{ Name: Code }]`,
  '-pr',
).replace('  Pipeline:', '  PullRequests:')}
`;
    const imported = importCodePipeline(template, 't.yml');
    expect(imported.map((p) => [p.definition.name, p.definition.stages[1]?.actions[0]?.kind])).toStrictEqual([
      ['web-main', 'build'],
      ['web-pr', 'test'],
    ]);
  });
});

describe('V2 stage conditions', () => {
  const INVOKE = `
          Actions:
            - Name: Ship
              ActionTypeId: { Category: Invoke, Owner: AWS, Provider: Lambda, Version: '1' }
              Configuration: { FunctionName: ship }`;

  it('import BeforeEntry, OnSuccess and OnFailure with their rules from a template', () => {
    const template = `
Resources:${pipeline(
      `
        - Name: Deploy
          BeforeEntry:
            Conditions:
              - Result: SKIP
                Rules:
                  - Name: MainOnly
                    RuleTypeId: { Category: Rule, Owner: AWS, Provider: VariableCheck, Version: '1' }
                    Configuration: { Variable: '#{variables.BRANCH}', Value: main, Operator: EQ }
                  - Name: Office
                    RuleTypeId: { Category: Rule, Owner: AWS, Provider: DeploymentWindow, Version: '1' }
                    Configuration: { Cron: '* 9-17 ? * MON-FRI *', TimeZone: Europe/Paris }
          OnSuccess:
            Conditions:
              - Result: FAIL
                Rules:
                  - Name: Errors
                    RuleTypeId: { Category: Rule, Owner: AWS, Provider: CloudWatchAlarm, Version: '1' }
                    Configuration: { AlarmName: web-5xx, AlarmStates: 'ALARM,INSUFFICIENT_DATA', WaitTime: '5' }
          OnFailure:
            Result: RETRY
            RetryConfiguration: { RetryMode: ALL_ACTIONS }${INVOKE}`,
      '\n      PipelineType: V2\n      Variables: [{ Name: BRANCH, DefaultValue: main }]',
    )}
`;
    const [imported] = importCodePipeline(template, 't.yml');
    const { actions: _, ...stage } = imported?.definition.stages[1] ?? {};
    expect(stage).toStrictEqual({
      name: 'Deploy',
      beforeEntry: {
        result: 'SKIP',
        rules: [
          { name: 'MainOnly', provider: 'VariableCheck', variable: '#{variables.BRANCH}', value: 'main', operator: 'EQ' },
          { name: 'Office', provider: 'DeploymentWindow', cron: '* 9-17 ? * MON-FRI *', timeZone: 'Europe/Paris' },
        ],
      },
      onSuccess: {
        result: 'FAIL',
        rules: [{ name: 'Errors', provider: 'CloudWatchAlarm', alarmName: 'web-5xx', alarmStates: ['ALARM', 'INSUFFICIENT_DATA'], waitTimeMinutes: 5 }],
      },
      onFailure: { result: 'RETRY', retryMode: 'ALL_ACTIONS' },
    });
    expect(imported?.notes).toContain(
      'Resources.Pipeline.Properties.Stages[1].OnSuccess.Conditions[0].Rules[0]: a CloudWatchAlarm rule reads the alarm on AWS; add local.command to give its state on one machine (exit 0: OK)',
    );
  });

  it('refuses a rule provider stepline does not know, with its path', () => {
    const template = `
Resources:${pipeline(`
        - Name: Deploy
          BeforeEntry:
            Conditions:
              - Result: FAIL
                Rules:
                  - Name: Odd
                    RuleTypeId: { Category: Rule, Owner: Custom, Provider: Sundial, Version: '1' }${INVOKE}`)}
`;
    expect(() => importCodePipeline(template, 't.yml')).toThrow(
      'Resources.Pipeline.Properties.Stages[1].BeforeEntry.Conditions[0].Rules[0].RuleTypeId.Provider: rule provider "Sundial" is not supported',
    );
  });
});
