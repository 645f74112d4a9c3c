/**
 * A pipeline installed in moto_server as `sst deploy` installs it: the manifest in S3 and a tagged state
 * machine. moto runs no Lambda or CodeBuild Task, so every Task becomes a Pass state of the same name
 * (nested ones too): names, order and transitions stay as compiled, and the history is moto's own.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateStateMachineCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { JsonObject, State } from '@stepline/core';
import { pipelineManifest } from '../../stacks/manifest';
import type { StateMachinePlan } from '../../stacks/plan';

/** Every Task a Pass state of the same name, nested ones too; the rest as compiled. */
export function passTasks(states: Record<string, State>): Record<string, JsonObject> {
  return Object.fromEntries(
    Object.entries(states).map(([name, state]): [string, JsonObject] => {
      if (state.Type === 'Task') {
        const flow: JsonObject = state.Next ? { Next: state.Next } : { End: true };
        return [name, { Type: 'Pass', ...(state.ResultPath !== undefined && { ResultPath: state.ResultPath as string | null }), ...flow }];
      }
      if (state.Type === 'Map') {
        const processor = state.ItemProcessor;
        return [name, { ...(state as unknown as JsonObject), ItemProcessor: { ...(processor as unknown as JsonObject), States: passTasks(processor.States) } }];
      }
      if (state.Type === 'Parallel')
        return [name, { ...(state as unknown as JsonObject), Branches: state.Branches.map((b) => ({ ...b, States: passTasks(b.States) })) }];
      return [name, state as unknown as JsonObject];
    }),
  );
}

/** Writes the machine's manifest and creates the machine (its Tasks as Pass states), tagged as the stacks tag it. */
export async function installOnMoto(
  clients: { s3: S3Client; sfn: SFNClient },
  machine: Pick<StateMachinePlan, 'pipeline' | 'name' | 'compiled' | 'manifestKey'>,
  bucket: string,
  installation = 'team',
): Promise<string> {
  await clients.s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: machine.manifestKey,
      Body: JSON.stringify(pipelineManifest(machine as StateMachinePlan, installation, bucket)),
    }),
  );
  const created = await clients.sfn.send(
    new CreateStateMachineCommand({
      name: machine.name,
      definition: JSON.stringify({ ...machine.compiled.definition, States: passTasks(machine.compiled.definition.States) }),
      roleArn: `arn:aws:iam::123456789012:role/${machine.name}`,
      tags: [
        { key: 'stepline:pipeline', value: machine.pipeline.name },
        { key: 'stepline:installation', value: installation },
        { key: 'stepline:manifest', value: `s3://${bucket}/${machine.manifestKey}` },
      ],
    }),
  );
  return created.stateMachineArn ?? '';
}
