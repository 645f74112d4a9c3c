import { describe, expect, it } from 'vitest';
import { ErrorName } from '../errors';
import { parseLambdaAppSpec } from './lambda-appspec';

// The shape of CodeDeploy's documented AppSpec example for a Lambda deployment.
const APPSPEC = `version: 0.0
Resources:
  - myLambdaFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: "myLambdaFunction"
        Alias: "myLambdaFunctionAlias"
        CurrentVersion: "1"
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: "LambdaFunctionToValidateBeforeTrafficShift"
  - AfterAllowTraffic: "LambdaFunctionToValidateAfterTrafficShift"
`;

describe('a Lambda AppSpec file', () => {
  it('gives the function, alias, both versions and the two hooks', () => {
    expect(parseLambdaAppSpec(APPSPEC, 'appspec.yaml')).toStrictEqual({
      functionName: 'myLambdaFunction',
      alias: 'myLambdaFunctionAlias',
      currentVersion: '1',
      targetVersion: '2',
      hooks: { BeforeAllowTraffic: 'LambdaFunctionToValidateBeforeTrafficShift', AfterAllowTraffic: 'LambdaFunctionToValidateAfterTrafficShift' },
    });
  });

  it('may be JSON, with versions as numbers and no hooks', () => {
    const json = JSON.stringify({
      version: 0.0,
      Resources: [{ fn: { Type: 'AWS::Lambda::Function', Properties: { Name: 'orders', Alias: 'live', TargetVersion: 7 } } }],
    });
    expect(parseLambdaAppSpec(json, 'appspec.json')).toStrictEqual({
      functionName: 'orders',
      alias: 'live',
      currentVersion: undefined,
      targetVersion: '7',
      hooks: {},
    });
  });

  it('is refused naming the file and the path of each problem', () => {
    const bad = APPSPEC.replace('TargetVersion: "2"', 'TargetVersion: $LATEST')
      .replace('Type: AWS::Lambda::Function', 'Type: AWS::ECS::Service')
      .replace('AfterAllowTraffic:', 'AfterInstall:');
    expect(() => parseLambdaAppSpec(bad, 'appspec.yaml')).toThrow(
      expect.objectContaining({
        name: ErrorName.ArtifactInvalid,
        message:
          'appspec.yaml: Resources.0.myLambdaFunction.Type: expected AWS::Lambda::Function; Resources.0.myLambdaFunction.Properties.TargetVersion: expected a published version number such as 2; Hooks.1.AfterInstall: expected BeforeAllowTraffic or AfterAllowTraffic: a Lambda deployment has no other hooks',
      }),
    );
    expect(() => parseLambdaAppSpec('version: 0.0\nResources: []\n', 'appspec.yml')).toThrow(
      'appspec.yml: Resources: expected exactly one resource: a Lambda deployment shifts one alias',
    );
    expect(() => parseLambdaAppSpec('version: [', 'appspec.yml')).toThrow(/^appspec\.yml: not YAML or JSON/);
  });
});
