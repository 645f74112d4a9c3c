import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../model/parse';
import type { PipelineDefinition } from '../model/schema';
import { type GitEvent, matchTriggers } from './match';

const pipeline = (triggers: PipelineDefinition['triggers'], extra: Partial<PipelineDefinition> = {}) =>
  parsePipeline({
    name: 'web',
    triggers,
    stages: [
      { name: 'Source', actions: [{ name: 'App', kind: 'source', repository: 'acme/web', branch: 'main', outputArtifacts: ['src'] }] },
      { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['src'] }] },
    ],
    ...extra,
  });

const push = (over: Partial<GitEvent> = {}): GitEvent => ({ kind: 'push', repository: 'acme/web', branch: 'main', changedFiles: ['src/a.ts'], ...over });
const pr = (over: Partial<GitEvent> = {}): GitEvent => ({
  kind: 'pull_request',
  repository: 'acme/web',
  branch: 'feature/x',
  baseBranch: 'main',
  pullRequestAction: 'OPEN',
  ...over,
});

describe('matchTriggers', () => {
  it('starts a pipeline without triggers on a push to its source branch only', () => {
    // Prepare
    const p = pipeline([]);
    // Act + Assess
    expect(matchTriggers(p, push())).toStrictEqual({ matched: true, sourceAction: 'App' });
    expect(matchTriggers(p, push({ branch: 'dev' }))).toStrictEqual({ matched: false, reason: 'no triggers, and branch dev is not main' });
    expect(matchTriggers(p, push({ branch: undefined, tag: 'v1' })).matched).toBe(false);
    expect(matchTriggers(p, pr()).matched).toBe(false);
  });

  it('compares repositories without case, and names the one it watches', () => {
    const p = pipeline([]);
    expect(matchTriggers(p, push({ repository: 'ACME/Web' })).matched).toBe(true);
    expect(matchTriggers(p, push({ repository: 'acme/other' }))).toStrictEqual({
      matched: false,
      reason: 'no triggers, and source action App watches acme/web, not acme/other',
    });
  });

  it('matches branch globs: * stays in a segment, ** crosses it, excludes win', () => {
    const p = pipeline([{ push: [{ branches: { includes: ['release/*', 'feature/**'], excludes: ['feature/skip/**'] } }] }]);
    expect(matchTriggers(p, push({ branch: 'release/1.2' })).matched).toBe(true);
    expect(matchTriggers(p, push({ branch: 'release/1/2' })).matched).toBe(false);
    expect(matchTriggers(p, push({ branch: 'feature/a/b' })).matched).toBe(true);
    expect(matchTriggers(p, push({ branch: 'feature/skip/x' }))).toStrictEqual({
      matched: false,
      reason: 'trigger 1 (App): branch feature/skip/x does not match its branches',
    });
  });

  it('treats a leading ! as a literal character, not a negation', () => {
    const p = pipeline([{ push: [{ branches: { includes: ['!main'] } }] }]);
    expect(matchTriggers(p, push({ branch: 'dev' })).matched).toBe(false);
  });

  it('keeps tags and branches apart', () => {
    const p = pipeline([{ push: [{ tags: { includes: ['v*'], excludes: ['v*-rc*'] } }] }]);
    expect(matchTriggers(p, push({ branch: undefined, tag: 'v1.0' })).matched).toBe(true);
    expect(matchTriggers(p, push({ branch: undefined, tag: 'v1.0-rc1' })).matched).toBe(false);
    expect(matchTriggers(p, push())).toStrictEqual({ matched: false, reason: 'trigger 1 (App): branch main is not a tag push' });
    const branches = pipeline([{ push: [{ branches: { includes: ['**'] } }] }]);
    expect(matchTriggers(branches, push({ branch: undefined, tag: 'v1' }))).toStrictEqual({
      matched: false,
      reason: 'trigger 1 (App): tag v1 is not a branch push',
    });
  });

  it('needs one changed file to pass the file path filter (dot files too)', () => {
    const p = pipeline([{ push: [{ branches: { includes: ['main'] }, filePaths: { includes: ['src/**', '.github/**'], excludes: ['**/*.md'] } }] }]);
    expect(matchTriggers(p, push({ changedFiles: ['docs/a.md', 'src/x/y.ts'] })).matched).toBe(true);
    expect(matchTriggers(p, push({ changedFiles: ['.github/workflows/ci.yml'] })).matched).toBe(true);
    expect(matchTriggers(p, push({ changedFiles: ['src/README.md'] }))).toStrictEqual({
      matched: false,
      reason: 'trigger 1 (App): no changed file matches its file paths',
    });
    expect(matchTriggers(p, push({ changedFiles: [] })).matched).toBe(false);
    // A file list nobody knows does not stop a build.
    expect(matchTriggers(p, push({ changedFiles: undefined })).matched).toBe(true);
  });

  it('ORs filters and triggers, and reports every reason when none matches', () => {
    const p = pipeline([{ push: [{ branches: { includes: ['main'] } }, { tags: { includes: ['v*'] } }] }, { pullRequest: [{ events: ['CLOSED'] }] }]);
    expect(matchTriggers(p, push({ branch: undefined, tag: 'v2' })).matched).toBe(true);
    expect(matchTriggers(p, pr({ pullRequestAction: 'CLOSED' })).matched).toBe(true);
    expect(matchTriggers(p, push({ branch: 'dev' }))).toStrictEqual({
      matched: false,
      reason: 'trigger 1 (App): branch dev does not match its branches, branch dev is not a tag push; trigger 2 (App): it has no push filters',
    });
  });

  it('matches pull request events and base branches, building the head', () => {
    const p = pipeline([{ pullRequest: [{ branches: { includes: ['main'] }, filePaths: { includes: ['src/**'] } }] }]);
    expect(matchTriggers(p, pr()).matched).toBe(true);
    expect(matchTriggers(p, pr({ pullRequestAction: 'UPDATED' })).matched).toBe(true);
    expect(matchTriggers(p, pr({ pullRequestAction: 'CLOSED' }))).toStrictEqual({
      matched: false,
      reason: 'trigger 1 (App): pull request event CLOSED is not one of OPEN, UPDATED',
    });
    expect(matchTriggers(p, pr({ baseBranch: 'dev' })).matched).toBe(false);
    expect(matchTriggers(p, pr({ changedFiles: ['docs/x.md'] })).matched).toBe(false);
    expect(matchTriggers(p, push()).matched).toBe(false);
  });

  it('follows the trigger to its source action and that action repository', () => {
    const p = parsePipeline({
      name: 'two',
      triggers: [{ sourceAction: 'Lib', push: [{ branches: { includes: ['main'] } }] }],
      stages: [
        {
          name: 'Source',
          actions: [
            { name: 'App', kind: 'source', repository: 'acme/web', outputArtifacts: ['a'] },
            { name: 'Lib', kind: 'source', repository: 'acme/lib', outputArtifacts: ['b'] },
          ],
        },
        { name: 'Build', actions: [{ name: 'Build', kind: 'build', inputArtifacts: ['a', 'b'] }] },
      ],
    });
    expect(matchTriggers(p, push({ repository: 'acme/lib' }))).toStrictEqual({ matched: true, sourceAction: 'Lib' });
    expect(matchTriggers(p, push()).matched).toBe(false);
  });
});
