import { describe, expect, it } from 'vitest';
import { parsePipelineText } from '../model/parse';
import { refusalOf } from '../testing';
import { checkSourceRevisionOverrides, parseSourceRevisionFlag, type SourceRevisionOverride, sourceRevisionFor } from './source-revisions';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const pipeline = parsePipelineText(`
name: two
stages:
  - name: Source
    actions:
      - { name: App, kind: source, repository: acme/app, outputArtifacts: [AppSrc] }
      - { name: Infra, kind: source, provider: CodeCommit, repository: infra, outputArtifacts: [InfraSrc] }
      - { name: Assets, kind: source, provider: S3, repository: bucket/assets.zip, outputArtifacts: [AssetsSrc] }
  - name: Build
    actions: [{ name: Make, kind: commands, inputArtifacts: [AppSrc, InfraSrc, AssetsSrc], commands: [make] }]
`);

const check = (flags: string[]) =>
  checkSourceRevisionOverrides(
    pipeline,
    flags.map((f) => parseSourceRevisionFlag(f)),
  );
const problems = (flags: string[]) => refusalOf(() => check(flags));

describe('source revision overrides', () => {
  it('reads <action>=<TYPE>:<value>, the value keeping its own colons', () => {
    expect(parseSourceRevisionFlag(`App=COMMIT_ID:${SHA}`)).toStrictEqual({ actionName: 'App', revisionType: 'COMMIT_ID', revisionValue: SHA });
    expect(parseSourceRevisionFlag('Assets=S3_OBJECT_KEY:a:b/c.zip').revisionValue).toBe('a:b/c.zip');
    for (const [flag, message] of [
      [`App:${SHA}`, 'expected <action>=<TYPE>:<value>'],
      [`=COMMIT_ID:${SHA}`, 'expected <action>=<TYPE>:<value>'],
      ['App=COMMIT_ID:', 'expected a revision value after the type'],
      [`App=SHA:${SHA}`, 'unknown revision type "SHA": expected one of COMMIT_ID, IMAGE_DIGEST, S3_OBJECT_VERSION_ID, S3_OBJECT_KEY'],
    ] as const) {
      expect(() => parseSourceRevisionFlag(flag), flag).toThrow(message);
    }
  });

  it('accepts a full commit for each repository source, one per action', () => {
    expect(check([`App=COMMIT_ID:${SHA}`, `Infra=COMMIT_ID:${SHA.toUpperCase()}`])).toHaveLength(2);
  });

  it('refuses every bad override at once, each with its place and reason', () => {
    expect(
      problems([
        `Nope=COMMIT_ID:${SHA}`,
        `Make=COMMIT_ID:${SHA}`,
        'App=COMMIT_ID:abc123',
        'App=IMAGE_DIGEST:sha256:0000',
        'Assets=S3_OBJECT_VERSION_ID:3HL4kqtJlcpXroDTDmJ',
        `Assets=COMMIT_ID:${SHA}`,
        `Infra=COMMIT_ID:${SHA}`,
        `Infra=COMMIT_ID:${SHA}`,
      ]),
    ).toStrictEqual([
      'sourceRevisions[0]: Nope=COMMIT_ID: no source action is named Nope in pipeline two (its source actions: App, Infra, Assets)',
      'sourceRevisions[1]: Make=COMMIT_ID: Make is a commands action; only source actions take a revision',
      'sourceRevisions[2]: App=COMMIT_ID: expected a full commit id (40 hexadecimal characters, or 64 in a SHA-256 repository), got "abc123"',
      'sourceRevisions[3]: App=IMAGE_DIGEST: applies to an ECR image source, which stepline does not have (its sources are repositories); App is a source of provider GitHub: use COMMIT_ID',
      'sourceRevisions[4]: Assets=S3_OBJECT_VERSION_ID: applies to an S3 source, whose objects stepline does not fetch by key or version: start it on a commit instead; Assets is a source of provider S3',
      'sourceRevisions[5]: Assets=COMMIT_ID: applies to a commit of a repository source (GitHub, CodeStarSourceConnection, CodeCommit); Assets is a source of provider S3',
      'sourceRevisions[7]: Infra=COMMIT_ID: given twice: one revision of each type per action',
    ]);
  });

  it("gives each source action its own override, else the trigger's revision", () => {
    const overrides: SourceRevisionOverride[] = [{ actionName: 'Infra', revisionType: 'COMMIT_ID', revisionValue: SHA }];
    const trigger = { commitId: 'feedface', branchName: 'main', commitMessage: 'from the webhook' };
    expect(sourceRevisionFor('Infra', trigger, overrides)).toStrictEqual({ commitId: SHA });
    expect(sourceRevisionFor('App', trigger, overrides)).toBe(trigger);
    expect(sourceRevisionFor('App', trigger, undefined)).toBe(trigger);
  });
});
