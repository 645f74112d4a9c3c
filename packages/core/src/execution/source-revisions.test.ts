import { describe, expect, it } from 'vitest';
import { parsePipeline, parsePipelineText } from '../model/parse';
import { refusalOf } from '../testing';
import { checkSourceRevisionOverrides, parseSourceRevisionFlag, type SourceRevisionOverride, s3SourceObject, sourceRevisionFor } from './source-revisions';

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
    'aws',
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
        'Assets=S3_OBJECT_KEY:other.zip',
        `Assets=COMMIT_ID:${SHA}`,
        `Infra=COMMIT_ID:${SHA}`,
        `Infra=COMMIT_ID:${SHA}`,
      ]),
    ).toStrictEqual([
      'sourceRevisions[0]: Nope=COMMIT_ID: no source action is named Nope in pipeline two (its source actions: App, Infra, Assets)',
      'sourceRevisions[1]: Make=COMMIT_ID: Make is a commands action; only source actions take a revision',
      'sourceRevisions[2]: App=COMMIT_ID: expected a full commit id (40 hexadecimal characters, or 64 in a SHA-256 repository), got "abc123"',
      'sourceRevisions[3]: App=IMAGE_DIGEST: applies to an image of an ECR source; App is a source of provider GitHub: use COMMIT_ID',
      "sourceRevisions[4]: Assets=S3_OBJECT_KEY: Assets does not allow its object key to be overridden: set allowOverrideForS3ObjectKey: true on it (CodePipeline's AllowOverrideForS3ObjectKey)",
      'sourceRevisions[5]: Assets=COMMIT_ID: applies to a commit of a repository source (GitHub, CodeStarSourceConnection, GitLab, Bitbucket, CodeCommit); Assets is a source of provider S3: use S3_OBJECT_VERSION_ID or S3_OBJECT_KEY',
      'sourceRevisions[7]: Infra=COMMIT_ID: given twice: one revision of each type per action',
    ]);
  });

  it('takes an S3 source’s object version and, where the action allows it, its key, alone or together (on AWS)', () => {
    /** A pipeline of an S3 source `Assets` (namespace AssetsVars) and an invoke running `command`. */
    const s3Pipeline = (command = 'true') =>
      parsePipelineText(`
name: s3
stages:
  - name: Source
    actions: [{ name: Assets, kind: source, provider: S3, repository: drops/app/build.zip, allowOverrideForS3ObjectKey: true, namespace: AssetsVars, outputArtifacts: [A] }]
  - name: Use
    actions: [{ name: Run, kind: invoke, command: "${command}", inputArtifacts: [A] }]
`);
    const s3 = s3Pipeline();
    const flags = ['Assets=S3_OBJECT_VERSION_ID:3HL4kqtJlcpXroDTDmJ', 'Assets=S3_OBJECT_KEY:app/hotfix.zip'].map((f) => parseSourceRevisionFlag(f));
    const overrides = checkSourceRevisionOverrides(s3, flags, 'aws');
    expect(s3SourceObject('Assets', 'drops/app/build.zip', overrides)).toStrictEqual({
      bucket: 'drops',
      key: 'app/hotfix.zip',
      versionId: '3HL4kqtJlcpXroDTDmJ',
    });
    expect(s3SourceObject('Assets', 'drops/app/build.zip', overrides.slice(0, 1))).toStrictEqual({
      bucket: 'drops',
      key: 'app/build.zip',
      versionId: '3HL4kqtJlcpXroDTDmJ',
    });
    expect(s3SourceObject('Assets', 'drops/app/build.zip', [])).toStrictEqual({ bucket: 'drops', key: 'app/build.zip' });
    // CodePipeline's S3 variables may be referenced, besides every source's.
    expect(s3Pipeline('echo #{AssetsVars.VersionId} #{AssetsVars.ETag} #{AssetsVars.CommitId}').name).toBe('s3');
    expect(() => s3Pipeline('echo #{AssetsVars.ImageURI}')).toThrow('unknown variable "ImageURI" in #{AssetsVars.ImageURI}');
    // One machine reads an S3 source from the local repository: it cannot build an object's version.
    expect(refusalOf(() => checkSourceRevisionOverrides(s3, flags.slice(0, 1), 'local'))).toStrictEqual([
      'sourceRevisions[0]: Assets=S3_OBJECT_VERSION_ID: on this machine the S3 source Assets reads the local repository in place of s3://drops/app/build.zip, so no object key or version can be chosen: start it on AWS (--target aws)',
    ]);
  });

  it('takes an image digest for an ECR source, and builds that image', () => {
    const withImage = parsePipeline({
      name: 'img',
      stages: [
        { name: 'Source', actions: [{ name: 'Image', kind: 'source', provider: 'ECR', repository: 'team/web', outputArtifacts: ['I'] }] },
        { name: 'Use', actions: [{ name: 'Run', kind: 'invoke', command: 'true', inputArtifacts: ['I'] }] },
      ],
    });
    const digest = `sha256:${'a'.repeat(64)}`;
    const overrides = checkSourceRevisionOverrides(withImage, [parseSourceRevisionFlag(`Image=IMAGE_DIGEST:${digest}`)], 'aws');
    expect(sourceRevisionFor('Image', {}, overrides)).toStrictEqual({ imageDigest: digest });
    expect(() => checkSourceRevisionOverrides(withImage, [parseSourceRevisionFlag('Image=IMAGE_DIGEST:latest')], 'aws')).toThrow(
      'sourceRevisions[0]: Image=IMAGE_DIGEST: expected an image digest (sha256: and 64 hexadecimal characters), got "latest"',
    );
  });

  it("gives each source action its own override, else the trigger's revision", () => {
    const overrides: SourceRevisionOverride[] = [{ actionName: 'Infra', revisionType: 'COMMIT_ID', revisionValue: SHA }];
    const trigger = { commitId: 'feedface', branchName: 'main', commitMessage: 'from the webhook' };
    expect(sourceRevisionFor('Infra', trigger, overrides)).toStrictEqual({ commitId: SHA });
    expect(sourceRevisionFor('App', trigger, overrides)).toBe(trigger);
    expect(sourceRevisionFor('App', trigger, undefined)).toBe(trigger);
  });
});
