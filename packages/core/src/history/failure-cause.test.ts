import { describe, expect, it } from 'vitest';
import { readableCause } from './failure-cause';

const prefix = 'Stage Build, action Matrix failed: ';

describe('readableCause', () => {
  it('names the builds of a failed batch that may not fail, whether the cause holds {BuildBatch} or the batch itself', () => {
    const batch = {
      BuildBatchStatus: 'FAILED',
      BuildGroups: [
        { Identifier: 'build1', CurrentBuildSummary: { BuildStatus: 'SUCCEEDED' } },
        { Identifier: 'build2', CurrentBuildSummary: { BuildStatus: 'FAILED' } },
        { Identifier: 'build3', CurrentBuildSummary: { BuildStatus: 'STOPPED' } },
        { Identifier: 'build4' },
        { Identifier: 'lint', IgnoreFailure: true, CurrentBuildSummary: { BuildStatus: 'FAILED' } },
      ],
    };
    const said = `${prefix}the batch failed: build2 FAILED; build3 STOPPED; build4 NOT_STARTED`;
    expect(readableCause(`${prefix}${JSON.stringify({ BuildBatch: batch })}`)).toBe(said);
    expect(readableCause(`${prefix}${JSON.stringify(batch)}`)).toBe(said);
  });

  it('says which phase of a single build failed, with CodeBuild’s message', () => {
    const build = {
      Id: 'web-Build:7',
      BuildStatus: 'FAILED',
      Phases: [
        { PhaseType: 'INSTALL', PhaseStatus: 'SUCCEEDED' },
        {
          PhaseType: 'BUILD',
          PhaseStatus: 'FAILED',
          Contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'Error while executing command: npm test. Reason: exit status 1' }],
        },
        { PhaseType: 'FINALIZING' },
      ],
    };
    expect(readableCause(`${prefix}${JSON.stringify({ Build: build })}`)).toBe(
      `${prefix}build web-Build:7 FAILED in BUILD: Error while executing command: npm test. Reason: exit status 1`,
    );
  });

  it('leaves any other cause as it is', () => {
    for (const cause of ['npm test exited with 1', `${prefix}{not json`, `${prefix}{"errorMessage":"boom"}`]) expect(readableCause(cause)).toBe(cause);
  });
});
