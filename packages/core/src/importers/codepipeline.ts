/**
 * CodePipeline → stepline. Reads the JSON of `aws codepipeline get-pipeline` (or the input of
 * `create-pipeline --cli-input-json`), V2 fields included, and `AWS::CodePipeline::Pipeline` resources
 * of CloudFormation templates. Each supported provider maps to a stepline action; any other provider
 * is an error naming the stage, the action and the provider.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html
 */
import { stringify } from 'yaml';
import { DEPLOYMENT_CONFIG_NAMES } from '../deploy/deployment-configs';
import { DefinitionError, type DefinitionIssue } from '../errors';
import { guessFormat, parseDocumentText } from '../model/issues';
import { parsePipeline } from '../model/parse';
import type { PipelineDefinition } from '../model/schema';
import { camelCaseKeys, IntrinsicResolver, isCloudFormationTemplate, parseCloudFormationYaml } from './cloudformation';

export const SUPPORTED_PROVIDERS = [
  'GitHub',
  'CodeStarSourceConnection',
  'CodeCommit',
  'S3',
  'CodeBuild',
  'Manual',
  'ECS',
  'CodeDeployToECS',
  'Lambda',
] as const;

export interface ImportedPipeline {
  definition: PipelineDefinition;
  /** What the import changed or could not carry over, for the user to read. */
  notes: string[];
}

type Obj = Record<string, unknown>;
type ActionDefinition = PipelineDefinition['stages'][number]['actions'][number];

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const names = (v: unknown): string[] => (Array.isArray(v) ? v.flatMap((a) => (isObj(a) && typeof a.name === 'string' ? [a.name] : [])) : []);

/** Imports every pipeline a document declares. Throws `DefinitionError` listing every problem. */
export function importCodePipeline(text: string, source?: string): ImportedPipeline[] {
  const format = guessFormat(text, source);
  const document = format === 'json' ? parseDocumentText(text, source, 'json') : parseCloudFormationYaml(text, source);

  if (isCloudFormationTemplate(document)) {
    const resources = Object.entries(document.Resources ?? {}).filter(([, r]) => isObj(r) && r.Type === 'AWS::CodePipeline::Pipeline');
    if (resources.length === 0) throw new DefinitionError([{ path: 'Resources', message: 'no AWS::CodePipeline::Pipeline resource in this template' }], source);
    const issues: DefinitionIssue[] = [];
    const out: ImportedPipeline[] = [];
    for (const [logicalId, resource] of resources) {
      const notes: string[] = [];
      const resolver = new IntrinsicResolver(document, notes);
      const raw = (resource as Obj).Properties;
      const declaration = camelCaseKeys(resolver.resolve(raw, `Resources.${logicalId}.Properties`), new Set(['configuration']));
      const context: TemplateContext = { template: document as Obj, resolver, rawStages: isObj(raw) ? (raw.Stages as unknown[]) : [] };
      const converted = convert(declaration, `Resources.${logicalId}.Properties`, notes, context, logicalId);
      issues.push(...converted.issues.map((i) => ({ ...i, path: templateCasing(i.path) })));
      if (converted.definition) out.push({ definition: converted.definition, notes: notes.map(templateCasing) });
    }
    if (issues.length > 0) throw new DefinitionError(issues, source);
    return out;
  }

  const declaration = isObj(document) && isObj(document.pipeline) ? document.pipeline : document;
  if (!isObj(declaration) || !Array.isArray(declaration.stages)) {
    throw new DefinitionError(
      [{ path: '', message: 'expected the JSON of get-pipeline ({"pipeline": {...}}), a pipeline declaration, or a CloudFormation template' }],
      source,
    );
  }
  const notes: string[] = [];
  const converted = convert(declaration, 'pipeline', notes, undefined, undefined);
  if (converted.issues.length > 0 || !converted.definition) throw new DefinitionError(converted.issues, source);
  return [{ definition: converted.definition, notes }];
}

/** Removes notes a later, more precise note replaces. */
function dropNotes(notes: string[], prefix: string): void {
  for (let i = notes.length - 1; i >= 0; i--) if (notes[i]?.startsWith(prefix)) notes.splice(i, 1);
}

/** Paths inside a template in the template's own casing: `Properties.Stages[2].Actions[0].ActionTypeId`. */
function templateCasing(path: string): string {
  return path.replace(/\.([a-z])(\w*)/g, (whole, first: string, rest: string, offset: number) =>
    path.lastIndexOf('Properties', offset) >= 0 ? `.${first.toUpperCase()}${rest}` : whole,
  );
}

interface TemplateContext {
  template: Obj;
  resolver: IntrinsicResolver;
  rawStages: unknown[];
}

function convert(
  decl: unknown,
  at: string,
  notes: string[],
  ctx: TemplateContext | undefined,
  logicalId: string | undefined,
): { definition?: PipelineDefinition; issues: DefinitionIssue[] } {
  const issues: DefinitionIssue[] = [];
  if (!isObj(decl)) return { issues: [{ path: at, message: 'expected a pipeline declaration' }] };

  let name = str(decl.name);
  if ((name === undefined || name.includes('${')) && logicalId) {
    dropNotes(notes, `${at}.Name:`);
    notes.push(`${at}.Name: ${name ?? 'absent'}; the pipeline is named after its resource, ${logicalId}`);
    name = logicalId;
  }
  if (decl.pipelineType !== undefined && decl.pipelineType !== 'V1' && decl.pipelineType !== 'V2') {
    issues.push({ path: `${at}.pipelineType`, message: `expected V1 or V2, got ${JSON.stringify(decl.pipelineType)}` });
  }

  const stages = (decl.stages as unknown[]).map((stage, i) => {
    const stagePath = `${at}.stages[${i}]`;
    const s = isObj(stage) ? stage : {};
    const stageName = str(s.name) ?? '';
    const actions = (Array.isArray(s.actions) ? s.actions : []).flatMap((action, j) => {
      const rawAction = ctx && isObj(ctx.rawStages[i]) ? ((ctx.rawStages[i] as Obj).Actions as unknown[] | undefined)?.[j] : undefined;
      const mapped = convertAction(action, `${stagePath}.actions[${j}]`, stageName, notes, issues, ctx, rawAction);
      return mapped ? [mapped] : [];
    });
    return { name: stageName, actions };
  });

  const definition: PipelineDefinition = { name: name ?? '', stages } as PipelineDefinition;
  if (decl.executionMode !== undefined) definition.executionMode = decl.executionMode as PipelineDefinition['executionMode'];
  if (Array.isArray(decl.variables) && decl.variables.length > 0) {
    definition.variables = decl.variables.map((v) => {
      const o = isObj(v) ? v : {};
      return {
        name: str(o.name) ?? '',
        ...(o.defaultValue !== undefined && { default: str(o.defaultValue) }),
        ...(o.description !== undefined && { description: str(o.description) }),
      };
    });
  }
  if (Array.isArray(decl.triggers) && decl.triggers.length > 0)
    definition.triggers = decl.triggers.flatMap((t, i) => convertTrigger(t, `${at}.triggers[${i}]`, issues));

  if (issues.length > 0) return { issues };
  try {
    parsePipeline(definition);
  } catch (error) {
    if (error instanceof DefinitionError) return { issues: error.issues.map((i) => ({ path: i.path ? `${at}.${i.path}` : at, message: i.message })) };
    throw error;
  }
  return { definition, issues };
}

function convertTrigger(trigger: unknown, at: string, issues: DefinitionIssue[]): NonNullable<PipelineDefinition['triggers']> {
  const t = isObj(trigger) ? trigger : {};
  if (t.providerType !== 'CodeStarSourceConnection') {
    issues.push({
      path: `${at}.providerType`,
      message: `trigger provider ${JSON.stringify(t.providerType)} is not supported; expected CodeStarSourceConnection`,
    });
    return [];
  }
  const git = isObj(t.gitConfiguration) ? t.gitConfiguration : {};
  const criteria = (c: unknown) =>
    isObj(c)
      ? { ...(Array.isArray(c.includes) && { includes: c.includes as string[] }), ...(Array.isArray(c.excludes) && { excludes: c.excludes as string[] }) }
      : undefined;
  const filter = (f: unknown, keys: string[]) => {
    const o = isObj(f) ? f : {};
    return Object.fromEntries(keys.flatMap((k) => (o[k] === undefined ? [] : [[k, k === 'events' ? o[k] : criteria(o[k])]])));
  };
  return [
    {
      ...(str(git.sourceActionName) !== undefined && { sourceAction: str(git.sourceActionName) }),
      ...(Array.isArray(git.push) && { push: git.push.map((f) => filter(f, ['branches', 'tags', 'filePaths'])) }),
      ...(Array.isArray(git.pullRequest) && { pullRequest: git.pullRequest.map((f) => filter(f, ['events', 'branches', 'filePaths'])) }),
    },
  ];
}

function convertAction(
  action: unknown,
  at: string,
  stage: string,
  notes: string[],
  issues: DefinitionIssue[],
  ctx: TemplateContext | undefined,
  rawAction: unknown,
): ActionDefinition | undefined {
  const a = isObj(action) ? action : {};
  const name = str(a.name) ?? '';
  const type = isObj(a.actionTypeId) ? a.actionTypeId : {};
  const provider = str(type.provider) ?? '';
  const category = str(type.category) ?? '';
  const config = isObj(a.configuration) ? a.configuration : {};
  const c = (key: string) => str(config[key]);
  const base = {
    name,
    ...(a.runOrder !== undefined && { runOrder: Number(a.runOrder) }),
    ...(str(a.namespace) !== undefined && { namespace: str(a.namespace) }),
    ...(names(a.inputArtifacts).length > 0 && { inputArtifacts: names(a.inputArtifacts) }),
    ...(names(a.outputArtifacts).length > 0 && { outputArtifacts: names(a.outputArtifacts) }),
    ...(a.timeoutInMinutes !== undefined && { timeoutMinutes: Number(a.timeoutInMinutes) }),
  };
  const unsupported = () => {
    issues.push({
      path: `${at}.actionTypeId`,
      message: `stage ${stage}, action ${name}: provider ${provider || '(none)'} (category ${category || '(none)'}) is not supported; stepline imports ${SUPPORTED_PROVIDERS.join(', ')}`,
    });
    return undefined;
  };

  switch (provider) {
    case 'GitHub':
    case 'CodeStarSourceConnection':
    case 'CodeCommit':
    case 'S3': {
      if (category !== 'Source') return unsupported();
      if (provider === 'GitHub' && config.OAuthToken !== undefined)
        notes.push(`${at}: GitHub (version 1) OAuthToken is not carried over; stepline learns of pushes from its webhook`);
      const repository =
        provider === 'GitHub'
          ? `${c('Owner')}/${c('Repo')}`
          : provider === 'CodeStarSourceConnection'
            ? c('FullRepositoryId')
            : provider === 'CodeCommit'
              ? c('RepositoryName')
              : `${c('S3Bucket')}/${c('S3ObjectKey')}`;
      const branch = c('Branch') ?? c('BranchName');
      return {
        ...base,
        kind: 'source',
        provider,
        repository: repository ?? '',
        ...(branch !== undefined && { branch }),
        ...(c('ConnectionArn') !== undefined && { connectionArn: c('ConnectionArn') }),
      };
    }
    case 'CodeBuild': {
      if (category !== 'Build' && category !== 'Test') return unsupported();
      const environmentVariables = codeBuildVariables(config.EnvironmentVariables, `${at}.configuration.EnvironmentVariables`, issues);
      const project = projectFromTemplate(ctx, rawAction);
      if (project) dropNotes(notes, `${templateCasing(at)}.Configuration.ProjectName:`);
      if (project)
        notes.push(
          `${at}: the CodeBuild project ${project.logicalId} is defined in the template; stepline creates its own project for this action, with the same buildspec`,
        );
      return {
        ...base,
        kind: category === 'Test' ? 'test' : 'build',
        ...(project
          ? { ...(project.buildspec !== undefined && { buildspec: project.buildspec }), ...(project.environment && { environment: project.environment }) }
          : { project: c('ProjectName') ?? '' }),
        ...(Object.keys(environmentVariables).length > 0 && { environmentVariables }),
        ...(c('PrimarySource') !== undefined && { primarySource: c('PrimarySource') }),
      };
    }
    case 'Manual':
      if (category !== 'Approval') return unsupported();
      return {
        ...base,
        kind: 'approval',
        ...(c('CustomData') !== undefined && { customData: c('CustomData') }),
        ...(c('ExternalEntityLink') !== undefined && { externalEntityLink: c('ExternalEntityLink') }),
        ...(c('NotificationArn') !== undefined && { notificationArn: c('NotificationArn') }),
      };
    case 'ECS':
      if (category !== 'Deploy') return unsupported();
      notes.push(
        `${at}: ECS (rolling) becomes an ECS blue/green deploy with all traffic at once; add ecs.listenerArn, targetGroups, containerName, containerPort, subnets and securityGroups before deploying on AWS`,
      );
      return {
        ...base,
        kind: 'deploy',
        strategy: 'CodeDeployDefault.ECSAllAtOnce',
        ecs: {
          ...(c('ClusterName') !== undefined && { cluster: c('ClusterName') }),
          ...(c('ServiceName') !== undefined && { service: c('ServiceName') }),
          imageDefinitionsFile: c('FileName') ?? 'imagedefinitions.json',
        },
      } as ActionDefinition;
    case 'CodeDeployToECS': {
      if (category !== 'Deploy') return unsupported();
      const group = deploymentGroupFromTemplate(ctx, c('DeploymentGroupName'));
      const taskdefArtifact = c('TaskDefinitionTemplateArtifact');
      const inputs = base.inputArtifacts ?? [];
      if (taskdefArtifact && inputs.includes(taskdefArtifact)) base.inputArtifacts = [taskdefArtifact, ...inputs.filter((x) => x !== taskdefArtifact)];
      if (!group)
        notes.push(
          `${at}: deployment group ${c('DeploymentGroupName') ?? ''} is not in this document; set strategy, ecs.cluster, ecs.service, listener and target groups`,
        );
      notes.push(`${at}: lifecycle hooks come from the definition's hooks, not from ${c('AppSpecTemplatePath') ?? 'appspec.yaml'}`);
      return {
        ...base,
        kind: 'deploy',
        strategy: group?.strategy ?? 'CodeDeployDefault.ECSAllAtOnce',
        ecs: {
          ...group?.ecs,
          taskDefinitionFile: c('TaskDefinitionTemplatePath') ?? 'taskdef.json',
          ...(c('Image1ContainerName') !== undefined && { containerName: group?.ecs?.containerName ?? c('Image1ContainerName') }),
        },
      } as ActionDefinition;
    }
    case 'Lambda':
      if (category !== 'Invoke') return unsupported();
      return { ...base, kind: 'invoke', function: c('FunctionName') ?? '', ...(c('UserParameters') !== undefined && { userParameters: c('UserParameters') }) };
    default:
      return unsupported();
  }
}

/** CodeBuild's EnvironmentVariables configuration: a JSON string of `[{name, value, type}]`. */
function codeBuildVariables(value: unknown, at: string, issues: DefinitionIssue[]): Record<string, string> {
  if (value === undefined) return {};
  let list: unknown;
  try {
    list = typeof value === 'string' ? JSON.parse(value) : value;
  } catch {
    issues.push({ path: at, message: 'expected a JSON list of {name, value, type}' });
    return {};
  }
  const out: Record<string, string> = {};
  (Array.isArray(list) ? list : []).forEach((v, i) => {
    const o = isObj(v) ? v : {};
    const type = str(o.type) ?? 'PLAINTEXT';
    if (type !== 'PLAINTEXT') {
      issues.push({
        path: `${at}[${i}]`,
        message: `${String(o.name)} of type ${type}: declare it in the buildspec (env.parameter-store or env.secrets-manager) instead`,
      });
      return;
    }
    out[str(o.name) ?? ''] = str(o.value) ?? '';
  });
  return out;
}

/** The CodeBuild project an action refers to with `!Ref`, when the template defines it. */
function projectFromTemplate(ctx: TemplateContext | undefined, rawAction: unknown) {
  if (!ctx || !isObj(rawAction) || !isObj(rawAction.Configuration)) return undefined;
  const ref = rawAction.Configuration.ProjectName;
  const logicalId = isObj(ref) && typeof ref.Ref === 'string' ? ref.Ref : undefined;
  const resources = ctx.template.Resources as Record<string, Obj>;
  const resource = logicalId ? resources[logicalId] : undefined;
  if (!logicalId || !resource || resource.Type !== 'AWS::CodeBuild::Project') return undefined;
  const props = ctx.resolver.resolve(resource.Properties, `Resources.${logicalId}.Properties`) as Obj;
  const source = isObj(props.Source) ? props.Source : {};
  const env = isObj(props.Environment) ? props.Environment : {};
  return {
    logicalId,
    buildspec: str(source.BuildSpec),
    environment: str(env.Image)
      ? {
          image: str(env.Image),
          ...(str(env.ComputeType) && { computeType: str(env.ComputeType) }),
          ...(env.PrivilegedMode !== undefined && { privilegedMode: env.PrivilegedMode === true || env.PrivilegedMode === 'true' }),
        }
      : undefined,
  };
}

/** Strategy and ECS target from an `AWS::CodeDeploy::DeploymentGroup` of the same template. */
function deploymentGroupFromTemplate(ctx: TemplateContext | undefined, groupName: string | undefined) {
  if (!ctx) return undefined;
  const groups = Object.entries(ctx.template.Resources as Record<string, Obj>).filter(([, r]) => r.Type === 'AWS::CodeDeploy::DeploymentGroup');
  const match = groups.find(([id, r]) => {
    const props = ctx.resolver.resolve(r.Properties, `Resources.${id}.Properties`) as Obj;
    return props.DeploymentGroupName === groupName;
  });
  if (!match) return undefined;
  const [id, resource] = match;
  const props = ctx.resolver.resolve(resource.Properties, `Resources.${id}.Properties`) as Obj;
  const config = str(props.DeploymentConfigName);
  const service = Array.isArray(props.ECSServices) && isObj(props.ECSServices[0]) ? props.ECSServices[0] : {};
  const lb = isObj(props.LoadBalancerInfo) ? props.LoadBalancerInfo : {};
  const pair = Array.isArray(lb.TargetGroupPairInfoList) && isObj(lb.TargetGroupPairInfoList[0]) ? lb.TargetGroupPairInfoList[0] : {};
  const tgs = Array.isArray(pair.TargetGroups) ? pair.TargetGroups.map((t) => (isObj(t) ? str(t.Name) : undefined)) : [];
  const listener = isObj(pair.ProdTrafficRoute) && Array.isArray(pair.ProdTrafficRoute.ListenerArns) ? str(pair.ProdTrafficRoute.ListenerArns[0]) : undefined;
  const testListener =
    isObj(pair.TestTrafficRoute) && Array.isArray(pair.TestTrafficRoute.ListenerArns) ? str(pair.TestTrafficRoute.ListenerArns[0]) : undefined;
  return {
    strategy: config && (DEPLOYMENT_CONFIG_NAMES as readonly string[]).includes(config) ? (config as (typeof DEPLOYMENT_CONFIG_NAMES)[number]) : undefined,
    ecs: {
      ...(str(service.ClusterName) && { cluster: str(service.ClusterName) }),
      ...(str(service.ServiceName) && { service: str(service.ServiceName) }),
      ...(listener && { listenerArn: listener }),
      ...(testListener && { testListenerArn: testListener }),
      ...(tgs[0] && tgs[1] && { targetGroups: { blue: tgs[0], green: tgs[1] } }),
      containerName: undefined as string | undefined,
    },
  };
}

/** The stepline YAML of an imported pipeline, with the import's notes as comments at the top. */
export function toSteplineYaml(imported: ImportedPipeline): string {
  const header = imported.notes.length > 0 ? `${imported.notes.map((n) => `# note: ${n}`).join('\n')}\n` : '';
  // name and kind first, as a person would write an action.
  const stages = imported.definition.stages.map((stage) => ({
    ...stage,
    actions: stage.actions.map(({ name, kind, ...rest }) => ({ name, kind, ...rest })),
  }));
  return `${header}${stringify({ ...imported.definition, stages }, { lineWidth: 0 })}`;
}
