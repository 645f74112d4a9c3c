import { describe, expect, it } from 'vitest';
import {
  type ActionArtifacts,
  checkParameterOverrides,
  parseTemplateConfiguration,
  stackCallInput,
  stackOutputsFile,
  templateBody,
} from './cloudformation-input';

/** Artifacts held in memory: `Artifact::path` → text; attributes as an S3 store would give them. */
const files = (content: Record<string, string>, s3 = true): ActionArtifacts => ({
  read: async (artifact, path) => {
    const text = content[`${artifact}::${path}`];
    if (text === undefined) throw new Error(`${artifact}::${path}: no such file`);
    return text;
  },
  attribute: (artifact, name) => (s3 ? `${name}-of-${artifact}` : { unavailable: 'no S3 here' }),
});
const action = { stackName: 'web', inputArtifacts: ['Src', 'Build'], templatePath: 'Src::stack.yml' };

describe('stackCallInput', () => {
  it('takes the configuration’s Parameters with the overrides on top, its Tags and StackPolicy', async () => {
    const input = await stackCallInput(
      {
        ...action,
        changeSetName: 'plan',
        templateConfiguration: 'Src::prod.json',
        parameterOverrides: {
          Env: 'prod',
          Image: '{"Fn::GetParam": ["Build", "image.json", "uri"]}',
          Bucket: '{ "Fn::GetArtifactAtt" : ["Build", "BucketName"] }',
        },
        capabilities: ['CAPABILITY_IAM'],
        roleArn: 'arn:aws:iam::1:role/cfn',
      },
      { TemplateURL: 'https://b.s3.us-east-1.amazonaws.com/stack.yml' },
      files({
        'Src::prod.json': JSON.stringify({ Parameters: { Env: 'beta', Size: '2' }, Tags: { team: 'web' }, StackPolicy: { Statement: [{ Effect: 'Deny' }] } }),
        'Build::image.json': '{"uri": "registry/web:42"}',
      }),
    );
    const common = {
      StackName: 'web',
      TemplateURL: 'https://b.s3.us-east-1.amazonaws.com/stack.yml',
      Parameters: [
        { ParameterKey: 'Env', ParameterValue: 'prod' },
        { ParameterKey: 'Size', ParameterValue: '2' },
        { ParameterKey: 'Image', ParameterValue: 'registry/web:42' },
        { ParameterKey: 'Bucket', ParameterValue: 'BucketName-of-Build' },
      ],
      Tags: [{ Key: 'team', Value: 'web' }],
      Capabilities: ['CAPABILITY_IAM'],
      RoleARN: 'arn:aws:iam::1:role/cfn',
    };
    expect(input).toStrictEqual({
      stack: { ...common, StackPolicyBody: '{"Statement":[{"Effect":"Deny"}]}' },
      // CreateChangeSet takes no stack policy.
      changeSet: { ...common, ChangeSetName: 'plan' },
    });
  });

  it('leaves out empty Parameters and Tags (an update with Tags: [] would remove the stack’s tags)', async () => {
    expect(await stackCallInput(action, { TemplateBody: 'Resources: {}' }, files({}))).toStrictEqual({
      stack: { StackName: 'web', TemplateBody: 'Resources: {}' },
    });
  });

  it('names the override and the file when Fn::GetParam finds no key, or the runtime has no S3 attribute', async () => {
    const getParam = { ...action, parameterOverrides: { Image: '{"Fn::GetParam": ["Build", "image.json", "tag"]}' } };
    await expect(stackCallInput(getParam, { TemplateBody: '' }, files({ 'Build::image.json': '{"uri": "x"}' }))).rejects.toThrow(
      'parameterOverrides.Image: Build::image.json has no key tag (Fn::GetParam)',
    );
    await expect(stackCallInput(getParam, { TemplateBody: '' }, files({ 'Build::image.json': '[1]' }))).rejects.toThrow(
      'Build::image.json, read by Fn::GetParam, is not a JSON object',
    );
    const att = { ...action, parameterOverrides: { Key: '{"Fn::GetArtifactAtt": ["Build", "ObjectKey"]}' } };
    await expect(stackCallInput(att, { TemplateBody: '' }, files({}, false))).rejects.toThrow(
      'parameterOverrides.Key: Fn::GetArtifactAtt ObjectKey of Build: no S3 here',
    );
  });
});

describe('checkParameterOverrides', () => {
  it('names each override whose function is malformed or reads an artifact the action does not take', () => {
    expect(
      checkParameterOverrides(
        {
          Plain: 'a {"Fn::GetParam"} in text is text',
          Bad: '{"Fn::GetParam": ["Src", "f.json"]}',
          Other: '{"Fn::GetArtifactAtt": ["Elsewhere", "URL"]}',
          Broken: '{"Fn::GetParam": [',
        },
        ['Src'],
        'stages[1].actions[0].parameterOverrides',
      ),
    ).toStrictEqual([
      {
        path: 'stages[1].actions[0].parameterOverrides.Bad',
        message: 'expected {"Fn::GetParam": ["Artifact", "file.json", "key"]} or {"Fn::GetArtifactAtt": ["Artifact", "BucketName|ObjectKey|URL"]}',
      },
      { path: 'stages[1].actions[0].parameterOverrides.Other', message: 'artifact Elsewhere is not an input artifact of the action (Src)' },
      { path: 'stages[1].actions[0].parameterOverrides.Broken', message: '{"Fn::GetParam": [ names a parameter override function but is not JSON' },
    ]);
  });
});

describe('template configuration and files', () => {
  it('refuses a configuration that is not JSON or holds what CloudFormation would not take, naming the file and key', () => {
    expect(() => parseTemplateConfiguration('Parameters: {}', 'Src::c.json')).toThrow('template configuration Src::c.json is not JSON');
    expect(() => parseTemplateConfiguration('{"Parameters": {"Size": 2}}', 'Src::c.json')).toThrow(
      'template configuration Src::c.json.Parameters.Size: expected a string value',
    );
    expect(() => parseTemplateConfiguration('{"Tag": {}}', 'Src::c.json')).toThrow('Src::c.json: Unrecognized key: "Tag"');
  });

  it('writes the outputs as one object, and refuses a template body past CloudFormation’s limit', () => {
    expect(JSON.parse(stackOutputsFile([{ OutputKey: 'Url', OutputValue: 'https://web' }]))).toStrictEqual({ Url: 'https://web' });
    expect(stackOutputsFile(undefined)).toBe('{}\n');
    expect(() => templateBody('x'.repeat(51_201), 'Src::big.yml')).toThrow('template Src::big.yml is 51201 bytes; CloudFormation takes at most 51200');
  });
});
