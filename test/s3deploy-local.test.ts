/** An S3 deploy action on one machine, run by `stepline run`: a static site into a real directory. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createProject, type Project, runCli } from './helpers/project';

let project: Project | undefined;
afterEach(() => project?.remove());

const BUILDSPEC = `version: 0.2
phases:
  build:
    commands:
      - mkdir -p site/css && echo "<h1>v1</h1>" > site/index.html && echo "h1{}" > site/css/app.css
artifacts:
  base-directory: site
  files: ['**/*']
`;

const pipeline = (deploy: string) => `
name: site
stages:
  - name: Source
    actions: [{ name: Checkout, kind: source, repository: acme/site, outputArtifacts: [Src], namespace: SourceVariables }]
  - name: Build
    actions: [{ name: Site, kind: build, inputArtifacts: [Src], outputArtifacts: [Site] }]
  - name: Deploy
    actions: [{ name: Publish, kind: s3deploy, inputArtifacts: [Site], ${deploy} }]
`;

describe('s3deploy on one machine', () => {
  it('extracts the artifact into local.directory, under objectKey, leaving other files there', async () => {
    project = createProject({
      'stepline.yml': pipeline('bucket: www.example.com, objectKey: "v/#{SourceVariables.CommitId}", local: { directory: public }'),
      'buildspec.yml': BUILDSPEC,
      'public/robots.txt': 'User-agent: *\n',
    });
    const commit = project.commit;
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/✔ Deploy · Publish succeeded in/);
    expect(readFileSync(join(project.dir, 'public', 'v', commit, 'index.html'), 'utf8')).toBe('<h1>v1</h1>\n');
    expect(readFileSync(join(project.dir, 'public', 'v', commit, 'css', 'app.css'), 'utf8')).toBe('h1{}\n');
    expect(existsSync(join(project.dir, 'public', 'v', commit, 'manifest.json'))).toBe(false);
    expect(readFileSync(join(project.dir, 'public', 'robots.txt'), 'utf8')).toBe('User-agent: *\n');
  }, 90_000);

  it('writes one zip at objectKey when extract is false', async () => {
    project = createProject({
      'stepline.yml': pipeline('bucket: releases, extract: false, objectKey: site.zip, local: { directory: out }'),
      'buildspec.yml': BUILDSPEC,
    });
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code).toBe(0);
    const listing = execFileSync(
      'python3',
      [
        '-c',
        'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); z.testzip(); print(sorted(z.namelist())); print(z.read("index.html").decode(), end="")',
        join(project.dir, 'out', 'site.zip'),
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(listing).toBe("['css/app.css', 'index.html']\n<h1>v1</h1>\n");
  }, 90_000);

  it('refuses in one line on one machine when the action names only a bucket', async () => {
    project = createProject({ 'stepline.yml': pipeline('bucket: www.example.com'), 'buildspec.yml': BUILDSPEC });
    const run = await runCli(['run'], { cwd: project.dir, timeoutMs: 60_000 });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('action Publish deploys to the S3 bucket www.example.com; on one machine it needs local.directory to deploy into');
  }, 90_000);
});
