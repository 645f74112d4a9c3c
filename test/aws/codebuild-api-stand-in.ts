/**
 * CodeBuild's API as the conditions function calls it (StartBuild, BatchGetBuilds, ListBuildsForProject,
 * StopBuild), which moto cannot serve to the JS SDK: bound to an aws-sdk-client-mock, each build run by
 * the rehearsal's stand-in (stand-ins.ts: its sources downloaded from S3 as the project's role) in the
 * background, as CodeBuild runs it after StartBuild answers. StartBuild honours `idempotencyToken` as
 * documented: the same token within 5 minutes answers the build it started (other parameters: a
 * mismatch error), later it starts another. StopBuild stops a running build and refuses an ended one.
 * @see https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetBuildsCommand,
  type Build,
  type CodeBuildClient,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  type StartBuildCommandInput,
  StopBuildCommand,
} from '@aws-sdk/client-codebuild';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { CodeBuildError, type CodeBuildStandInOptions, runStandInBuild } from './stand-ins';

const TOKEN_MINUTES = 5;

interface Started {
  build: Build;
  token?: { value: string; at: number; parameters: string };
  stop: AbortController;
  ended: Promise<void>;
}

export class CodeBuildApiStandIn {
  readonly started: Started[] = [];

  constructor(
    private readonly options: CodeBuildStandInOptions,
    private readonly now: () => number = Date.now,
  ) {}

  bind(stub: AwsClientStub<CodeBuildClient>): void {
    stub.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => ({ build: this.startBuild(input) }));
    stub.on(BatchGetBuildsCommand).callsFake(({ ids }: { ids: string[] }) => {
      if (ids.length > 100) throw new CodeBuildError('InvalidInputException', 'at most 100 build ids a call');
      return { builds: this.started.filter((s) => ids.includes(s.build.id ?? '')).map((s) => s.build) };
    });
    // As documented: newest first unless told otherwise, 100 a page, and a sort order refused past 100 builds.
    stub.on(ListBuildsForProjectCommand).callsFake(({ projectName, sortOrder }: { projectName: string; sortOrder?: string }) => {
      const ids = this.started.filter((s) => s.build.projectName === projectName).map((s) => s.build.id ?? '');
      if (sortOrder !== undefined && ids.length > 100)
        throw new CodeBuildError('InvalidInputException', 'setting the sort order is not allowed for a project with more than 100 builds');
      const ordered = sortOrder === 'ASCENDING' ? ids : ids.reverse();
      return { ids: ordered.slice(0, 100), ...(ordered.length > 100 && { nextToken: 'page-2' }) };
    });
    stub.on(StopBuildCommand).callsFake(({ id }: { id: string }) => {
      const started = this.started.find((s) => s.build.id === id);
      if (!started) throw new CodeBuildError('ResourceNotFoundException', `Build ${id} does not exist`);
      if (started.build.buildStatus !== 'IN_PROGRESS') throw new CodeBuildError('InvalidInputException', `Build ${id} is not in progress`);
      started.stop.abort();
      started.build.buildStatus = 'STOPPED';
      return { build: started.build };
    });
  }

  /** Every build has ended (run to its end or stopped). */
  async settled(): Promise<void> {
    await Promise.all(this.started.map((s) => s.ended));
  }

  private startBuild(input: StartBuildCommandInput): Build {
    const { idempotencyToken, ...rest } = input;
    const parameters = JSON.stringify(rest);
    if (idempotencyToken !== undefined) {
      const earlier = this.started.find((s) => s.token?.value === idempotencyToken && this.now() - s.token.at < TOKEN_MINUTES * 60_000);
      if (earlier?.token && earlier.token.parameters !== parameters)
        throw new CodeBuildError('InvalidInputException', 'the idempotency token was used with other parameters');
      if (earlier) return earlier.build;
    }
    const projectName = input.projectName ?? '';
    if (!this.options.projects.has(projectName)) throw new CodeBuildError('ResourceNotFoundException', `Project cannot be found: ${projectName}`);
    const id = `${projectName}:${randomUUID()}`;
    const environmentVariables = (input.environmentVariablesOverride ?? []).map((v) => ({ name: v.name, value: v.value, type: v.type }));
    const build: Build = { id, projectName, buildStatus: 'IN_PROGRESS', currentPhase: 'BUILD', environment: { environmentVariables } as Build['environment'] };
    const stop = new AbortController();
    const ended = runStandInBuild(
      {
        ProjectName: projectName,
        ...(input.sourceTypeOverride !== undefined && { SourceTypeOverride: input.sourceTypeOverride }),
        ...(input.sourceLocationOverride !== undefined && { SourceLocationOverride: input.sourceLocationOverride }),
        ...(input.buildspecOverride !== undefined && { BuildspecOverride: input.buildspecOverride }),
        SecondarySourcesOverride: (input.secondarySourcesOverride ?? []).map((s) => ({
          Type: s.type ?? '',
          SourceIdentifier: s.sourceIdentifier ?? '',
          Location: s.location ?? '',
        })),
        EnvironmentVariablesOverride: environmentVariables.map((v) => ({ Name: v.name ?? '', Value: v.value ?? '', Type: v.type ?? 'PLAINTEXT' })),
      },
      this.options,
      stop.signal,
      id,
    ).then(
      ({ Build: ended }) => {
        if (build.buildStatus !== 'IN_PROGRESS') return;
        build.buildStatus = ended.BuildStatus as Build['buildStatus'];
        build.currentPhase = 'COMPLETED';
        if (build.buildStatus !== 'SUCCEEDED')
          build.phases = [{ phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'a command failed' }] }];
      },
      (error: Error) => {
        // What CodeBuild says of a source it could not download.
        build.buildStatus = 'FAILED';
        build.phases = [{ phaseType: 'DOWNLOAD_SOURCE', phaseStatus: 'FAILED', contexts: [{ statusCode: error.name, message: error.message }] }];
      },
    );
    this.started.push({ build, ...(idempotencyToken !== undefined && { token: { value: idempotencyToken, at: this.now(), parameters } }), stop, ended });
    return build;
  }
}
