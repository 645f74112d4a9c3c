// A pipeline written in TypeScript: definePipeline() types every field as you write it, and stepline
// loads it like a YAML definition (`stepline validate examples/typed/pipeline.ts`).
import { definePipeline } from '@stepline/core';

export default definePipeline({
  name: 'typed-web-app',
  executionMode: 'QUEUED',
  variables: [{ name: 'DEPLOY_ENV', default: 'local' }],
  stages: [
    {
      name: 'Source',
      actions: [{ name: 'Checkout', kind: 'source', repository: 'stepline/stepline', namespace: 'SourceVariables', outputArtifacts: ['Source'] }],
    },
    {
      name: 'Build',
      actions: [
        { name: 'Build', kind: 'build', buildspec: 'examples/web-app/buildspec.yml', inputArtifacts: ['Source'], outputArtifacts: ['App'] },
        { name: 'UnitTests', kind: 'test', buildspec: 'examples/web-app/buildspec-test.yml', inputArtifacts: ['Source'] },
      ],
    },
    {
      name: 'Approve',
      actions: [{ name: 'Release', kind: 'approval', customData: 'Deploy #{SourceVariables.CommitId} to #{variables.DEPLOY_ENV}?' }],
    },
  ],
});
