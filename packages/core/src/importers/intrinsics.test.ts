// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the tests quote CloudFormation's ${} syntax
/**
 * Intrinsic functions in imported templates, each resolved as CloudFormation documents it
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html),
 * or refused with the path and the `--parameter` that settles it.
 */
import { describe, expect, it } from 'vitest';
import { refusalOf } from '../testing';
import { type ImportOptions, importCodePipeline } from './codepipeline';

type Obj = Record<string, unknown>;

/** A template whose CodeCommit source takes `repository` as RepositoryName, and whose build takes `variable` as VALUE. */
function template(sections: Obj, repository: unknown, variable: unknown = 'x', moreStages: unknown[] = []): string {
  return JSON.stringify({
    ...sections,
    Resources: {
      ...(sections.Resources as Obj | undefined),
      Pipeline: {
        Type: 'AWS::CodePipeline::Pipeline',
        Properties: {
          Name: 'app',
          Stages: [
            {
              Name: 'Source',
              Actions: [
                {
                  Name: 'Src',
                  ActionTypeId: { Category: 'Source', Owner: 'AWS', Provider: 'CodeCommit', Version: '1' },
                  Configuration: { RepositoryName: repository, BranchName: 'main' },
                  OutputArtifacts: [{ Name: 'Code' }],
                },
              ],
            },
            {
              Name: 'Build',
              Actions: [
                {
                  Name: 'Build',
                  ActionTypeId: { Category: 'Build', Owner: 'AWS', Provider: 'CodeBuild', Version: '1' },
                  Configuration: {
                    ProjectName: 'app-build',
                    EnvironmentVariables: { 'Fn::Sub': ['[{"name":"VALUE","value":"${V}","type":"PLAINTEXT"}]', { V: variable }] },
                  },
                  InputArtifacts: [{ Name: 'Code' }],
                },
              ],
            },
            ...moreStages,
          ],
        },
      },
    },
  });
}

const imported = (text: string, options: ImportOptions = {}) => {
  const [first] = importCodePipeline(text, 'template.json', options);
  if (!first) throw new Error('nothing imported');
  return first;
};
const actionOf = (text: string, options: ImportOptions | undefined, stage: number) =>
  imported(text, options).definition.stages[stage]?.actions[0] as Record<string, unknown>;
const repositoryOf = (text: string, options?: ImportOptions) => actionOf(text, options, 0).repository;
const variableOf = (text: string, options?: ImportOptions) => (actionOf(text, options, 1).environmentVariables as Record<string, string>).VALUE;
const problems = (text: string, options?: ImportOptions) => refusalOf(() => importCodePipeline(text, 'template.json', options));
const SOURCE = 'Resources.Pipeline.Properties.Stages[0].Actions[0].Configuration.RepositoryName';

describe('Ref', () => {
  it('gives a parameter its Default, or the value given with --parameter', () => {
    const text = template({ Parameters: { Repo: { Type: 'String', Default: 'from-default' } } }, { Ref: 'Repo' });
    expect(repositoryOf(text)).toBe('from-default');
    expect(repositoryOf(text, { parameters: { Repo: 'given' } })).toBe('given');
  });

  it('refuses a parameter with neither, naming the path and the --parameter to give', () => {
    const text = template({ Parameters: { Repo: { Type: 'String' } } }, { Ref: 'Repo' });
    expect(problems(text)).toStrictEqual([`${SOURCE}: cannot be known here: parameter Repo has no Default; give it with --parameter Repo=<value>`]);
  });

  it('refuses a value outside the parameter’s AllowedValues, as CloudFormation does', () => {
    const text = template({ Parameters: { Repo: { Type: 'String', Default: 'a', AllowedValues: ['a', 'b'] } } }, { Ref: 'Repo' });
    expect(problems(text, { parameters: { Repo: 'c' } })[0]).toContain('not one of its AllowedValues a, b');
  });

  it('gives a resource of the template its name, by logical id', () => {
    const text = template({ Resources: { Repository: { Type: 'AWS::ECR::Repository', Properties: { RepositoryName: 'images' } } } }, 'app', {
      Ref: 'Repository',
    });
    expect(variableOf(text)).toBe('images');
  });

  it('refuses a resource whose name CloudFormation generates, naming the logical id to give', () => {
    const text = template({ Resources: { Bucket: { Type: 'AWS::S3::Bucket' } } }, 'app', { Ref: 'Bucket' });
    expect(problems(text)[0]).toContain('Bucket sets no BucketName, so CloudFormation generates its name; give it with --parameter Bucket=<value>');
    expect(variableOf(text, { parameters: { Bucket: 'site' } })).toBe('site');
  });

  it('gives an SNS topic its ARN, from --region and --account', () => {
    const text = template({ Resources: { Topic: { Type: 'AWS::SNS::Topic', Properties: { TopicName: 'approvals' } } } }, 'app', { Ref: 'Topic' });
    expect(variableOf(text, { region: 'eu-west-1', accountId: '111122223333' })).toBe('arn:aws:sns:eu-west-1:111122223333:approvals');
  });
});

describe('Fn::Sub', () => {
  it('substitutes parameters and pseudo parameters in the string form, and keeps ${!Literal} as ${Literal}', () => {
    const text = template(
      { Parameters: { Env: { Type: 'String', Default: 'prod' } } },
      { 'Fn::Sub': 'app-${Env}-${AWS::Region}' },
      {
        'Fn::Sub': 'echo $${!HOME}',
      },
    );
    expect(repositoryOf(text, { region: 'eu-west-1' })).toBe('app-prod-eu-west-1');
    expect(variableOf(text)).toBe('echo $${HOME}');
  });

  it('takes variables from its map first (the list form), their values resolved', () => {
    const text = template(
      { Parameters: { Env: { Type: 'String', Default: 'prod' } } },
      {
        'Fn::Sub': ['${Name}-${Env}', { Name: { 'Fn::Select': [0, ['svc', 'other']] }, Env: 'staging' }],
      },
    );
    expect(repositoryOf(text)).toBe('svc-staging');
  });

  it('refuses a string with an unknown piece rather than leaving ${Name} for a shell to empty', () => {
    const text = template({ Parameters: { BucketName: { Type: 'String' } } }, 'app', { 'Fn::Sub': 'aws s3 rm s3://${BucketName} --recursive' });
    expect(problems(text)).toStrictEqual([
      'Resources.Pipeline.Properties.Stages[1].Actions[0].Configuration.EnvironmentVariables: cannot be known here: parameter BucketName has no Default; give it with --parameter BucketName=<value>',
    ]);
  });
});

describe('Fn::Join', () => {
  it('joins resolved values with the delimiter, a list parameter as the list', () => {
    const text = template({ Parameters: { Parts: { Type: 'CommaDelimitedList', Default: 'app,prod' } } }, { 'Fn::Join': ['-', { Ref: 'Parts' }] });
    expect(repositoryOf(text)).toBe('app-prod');
  });
});

describe('Fn::Select and Fn::Split', () => {
  it('selects by index, given as text as in the documentation’s example', () => {
    const text = template({}, { 'Fn::Select': ['1', ['apples', 'grapes', 'oranges', 'mangoes']] });
    expect(repositoryOf(text)).toBe('grapes');
  });

  it('selects from a CommaDelimitedList parameter, each item trimmed', () => {
    const text = template({ Parameters: { Repos: { Type: 'CommaDelimitedList', Default: 'web, api, worker' } } }, { 'Fn::Select': [2, { Ref: 'Repos' }] });
    expect(repositoryOf(text)).toBe('worker');
  });

  it('splits a string and selects a piece', () => {
    const text = template({}, { 'Fn::Select': [1, { 'Fn::Split': ['/', 'acme/web/main'] }] });
    expect(repositoryOf(text)).toBe('web');
  });

  it('refuses an index out of range, which fails the stack', () => {
    const text = template({}, { 'Fn::Select': [3, ['a', 'b']] });
    expect(problems(text)[0]).toContain('Fn::Select index 3 is out of range for a list of 2');
  });
});

describe('Fn::FindInMap', () => {
  it('reads the template’s Mappings, keys resolved first', () => {
    const mappings = { Mappings: { Repos: { 'eu-west-1': { Name: 'web-eu' }, 'us-east-1': { Name: 'web-us' } } } };
    const text = template(mappings, { 'Fn::FindInMap': ['Repos', { Ref: 'AWS::Region' }, 'Name'] });
    expect(repositoryOf(text, { region: 'us-east-1' })).toBe('web-us');
  });

  it('refuses a key the map lacks', () => {
    const text = template({ Mappings: { Repos: { a: { Name: 'x' } } } }, { 'Fn::FindInMap': ['Repos', 'b', 'Name'] });
    expect(problems(text)[0]).toContain("Fn::FindInMap Repos.b.Name is not in the template's Mappings");
  });
});

describe('Fn::If and Conditions', () => {
  const sections = {
    Parameters: { Env: { Type: 'String', Default: 'prod' }, Approve: { Type: 'String', Default: 'no' } },
    Conditions: {
      IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
      WantsApproval: { 'Fn::Equals': [{ Ref: 'Approve' }, 'yes'] },
      ProdAndApproval: { 'Fn::And': [{ Condition: 'IsProd' }, { Condition: 'WantsApproval' }] },
      NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
      Either: { 'Fn::Or': [{ Condition: 'NotProd' }, { Condition: 'WantsApproval' }] },
    },
  };
  const approval = (condition: string) => ({
    'Fn::If': [
      condition,
      { Name: 'Approve', Actions: [{ Name: 'Ok', ActionTypeId: { Category: 'Approval', Owner: 'AWS', Provider: 'Manual', Version: '1' } }] },
      { Ref: 'AWS::NoValue' },
    ],
  });

  it('picks the branch its condition gives, with the conditions evaluated from parameter defaults', () => {
    expect(repositoryOf(template(sections, { 'Fn::If': ['IsProd', 'web-prod', 'web-dev'] }))).toBe('web-prod');
    expect(repositoryOf(template(sections, { 'Fn::If': ['IsProd', 'web-prod', 'web-dev'] }), { parameters: { Env: 'dev' } })).toBe('web-dev');
  });

  it('leaves out a stage whose branch is AWS::NoValue, and keeps it when the condition holds', () => {
    const stages = (options?: ImportOptions) =>
      imported(template(sections, 'web', 'x', [approval('ProdAndApproval')]), options).definition.stages.map((s) => s.name);
    expect(stages()).toStrictEqual(['Source', 'Build']);
    expect(stages({ parameters: { Approve: 'yes' } })).toStrictEqual(['Source', 'Build', 'Approve']);
  });

  it('evaluates Fn::Not and Fn::Or', () => {
    const stages = (options?: ImportOptions) => imported(template(sections, 'web', 'x', [approval('Either')]), options).definition.stages.length;
    expect(stages()).toBe(2);
    expect(stages({ parameters: { Env: 'dev' } })).toBe(3);
  });

  it('refuses a branch whose condition rests on an unknown parameter, naming the condition', () => {
    const text = template({ Parameters: { Env: { Type: 'String' } }, Conditions: sections.Conditions }, 'web', 'x', [approval('IsProd')]);
    expect(problems(text)).toStrictEqual([
      'Resources.Pipeline.Properties.Stages[2]: cannot be known here: Fn::If IsProd: parameter Env has no Default; give it with --parameter Env=<value>',
    ]);
  });

  it('skips a pipeline whose resource Condition is false', () => {
    const text = JSON.parse(template(sections, 'web')) as { Resources: Record<string, Obj> };
    (text.Resources.Pipeline as Obj).Condition = 'NotProd';
    expect(() => importCodePipeline(JSON.stringify(text), 't.json')).toThrow('every AWS::CodePipeline::Pipeline resource has a Condition that is false');
  });
});

describe('Fn::GetAtt', () => {
  it('builds the attributes a template resource’s name decides (a CodeBuild project’s Arn)', () => {
    const text = template({ Resources: { Build: { Type: 'AWS::CodeBuild::Project', Properties: { Name: 'app-build' } } } }, 'web', {
      'Fn::GetAtt': ['Build', 'Arn'],
    });
    expect(variableOf(text, { region: 'eu-west-1', accountId: '111122223333' })).toBe('arn:aws:codebuild:eu-west-1:111122223333:project/app-build');
  });

  it('refuses a nested stack’s output, naming the --parameter that gives it', () => {
    const text = template(
      { Resources: { Shared: { Type: 'AWS::CloudFormation::Stack', Properties: { TemplateURL: 'https://x' } } } },
      {
        'Fn::GetAtt': ['Shared', 'Outputs.RepositoryName'],
      },
    );
    expect(problems(text)).toStrictEqual([
      `${SOURCE}: cannot be known here: Fn::GetAtt Shared.Outputs.RepositoryName is an output of the nested stack Shared; give it with --parameter Shared.Outputs.RepositoryName=<value>`,
    ]);
    expect(repositoryOf(text, { parameters: { 'Shared.Outputs.RepositoryName': 'web' } })).toBe('web');
  });

  it('reads !GetAtt Stack.Outputs.Name in YAML as the resource Stack and the attribute Outputs.Name', () => {
    const yaml = `
Resources:
  Shared: { Type: AWS::CloudFormation::Stack, Properties: { TemplateURL: https://x } }
  Pipeline:
    Type: AWS::CodePipeline::Pipeline
    Properties:
      Name: app
      Stages:
        - Name: Source
          Actions:
            - Name: Src
              ActionTypeId: { Category: Source, Owner: AWS, Provider: CodeCommit, Version: '1' }
              Configuration: { RepositoryName: !GetAtt Shared.Outputs.Repo, BranchName: main }
              OutputArtifacts: [{ Name: Code }]
        - Name: Build
          Actions:
            - Name: Build
              ActionTypeId: { Category: Build, Owner: AWS, Provider: CodeBuild, Version: '1' }
              Configuration: { ProjectName: app-build }
              InputArtifacts: [{ Name: Code }]
`;
    expect(() => importCodePipeline(yaml, 't.yml')).toThrow('give it with --parameter Shared.Outputs.Repo=<value>');
  });
});

describe('Fn::ImportValue', () => {
  it('refuses another stack’s export, naming it, and takes its value from --parameter', () => {
    const text = template({ Parameters: { Env: { Type: 'String', Default: 'prod' } } }, { 'Fn::ImportValue': { 'Fn::Sub': '${Env}-repository' } });
    expect(problems(text)).toStrictEqual([
      `${SOURCE}: cannot be known here: Fn::ImportValue prod-repository is another stack's export; give it with --parameter prod-repository=<value>`,
    ]);
    expect(repositoryOf(text, { parameters: { 'prod-repository': 'web' } })).toBe('web');
  });
});

describe('pseudo parameters', () => {
  it('uses --region and --account, and derives the partition and URL suffix from the region', () => {
    const text = template({}, { 'Fn::Sub': '${AWS::AccountId}-${AWS::Region}-${AWS::Partition}-${AWS::URLSuffix}' });
    expect(repositoryOf(text, { region: 'cn-north-1', accountId: '111122223333' })).toBe('111122223333-cn-north-1-aws-cn-amazonaws.com.cn');
  });

  it('puts a placeholder for a region nobody gave, with a note naming --region', () => {
    const result = imported(template({}, { 'Fn::Sub': 'web-${AWS::Region}' }));
    expect(result.definition.stages[0]?.actions[0]).toMatchObject({ repository: 'web-REGION' });
    expect(result.notes).toContain(`${SOURCE}: AWS::Region is REGION here (first use); give --region for the real value`);
  });

  it('refuses AWS::StackName unless given, and names the pipeline after its resource', () => {
    const text = template({}, { 'Fn::Sub': '${AWS::StackName}-web' });
    expect(problems(text)[0]).toContain('AWS::StackName is the name the stack is created with; give it with --parameter AWS::StackName=<value>');
    expect(repositoryOf(text, { parameters: { 'AWS::StackName': 'shop' } })).toBe('shop-web');
  });
});
