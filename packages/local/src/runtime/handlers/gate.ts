import { ErrorName, type ExecutionMode, SteplineError } from '@stepline/core';
import type { ExecutionContext } from '../context';

interface GatePayload {
  Payload: { pipeline: string; stage: string; executionId: string; executionMode: ExecutionMode; firstStage: boolean };
}

/**
 * A stage's entry on one machine: core's gate reducer over the gate state in SQLite (shared with
 * every other process of this project), then a wait until the answer owed to this entry appears —
 * released by another execution finishing, or by `enable-stage-transition` from another terminal.
 */
export function gateHandler(ctx: ExecutionContext, attempt: () => number) {
  return async (input: unknown) => {
    const { Payload } = input as GatePayload;
    const token = `${Payload.executionId}#${attempt()}@${Payload.stage}`;
    const state = ctx.store.applyGate(
      Payload.pipeline,
      {
        type: 'enter',
        executionId: Payload.executionId,
        stage: Payload.stage,
        token,
        mode: Payload.executionMode,
        firstStage: Payload.firstStage,
        at: new Date().toISOString(),
      },
      Payload.executionMode,
    );
    let told = false;
    for (;;) {
      const effect = ctx.store.takeGateEffect(Payload.pipeline, token);
      if (effect?.type === 'proceed') return {};
      if (effect?.type === 'supersede')
        throw new SteplineError(ErrorName.Superseded, `superseded by execution ${effect.by} at the entry of stage ${Payload.stage}`);
      // Nothing runs while an execution waits here, so a plain stop need not wait for anything either.
      if (ctx.signal.aborted || ctx.stopRequested()) throw new SteplineError(ErrorName.Stopped, 'the execution stopped while waiting to enter a stage');
      if (!told) {
        const current = ctx.store.gateState(Payload.pipeline);
        const disabled = current.disabled[Payload.stage] ?? state.disabled[Payload.stage];
        const occupant = current.occupant[Payload.stage];
        ctx.reporter.held(
          Payload.stage,
          disabled ? `transition disabled: ${disabled.reason}` : occupant ? `execution ${occupant} is in the stage` : 'queued behind a running execution',
        );
        told = true;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
}
