/**
 * The gate function: target of every `<Stage> · enter stage` Task (invoked with a task token it answers
 * now or later), of the EventBridge rule on execution status changes (an ended execution frees its
 * place), and of operators disabling or enabling a stage transition. Its state is one S3 object per
 * pipeline; see ../gates/service.ts.
 *
 * Environment: ARTIFACT_BUCKET (where the gate state lives), STATE_MACHINE_PREFIX (state machines are
 * named `<prefix><pipeline>`), GATE_PREFIX (optional, default `_stepline/gates/`).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import middy from '@middy/core';
import { EnvVar } from '@stepline/core';
import { dispatchGateEvent, type GateReply } from '../gates/events';
import { SfnTaskResponder } from '../gates/responder';
import { S3GateStore } from '../gates/s3-store';
import { GateService } from '../gates/service';

let service: GateService | undefined;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the gate function needs the environment variable ${name}`);
  return value;
}

function gateService(): GateService {
  if (service) return service;
  const s3 = new S3Client({});
  // Answering tokens is what frees executions: give throttling more room than the default three tries.
  const sfn = new SFNClient({ maxAttempts: 6 });
  const prefix = process.env.GATE_PREFIX;
  service = new GateService({
    store: new S3GateStore({ s3, bucket: required(EnvVar.ArtifactBucket), ...(prefix ? { prefix } : {}) }),
    responder: new SfnTaskResponder(sfn),
  });
  return service;
}

export const handler = middy().handler(
  async (event: unknown): Promise<GateReply> =>
    dispatchGateEvent(event, { service: gateService(), stateMachinePrefix: process.env[EnvVar.StateMachinePrefix] ?? '' }),
);
