/**
 * What an installation gives the functions that read artifacts for deploy actions: the s3-deploy
 * function the artifacts and buckets its pipelines' S3 deploy actions name, the cloudformation function
 * the artifacts of pipelines with CloudFormation actions; nothing else.
 */
import { parsePipelineText } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { pipelineYaml } from '../test/helpers/project';
import { planFor } from './plan-fixture';

const pipeline = parsePipelineText(
  pipelineYaml(
    'site',
    `  - name: Deploy
    actions: [{ name: Publish, kind: s3deploy, inputArtifacts: [Src], bucket: www.example.com, kmsEncryptionKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k" }]
`,
  ),
);
const plan = (pipelines = [pipeline]) => planFor(pipelines);

describe('the s3-deploy function', () => {
  it('may read only the artifacts of pipelines that deploy to S3 and write only the buckets they name', () => {
    const { functions, names } = plan();
    const statements = functions['s3-deploy'].statements.filter((s) => !s.Action.some((a) => a.startsWith('logs:')));
    expect(statements).toStrictEqual([
      { Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${names.bucket}/site/*`] },
      // A missing manifest (a build's output) reads as 404, not 403.
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${names.bucket}`] },
      { Effect: 'Allow', Action: ['s3:PutObject', 's3:PutObjectAcl'], Resource: ['arn:aws:s3:::www.example.com/*'] },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey'], Resource: ['arn:aws:kms:eu-west-1:123456789012:key/k'] },
    ]);
    expect(plan([]).functions['s3-deploy'].statements.filter((s) => !s.Action.some((a) => a.startsWith('logs:')))).toStrictEqual([]);
  });

  it('is the function the compiled machine invokes', () => {
    const { functions, stateMachines } = plan();
    const state = stateMachines[0]?.compiled.definition.States['Deploy · Publish'];
    expect(state).toMatchObject({ Type: 'Task', Parameters: { FunctionName: functions['s3-deploy'].arn } });
  });
});

describe('the cloudformation function', () => {
  const infra = parsePipelineText(
    pipelineYaml(
      'infra',
      `  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, inputArtifacts: [Src], outputArtifacts: [Out], outputFileName: out.json, actionMode: CREATE_UPDATE, stackName: web, templatePath: "Src::stack.yml" }]`,
    ),
  );

  it('may read and write only the artifacts of pipelines with CloudFormation actions', () => {
    const { functions, names } = plan([pipeline, infra]);
    expect(functions.cloudformation.statements.filter((s) => !s.Action.some((a) => a.startsWith('logs:')))).toStrictEqual([
      { Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [`arn:aws:s3:::${names.bucket}/infra/*`] },
      { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [`arn:aws:s3:::${names.bucket}`] },
    ]);
    expect(plan().functions.cloudformation.statements.filter((s) => !s.Action.some((a) => a.startsWith('logs:')))).toStrictEqual([]);
  });

  it('is the function the compiled machine invokes to prepare the stack input and write the outputs file', () => {
    const { functions, stateMachines } = plan([infra]);
    const states = stateMachines[0]?.compiled.definition.States ?? {};
    expect(states['Deploy · Stack · prepare']).toMatchObject({ Type: 'Task', Parameters: { FunctionName: functions.cloudformation.arn } });
    expect(states['Deploy · Stack · outputs file']).toMatchObject({ Type: 'Task', Parameters: { FunctionName: functions.cloudformation.arn } });
  });
});
