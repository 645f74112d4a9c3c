/**
 * CodeBuild's build phase transitions: which phase runs after a phase succeeds or fails.
 *
 * By default a failed INSTALL or PRE_BUILD ends the build; a failed BUILD still runs POST_BUILD, and
 * UPLOAD_ARTIFACTS is attempted after POST_BUILD whether it failed or not, so that logs and reports
 * of a broken build can still be collected. `on-failure: CONTINUE` moves on to the next phase as if
 * the phase had succeeded (the build still ends FAILED); `on-failure: ABORT` ends the build at once.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/view-build-details.html#view-build-details-phases
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html#build-spec.phases.on-failure
 */
import type { OnFailure, PhaseKey } from './schema';

/** The phases of a build that stepline runs, named as CodeBuild's `phaseType`. */
export const BuildPhase = {
  Install: 'INSTALL',
  PreBuild: 'PRE_BUILD',
  Build: 'BUILD',
  PostBuild: 'POST_BUILD',
  UploadArtifacts: 'UPLOAD_ARTIFACTS',
} as const;
export type BuildPhase = (typeof BuildPhase)[keyof typeof BuildPhase];

/** Every phase, in the order a build that never fails goes through them. */
export const BUILD_PHASES: readonly BuildPhase[] = Object.values(BuildPhase);

/** The buildspec key (`phases.<key>`) of each phase that runs commands. */
export const PHASE_KEY_OF: Readonly<Partial<Record<BuildPhase, PhaseKey>>> = {
  INSTALL: 'install',
  PRE_BUILD: 'pre_build',
  BUILD: 'build',
  POST_BUILD: 'post_build',
};

export const PhaseStatus = { Succeeded: 'SUCCEEDED', Failed: 'FAILED', Skipped: 'SKIPPED', Stopped: 'STOPPED' } as const;
export type PhaseStatus = (typeof PhaseStatus)[keyof typeof PhaseStatus];

/** Where a failure goes when the phase sets no `on-failure`. */
const DEFAULT_AFTER_FAILURE: Readonly<Record<BuildPhase, BuildPhase | undefined>> = {
  INSTALL: undefined,
  PRE_BUILD: undefined,
  BUILD: BuildPhase.PostBuild,
  POST_BUILD: BuildPhase.UploadArtifacts,
  UPLOAD_ARTIFACTS: undefined,
};

/**
 * The phase to run after `phase` ended with `status`, or `undefined` when the build is over.
 * A STOPPED (or SKIPPED) phase ends the build.
 */
export function nextPhase(phase: BuildPhase, status: PhaseStatus, onFailure?: OnFailure): BuildPhase | undefined {
  const following = BUILD_PHASES[BUILD_PHASES.indexOf(phase) + 1];
  switch (status) {
    case PhaseStatus.Succeeded:
      return following;
    case PhaseStatus.Failed:
      if (onFailure === 'CONTINUE') return following;
      // An explicit ABORT is what people write to keep POST_BUILD (and the upload) from running after
      // a failed BUILD; the reference only says "abort the build", so nothing more runs.
      if (onFailure === 'ABORT') return undefined;
      return DEFAULT_AFTER_FAILURE[phase];
    default:
      return undefined;
  }
}
