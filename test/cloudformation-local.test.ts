/** A CloudFormation action on one machine, run by `stepline run`: its local command, or a one-line refusal. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, runCli } from './helpers/project';

let project: Project | undefined;
afterEach(() => project?.remove());

const pipeline = (extra: string) => `
name: infra
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/infra, outputArtifacts: [Src] }]
  - name: Deploy
    actions: [{ name: Stack, kind: cloudformation, inputArtifacts: [Src], actionMode: CREATE_UPDATE, stackName: web, templatePath: "Src::stack.yml"${extra} }]
`;
/** No credential source the AWS SDK would find. */
const noCredentials = { AWS_ACCESS_KEY_ID: '', AWS_PROFILE: '', AWS_WEB_IDENTITY_TOKEN_FILE: '', AWS_CONTAINER_CREDENTIALS_FULL_URI: '' };

describe('cloudformation on one machine', () => {
  it('refuses in one line without AWS credentials, saying what it needs', async () => {
    project = createProject({ 'stepline.yml': pipeline(''), 'stack.yml': 'Resources: {}\n' });
    const run = await runCli(['run'], { cwd: project.dir, env: noCredentials, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      'action Stack deploys the CloudFormation stack web; on one machine it needs AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID) or a local.command',
    );
  }, 90_000);

  it('runs local.command in its place', async () => {
    project = createProject({ 'stack.yml': 'Resources: {}\n' });
    project.write('stepline.yml', pipeline(`, local: { command: "cp stack.yml '${join(project.dir, 'deployed.yml')}'" }`));
    project.commitAll('pipeline');
    const run = await runCli(['run'], { cwd: project.dir, env: noCredentials, timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✔ Deploy · Stack succeeded in/);
    expect(readFileSync(join(project.dir, 'deployed.yml'), 'utf8')).toBe('Resources: {}\n');
  }, 90_000);
});
