import type { StateMap } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { buildsFrom } from './history';
import { HistoryWriter } from './test-fixtures';

const stateMap: StateMap = { 'Build · Matrix': { stage: 'Build', action: 'Matrix', kind: 'build', role: 'action' } } as unknown as StateMap;

describe('buildsFrom', () => {
  it("shows each build of a batch from startBuildBatch.sync's build groups: id, status, what it waited for; one that never started has no build", () => {
    const history = new HistoryWriter()
      .entered('Build · Matrix')
      .scheduled('codebuild', { ProjectName: 'stepline-team-web-Build-Matrix' })
      .failed(
        'codebuild',
        'States.TaskFailed',
        JSON.stringify({
          BuildBatch: {
            Id: 'stepline-team-web-Build-Matrix:b1',
            BuildBatchStatus: 'FAILED',
            BuildGroups: [
              {
                Identifier: 'nodejs10',
                DependsOn: [],
                IgnoreFailure: false,
                CurrentBuildSummary: { Arn: 'arn:aws:codebuild:eu-west-1:1:build/p:1', BuildStatus: 'SUCCEEDED' },
              },
              {
                Identifier: 'version',
                DependsOn: ['nodejs10'],
                IgnoreFailure: false,
                CurrentBuildSummary: { Arn: 'arn:aws:codebuild:eu-west-1:1:build/p:2', BuildStatus: 'FAILED' },
              },
              { Identifier: 'publish', DependsOn: ['version'], IgnoreFailure: false },
            ],
          },
        }),
      );
    expect(buildsFrom(history.events, stateMap)).toStrictEqual({
      'Build.Matrix/nodejs10': {
        buildId: 'arn:aws:codebuild:eu-west-1:1:build/p:1',
        status: 'SUCCEEDED',
        batch: { identifier: 'nodejs10', dependsOn: [], ignoreFailure: false },
        phases: [],
      },
      'Build.Matrix/version': {
        buildId: 'arn:aws:codebuild:eu-west-1:1:build/p:2',
        status: 'FAILED',
        batch: { identifier: 'version', dependsOn: ['nodejs10'], ignoreFailure: false },
        phases: [],
      },
      'Build.Matrix/publish': { batch: { identifier: 'publish', dependsOn: ['version'], ignoreFailure: false }, phases: [] },
    });
  });
});
