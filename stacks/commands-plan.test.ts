/**
 * What an installation creates for a commands action: a CodeBuild project of its own (CodePipeline's
 * managed compute), whose buildspec is the one the compiled Task sends, and roles that allow exactly
 * the build it runs; checked with the IAM simulator.
 */
import { type CommandsAction, commandsBuildspec, parsePipelineText } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { checkRequests, describeDenials, type IamRequest } from '../test/helpers/iam-check';
import { pipelineYaml } from '../test/helpers/project';
import { planInstallation } from './plan';
import { planFor } from './plan-fixture';
import { installUnderMocks } from './testing';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const pipeline = parsePipelineText(
  pipelineYaml(
    'site',
    `  - name: Package
    actions:
      - name: Bundle
        kind: commands
        namespace: BundleVars
        inputArtifacts: [Src]
        outputArtifacts: [Site]
        outputFiles: ["public/**/*"]
        outputVariables: [VERSION]
        timeoutMinutes: 20
        commands: [npm ci, npm run build, "export VERSION=$(cat VERSION)"]
`,
  ),
);
const plan = planInstallation({
  stage: 'team',
  region: REGION,
  accountId: ACCOUNT,
  pipelines: [pipeline],
  secrets: new Set(['GithubWebhookSecret', 'LinkSigningKey']),
});
const action = pipeline.stages[1]?.actions[0] as CommandsAction;

describe('a commands action on AWS', () => {
  it('gets a CodeBuild project of its own, reading the source repository, with the buildspec its Task sends', () => {
    const project = plan.projects.find((p) => p.action === 'Bundle');
    expect(project).toMatchObject({
      name: 'stepline-team-site-Package-Bundle',
      pipeline: 'site',
      stage: 'Package',
      source: { type: 'GITHUB', location: 'https://github.com/acme/x.git', buildspec: commandsBuildspec(action) },
      artifacts: { type: 'S3', location: plan.names.bucket, packaging: 'NONE', namespaceType: 'NONE' },
      environment: {
        type: 'LINUX_CONTAINER',
        image: 'aws/codebuild/amazonlinux-x86_64-standard:5.0',
        computeType: 'BUILD_GENERAL1_SMALL',
        privilegedMode: false,
      },
      timeoutMinutes: 20,
      logGroup: '/aws/codebuild/stepline-team-site-Package-Bundle',
    });
    const task = plan.stateMachines[0]?.compiled.definition.States['Package · Bundle'];
    expect(task).toMatchObject({
      Resource: 'arn:aws:states:::codebuild:startBuild.sync',
      Parameters: { ProjectName: project?.name, BuildspecOverride: commandsBuildspec(action), TimeoutInMinutesOverride: 20 },
    });
  });

  it('its roles allow the build and its uploads, and nothing of another project', async () => {
    const project = plan.projects.find((p) => p.action === 'Bundle');
    const machine = plan.stateMachines[0];
    if (!project || !machine) throw new Error('no Bundle project or state machine');
    const bucket = `arn:aws:s3:::${plan.names.bucket}`;
    const projectArn = `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${project.name}`;
    const statementsOf = (principal: string) => (principal === 'machine' ? machine.statements : project.statements);
    const allowed: IamRequest[] = [
      { principal: 'machine', action: 'codebuild:StartBuild', resource: projectArn },
      { principal: 'machine', action: 'codebuild:StopBuild', resource: projectArn },
      { principal: 'machine', action: 'codebuild:BatchGetBuilds', resource: projectArn },
      { principal: project.name, action: 'logs:PutLogEvents', resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${project.logGroup}:log-stream:b1` },
      // CodeBuild's upload of the output artifact: <pipeline>/<execution>/<artifact>/<file>.
      { principal: project.name, action: 's3:PutObject', resource: `${bucket}/site/e1/Site/public/index.html` },
      { principal: project.name, action: 's3:GetObject', resource: `${bucket}/site/e1/Src/package.json` },
    ];
    expect(describeDenials(await checkRequests(statementsOf, allowed))).toBe('');
    const denied = await checkRequests(statementsOf, [
      { principal: 'machine', action: 'codebuild:StartBuild', resource: `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/someone-else` },
      { principal: project.name, action: 's3:PutObject', resource: `${bucket}/other-pipeline/e1/Site/index.html` },
    ]);
    expect(denied).toHaveLength(2);
  });
});

describe('a Commands rule on AWS', () => {
  it('tells the conditions function of its pipeline’s executions that ended without success, to stop the rule builds they left running', async () => {
    const gated = parsePipelineText(
      pipelineYaml(
        'gated',
        `  - name: Deploy
    beforeEntry: { result: FAIL, rules: [{ name: Smoke, provider: Commands, commands: [./smoke] }] }
    actions: [{ name: Ship, kind: invoke, function: ship, inputArtifacts: [Src] }]
`,
      ),
    );
    const created = await installUnderMocks([gated, pipeline]);
    const rule = created.find((r) => r.type === 'aws:cloudwatch/eventRule:EventRule' && r.name === 'RuleBuildStop');
    expect(JSON.parse(String(rule?.inputs.eventPattern))).toStrictEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [planFor([gated, pipeline]).stateMachines[0]?.arn], status: ['ABORTED', 'TIMED_OUT', 'FAILED'] },
    });
    expect(created.filter((r) => r.type === 'aws:cloudwatch/eventTarget:EventTarget').map((t) => t.name)).toContain('RuleBuildStopToConditions');
  });
});
