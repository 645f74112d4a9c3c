/**
 * Running the stacks under Pulumi mocks, offline: no Pulumi CLI, no plugins, no AWS. Every resource the
 * stacks create is recorded with its inputs. The globals sst defines for its programs (`aws`, `$util`)
 * are defined here the same way, from the workspace's @pulumi packages.
 */
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import type { Pipeline } from '@stepline/core';
import { installStepline } from './install';
import { TEST_ACCOUNT, TEST_REGION } from './plan-fixture';

export interface CreatedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

/** Sets the mocks and the sst globals; returns the list every created resource is added to. */
export async function mockPulumi(): Promise<CreatedResource[]> {
  const created: CreatedResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        created.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        const name = typeof args.inputs.name === 'string' ? args.inputs.name : args.name;
        const state: Record<string, unknown> = { ...args.inputs, name, arn: `arn:aws:mock:${REGION}:${ACCOUNT}:${args.type}/${name}` };
        if (args.type === 'aws:lambda/functionUrl:FunctionUrl') state.functionUrl = `https://${args.name.toLowerCase()}.lambda-url.${REGION}.on.aws/`;
        if (args.type === 'aws:s3/bucket:Bucket') state.bucket = args.inputs.bucket;
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    'stepline',
    'test',
    false,
  );
  const aws = await import('@pulumi/aws');
  Object.assign(globalThis, { aws, $util: pulumi, $interpolate: pulumi.interpolate, $jsonStringify: pulumi.jsonStringify });
  return created;
}

/** Resolves an output (under mocks every output resolves). */
export function settle<T>(output: $util.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Waits until every resource is registered with the mocks. */
export async function settleAll(resources: readonly $util.Resource[]): Promise<void> {
  await settle($util.all(resources.map((r) => r.urn)));
}

/** Installs stepline (stage `team`, the test account, stub function bundles) for `pipelines` under the mocks: every resource it created. */
export async function installUnderMocks(pipelines: Pipeline[]): Promise<CreatedResource[]> {
  const created = await mockPulumi();
  const stepline = installStepline({
    stage: 'team',
    region: TEST_REGION,
    accountId: TEST_ACCOUNT,
    pipelines,
    handlersDir: join(import.meta.dirname, '../packages/functions/src/handlers'),
    bundle: () => new $util.asset.AssetArchive({ 'index.mjs': new $util.asset.StringAsset('export const handler = async () => ({});') }),
    secrets: { GithubWebhookSecret: 'whsec', LinkSigningKey: 'key' },
  });
  await settleAll(stepline.resources);
  return created;
}
