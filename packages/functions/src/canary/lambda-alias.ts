/**
 * Blue and green as two published versions of one Lambda function, and traffic as its alias's routing
 * weights, as CodeDeploy's Lambda deployments shift it: the alias points to blue and sends green a
 * share through `RoutingConfig.AdditionalVersionWeights`; at 100% it points to green alone.
 *
 * Nothing is kept between calls. The alias's description ends with which deployment shifts it and
 * between which versions (`stepline:<deployment id> blue=<version> green=<version>`, after the team's
 * own text, which is kept). Every write names the alias's RevisionId as read, so two deployments never
 * take it unseen; once the alias points to green it is the only
 * place that still names blue, which a rollback after the shift needs.
 * Versions are never deleted (CodeDeploy leaves them too): removing green clears the marker, removing
 * blue forgets it.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-lambda.html
 */
import {
  type AliasConfiguration,
  CreateAliasCommand,
  DeleteAliasCommand,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  type LambdaClient,
  PublishVersionCommand,
  UpdateAliasCommand,
  type UpdateAliasCommandInput,
} from '@aws-sdk/client-lambda';
import {
  APPSPEC_FILES,
  ArtifactInvalidError,
  type CanaryRequest,
  type DeploymentEnvironment,
  type DeploymentSnapshot,
  ErrorName,
  type HealthReport,
  parseLambdaAppSpec,
  type Route,
  readsLambdaAppSpec,
  SteplineError,
  type TrafficRouter,
  type VersionInfo,
  type WeightCheck,
} from '@stepline/core';
import type { ArtifactReader } from './artifact';
import { AwsDeployment, type AwsDeploymentOptions } from './deployment';

/** The function and alias a Lambda deployment on AWS needs, with the optional versions (appspec `Resources`). */
export interface LambdaTarget {
  functionName: string;
  alias: string;
  currentVersion?: string;
  targetVersion?: string;
}

export function lambdaTarget(request: CanaryRequest): LambdaTarget {
  const lambda = request.deployment.lambda;
  const missing = (['functionName', 'alias'] as const).filter((k) => lambda?.[k] === undefined).map((k) => `lambda.${k}`);
  if (!lambda?.functionName || !lambda.alias || missing.length > 0)
    throw new SteplineError(ErrorName.ActionFailed, `to deploy on AWS, set ${missing.join(', ')}`);
  return {
    functionName: lambda.functionName,
    alias: lambda.alias,
    ...(lambda.currentVersion !== undefined && { currentVersion: lambda.currentVersion }),
    ...(lambda.targetVersion !== undefined && { targetVersion: lambda.targetVersion }),
  };
}

/**
 * A Lambda deployment whose definition leaves the function or alias out takes them (and the versions)
 * from the AppSpec file in its input artifacts, as CodeDeploy does, and its hooks too: its plan has a
 * step for each Lambda hook (see `deploymentPlan`), which runs the function the appspec names. A hook
 * the definition names as well must be the same function: two answers to one question are refused.
 */
export async function withLambdaAppSpec(request: CanaryRequest, artifacts: ArtifactReader): Promise<CanaryRequest> {
  const lambda = request.deployment.lambda;
  if (!lambda || !readsLambdaAppSpec(request.deployment)) return request;
  let file: string | undefined;
  for (const name of APPSPEC_FILES) {
    if (await artifacts.has(name)) {
      file = name;
      break;
    }
  }
  if (file === undefined)
    throw new ArtifactInvalidError(
      `set lambda.functionName and lambda.alias, or put ${APPSPEC_FILES.join(', ')} in the input artifact (searched ${artifacts.name})`,
    );
  const spec = parseLambdaAppSpec(await artifacts.read(file), file);
  const hooks = { ...request.deployment.hooks };
  for (const [hook, fn] of Object.entries(spec.hooks) as Array<[keyof typeof spec.hooks, string]>) {
    const given = hooks[hook];
    const givenFn = typeof given === 'string' ? given : given?.function;
    if (given === undefined) hooks[hook] = fn;
    else if (givenFn !== fn)
      throw new ArtifactInvalidError(
        `${file} names ${fn} as the ${hook} hook, but the deploy action's hooks.${hook} runs ${givenFn ?? 'only a command'}: name one function in either place`,
      );
  }
  const currentVersion = lambda.currentVersion ?? spec.currentVersion;
  const resolved = {
    ...lambda,
    functionName: lambda.functionName ?? spec.functionName,
    alias: lambda.alias ?? spec.alias,
    targetVersion: lambda.targetVersion ?? spec.targetVersion,
    ...(currentVersion !== undefined && { currentVersion }),
  };
  return { ...request, deployment: { ...request.deployment, lambda: resolved, hooks } };
}

/** The marker ends the alias's description; whatever the team wrote before it is kept. */
const MARKER = /(?:^|\s)stepline:([0-9a-f]{32}) blue=(\S+) green=(\S+)$/;
const NONE = 'none';
/** Lambda's limit on an alias's description. */
const MAX_DESCRIPTION = 256;

export interface DeploymentMarker {
  deploymentId: string;
  blue: string | undefined;
  green: string;
}

/** The description with the marker after the team's own text. */
export function withMarker(description: string | undefined, m: DeploymentMarker | undefined): string {
  const own = withoutMarker(description);
  if (!m) return own;
  const marker = `stepline:${m.deploymentId} blue=${m.blue ?? NONE} green=${m.green}`;
  const text = own === '' ? marker : `${own} ${marker}`;
  if (text.length > MAX_DESCRIPTION)
    throw new SteplineError(
      ErrorName.ActionFailed,
      `the alias's description leaves no room for the deployment marker (${marker.length} characters): shorten it to ${MAX_DESCRIPTION - marker.length - 1}`,
    );
  return text;
}

const withoutMarker = (description: string | undefined) => (description ?? '').replace(MARKER, '').trimEnd();

export function parseMarker(description: string | undefined): DeploymentMarker | undefined {
  const match = MARKER.exec(description ?? '');
  if (!match?.[1] || !match[2] || !match[3]) return undefined;
  return { deploymentId: match[1], blue: match[2] === NONE ? undefined : match[2], green: match[3] };
}

/** The alias as read: where it points, its weights, and the deployment that marked it. */
export interface AliasView {
  /** Undefined when the alias does not exist yet (the first deployment creates it). */
  alias: AliasConfiguration | undefined;
  weights: Record<string, number>;
  marker: DeploymentMarker | undefined;
}

/** `healthPollMs`: how often a Pending version is read. @default 2000 */
export interface LambdaAliasOptions extends AwsDeploymentOptions {
  lambda: LambdaClient;
}

const isNotFound = (error: unknown) => error instanceof Error && error.name === 'ResourceNotFoundException';
const version = (id: string, target: LambdaTarget): VersionInfo => ({ id, description: `${target.functionName} version ${id}` });

export class LambdaAliasEnvironment extends AwsDeployment<LambdaTarget> implements DeploymentEnvironment {
  constructor(private readonly options: LambdaAliasOptions) {
    super(lambdaTarget(options.request), options);
  }

  async view(): Promise<AliasView> {
    const { functionName: FunctionName, alias: Name } = this.target;
    let alias: AliasConfiguration | undefined;
    try {
      alias = await this.call('GetAlias', () => this.options.lambda.send(new GetAliasCommand({ FunctionName, Name })));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return { alias, weights: alias?.RoutingConfig?.AdditionalVersionWeights ?? {}, marker: parseMarker(alias?.Description) };
  }

  /** Blue and green of this deployment, from its marker; before it, blue is wherever the alias points. */
  roles(v: AliasView): { blue: string | undefined; green: string | undefined } {
    if (v.marker?.deploymentId === this.id) return { blue: v.marker.blue, green: v.marker.green };
    return { blue: v.alias?.FunctionVersion, green: undefined };
  }

  async snapshot(): Promise<DeploymentSnapshot> {
    const v = await this.view();
    const { blue, green } = this.roles(v);
    const at = v.alias?.FunctionVersion;
    return {
      blue: blue === undefined ? undefined : version(blue, this.target),
      green: green === undefined ? undefined : version(green, this.target),
      primary: at === undefined ? undefined : at === green ? 'green' : at === blue ? 'blue' : undefined,
    };
  }

  async createGreen(): Promise<VersionInfo> {
    const v = await this.view();
    const own = this.roles(v);
    if (own.green !== undefined) return version(own.green, this.target);
    const { functionName: FunctionName, alias: Name, currentVersion, targetVersion } = this.target;
    const shifting = Object.entries(v.weights).filter(([, w]) => w > 0);
    if (shifting.length > 0)
      throw new SteplineError(
        ErrorName.ActionFailed,
        `alias ${Name} of ${FunctionName} is already splitting traffic (${shifting.map(([ver, w]) => `${Math.round(w * 100)}% to version ${ver}`).join(', ')}): another deployment is shifting it`,
      );
    const blue = v.alias?.FunctionVersion;
    if (currentVersion !== undefined && blue !== undefined && blue !== currentVersion)
      throw new SteplineError(ErrorName.ActionFailed, `alias ${Name} points to version ${blue}, not to lambda.currentVersion ${currentVersion}`);
    const green = targetVersion ?? (await this.publish());
    if (green === blue)
      throw new SteplineError(
        ErrorName.ActionFailed,
        `alias ${Name} points to version ${green} already: nothing to shift (update the function's code first, or name another lambda.targetVersion)`,
      );
    const Description = withMarker(v.alias?.Description, { deploymentId: this.id, blue, green });
    if (!v.alias) {
      // The first deployment: nothing was live, so green starts with all traffic, as on ECS.
      await this.call('CreateAlias', () => this.options.lambda.send(new CreateAliasCommand({ FunctionName, Name, FunctionVersion: green, Description })));
    } else {
      await this.update({ Description, ...revisionOf(v) });
    }
    this.options.log?.(`green is ${FunctionName} version ${green}${blue === undefined ? '' : `, beside blue version ${blue}`}`);
    return version(green, this.target);
  }

  /** Publishes $LATEST; when nothing changed since the last publish, Lambda answers with that version, so a retry publishes nothing twice. */
  private async publish(): Promise<string> {
    const { functionName: FunctionName } = this.target;
    const answer = await this.call('PublishVersion', () =>
      this.options.lambda.send(new PublishVersionCommand({ FunctionName, Description: `stepline deployment ${this.id}` })),
    );
    if (!answer.Version) throw new SteplineError(ErrorName.ActionFailed, `PublishVersion of ${FunctionName} answered no version`);
    return answer.Version;
  }

  /** Waits until green's version is Active: a version may stay Pending while Lambda prepares it. */
  async checkGreenHealth(): Promise<HealthReport> {
    const pollMs = this.options.healthPollMs ?? 2_000;
    for (;;) {
      const { green } = this.roles(await this.view());
      if (green === undefined) return { healthy: false, detail: 'green is not installed' };
      const { functionName: FunctionName } = this.target;
      const config = await this.call('GetFunctionConfiguration', () =>
        this.options.lambda.send(new GetFunctionConfigurationCommand({ FunctionName, Qualifier: green })),
      );
      const detail = `version ${green} is ${config.State ?? 'in no state'}${config.StateReason ? ` (${config.StateReason})` : ''}`;
      if (config.State === 'Active') return { healthy: true, detail };
      if (config.State !== 'Pending' || Date.now() + pollMs >= this.options.deadline()) return { healthy: false, detail };
      await this.sleep(pollMs);
    }
  }

  async setPrimary(which: 'blue' | 'green'): Promise<void> {
    const v = await this.view();
    const target = this.roles(v)[which];
    if (target === undefined || v.alias?.FunctionVersion === target) return;
    await this.update({ FunctionVersion: target, RoutingConfig: { AdditionalVersionWeights: {} }, ...revisionOf(v) });
  }

  async remove(which: 'blue' | 'green'): Promise<void> {
    const v = await this.view();
    if (v.marker?.deploymentId !== this.id) return;
    const { blue, green } = v.marker;
    if (which === 'green') {
      if (v.alias?.FunctionVersion === green || (v.weights[green] ?? 0) > 0)
        throw new SteplineError(ErrorName.ActionFailed, `refusing to drop green: alias ${this.target.alias} still sends it traffic`);
      await this.update({ Description: withMarker(v.alias?.Description, undefined), ...revisionOf(v) });
    } else if (blue !== undefined) {
      await this.update({ Description: withMarker(v.alias?.Description, { deploymentId: this.id, blue: undefined, green }), ...revisionOf(v) });
    }
  }

  async deleteAlias(): Promise<void> {
    const { functionName: FunctionName, alias: Name } = this.target;
    await this.call('DeleteAlias', () => this.options.lambda.send(new DeleteAliasCommand({ FunctionName, Name })));
    this.options.log?.(`alias ${Name} deleted: the first deployment was rolled back, so nothing is live`);
  }

  update(input: Omit<UpdateAliasCommandInput, 'FunctionName' | 'Name'>): Promise<unknown> {
    const { functionName: FunctionName, alias: Name } = this.target;
    return this.call('UpdateAlias', async () => {
      try {
        return await this.options.lambda.send(new UpdateAliasCommand({ FunctionName, Name, ...input }));
      } catch (error) {
        if (error instanceof Error && error.name === 'PreconditionFailedException')
          throw new SteplineError(ErrorName.Transient, `alias ${Name} changed while this step read it; the step runs again`, { cause: error });
        throw error;
      }
    });
  }
}

/** Every write names the revision it read: Lambda refuses it (PreconditionFailed) if another writer came between. */
const revisionOf = (v: AliasView) => (v.alias?.RevisionId ? { RevisionId: v.alias.RevisionId } : {});

/** Green's share of an alias's traffic, in percent, and the routing as read. */
export function aliasShare(v: AliasView, green: string | undefined): { share: number; detail: string } {
  const at = v.alias?.FunctionVersion;
  const routed = Object.entries(v.weights).map(([ver, w]) => `${Math.round(w * 100)}% to version ${ver}`);
  const detail = at === undefined ? 'the alias does not exist' : `the alias points to version ${at}${routed.length > 0 ? ` with ${routed.join(', ')}` : ''}`;
  if (green === undefined || at === undefined) return { share: 0, detail };
  const others = Object.entries(v.weights).filter(([ver]) => ver !== green);
  const share = at === green ? 100 - Math.round(100 * others.reduce((sum, [, w]) => sum + w, 0)) : Math.round(100 * (v.weights[green] ?? 0));
  return { share, detail };
}

/** The alias's routing weights as the production route; a Lambda alias has no test route. */
export class LambdaAliasRouter implements TrafficRouter {
  constructor(private readonly environment: LambdaAliasEnvironment) {}

  hasRoute(route: Route): boolean {
    return route === 'production';
  }

  async setWeight(route: Route, greenWeight: number): Promise<void> {
    if (route !== 'production') throw new SteplineError(ErrorName.ActionFailed, 'a Lambda alias has no test traffic route');
    const v = await this.environment.view();
    const { blue, green } = this.environment.roles(v);
    if (greenWeight <= 0 && blue === undefined) {
      // A first deployment rolled back: nothing was live before it, and an alias cannot point nowhere.
      await this.environment.deleteAlias();
      return;
    }
    // Lambda refuses the version the alias points to as an additional version: 0% and 100% point at one version alone.
    const only = greenWeight >= 100 || blue === undefined ? green : greenWeight <= 0 || green === undefined ? blue : undefined;
    if (only !== undefined) {
      await this.environment.update({ FunctionVersion: only, RoutingConfig: { AdditionalVersionWeights: {} }, ...revisionOf(v) });
      return;
    }
    if (blue === undefined || green === undefined) return;
    await this.environment.update({ FunctionVersion: blue, RoutingConfig: { AdditionalVersionWeights: { [green]: greenWeight / 100 } }, ...revisionOf(v) });
  }

  async verifyWeight(route: Route, greenWeight: number): Promise<WeightCheck> {
    if (route !== 'production') return { verified: true, detail: 'a Lambda alias has no test route' };
    const v = await this.environment.view();
    const { share, detail } = aliasShare(v, this.environment.roles(v).green);
    return { verified: share === greenWeight, detail: `alias ${this.environment.target.alias}: ${detail}` };
  }
}
