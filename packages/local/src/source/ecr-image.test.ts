import { parsePipeline, type SourceAction, SourceActionSchema } from '@stepline/core';
import { describe, expect, it } from 'vitest';
import { resolveLocalEcrImage } from './ecr-image';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const ecrSource = (local?: { command: string }): SourceAction =>
  SourceActionSchema.parse({
    name: 'Image',
    kind: 'source',
    provider: 'ECR',
    repository: 'team/web',
    imageTag: 'v2',
    outputArtifacts: ['Img'],
    ...(local && { local }),
  });

describe('an ECR source on one machine', () => {
  it('takes the image a local command prints, with its registry, as CodePipeline names the variables', async () => {
    const image = await resolveLocalEcrImage(ecrSource({ command: `echo registry.local:5000/team/web@${DIGEST}` }), {}, process.cwd());
    expect(image.variables).toStrictEqual({
      RegistryId: 'registry.local:5000',
      RepositoryName: 'team/web',
      ImageTag: 'v2',
      ImageDigest: DIGEST,
      ImageURI: `registry.local:5000/team/web@${DIGEST}`,
    });
    expect(image.imageDetail).toMatchObject({ ImageURI: `registry.local:5000/team/web@${DIGEST}`, ImageTags: ['v2'] });
  });

  it('takes the digest of the start input before the command', async () => {
    const image = await resolveLocalEcrImage(ecrSource({ command: 'exit 3' }), { repository: 'team/web', imageDigest: DIGEST }, process.cwd());
    expect(image.variables.ImageURI).toBe(`localhost/team/web@${DIGEST}`);
  });

  it('fails the action, saying why, when the command fails or prints no digest', async () => {
    await expect(resolveLocalEcrImage(ecrSource({ command: 'echo nope >&2; exit 3' }), {}, process.cwd())).rejects.toThrow(
      'local.command of Image failed (3): nope',
    );
    await expect(resolveLocalEcrImage(ecrSource({ command: 'echo team/web:latest' }), {}, process.cwd())).rejects.toThrow(
      'local.command of Image printed no image digest (sha256:<64 hex>): "team/web:latest"',
    );
    await expect(resolveLocalEcrImage(ecrSource(), {}, process.cwd())).rejects.toThrow('on one machine it needs local.command');
  });

  it('refuses ECR fields on other sources, and a repository name ECR would refuse, with their paths', () => {
    expect(() =>
      parsePipeline({ name: 'p', stages: [{ name: 'S', actions: [{ name: 'A', kind: 'source', repository: 'a/b', imageTag: 'x', outputArtifacts: ['o'] }] }] }),
    ).toThrow(/stages\[0\]\.actions\[0\]\.imageTag: only an ECR source takes imageTag \(this one is GitHub\)/);
    expect(() =>
      parsePipeline({
        name: 'p',
        stages: [{ name: 'S', actions: [{ name: 'A', kind: 'source', provider: 'ECR', repository: 'Team/Web', outputArtifacts: ['o'] }] }],
      }),
    ).toThrow(/stages\[0\]\.actions\[0\]\.repository: expected an ECR repository name/);
    expect(() =>
      parsePipeline({
        name: 'p',
        stages: [{ name: 'S', actions: [{ name: 'A', kind: 'source', provider: 'GitLab', repository: 'project', outputArtifacts: ['o'] }] }],
      }),
    ).toThrow(/stages\[0\]\.actions\[0\]\.repository: expected group\/project for a GitLab source/);
  });
});
