/**
 * What the CLI and the conditions function read of an installed pipeline (parsed by
 * packages/functions/src/executions/manifest.ts): the parsed pipeline and the compiler's state map,
 * beside the artifacts. A contract test in stacks/install.test.ts parses this with that schema.
 */
import { ControlPrefix, machineHash, PIPELINE_MANIFEST_VERSION, type Pipeline, type PipelineManifestDocument } from '@stepline/core';
import type { StateMachinePlan } from './plan';

export function pipelineManifest(machine: StateMachinePlan, installation: string, artifactBucket: string): PipelineManifestDocument {
  return {
    version: PIPELINE_MANIFEST_VERSION,
    installation,
    pipeline: machine.pipeline,
    stateMap: machine.compiled.stateMap,
    /** Which machine this manifest describes: an execution's own is found by the hash of its definition. */
    machineHash: machineHash(machine.compiled.definition),
    stateMachineName: machine.name,
    artifactBucket,
    gatePrefix: ControlPrefix.gates,
  };
}

/** Every pipeline of the installation, as the webhook reads them (`PIPELINES=s3://…`). */
export function pipelineList(pipelines: readonly Pipeline[]): Pipeline[] {
  return [...pipelines];
}
