/** A throwaway project served by `stepline serve` on a free loopback port, as the serve tests, fuzzing and the storm use it. */
import { parsePipelineText } from '@stepline/core';
import { type RunningServer, startServer } from '@stepline/local';
import { createProject, type Project } from './project';

export interface ServedProjectOptions {
  /** The webhook secret GitHub deliveries are signed with. */
  secret: string;
  /** Files besides `stepline.yml`. */
  files?: Record<string, string>;
  /** Where serve's lines go. @default nowhere */
  line?: (text: string) => void;
}

/** A git project holding `definition` as `stepline.yml`, and `stepline serve` running it. */
export async function serveProject(definition: string, options: ServedProjectOptions): Promise<{ project: Project; server: RunningServer }> {
  const project = createProject({ 'stepline.yml': definition, ...options.files });
  const server = await startServer({
    project: project.dir,
    repo: project.dir,
    host: '127.0.0.1',
    port: 0,
    webhookSecret: options.secret,
    pipelines: [{ pipeline: parsePipelineText(definition), file: `${project.dir}/stepline.yml` }],
    sink: { line: options.line ?? (() => undefined) },
  });
  return { project, server };
}
