/**
 * A failure's cause as a reader wants it. A CodeBuild `.sync` Task that ends without success fails with
 * `States.TaskFailed` and, as its cause, the build (or the batch) as CodeBuild describes it: a page of
 * JSON. The compiler's failure state puts `Stage X, action Y failed: ` before it; this turns the JSON
 * into what one machine says of the same failure (`the batch failed: build2 FAILED`).
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-codebuild.html
 */

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The cause with a CodeBuild build or batch description replaced by the builds that failed; any other cause as it is. */
export function readableCause(cause: string): string {
  const start = cause.indexOf('{');
  if (start < 0) return cause;
  let parsed: unknown;
  try {
    parsed = JSON.parse(cause.slice(start));
  } catch {
    return cause;
  }
  if (!isRecord(parsed)) return cause;
  const said = describeBatch(isRecord(parsed.BuildBatch) ? parsed.BuildBatch : parsed) ?? describeBuild(isRecord(parsed.Build) ? parsed.Build : parsed);
  return said === undefined ? cause : `${cause.slice(0, start)}${said}`;
}

/** `the batch failed: build2 FAILED; build3 STOPPED`: the builds of the batch that failed and may not. */
function describeBatch(batch: Record<string, unknown>): string | undefined {
  if (!Array.isArray(batch.BuildGroups) || typeof batch.BuildBatchStatus !== 'string') return undefined;
  const failed = batch.BuildGroups.filter(isRecord).flatMap((group) => {
    const status = isRecord(group.CurrentBuildSummary) ? group.CurrentBuildSummary.BuildStatus : undefined;
    if (status === 'SUCCEEDED' || group.IgnoreFailure === true || typeof group.Identifier !== 'string') return [];
    return [`${group.Identifier} ${typeof status === 'string' ? status : 'NOT_STARTED'}`];
  });
  return `the batch failed: ${failed.length > 0 ? failed.join('; ') : batch.BuildBatchStatus}`;
}

/** `build <id> FAILED in BUILD: <CodeBuild's message>`. */
function describeBuild(build: Record<string, unknown>): string | undefined {
  if (typeof build.BuildStatus !== 'string') return undefined;
  const phase = (Array.isArray(build.Phases) ? build.Phases : []).filter(isRecord).find((p) => p.PhaseStatus !== undefined && p.PhaseStatus !== 'SUCCEEDED');
  const context =
    phase && Array.isArray(phase.Contexts) ? phase.Contexts.filter(isRecord).find((c) => typeof c.message === 'string' && c.message !== '') : undefined;
  const id = typeof build.Id === 'string' ? ` ${build.Id}` : '';
  return `build${id} ${build.BuildStatus}${phase ? ` in ${String(phase.PhaseType)}` : ''}${context ? `: ${String(context.message)}` : ''}`;
}
