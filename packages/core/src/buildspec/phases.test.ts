import { describe, expect, it } from 'vitest';
import { type BuildPhase, nextPhase, type PhaseStatus } from './phases';
import type { OnFailure } from './schema';

/** The phases a build goes through when each phase ends as `outcomes` says (SUCCEEDED when absent). */
function run(outcomes: Partial<Record<BuildPhase, PhaseStatus>>, onFailure: Partial<Record<BuildPhase, OnFailure>> = {}): BuildPhase[] {
  const ran: BuildPhase[] = [];
  let phase: BuildPhase | undefined = 'INSTALL';
  while (phase) {
    ran.push(phase);
    phase = nextPhase(phase, outcomes[phase] ?? 'SUCCEEDED', onFailure[phase]);
  }
  return ran;
}

describe('nextPhase', () => {
  it('goes through every phase when nothing fails', () => {
    expect(run({})).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD', 'UPLOAD_ARTIFACTS']);
  });

  it('ends the build when INSTALL or PRE_BUILD fails', () => {
    expect(run({ INSTALL: 'FAILED' })).toStrictEqual(['INSTALL']);
    expect(run({ PRE_BUILD: 'FAILED' })).toStrictEqual(['INSTALL', 'PRE_BUILD']);
  });

  it('still runs POST_BUILD and attempts the upload when BUILD fails', () => {
    expect(run({ BUILD: 'FAILED' })).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD', 'UPLOAD_ARTIFACTS']);
    expect(run({ BUILD: 'FAILED', POST_BUILD: 'FAILED' })).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD', 'UPLOAD_ARTIFACTS']);
  });

  it('moves on to the next phase after a failure when on-failure is CONTINUE', () => {
    expect(run({ INSTALL: 'FAILED', PRE_BUILD: 'FAILED' }, { INSTALL: 'CONTINUE', PRE_BUILD: 'CONTINUE' })).toStrictEqual([
      'INSTALL',
      'PRE_BUILD',
      'BUILD',
      'POST_BUILD',
      'UPLOAD_ARTIFACTS',
    ]);
  });

  it('ends the build at once after a failure when on-failure is ABORT', () => {
    expect(run({ BUILD: 'FAILED' }, { BUILD: 'ABORT' })).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD']);
    expect(run({ POST_BUILD: 'FAILED' }, { POST_BUILD: 'ABORT' })).toStrictEqual(['INSTALL', 'PRE_BUILD', 'BUILD', 'POST_BUILD']);
  });

  it('ends the build when a phase is stopped, whatever on-failure says', () => {
    expect(nextPhase('BUILD', 'STOPPED', 'CONTINUE')).toBeUndefined();
    expect(nextPhase('INSTALL', 'STOPPED')).toBeUndefined();
  });
});
