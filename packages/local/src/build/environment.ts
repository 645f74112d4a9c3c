/**
 * The variables CodeBuild gives every build (CODEBUILD_BUILD_ID, CODEBUILD_SRC_DIR, …), with the
 * values a build on this machine has.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
 */

export interface BuiltinVariablesOptions {
  sourceDir: string;
  secondarySources: Record<string, string>;
  build: { id: string; number: number; sourceVersion?: string; resolvedSourceVersion?: string; initiator?: string };
  startTime: number;
  hostEnv: Record<string, string>;
}

/** Not an AWS account: CodeBuild ARNs need one, and a real-looking one would mislead. */
const LOCAL_ACCOUNT = '000000000000';

export function builtinVariables(options: BuiltinVariablesOptions): Record<string, string> {
  const { build, hostEnv } = options;
  const region = hostEnv.AWS_REGION ?? hostEnv.AWS_DEFAULT_REGION;
  const variables: Record<string, string> = {
    CODEBUILD_BUILD_ID: build.id,
    CODEBUILD_BUILD_NUMBER: String(build.number),
    CODEBUILD_BUILD_ARN: `arn:aws:codebuild:${region ?? 'local'}:${LOCAL_ACCOUNT}:build/${build.id}`,
    CODEBUILD_BUILD_IMAGE: 'stepline/local',
    CODEBUILD_BUILD_SUCCEEDING: '1',
    CODEBUILD_INITIATOR: build.initiator ?? 'stepline',
    // CodeBuild always sets both; without a commit they are empty rather than absent, for `set -u` scripts.
    CODEBUILD_SOURCE_VERSION: build.sourceVersion ?? build.resolvedSourceVersion ?? '',
    CODEBUILD_RESOLVED_SOURCE_VERSION: build.resolvedSourceVersion ?? '',
    CODEBUILD_SRC_DIR: options.sourceDir,
    CODEBUILD_START_TIME: String(options.startTime),
    CODEBUILD_LOG_PATH: build.id.slice(build.id.lastIndexOf(':') + 1),
  };
  for (const [identifier, dir] of Object.entries(options.secondarySources)) variables[`CODEBUILD_SRC_DIR_${identifier}`] = dir;
  // CodeBuild sets the region it runs in. Here only a region this machine already has is passed on:
  // inventing one would override the user's AWS config for every aws command of the build.
  if (region !== undefined) {
    variables.AWS_REGION = region;
    variables.AWS_DEFAULT_REGION = hostEnv.AWS_DEFAULT_REGION ?? region;
  }
  return variables;
}
