/**
 * Answers the task tokens of waiting gate Tasks: SendTaskSuccess lets an execution into the stage,
 * SendTaskFailure with `Stepline.Superseded` ends one that a newer execution replaced.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/connect-to-resource.html#connect-wait-token
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ErrorName, type GateEffect } from '@stepline/core';

/**
 * `answered`: the token was answered now. `gone`: nobody waits on it any more (answered before, timed
 * out, or its execution ended), which counts as delivered too.
 */
export type Delivery = 'answered' | 'gone';

export interface TaskResponder {
  /** Throws when the answer could not be given and a later attempt may succeed (throttling, network). */
  deliver(effect: GateEffect): Promise<Delivery>;
}

/** Errors that say the token no longer waits for an answer. */
const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

export class SfnTaskResponder implements TaskResponder {
  constructor(private readonly sfn: SFNClient) {}

  async deliver(effect: GateEffect): Promise<Delivery> {
    try {
      if (effect.type === 'proceed') {
        await this.sfn.send(new SendTaskSuccessCommand({ taskToken: effect.token, output: JSON.stringify({ stage: effect.stage }) }));
      } else {
        await this.sfn.send(
          new SendTaskFailureCommand({
            taskToken: effect.token,
            error: ErrorName.Superseded,
            cause: `superseded by execution ${effect.by} before entering stage ${effect.stage}`,
          }),
        );
      }
      return 'answered';
    } catch (error) {
      if (error instanceof Error && GONE.has(error.name)) return 'gone';
      throw error;
    }
  }
}
