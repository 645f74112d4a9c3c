/**
 * An approval decided the way a person decides it: a real browser opens the approve link, reads the
 * page, writes a comment and presses Approve; the waiting execution goes on. Needs Chromium (Debian's
 * `chromium`, which .ci/run installs); skipped with the reason elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineText } from '@stepline/core';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { linkRuntime } from './helpers/approval-runtime';
import { createProject, type Project, pipelineYaml } from './helpers/project';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium); skipping the browser test`;
if (skip && process.env.CI === 'true') throw new Error(`${skip}: not allowed under CI=true`);
if (skip) console.warn(`SKIPPED: ${skip}`);

let project: Project | undefined;
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  project?.remove();
});

describe.skipIf(skip)('approval page in a browser', () => {
  it('shows the approval, takes a comment, and approves with one click', async () => {
    project = createProject({
      'stepline.yml': pipelineYaml(
        'release',
        `  - name: Approve
    actions: [{ name: Prod, kind: approval, customData: "Ship release 42 to production?" }]
`,
      ),
    });
    const served = linkRuntime(project.dir);
    close = served.close;
    const { runtime } = served;
    const pipeline = parsePipelineText(readFileSync(join(project.dir, 'stepline.yml'), 'utf8'));
    const running = runtime.run({ pipeline, file: 'stepline.yml', repo: project.dir });
    const links = await served.links();

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(links.approveUrl);
      expect(await page.getByRole('heading').textContent()).toBe('Approve release?');
      expect(await page.textContent('body')).toContain('Ship release 42 to production?');
      await page.getByLabel('Your e-mail').fill('ana@example.com');
      await page.getByLabel('Comment').fill('tests are green');
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForSelector('text=Approved by ana@example.com');
    } finally {
      await browser.close();
    }
    const result = await running;
    expect(result.status).toBe('Succeeded');
    expect(runtime.store.approvals(result.executionId)).toMatchObject([{ status: 'Approved', decidedBy: 'ana@example.com', comment: 'tests are green' }]);
  });
});
