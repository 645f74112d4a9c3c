/**
 * CodePipeline providers stepline does not import, and why. The import's refusal and the docs
 * (docs/import.md) say the same thing; a test keeps them in step.
 */
export const REFUSED_PROVIDERS = {
  ElasticBeanstalk: 'Elastic Beanstalk manages its own deployments; stepline has no Beanstalk action',
  ServiceCatalog: 'Service Catalog products are not a stepline action',
  InspectorScan: 'Amazon Inspector scans are not a stepline action; run the scan in a build action',
  DeviceFarm: 'Device Farm test runs are not a stepline action; start them from a build action',
  Jenkins: 'stepline builds with CodeBuild (or its local runner), not with a Jenkins server',
  ECR: 'stepline sources are git repositories (and S3 objects); an image push does not start a pipeline',
  StepFunctions: 'invoking a state machine is not a stepline action; use a Lambda invoke action',
  AppConfig: 'AppConfig deployments are not a stepline action',
  Snyk: 'third-party actions are not imported; run the tool in a build action',
} as const satisfies Record<string, string>;

/** The categories each imported provider is imported in. */
const IMPORTED_CATEGORIES: Record<string, readonly string[]> = {
  GitHub: ['Source'],
  CodeStarSourceConnection: ['Source'],
  CodeCommit: ['Source'],
  S3: ['Source', 'Deploy'],
  CodeBuild: ['Build', 'Test'],
  Manual: ['Approval'],
  ECS: ['Deploy'],
  CodeDeployToECS: ['Deploy'],
  CodeDeploy: ['Deploy'],
  CloudFormation: ['Deploy'],
  Lambda: ['Invoke'],
  Commands: ['Compute'],
};

/** Why a provider (in its category) is refused, as the refusal and docs/import.md say it. */
export function refusalReason(provider: string, category: string): string {
  const categories = IMPORTED_CATEGORIES[provider];
  if (categories && !categories.includes(category))
    return `${provider} is imported in the ${categories.join(' and ')} categories only, not ${category || '(none)'}`;
  const known = (REFUSED_PROVIDERS as Record<string, string>)[provider];
  if (known) return known;
  return 'custom and third-party actions are not imported (a custom action runs on its own job worker); run the work in a build action';
}
