/**
 * Every real pipeline definition in the corpus imports and compiles, or is refused only for a provider
 * docs/import.md lists (with the reason it gives there). Templates whose parameters have no default
 * import with the values their refusal asks for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  compilePipeline,
  DefinitionError,
  type ImportOptions,
  importCodePipeline,
  parsePipeline,
  REFUSED_PROVIDERS,
  validateStateMachine,
} from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { corpusFiles } from './helpers/corpus';
import { REPO_ROOT } from './helpers/project';

const files = [...corpusFiles('pipelines'), ...corpusFiles('seed').filter((f) => f.name === 'pipeline.json')];
const DOCS = readFileSync(join(REPO_ROOT, 'docs', 'import.md'), 'utf8');

/** The values each template leaves to the user: what `--parameter` would give on the command line. */
const PARAMETERS: Record<string, ImportOptions> = {
  Abynahisblue__aws: {
    parameters: {
      'webapp-prod-Blue-TG-Name': 'blue',
      'webapp-prod-Green-TG-Name': 'green',
      'webapp-prod-ALB-Listener-ARN': 'arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/1/2',
      'webapp-prod-ECS-Cluster-Name': 'prod',
      'webapp-prod-ECS-Service-Name': 'web',
    },
  },
  Azamcloudspace: { parameters: { GitHubOwner: 'acme', GitHubRepo: 'site', CodeBuildProjectName: 'site-build' } },
  'aws-samples__aws-codebuild-samples': { parameters: { 'AWS::StackName': 'samples' } },
  awslabs: { parameters: { GitHubUser: 'acme', GitHubRepo: 'web', GitHubBranch: 'main', Repository: 'web', Cluster: 'prod', Service: 'web' } },
  seroche: { parameters: { ServiceName: 'payments', GitHubName: 'payments', StagingClusterName: 'staging', ProductionClusterName: 'prod' } },
  uu64: { parameters: { RepositoryName: 'app', BranchName: 'main', EcsStackName: 'ecs', CloudFormationServiceRoleArn: 'arn:aws:iam::111122223333:role/cfn' } },
};
const optionsFor = (name: string): ImportOptions => ({
  region: 'eu-west-1',
  accountId: '111122223333',
  ...Object.entries(PARAMETERS).find(([prefix]) => name.startsWith(prefix))?.[1],
});

/** `provider X (category C) is not supported: reason`, with X and the reason docs/import.md gives for it. */
function documentedRefusal(message: string): boolean {
  const m = /provider (\w+) \(category (\w+)\) is not supported: (.*)$/.exec(message);
  if (!m) return message.includes('render it, then import the result') && DOCS.includes('render them, then import the result');
  const [, provider, category, reason] = m;
  const row = DOCS.split('\n').find((line) => line.startsWith(`| \`${provider}\`${provider === 'S3' ? ` (${category})` : ''} `));
  return row?.includes(reason as string) === true;
}

describe('corpus pipelines', () => {
  it.each(files.map((f) => [f.name, f] as const))('%s imports and compiles, or is refused for a provider the docs list', (_name, file) => {
    let imported: ReturnType<typeof importCodePipeline>;
    try {
      imported = importCodePipeline(file.text, file.name, optionsFor(file.name));
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      const issues = (error as DefinitionError).issues;
      expect(issues.length).toBeGreaterThan(0);
      for (const issue of issues) expect(documentedRefusal(issue.message), `${issue.path}: ${issue.message}`).toBe(true);
      return;
    }
    expect(imported.length).toBeGreaterThan(0);
    for (const { definition } of imported) {
      const compiled = compilePipeline(parsePipeline(definition), { target: 'aws' });
      expect(validateStateMachine(compiled.definition)).toStrictEqual([]);
    }
  });

  it('imports the corpus but for the providers stepline does not run yet', () => {
    const outcomes = files.map((f) => {
      try {
        importCodePipeline(f.text, f.name, optionsFor(f.name));
        return 'imported';
      } catch (error) {
        return [...new Set((error as DefinitionError).issues.map((i) => /provider (\w+)/.exec(i.message)?.[1] ?? 'template'))].join(',');
      }
    });
    expect(outcomes.filter((o) => o === 'imported').length).toBe(9);
    expect(outcomes.filter((o) => o !== 'imported').sort()).toStrictEqual(['ECR', 'template']);
  });

  it('docs/import.md lists every provider the import refuses, with the reason the refusal gives', () => {
    for (const [provider, reason] of Object.entries(REFUSED_PROVIDERS)) {
      const row = DOCS.split('\n').find((line) => line.startsWith(`| \`${provider}\` `));
      expect(row, provider).toContain(reason);
    }
  });

  it('without the values a template leaves open, names each one and the --parameter to give', () => {
    const file = files.find((f) => f.name.startsWith('uu64__ecs-bg-deployment-example__codedeploy'));
    expect(() => importCodePipeline(file?.text ?? '', file?.name)).toThrow(
      'Resources.Pipeline.Properties.Stages[0].Actions[0].Configuration.RepositoryName: cannot be known here: parameter RepositoryName has no Default; give it with --parameter RepositoryName=<value>',
    );
  });
});
