/**
 * Blue and green as ECS task sets of a service that uses the EXTERNAL deployment controller, as
 * CodeDeploy's ECS blue/green does. Nothing is kept between calls: each call reads the service's task
 * sets. This deployment's green is the task set whose `externalId` is the deployment id; its tags name
 * the blue it was installed beside. The two target groups swap roles from one deployment to the next:
 * green goes on whichever one the primary task set is not using.
 * @see https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-external.html
 */
import {
  CreateTaskSetCommand,
  DeleteTaskSetCommand,
  DescribeTaskDefinitionCommand,
  DescribeTaskSetsCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type TaskSet,
  UpdateServicePrimaryTaskSetCommand,
} from '@aws-sdk/client-ecs';
import { DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  ArtifactInvalidError,
  type CanaryRequest,
  type DeploymentEnvironment,
  type DeploymentSnapshot,
  ErrorName,
  type HealthReport,
  SteplineError,
  type VersionInfo,
} from '@stepline/core';
import * as z from 'zod';
import type { ArtifactReader } from './artifact';
import { AwsDeployment, type AwsDeploymentOptions } from './deployment';

const RequiredEcsSchema = z.object({
  cluster: z.string(),
  service: z.string(),
  containerName: z.string(),
  containerPort: z.number(),
  listenerArn: z.string(),
  ruleArn: z.string().optional(),
  testListenerArn: z.string().optional(),
  targetGroups: z.object({ blue: z.string(), green: z.string() }),
  subnets: z.array(z.string()),
  securityGroups: z.array(z.string()),
  assignPublicIp: z.boolean().default(false),
  taskDefinitionFile: z.string().default('taskdef.json'),
  imageDefinitionsFile: z.string().optional(),
});
/** The ECS and ALB settings a deployment on AWS needs, all present. */
export type EcsTarget = z.output<typeof RequiredEcsSchema>;

export function ecsTarget(request: CanaryRequest): EcsTarget {
  const parsed = RequiredEcsSchema.safeParse(request.deployment.ecs ?? {});
  if (parsed.success) return parsed.data;
  const missing = [...new Set(parsed.error.issues.map((i) => `ecs.${String(i.path[0])}`))];
  throw new SteplineError(ErrorName.ActionFailed, `to deploy on AWS, set ${missing.join(', ')}`);
}

/** The green task set's `externalId` and client token. */
export { deploymentId } from './deployment';

export const Tag = {
  Pipeline: 'stepline:pipeline',
  Stage: 'stepline:stage',
  Action: 'stepline:action',
  Execution: 'stepline:execution',
  /** ARN of the task set that was primary when green was created, or `none`. */
  Blue: 'stepline:blue',
} as const;

const tag = (ts: TaskSet | undefined, key: string) => ts?.tags?.find((t) => t.key === key)?.value;
const targetGroupOf = (ts: TaskSet | undefined) => ts?.loadBalancers?.[0]?.targetGroupArn;
const shortName = (arn: string | undefined) => arn?.split('/').slice(-2).join('/') ?? 'none';

/** What is there now, seen from one deployment. */
export interface EcsView {
  own: TaskSet | undefined;
  blue: TaskSet | undefined;
  primary: TaskSet | undefined;
  /** Task sets of other deployments that have not finished. */
  foreign: TaskSet[];
  blueTargetGroup: string;
  greenTargetGroup: string;
}

/** `healthPollMs`: how often green's targets are read. @default 10000 */
export interface EcsBlueGreenOptions extends AwsDeploymentOptions {
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  artifact: ArtifactReader;
}

export class EcsBlueGreen extends AwsDeployment<EcsTarget> implements DeploymentEnvironment {
  constructor(private readonly options: EcsBlueGreenOptions) {
    super(ecsTarget(options.request), options);
  }

  /**
   * The service's task sets as last read. `snapshot()` (where each phase of an operation starts) and
   * every change read afresh; reads in between (the router's roles, the change's own target) reuse it.
   */
  private cached: Promise<EcsView> | undefined;

  view(): Promise<EcsView> {
    this.cached ??= this.read();
    this.cached.catch(() => {
      this.cached = undefined;
    });
    return this.cached;
  }

  private async read(): Promise<EcsView> {
    const { cluster, service, targetGroups } = this.target;
    const answer = await this.call('DescribeTaskSets', () => this.options.ecs.send(new DescribeTaskSetsCommand({ cluster, service, include: ['TAGS'] })));
    const taskSets = (answer.taskSets ?? []).filter((ts) => ts.status !== 'DRAINING');
    const own = taskSets.find((ts) => ts.externalId === this.id);
    const primary = taskSets.find((ts) => ts.status === 'PRIMARY');
    const blueArn = own ? tag(own, Tag.Blue) : primary?.taskSetArn;
    const blue = blueArn === undefined || blueArn === 'none' ? undefined : taskSets.find((ts) => ts.taskSetArn === blueArn);
    const foreign = taskSets.filter((ts) => ts !== own && ts !== blue && ts !== primary);
    const greenTargetGroup = targetGroupOf(own) ?? (targetGroupOf(primary) === targetGroups.green ? targetGroups.blue : targetGroups.green);
    const blueTargetGroup = greenTargetGroup === targetGroups.green ? targetGroups.blue : targetGroups.green;
    return { own, blue, primary, foreign, blueTargetGroup, greenTargetGroup };
  }

  async snapshot(): Promise<DeploymentSnapshot> {
    this.cached = undefined;
    const v = await this.view();
    return {
      blue: v.blue && this.describe(v.blue),
      green: v.own && this.describe(v.own),
      primary: v.own?.status === 'PRIMARY' ? 'green' : v.blue?.status === 'PRIMARY' ? 'blue' : undefined,
    };
  }

  async createGreen(): Promise<VersionInfo> {
    const v = await this.view();
    if (v.own) return this.describe(v.own);
    const other = v.foreign[0];
    if (other) {
      // Another deployment (a stopped execution whose rollback has not run yet) still holds the
      // service: let the state machine retry, and say whose it is if it never clears.
      throw new SteplineError(
        ErrorName.Transient,
        `task set ${shortName(other.taskSetArn)} of another deployment (execution ${tag(other, Tag.Execution) ?? 'unknown'}) is still on service ${this.target.service}; it must finish or roll back first`,
      );
    }
    const taskDefinition = await this.registerTaskDefinition(v.primary);
    const { request } = this.options;
    const { cluster, service, containerName, containerPort, subnets, securityGroups, assignPublicIp } = this.target;
    const placement = v.primary?.capacityProviderStrategy?.length
      ? { capacityProviderStrategy: v.primary.capacityProviderStrategy }
      : { launchType: v.primary?.launchType ?? 'FARGATE' };
    const created = await this.call('CreateTaskSet', () =>
      this.options.ecs.send(
        new CreateTaskSetCommand({
          cluster,
          service,
          taskDefinition,
          externalId: this.id,
          clientToken: this.id,
          ...placement,
          ...(v.primary?.platformVersion && { platformVersion: v.primary.platformVersion }),
          networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups, assignPublicIp: assignPublicIp ? 'ENABLED' : 'DISABLED' } },
          loadBalancers: [{ targetGroupArn: v.greenTargetGroup, containerName, containerPort }],
          scale: { unit: 'PERCENT', value: 100 },
          tags: [
            { key: Tag.Pipeline, value: request.pipeline },
            { key: Tag.Stage, value: request.stage },
            { key: Tag.Action, value: request.action },
            { key: Tag.Execution, value: request.executionId },
            { key: Tag.Blue, value: v.primary?.taskSetArn ?? 'none' },
          ],
        }),
      ),
    );
    this.cached = undefined;
    if (!created.taskSet) throw new SteplineError(ErrorName.Transient, 'CreateTaskSet answered without a task set');
    return this.describe(created.taskSet);
  }

  async checkGreenHealth(): Promise<HealthReport> {
    const pollMs = this.options.healthPollMs ?? 10_000;
    let last = 'green is not installed';
    for (;;) {
      this.cached = undefined;
      const v = await this.view();
      if (v.own) {
        const report = await this.health(v.own, v.greenTargetGroup);
        if (report.healthy) return report;
        last = report.detail;
      }
      if (Date.now() + pollMs >= this.options.deadline()) return { healthy: false, detail: last };
      await this.sleep(pollMs);
    }
  }

  async setPrimary(which: 'blue' | 'green'): Promise<void> {
    const v = await this.view();
    const ts = which === 'green' ? v.own : v.blue;
    if (!ts?.taskSetArn || ts.status === 'PRIMARY') return;
    const { cluster, service } = this.target;
    const arn = ts.taskSetArn;
    this.cached = undefined;
    await this.call('UpdateServicePrimaryTaskSet', () =>
      this.options.ecs.send(new UpdateServicePrimaryTaskSetCommand({ cluster, service, primaryTaskSet: arn })),
    );
    this.options.log?.(`primary task set: ${shortName(arn)} (${which})`);
  }

  async remove(which: 'blue' | 'green'): Promise<void> {
    const v = await this.view();
    const ts = which === 'green' ? v.own : v.blue;
    if (!ts?.taskSetArn) return;
    if (ts.status === 'PRIMARY') throw new SteplineError(ErrorName.ActionFailed, `refusing to delete the primary task set ${shortName(ts.taskSetArn)}`);
    const { cluster, service } = this.target;
    const arn = ts.taskSetArn;
    this.cached = undefined;
    try {
      await this.call('DeleteTaskSet', () => this.options.ecs.send(new DeleteTaskSetCommand({ cluster, service, taskSet: arn, force: true })));
    } catch (error) {
      // Deleted by a concurrent call of the same step: what this call wanted.
      if ((error as Error).name !== 'TaskSetNotFoundException') throw error;
    }
    this.options.log?.(`deleted task set ${shortName(arn)} (${which})`);
  }

  private async health(ts: TaskSet, targetGroupArn: string): Promise<HealthReport> {
    const desired = ts.computedDesiredCount;
    const running = ts.runningCount;
    if (ts.stabilityStatus !== 'STEADY_STATE')
      return { healthy: false, detail: `task set ${shortName(ts.taskSetArn)} is ${ts.stabilityStatus} (${running ?? 0} of ${desired ?? '?'} running)` };
    if (desired !== undefined && (running ?? 0) < desired) return { healthy: false, detail: `${running ?? 0} of ${desired} tasks running` };
    const answer = await this.call('DescribeTargetHealth', () => this.options.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn })));
    const targets = (answer.TargetHealthDescriptions ?? []).filter((t) => t.TargetHealth?.State !== 'draining');
    const healthy = targets.filter((t) => t.TargetHealth?.State === 'healthy').length;
    const sick = targets.filter((t) => t.TargetHealth?.State !== 'healthy');
    if (sick.length > 0) {
      const reasons = [...new Set(sick.map((t) => t.TargetHealth?.Reason ?? t.TargetHealth?.State ?? 'unknown'))].join(', ');
      return { healthy: false, detail: `${healthy} of ${targets.length} targets healthy in ${shortName(targetGroupArn)} (${reasons})` };
    }
    if (desired !== undefined && healthy < desired)
      return { healthy: false, detail: `${healthy} of ${desired} targets registered healthy in ${shortName(targetGroupArn)}` };
    return { healthy: true, detail: `task set steady, ${healthy} of ${targets.length} targets healthy in ${shortName(targetGroupArn)}` };
  }

  private describe(ts: TaskSet): VersionInfo {
    return {
      id: ts.taskSetArn ?? ts.id ?? 'unknown',
      description: `task set ${ts.id ?? shortName(ts.taskSetArn)} (${shortName(ts.taskDefinition)}) on ${shortName(targetGroupOf(ts))}`,
    };
  }

  /** Registers green's task definition from the artifact: taskdef.json, or imagedefinitions.json applied to blue's. */
  private async registerTaskDefinition(primary: TaskSet | undefined): Promise<string> {
    const { artifact } = this.options;
    const input = this.target.imageDefinitionsFile
      ? await this.fromImageDefinitions(this.target.imageDefinitionsFile, primary)
      : await this.fromTaskDefinitionFile(this.target.taskDefinitionFile);
    const answer = await this.call('RegisterTaskDefinition', () => this.options.ecs.send(new RegisterTaskDefinitionCommand(input)));
    const arn = answer.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new SteplineError(ErrorName.Transient, 'RegisterTaskDefinition answered without an ARN');
    this.options.log?.(`registered ${shortName(arn)} from artifact ${artifact.name}`);
    return arn;
  }

  private async fromTaskDefinitionFile(path: string): Promise<RegisterTaskDefinitionCommandInput> {
    const { artifact } = this.options;
    let text = await artifact.read(path);
    // CodePipeline's ECS blue/green action fills <IMAGE1_NAME> from imageDetail.json the same way.
    if (text.includes('<IMAGE1_NAME>') && (await artifact.has('imageDetail.json'))) {
      const detail = ImageDetailSchema.safeParse(JSON.parse(await artifact.read('imageDetail.json')));
      if (!detail.success) throw new ArtifactInvalidError(`artifact ${artifact.name}: imageDetail.json has no ImageURI`);
      text = text.replaceAll('<IMAGE1_NAME>', detail.data.ImageURI);
    }
    const parsed = TaskDefinitionFileSchema.safeParse(parseJson(text, artifact.name, path));
    if (!parsed.success) throw new ArtifactInvalidError(`artifact ${artifact.name}: ${path} is not a task definition (${parsed.error.issues[0]?.message})`);
    // Empty strings (`"executionRoleArn": ""` in many samples) mean "not set" to people, not to the API.
    // The file is RegisterTaskDefinition's input as CodeDeploy users write it; the API validates the rest.
    return Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== '')) as unknown as RegisterTaskDefinitionCommandInput;
  }

  private async fromImageDefinitions(path: string, primary: TaskSet | undefined): Promise<RegisterTaskDefinitionCommandInput> {
    const { artifact } = this.options;
    const parsed = ImageDefinitionsSchema.safeParse(parseJson(await artifact.read(path), artifact.name, path));
    if (!parsed.success) throw new ArtifactInvalidError(`artifact ${artifact.name}: ${path} is not a list of { name, imageUri }`);
    if (!primary?.taskDefinition)
      throw new ArtifactInvalidError(
        `${path} updates the images of the running task definition, but service ${this.target.service} has no primary task set: give a task definition file`,
      );
    const base = primary.taskDefinition;
    const answer = await this.call('DescribeTaskDefinition', () =>
      this.options.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: base, include: ['TAGS'] })),
    );
    const current = answer.taskDefinition;
    if (!current) throw new SteplineError(ErrorName.Transient, `DescribeTaskDefinition ${base} answered without one`);
    const images = new Map(parsed.data.map((d) => [d.name, d.imageUri]));
    const unknown = [...images.keys()].filter((n) => !current.containerDefinitions?.some((c) => c.name === n));
    if (unknown.length > 0) throw new ArtifactInvalidError(`${path} names containers that ${shortName(base)} does not have: ${unknown.join(', ')}`);
    const {
      taskDefinitionArn: _arn,
      revision: _revision,
      status: _status,
      requiresAttributes: _requires,
      compatibilities: _compat,
      registeredAt: _at,
      registeredBy: _by,
      deregisteredAt: _gone,
      ...reusable
    } = current;
    return {
      ...reusable,
      family: current.family,
      containerDefinitions: (current.containerDefinitions ?? []).map((c) => (c.name && images.has(c.name) ? { ...c, image: images.get(c.name) } : c)),
      ...(answer.tags?.length && { tags: answer.tags }),
    } as RegisterTaskDefinitionCommandInput;
  }
}

const ImageDetailSchema = z.object({ ImageURI: z.string().min(1) });
const ImageDefinitionsSchema = z.array(z.object({ name: z.string().min(1), imageUri: z.string().min(1) })).min(1);
const TaskDefinitionFileSchema = z.looseObject({
  family: z.string({ error: 'family is missing' }).min(1),
  containerDefinitions: z.array(z.looseObject({ name: z.string() }), { error: 'containerDefinitions is missing' }).min(1),
});

function parseJson(text: string, artifact: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ArtifactInvalidError(`artifact ${artifact}: ${path} is not JSON (${(error as Error).message})`, { cause: error });
  }
}
