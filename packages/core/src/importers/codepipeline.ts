/**
 * CodePipeline → stepline. Reads the JSON of `aws codepipeline get-pipeline` (or the input of
 * `create-pipeline --cli-input-json`), V2 fields included, and `AWS::CodePipeline::Pipeline` resources
 * of CloudFormation templates. Each supported provider maps to a stepline action; any other provider
 * is an error naming the stage, the action, the provider and why stepline does not import it.
 *
 * Nothing is lost silently: every field of the declaration (and of the CodeBuild projects and
 * deployment groups it uses from the same template) is either carried over or named in a note, and a
 * value that cannot be known here is an error naming its path and the `--parameter` that gives it.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-pipeline-structure.html
 */
import { stringify } from 'yaml';
import { SERVER_DEPLOYMENT_CONFIG_NAMES } from '../codedeploy/host-batches';
import { DEPLOYMENT_CONFIG_NAMES } from '../deploy/deployment-configs';
import { DefinitionError, type DefinitionIssue } from '../errors';
import { guessFormat, parseDocumentText } from '../model/issues';
import { parsePipeline } from '../model/parse';
import type { PipelineDefinition } from '../model/schema';
import {
  camelCaseKeys,
  firstUnresolved,
  IntrinsicResolver,
  isCloudFormationTemplate,
  parseCloudFormationYaml,
  type ResolveOptions,
  type Template,
  Unresolved,
} from './cloudformation';
import { refusalReason } from './providers';

export { REFUSED_PROVIDERS } from './providers';

export const SUPPORTED_PROVIDERS = [
  'GitHub',
  'CodeStarSourceConnection',
  'CodeCommit',
  'S3',
  'CodeBuild',
  'Manual',
  'ECS',
  'CodeDeployToECS',
  'CodeDeploy',
  'CloudFormation',
  'Lambda',
  'ECR',
  'StepFunctions',
  'Commands',
] as const;

/** Values the document itself cannot give: template parameters, pseudo parameters, exports, `%Name%` placeholders. */
export interface ImportOptions extends ResolveOptions {
  /**
   * The host of each CodeConnections connection (by ARN): a connection's ARN does not say whether it
   * reaches GitHub, GitLab or Bitbucket. A template that defines the connection says it itself.
   */
  connectionHosts?: Record<string, string>;
}

/** The connection types CodeStarSourceConnection reaches, as stepline source providers. */
const CONNECTION_HOSTS: Record<string, 'GitLab' | 'Bitbucket' | 'CodeStarSourceConnection'> = {
  GitHub: 'CodeStarSourceConnection',
  GitHubEnterpriseServer: 'CodeStarSourceConnection',
  GitLab: 'GitLab',
  GitLabSelfManaged: 'GitLab',
  Bitbucket: 'Bitbucket',
};

/** Connection ARN → host, from the options and from the template's own connections (their ARN given as a parameter named after them). */
function connectionHosts(document: unknown, options: ImportOptions): Map<string, string> {
  const hosts = new Map(Object.entries(options.connectionHosts ?? {}));
  const resources = isObj(document) && isObj(document.Resources) ? document.Resources : {};
  for (const [logicalId, r] of Object.entries(resources)) {
    if (!isObj(r) || (r.Type !== 'AWS::CodeStarConnections::Connection' && r.Type !== 'AWS::CodeConnections::Connection')) continue;
    const type = isObj(r.Properties) ? str(r.Properties.ProviderType) : undefined;
    const arn = options.parameters?.[logicalId] ?? options.parameters?.[`${logicalId}.ConnectionArn`];
    if (type !== undefined && arn !== undefined) hosts.set(arn, type);
  }
  return hosts;
}

export interface ImportedPipeline {
  definition: PipelineDefinition;
  /** What the import changed or could not carry over, each naming its path, for the user to read. */
  notes: string[];
}

type Obj = Record<string, unknown>;
type ActionDefinition = PipelineDefinition['stages'][number]['actions'][number];
type StageDefinition = PipelineDefinition['stages'][number];
interface Note {
  path: string;
  message: string;
}

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Unresolved);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** Imports every pipeline a document declares. Throws `DefinitionError` listing every problem. */
export function importCodePipeline(text: string, source?: string, options: ImportOptions = {}): ImportedPipeline[] {
  const format = guessFormat(text, source);
  const document = format === 'json' ? parseDocumentText(text, source, 'json') : parseCloudFormationYaml(text, source);
  assertTreeShaped(document, source);

  if (isCloudFormationTemplate(document)) {
    const resources = Object.entries(document.Resources ?? {}).filter(([, r]) => isObj(r) && r.Type === 'AWS::CodePipeline::Pipeline');
    if (resources.length === 0) throw new DefinitionError([{ path: 'Resources', message: 'no AWS::CodePipeline::Pipeline resource in this template' }], source);
    const issues: DefinitionIssue[] = [];
    const out: ImportedPipeline[] = [];
    for (const [logicalId, resource] of resources) {
      const notes: Note[] = [];
      const at = `Resources.${logicalId}.Properties`;
      const placeholderNotes: string[] = [];
      const resolver = new IntrinsicResolver(document, placeholderNotes, options);
      const created = resolver.resourceCreated(logicalId);
      if (created === false) continue;
      if (created instanceof Unresolved) {
        issues.push({ path: `Resources.${logicalId}.Condition`, message: `whether the pipeline exists is not known: ${created.describe()}` });
        continue;
      }
      const raw = (resource as Obj).Properties;
      const declaration = camelCaseKeys(resolver.resolve(raw, at), new Set(['configuration']));
      const context: TemplateContext = { template: document, resolver, resources: new Map(), connectionHosts: connectionHosts(document, options) };
      const converted = convert(declaration, at, notes, context, logicalId);
      for (const n of placeholderNotes) notes.push(splitNote(n));
      const cased = (p: string) => templateCasing(p);
      issues.push(...converted.issues.map((i) => ({ ...i, path: cased(i.path) })));
      if (converted.definition) out.push({ definition: converted.definition, notes: notes.map((n) => `${cased(n.path)}: ${n.message}`) });
    }
    if (issues.length > 0) throw new DefinitionError(issues, source);
    if (out.length === 0)
      throw new DefinitionError([{ path: 'Resources', message: 'every AWS::CodePipeline::Pipeline resource has a Condition that is false' }], source);
    return out;
  }

  const substituted = substitutePlaceholders(document, options.parameters ?? {});
  const declaration = isObj(substituted) && isObj(substituted.pipeline) ? substituted.pipeline : substituted;
  if (!isObj(declaration) || !Array.isArray(declaration.stages)) {
    throw new DefinitionError(
      [{ path: '', message: 'expected the JSON of get-pipeline ({"pipeline": {...}}), a pipeline declaration, or a CloudFormation template' }],
      source,
    );
  }
  const notes: Note[] = [];
  const at = isObj(substituted) && isObj(substituted.pipeline) ? 'pipeline' : '';
  const converted = convert(declaration, at, notes, undefined, undefined, connectionHosts(undefined, options));
  if (isObj(substituted) && isObj(substituted.metadata))
    notes.push({ path: 'metadata', message: 'not carried over: get-pipeline metadata (ARN, dates) describes the AWS pipeline, not its definition' });
  if (converted.issues.length > 0 || !converted.definition) throw new DefinitionError(converted.issues, source);
  return [{ definition: converted.definition, notes: notes.map((n) => `${n.path}: ${n.message}`) }];
}

/** Nesting deeper than any pipeline or template needs. */
const MAX_DEPTH = 256;

/**
 * The importer walks documents recursively: a YAML alias inside its own anchor (`&a [*a]`) would make
 * it loop, and absurd nesting would overflow the stack. Both are refused as the file's problem.
 */
function assertTreeShaped(document: unknown, source: string | undefined): void {
  const stack: Array<{ value: unknown; depth: number; ancestors: ReadonlySet<unknown> }> = [{ value: document, depth: 0, ancestors: new Set() }];
  while (stack.length > 0) {
    const { value, depth, ancestors } = stack.pop() as (typeof stack)[number];
    if (!value || typeof value !== 'object') continue;
    if (ancestors.has(value))
      throw new DefinitionError([{ path: '', message: 'malformed YAML: an alias refers to the node it is inside of, which has no end' }], source);
    if (depth > MAX_DEPTH) throw new DefinitionError([{ path: '', message: `nested deeper than ${MAX_DEPTH} levels` }], source);
    const inner = new Set(ancestors).add(value);
    for (const child of Object.values(value)) stack.push({ value: child, depth: depth + 1, ancestors: inner });
  }
}

/** A resolver note is `path: message` with a path that has no `: `. */
function splitNote(note: string): Note {
  const i = note.indexOf(': ');
  return { path: note.slice(0, i), message: note.slice(i + 2) };
}

/**
 * `%Name%` placeholders, as some published get-pipeline files hold (a script fills them before
 * `create-pipeline`): a given `--parameter Name=value`, else an unresolved value.
 */
function substitutePlaceholders(value: unknown, parameters: Record<string, string>): unknown {
  if (typeof value === 'string') {
    if (!/%[A-Za-z][\w-]*%/.test(value)) return value;
    const missing = [...value.matchAll(/%([A-Za-z][\w-]*)%/g)].map((m) => m[1] as string).filter((n) => !(n in parameters));
    if (missing.length > 0) return new Unresolved(`%${missing[0]}% is a placeholder this file leaves to be filled`, missing[0]);
    return value.replace(/%([A-Za-z][\w-]*)%/g, (_, name: string) => parameters[name] ?? '');
  }
  if (Array.isArray(value)) return value.map((v) => substitutePlaceholders(v, parameters));
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitutePlaceholders(v, parameters)]));
  return value;
}

/** Paths inside a template in the template's own casing: `Properties.Stages[2].Actions[0].ActionTypeId`. */
function templateCasing(path: string): string {
  const start = path.indexOf('.Properties');
  if (!path.startsWith('Resources.') || start < 0) return path;
  const head = path.slice(0, start + '.Properties'.length);
  return head + path.slice(head.length).replace(/\.([a-z])/g, (_, first: string) => `.${first.toUpperCase()}`);
}

interface TemplateContext {
  template: Template;
  connectionHosts: ReadonlyMap<string, string>;
  resolver: IntrinsicResolver;
  /** Resources the pipeline uses (projects, deployment groups), resolved once, with what was read of them. */
  resources: Map<string, { props: Obj; tracker: Tracker; path: string }>;
}

/**
 * Reads a declaration and remembers what it read, so that whatever it did not read can be named in a
 * note. A value that cannot be known here is an issue at its path.
 */
class Tracker {
  private readonly consumed = new Set<string>();
  constructor(
    readonly issues: DefinitionIssue[],
    readonly notes: Note[],
  ) {}

  /** Marks a path as carried over (or deliberately dropped with its own note). */
  mark(path: string): void {
    this.consumed.add(path);
  }

  value(obj: Obj, key: string, at: string): unknown {
    const path = `${at}.${key}`;
    this.consumed.add(path);
    const v = obj[key];
    const unresolved = firstUnresolved(v);
    if (unresolved) {
      this.issues.push({ path, message: `cannot be known here: ${unresolved.describe()}` });
      return undefined;
    }
    return v;
  }

  /** A list or map read piece by piece: only the container itself must be known here. */
  container(obj: Obj, key: string, at: string): unknown {
    const path = `${at}.${key}`;
    const v = obj[key];
    if (v instanceof Unresolved) {
      this.issues.push({ path, message: `cannot be known here: ${v.describe()}` });
      return undefined;
    }
    return v;
  }

  text(obj: Obj, key: string, at: string): string | undefined {
    return str(this.value(obj, key, at));
  }

  /** The given texts under stepline's names (`{ stackName: 'StackName' }`), each only where it is set. */
  texts<K extends string>(obj: Obj, at: string, keys: Record<K, string>): Partial<Record<K, string>> {
    const found: Partial<Record<K, string>> = {};
    for (const [name, key] of Object.entries(keys) as Array<[K, string]>) {
      const value = this.text(obj, key, at);
      if (value !== undefined) found[name] = value;
    }
    return found;
  }

  note(path: string, message: string): void {
    this.notes.push({ path, message });
  }

  /** A note for every field under `path` that nothing read. */
  leftovers(value: unknown, path: string, reasons: (key: string, value: unknown) => string | undefined): void {
    if (this.consumed.has(path)) return;
    const prefix = [`${path}.`, `${path}[`];
    const inside = [...this.consumed].some((c) => prefix.some((p) => c.startsWith(p)));
    if (!inside || (!Array.isArray(value) && !isObj(value))) {
      const key = path.slice(Math.max(path.lastIndexOf('.'), path.lastIndexOf('[')) + 1).replace(/\]$/, '');
      this.notes.push({ path, message: reasons(key, value) ?? 'not carried over' });
      return;
    }
    if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) this.leftovers(v, `${path}[${i}]`, reasons);
    } else for (const [k, v] of Object.entries(value)) this.leftovers(v, `${path}.${k}`, reasons);
  }
}

/** Why a field of a pipeline declaration is not carried over, in the user's terms. */
const PIPELINE_FIELD_REASONS: Readonly<Record<string, string>> = {
  roleArn: "not carried over: stepline's installation brings its own roles",
  RoleArn: "not carried over: stepline's installation brings its own roles",
  artifactStore: "not carried over: artifacts live in the installation's bucket",
  artifactStores: "not carried over: artifacts live in the installation's bucket",
  restartExecutionOnUpdate: 'not carried over: a changed definition applies to the next execution',
  disableInboundStageTransitions: 'not carried over: stepline has no stage transitions to disable',
  tags: 'not carried over: tag the installation instead (sst deploy)',
  region: 'not carried over: every action runs in the installation’s region',
  version: 'not carried over: CodePipeline keeps this number itself',
  PollForSourceChanges: 'not carried over: stepline learns of pushes from its webhook (or triggers), it never polls',
  DetectChanges: 'not carried over: stepline learns of pushes from its webhook (or triggers)',
  OAuthToken: 'not carried over: GitHub (version 1) tokens stay out of definitions; stepline learns of pushes from its webhook',
  WebhookFilters: 'not carried over: write the filters as triggers',
};
const pipelineFieldReason = (key: string): string | undefined => (Object.hasOwn(PIPELINE_FIELD_REASONS, key) ? PIPELINE_FIELD_REASONS[key] : undefined);

function convert(
  decl: unknown,
  at: string,
  notes: Note[],
  ctx: TemplateContext | undefined,
  logicalId: string | undefined,
  hosts: ReadonlyMap<string, string> = ctx?.connectionHosts ?? new Map(),
): { definition?: PipelineDefinition; issues: DefinitionIssue[] } {
  const issues: DefinitionIssue[] = [];
  if (!isObj(decl)) return { issues: [{ path: at, message: 'expected a pipeline declaration' }] };
  const t = new Tracker(issues, notes);
  const p = (key: string) => (at ? `${at}.${key}` : key);
  const base = at;

  let name: string | undefined;
  if (logicalId && firstUnresolved(decl.name) !== undefined) {
    t.mark(p('name'));
    t.note(p('name'), `${(decl.name as Unresolved).reason}; the pipeline is named after its resource, ${logicalId}`);
    name = logicalId;
  } else {
    name = t.text(decl, 'name', base);
    if (name === undefined && logicalId) {
      t.note(p('name'), `absent; the pipeline is named after its resource, ${logicalId}`);
      name = logicalId;
    }
  }
  const pipelineType = t.value(decl, 'pipelineType', base);
  if (pipelineType !== undefined && pipelineType !== 'V1' && pipelineType !== 'V2') {
    issues.push({ path: p('pipelineType'), message: `expected V1 or V2, got ${JSON.stringify(pipelineType)}` });
  }

  const rawStages = t.container(decl, 'stages', base);
  const stages: StageDefinition[] = (Array.isArray(rawStages) ? rawStages : []).map((stage, i) => {
    const stagePath = `${p('stages')}[${i}]`;
    const s = isObj(stage) ? stage : {};
    if (stage instanceof Unresolved) issues.push({ path: stagePath, message: `cannot be known here: ${stage.describe()}` });
    const stageName = t.text(s, 'name', stagePath) ?? '';
    const rawActions = t.container(s, 'actions', stagePath);
    const actions = (Array.isArray(rawActions) ? rawActions : []).flatMap((action, j) => {
      const mapped = convertAction(action, `${stagePath}.actions[${j}]`, stageName, t, ctx, hosts);
      return mapped ? [mapped] : [];
    });
    return { name: stageName, actions, ...convertStageConditions(s, stagePath, t) };
  });

  const definition: PipelineDefinition = { name: name ?? '', stages } as PipelineDefinition;
  const executionMode = t.value(decl, 'executionMode', base);
  if (executionMode !== undefined) definition.executionMode = executionMode as PipelineDefinition['executionMode'];
  const variables = t.value(decl, 'variables', base);
  if (Array.isArray(variables) && variables.length > 0) {
    definition.variables = variables.map((v) => {
      const o = isObj(v) ? v : {};
      return {
        name: str(o.name) ?? '',
        ...(o.defaultValue !== undefined && { default: str(o.defaultValue) }),
        ...(o.description !== undefined && { description: str(o.description) }),
      };
    });
  }
  const triggers = t.value(decl, 'triggers', base);
  if (Array.isArray(triggers) && triggers.length > 0) definition.triggers = triggers.flatMap((tr, i) => convertTrigger(tr, `${p('triggers')}[${i}]`, issues));

  t.leftovers(decl, base, pipelineFieldReason);
  if (ctx) for (const used of ctx.resources.values()) used.tracker.leftovers(used.props, used.path, resourceFieldReason);

  if (issues.length > 0) return { issues };
  try {
    parsePipeline(definition);
  } catch (error) {
    if (error instanceof DefinitionError) return { issues: error.issues.map((i) => ({ path: i.path ? `${p(i.path)}` : at, message: i.message })) };
    throw error;
  }
  return { definition, issues };
}

/**
 * V2 stage conditions: `beforeEntry`, `onSuccess` and `onFailure` (result, retryConfiguration, and one
 * condition of up to five rules) become the stage's conditions; each rule's configuration maps to the
 * stepline rule of the same provider.
 * @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_StageDeclaration.html
 */
function convertStageConditions(stage: Obj, at: string, t: Tracker): Partial<StageDefinition> {
  const out: Record<string, unknown> = {};
  for (const key of ['beforeEntry', 'onSuccess', 'onFailure'] as const) {
    const raw = t.container(stage, key, at);
    if (!isObj(raw)) continue;
    const path = `${at}.${key}`;
    const conditions = t.container(raw, 'conditions', path);
    const list = Array.isArray(conditions) ? conditions : [];
    if (list.length > 1) t.issues.push({ path: `${path}.conditions`, message: `CodePipeline allows one condition here, got ${list.length}` });
    const first = isObj(list[0]) ? list[0] : undefined;
    // onFailure carries its result itself; a condition may carry one too (beforeEntry and onSuccess always do).
    const result = (key === 'onFailure' ? t.text(raw, 'result', path) : undefined) ?? (first ? t.text(first, 'result', `${path}.conditions[0]`) : undefined);
    if (key === 'onFailure' && first?.result !== undefined) t.mark(`${path}.conditions[0].result`);
    const rawRules = first ? t.container(first, 'rules', `${path}.conditions[0]`) : undefined;
    const rules = (Array.isArray(rawRules) ? rawRules : []).flatMap((rule, r) => {
      const converted = convertRule(rule, `${path}.conditions[0].rules[${r}]`, t);
      return converted ? [converted] : [];
    });
    const condition: Record<string, unknown> = { ...(result !== undefined && { result }) };
    if (rules.length > 0) condition.rules = rules;
    if (key === 'onFailure') {
      const retry = t.container(raw, 'retryConfiguration', path);
      const mode = isObj(retry) ? t.text(retry, 'retryMode', `${path}.retryConfiguration`) : undefined;
      if (mode !== undefined) condition.retryMode = mode;
    }
    out[key] = condition;
  }
  if (stage.blockers !== undefined) {
    t.mark(`${at}.blockers`);
    t.note(`${at}.blockers`, 'not carried over: CodePipeline reserves blockers and ignores them');
  }
  return out as Partial<StageDefinition>;
}

/** One RuleDeclaration → a stepline rule. @see https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html */
function convertRule(rule: unknown, at: string, t: Tracker): Record<string, unknown> | undefined {
  const r = isObj(rule) ? rule : {};
  const name = t.text(r, 'name', at) ?? '';
  const typeId = t.container(r, 'ruleTypeId', at);
  const type = isObj(typeId) ? typeId : {};
  for (const k of ['category', 'owner', 'version']) t.mark(`${at}.ruleTypeId.${k}`);
  const provider = t.text(type, 'provider', `${at}.ruleTypeId`) ?? '';
  const config = isObj(r.configuration) ? r.configuration : {};
  const cfg = `${at}.configuration`;
  const c = (key: string) => t.text(config, key, cfg);
  for (const [key, reason] of [
    ['roleArn', "not carried over: stepline's conditions function holds the rules' permissions"],
    ['region', 'not carried over: rules run in the installation’s region'],
  ] as const) {
    if (r[key] === undefined) continue;
    t.mark(`${at}.${key}`);
    t.note(`${at}.${key}`, reason);
  }
  if (r.inputArtifacts !== undefined && provider !== 'Commands') {
    t.mark(`${at}.inputArtifacts`);
    t.note(`${at}.inputArtifacts`, `not carried over: a ${provider} rule reads no artifact`);
  }
  switch (provider) {
    case 'VariableCheck':
      return { name, provider, variable: c('Variable') ?? '', value: c('Value') ?? '', operator: c('Operator') ?? '' };
    case 'DeploymentWindow':
      return { name, provider, cron: c('Cron') ?? '', ...(config.TimeZone !== undefined && { timeZone: c('TimeZone') }) };
    case 'CloudWatchAlarm': {
      const states = c('AlarmStates');
      const wait = c('WaitTime');
      t.note(at, 'a CloudWatchAlarm rule reads the alarm on AWS; add local.command to give its state on one machine (exit 0: OK)');
      return {
        name,
        provider,
        alarmName: c('AlarmName') ?? '',
        ...(states !== undefined && { alarmStates: states.split(',').map((s) => s.trim()) }),
        ...(wait !== undefined && { waitTimeMinutes: Number(wait) }),
      };
    }
    case 'LambdaInvoke':
      t.note(at, 'a LambdaInvoke rule calls its function on AWS; add a command to run in its place on one machine');
      return { name, provider, functionName: c('FunctionName') ?? '', ...(config.UserParameters !== undefined && { userParameters: c('UserParameters') }) };
    case 'Commands': {
      const commands = t.value(r, 'commands', at);
      const inputs = t.value(r, 'inputArtifacts', at);
      const inputArtifacts = Array.isArray(inputs) ? inputs.flatMap((x) => (isObj(x) && typeof x.name === 'string' ? [x.name] : [])) : [];
      return { name, provider, commands: Array.isArray(commands) ? commands.map(String) : [], ...(inputArtifacts.length > 0 && { inputArtifacts }) };
    }
    default:
      t.issues.push({
        path: `${at}.ruleTypeId.provider`,
        message: `rule provider ${JSON.stringify(provider)} is not supported; expected CloudWatchAlarm, DeploymentWindow, VariableCheck, LambdaInvoke or Commands`,
      });
      return undefined;
  }
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

/** Configuration keys each provider carries over; the rest are noted. */
const CONFIG_READ: Record<string, readonly string[]> = {
  GitHub: ['Owner', 'Repo', 'Branch'],
  CodeStarSourceConnection: ['ConnectionArn', 'FullRepositoryId', 'BranchName'],
  CodeCommit: ['RepositoryName', 'BranchName'],
  S3: ['S3Bucket', 'S3ObjectKey', 'AllowOverrideForS3ObjectKey'],
};

function convertAction(
  action: unknown,
  at: string,
  stage: string,
  t: Tracker,
  ctx: TemplateContext | undefined,
  hosts: ReadonlyMap<string, string>,
): ActionDefinition | undefined {
  if (action instanceof Unresolved) {
    t.issues.push({ path: at, message: `cannot be known here: ${action.describe()}` });
    return undefined;
  }
  const a = isObj(action) ? action : {};
  const name = t.text(a, 'name', at) ?? '';
  const typeId = t.container(a, 'actionTypeId', at);
  const type = isObj(typeId) ? typeId : {};
  for (const k of ['owner', 'version']) t.mark(`${at}.actionTypeId.${k}`);
  const provider = t.text(type, 'provider', `${at}.actionTypeId`) ?? '';
  const category = t.text(type, 'category', `${at}.actionTypeId`) ?? '';
  const rawConfig = a.configuration;
  const config = isObj(rawConfig) ? rawConfig : {};
  const cfg = `${at}.configuration`;
  const c = (key: string) => t.text(config, key, cfg);
  const artifactNames = (key: string) => {
    const list = t.value(a, key, at);
    return Array.isArray(list) ? list.flatMap((x) => (isObj(x) && typeof x.name === 'string' ? [x.name] : [])) : [];
  };
  const runOrder = t.value(a, 'runOrder', at);
  const namespace = t.text(a, 'namespace', at);
  const inputArtifacts = artifactNames('inputArtifacts');
  const outputArtifacts = artifactNames('outputArtifacts');
  const timeout = t.value(a, 'timeoutInMinutes', at);
  const base = {
    name,
    ...(runOrder !== undefined && { runOrder: Number(runOrder) }),
    ...(namespace !== undefined && { namespace }),
    ...(inputArtifacts.length > 0 && { inputArtifacts }),
    ...(outputArtifacts.length > 0 && { outputArtifacts }),
    ...(timeout !== undefined && { timeoutMinutes: Number(timeout) }),
  };
  const refuse = () => {
    t.mark(at);
    t.issues.push({
      path: `${at}.actionTypeId`,
      message: `stage ${stage}, action ${name}: provider ${provider || '(none)'} (category ${category || '(none)'}) is not supported: ${refusalReason(provider, category)}`,
    });
    return undefined;
  };
  const done = (result: ActionDefinition) => {
    t.leftovers(a, at, (key) => pipelineFieldReason(key));
    t.mark(at);
    return result;
  };

  switch (provider) {
    case 'GitHub':
    case 'CodeStarSourceConnection':
    case 'CodeCommit':
    case 'S3': {
      if (category === 'Deploy') return done(s3Deploy(base, config, cfg, t, at));
      if (category !== 'Source') return refuse();
      for (const key of CONFIG_READ[provider] ?? []) t.mark(`${cfg}.${key}`);
      const read = (key: string) => t.text(config, key, cfg);
      const repository =
        provider === 'GitHub'
          ? joinDefined([read('Owner'), read('Repo')], '/')
          : provider === 'CodeStarSourceConnection'
            ? read('FullRepositoryId')
            : provider === 'CodeCommit'
              ? read('RepositoryName')
              : joinDefined([read('S3Bucket'), read('S3ObjectKey')], '/');
      const branch = provider === 'GitHub' ? read('Branch') : provider === 'S3' ? undefined : read('BranchName');
      const connectionArn = provider === 'CodeStarSourceConnection' ? read('ConnectionArn') : undefined;
      const format = str(config.OutputArtifactFormat);
      if (format !== undefined) {
        t.mark(`${cfg}.OutputArtifactFormat`);
        if (format === 'CODEBUILD_CLONE_REF')
          t.note(
            `${cfg}.OutputArtifactFormat`,
            'CODEBUILD_CLONE_REF: stepline builds check out the repository at the commit (a full clone), so git metadata is there as with CodeBuild',
          );
      }
      let sourceProvider = provider as NonNullable<Extract<ActionDefinition, { kind: 'source' }>['provider']>;
      if (provider === 'CodeStarSourceConnection') {
        const host = connectionArn !== undefined ? hosts.get(connectionArn) : undefined;
        if (host !== undefined && CONNECTION_HOSTS[host] === undefined)
          t.issues.push({ path: `${cfg}.ConnectionArn`, message: `a ${host} connection: stepline reads GitHub, GitLab and Bitbucket through connections` });
        sourceProvider = host !== undefined ? (CONNECTION_HOSTS[host] ?? provider) : provider;
        // GitHub and Bitbucket repositories are owner/repo; only GitLab nests groups. Otherwise GitHub, by far the most common (docs/import.md).
        if (host === undefined && (repository ?? '').split('/').length > 2) {
          sourceProvider = 'GitLab';
          t.note(`${cfg}.FullRepositoryId`, `${repository} has subgroups: only GitLab nests them, so this source reads GitLab`);
        }
      }
      return done({
        ...base,
        kind: 'source',
        provider: sourceProvider,
        repository: repository ?? '',
        ...(branch !== undefined && { branch }),
        ...(connectionArn !== undefined && { connectionArn }),
        // CodePipeline writes it as the text "true" or "false".
        ...(provider === 'S3' && String(config.AllowOverrideForS3ObjectKey) === 'true' && { allowOverrideForS3ObjectKey: true }),
      });
    }
    case 'CodeBuild': {
      if (category !== 'Build' && category !== 'Test') return refuse();
      const variables = codeBuildVariables(t.value(config, 'EnvironmentVariables', cfg), `${cfg}.EnvironmentVariables`, t.issues);
      const project = ctx && projectFromTemplate(ctx, rawConfigValue(ctx, cfg, 'ProjectName'), config.ProjectName, `${cfg}.ProjectName`, t);
      const primarySource = c('PrimarySource');
      // CodePipeline writes these as the text "true" or "false".
      for (const key of ['BatchEnabled', 'CombineArtifacts']) if (config[key] !== undefined) t.mark(`${cfg}.${key}`);
      const batchEnabled = str(config.BatchEnabled) === 'true';
      const combineArtifacts = batchEnabled && str(config.CombineArtifacts) === 'true';
      // The action's variables override the project's, as StartBuild's EnvironmentVariablesOverride does.
      const merged = mergeVariables(project?.variables, variables);
      return done({
        ...base,
        ...(project?.timeoutMinutes !== undefined && base.timeoutMinutes === undefined && { timeoutMinutes: project.timeoutMinutes }),
        kind: category === 'Test' ? 'test' : 'build',
        ...(project
          ? { ...(project.buildspec !== undefined && { buildspec: project.buildspec }), ...(project.environment && { environment: project.environment }) }
          : { project: c('ProjectName') ?? '' }),
        ...(Object.keys(merged.PLAINTEXT).length > 0 && { environmentVariables: merged.PLAINTEXT }),
        ...(Object.keys(merged.PARAMETER_STORE).length > 0 && { parameterStore: merged.PARAMETER_STORE }),
        ...(Object.keys(merged.SECRETS_MANAGER).length > 0 && { secretsManager: merged.SECRETS_MANAGER }),
        ...(primarySource !== undefined && { primarySource }),
        ...(batchEnabled && { batchEnabled }),
        ...(combineArtifacts && { combineArtifacts }),
      } as ActionDefinition);
    }
    case 'Manual': {
      if (category !== 'Approval') return refuse();
      return done({
        ...base,
        kind: 'approval',
        ...t.texts(config, cfg, { customData: 'CustomData', externalEntityLink: 'ExternalEntityLink', notificationArn: 'NotificationArn' }),
      });
    }
    case 'ECS': {
      if (category !== 'Deploy') return refuse();
      t.note(
        at,
        'ECS (rolling) becomes an ECS blue/green deploy with all traffic at once; add ecs.listenerArn, ecs.targetGroups, ecs.containerName, ecs.containerPort, ecs.subnets and ecs.securityGroups before deploying on AWS',
      );
      const cluster = c('ClusterName');
      const service = c('ServiceName');
      const file = c('FileName');
      if (config.DeploymentTimeout !== undefined) t.mark(`${cfg}.DeploymentTimeout`);
      const deploymentTimeout = str(config.DeploymentTimeout);
      return done({
        ...base,
        ...(deploymentTimeout !== undefined && base.timeoutMinutes === undefined && { timeoutMinutes: Number(deploymentTimeout) }),
        kind: 'deploy',
        strategy: 'CodeDeployDefault.ECSAllAtOnce',
        ecs: { ...(cluster !== undefined && { cluster }), ...(service !== undefined && { service }), imageDefinitionsFile: file ?? 'imagedefinitions.json' },
      } as ActionDefinition);
    }
    case 'CodeDeployToECS': {
      if (category !== 'Deploy') return refuse();
      const group = deploymentGroupFromTemplate(ctx, config, cfg, t);
      const taskdefArtifact = c('TaskDefinitionTemplateArtifact');
      const taskdefPath = c('TaskDefinitionTemplatePath');
      const inputs = base.inputArtifacts ?? [];
      if (taskdefArtifact && inputs.includes(taskdefArtifact)) base.inputArtifacts = [taskdefArtifact, ...inputs.filter((x) => x !== taskdefArtifact)];
      if (!group) {
        t.mark(`${cfg}.ApplicationName`);
        t.mark(`${cfg}.DeploymentGroupName`);
        t.note(
          `${cfg}.DeploymentGroupName`,
          `${str(config.DeploymentGroupName) ?? ''} is not in this document; set strategy, alarms, ecs.cluster, ecs.service, ecs.listenerArn and ecs.targetGroups`,
        );
      }
      const appspec = c('AppSpecTemplatePath');
      t.mark(`${cfg}.AppSpecTemplateArtifact`);
      t.note(
        `${cfg}.AppSpecTemplatePath`,
        `lifecycle hooks come from the action's hooks, not from ${appspec ?? 'appspec.yaml'}; container name and port from ecs.containerName and ecs.containerPort`,
      );
      for (const n of [1, 2, 3, 4, 5]) {
        const placeholder = str(config[`Image${n}ContainerName`]);
        const artifact = str(config[`Image${n}ArtifactName`]);
        if (placeholder === undefined && artifact === undefined) continue;
        t.mark(`${cfg}.Image${n}ContainerName`);
        t.mark(`${cfg}.Image${n}ArtifactName`);
        const fromTaskdefArtifact = artifact === undefined || artifact === taskdefArtifact;
        if (n === 1 && placeholder === 'IMAGE1_NAME' && fromTaskdefArtifact) continue; // what stepline does: <IMAGE1_NAME> from imageDetail.json
        t.note(
          `${cfg}.Image${n}ContainerName`,
          `${placeholder ?? ''} is the placeholder in the task definition that CodeDeploy fills with the image of ${artifact ?? 'the artifact'}; stepline fills only <IMAGE1_NAME>, from imageDetail.json in ${taskdefArtifact ?? 'the task definition artifact'}: rename the placeholder or write the image into the task definition`,
        );
      }
      return done({
        ...base,
        kind: 'deploy',
        ...(group?.deploy ?? { strategy: 'CodeDeployDefault.ECSAllAtOnce' }),
        ecs: { ...group?.ecs, taskDefinitionFile: taskdefPath ?? 'taskdef.json' },
      } as ActionDefinition);
    }
    case 'CodeDeploy': {
      if (category !== 'Deploy') return refuse();
      // A Lambda deployment group shifts an alias's traffic; EC2 and on-premises groups deploy in place.
      if (ctx && isLambdaGroup(ctx, config, cfg)) {
        const lambdaGroup = deploymentGroupFromTemplate(ctx, config, cfg, t);
        if (!lambdaGroup) return refuse();
        const deploy = { ...lambdaGroup.deploy };
        if (deploy.strategy === 'CodeDeployDefault.ECSAllAtOnce') deploy.strategy = 'CodeDeployDefault.LambdaAllAtOnce';
        t.note(
          at,
          'a Lambda deployment: the function, alias, versions and Hooks are read from the appspec in the input artifact at deploy time, as CodeDeploy does; a hook function answers with its status (it has no CodeDeploy deployment to report to)',
        );
        return done({ ...base, kind: 'deploy', ...deploy, lambda: {} } as ActionDefinition);
      }
      const applicationName = c('ApplicationName');
      const deploymentGroupName = c('DeploymentGroupName');
      const platform = computePlatformOf(ctx, config, cfg);
      if (platform !== undefined && platform !== 'Server') {
        t.issues.push({
          path: `${cfg}.ApplicationName`,
          message: `${applicationName ?? 'the application'} deploys to ${platform}: the CodeDeploy provider is imported for Server (EC2/on-premises) and Lambda applications; ECS blue/green is the CodeDeployToECS provider`,
        });
        return undefined;
      }
      const group = serverGroupFromTemplate(ctx, config, cfg, t);
      if (!group)
        t.note(
          `${cfg}.DeploymentGroupName`,
          `${deploymentGroupName ?? ''} is not in this document: set ec2.tagFilters (or ec2.instanceIds) and deploymentConfig (OneAtATime until then) before deploying on AWS, local.root to deploy on one machine`,
        );
      return done({
        ...base,
        kind: 'codedeploy',
        ...(applicationName !== undefined && { applicationName }),
        ...(deploymentGroupName !== undefined && { deploymentGroupName }),
        ...group,
        ec2: group?.ec2 ?? {},
      } as ActionDefinition);
    }
    case 'CloudFormation': {
      if (category !== 'Deploy') return refuse();
      return done(cloudFormation(base, config, cfg, t, at));
    }
    case 'ECR': {
      if (category !== 'Source') return refuse();
      const imageTag = c('ImageTag');
      return done({ ...base, kind: 'source', provider: 'ECR', repository: c('RepositoryName') ?? '', ...(imageTag !== undefined && { imageTag }) });
    }
    case 'StepFunctions': {
      if (category !== 'Invoke') return refuse();
      t.note(at, 'runs on AWS; to run it on one machine too, give it local.definition (an ASL file in the repository)');
      return done({
        ...base,
        kind: 'stepfunctions',
        stateMachineArn: c('StateMachineArn') ?? '',
        ...t.texts(config, cfg, { executionNamePrefix: 'ExecutionNamePrefix', inputType: 'InputType', input: 'Input' }),
      } as ActionDefinition);
    }
    case 'Commands': {
      if (category !== 'Compute') return refuse();
      return done(commandsAction(base, a, at, t));
    }
    case 'Lambda': {
      if (category !== 'Invoke') return refuse();
      const userParameters = c('UserParameters');
      return done({ ...base, kind: 'invoke', function: c('FunctionName') ?? '', ...(userParameters !== undefined && { userParameters }) });
    }
    default:
      return refuse();
  }
}

/**
 * CodePipeline's Commands action (V2) as a stepline commands action: its commands, output variables,
 * environment variables and the files of its output artifact.
 */
function commandsAction(base: Obj, action: Obj, at: string, t: Tracker): ActionDefinition {
  const strings = (value: unknown) => (Array.isArray(value) ? value.map((v) => str(v) ?? '') : undefined);
  const commands = strings(t.value(action, 'commands', at)) ?? [];
  const outputVariables = strings(t.value(action, 'outputVariables', at));
  const variables = codeBuildVariables(t.value(action, 'environmentVariables', at), `${at}.environmentVariables`, t.issues);
  for (const name of Object.keys(variables.PARAMETER_STORE))
    t.issues.push({ path: `${at}.environmentVariables`, message: `${name}: a Commands action's variables are PLAINTEXT or SECRETS_MANAGER` });
  const outputs = action.outputArtifacts;
  const first = Array.isArray(outputs) && isObj(outputs[0]) ? outputs[0] : undefined;
  const outputFiles = strings(first?.files);
  return {
    ...base,
    kind: 'commands',
    commands,
    ...(outputVariables !== undefined && { outputVariables }),
    ...(Object.keys(variables.PLAINTEXT).length > 0 && { environmentVariables: variables.PLAINTEXT }),
    ...(Object.keys(variables.SECRETS_MANAGER).length > 0 && { secretsManager: variables.SECRETS_MANAGER }),
    ...(outputFiles !== undefined && { outputFiles }),
  } as ActionDefinition;
}

/** CodePipeline's CloudFormation action as a stepline cloudformation action. */
function cloudFormation(base: Obj, config: Obj, cfg: string, t: Tracker, at: string): ActionDefinition {
  const c = (key: string) => t.text(config, key, cfg);
  const actionMode = c('ActionMode');
  const stackName = c('StackName');
  const capabilities = c('Capabilities');
  const overridesText = t.value(config, 'ParameterOverrides', cfg);
  let parameterOverrides: Record<string, string> | undefined;
  if (overridesText !== undefined) {
    let parsed: unknown = overridesText;
    if (typeof overridesText === 'string') {
      try {
        parsed = JSON.parse(overridesText);
      } catch {
        t.issues.push({ path: `${cfg}.ParameterOverrides`, message: 'expected a JSON object of parameter names and values' });
      }
    }
    if (isObj(parsed)) {
      parameterOverrides = {};
      for (const [name, value] of Object.entries(parsed)) {
        // Fn::GetParam and Fn::GetArtifactAtt stay as their JSON text; the action resolves them when it runs.
        parameterOverrides[name] = typeof value === 'string' ? value : JSON.stringify(value);
      }
    }
  }
  t.note(at, 'a CloudFormation action deploys to AWS, on one machine with your own AWS credentials; add local.command to run something in its place');
  return {
    ...base,
    kind: 'cloudformation',
    actionMode: actionMode ?? '',
    stackName: stackName ?? '',
    ...t.texts(config, cfg, {
      changeSetName: 'ChangeSetName',
      templatePath: 'TemplatePath',
      templateConfiguration: 'TemplateConfiguration',
      roleArn: 'RoleArn',
      outputFileName: 'OutputFileName',
    }),
    ...(parameterOverrides && { parameterOverrides }),
    ...(capabilities !== undefined && {
      capabilities: capabilities
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    }),
  } as ActionDefinition;
}

/** CodePipeline's S3 deploy action as a stepline s3deploy action. */
function s3Deploy(base: Obj, config: Obj, cfg: string, t: Tracker, at: string): ActionDefinition {
  const c = (key: string) => t.text(config, key, cfg);
  const extract = c('Extract');
  t.note(at, 'an S3 deploy runs on AWS as is; add local.directory to run it on one machine');
  return {
    ...base,
    kind: 's3deploy',
    ...t.texts(config, cfg, {
      bucket: 'BucketName',
      objectKey: 'ObjectKey',
      kmsEncryptionKeyArn: 'KMSEncryptionKeyARN',
      cannedAcl: 'CannedACL',
      cacheControl: 'CacheControl',
    }),
    ...(extract !== undefined && { extract: extract.toLowerCase() === 'true' }),
  } as ActionDefinition;
}

const joinDefined = (parts: Array<string | undefined>, separator: string) => (parts.every((x) => x !== undefined) ? parts.join(separator) : undefined);

const VARIABLE_TYPES = ['PLAINTEXT', 'PARAMETER_STORE', 'SECRETS_MANAGER'] as const;
type VariableType = (typeof VARIABLE_TYPES)[number];
type TypedVariables = Record<VariableType, Record<string, string>>;
const emptyVariables = (): TypedVariables => ({ PLAINTEXT: {}, PARAMETER_STORE: {}, SECRETS_MANAGER: {} });

/** Later wins, whatever its type: a name has one value in a build. */
function mergeVariables(...sets: Array<TypedVariables | undefined>): TypedVariables {
  const out = emptyVariables();
  for (const set of sets) {
    if (!set) continue;
    for (const type of VARIABLE_TYPES) {
      for (const [name, value] of Object.entries(set[type])) {
        for (const other of VARIABLE_TYPES) delete out[other][name];
        out[type][name] = value;
      }
    }
  }
  return out;
}

/**
 * CodeBuild environment variables: the action's `EnvironmentVariables` (a JSON string of
 * `[{name, value, type}]`) or a project's `Environment.EnvironmentVariables` (`[{Name, Value, Type}]`).
 * PARAMETER_STORE and SECRETS_MANAGER values are references, carried as such.
 */
function codeBuildVariables(value: unknown, at: string, issues: DefinitionIssue[]): TypedVariables {
  const out = emptyVariables();
  if (value === undefined) return out;
  let list: unknown;
  try {
    list = typeof value === 'string' ? JSON.parse(value) : value;
  } catch {
    issues.push({ path: at, message: 'expected a JSON list of {name, value, type}' });
    return out;
  }
  (Array.isArray(list) ? list : []).forEach((v, i) => {
    const o = isObj(v) ? v : {};
    const name = str(o.name ?? o.Name) ?? '';
    const type = str(o.type ?? o.Type) ?? 'PLAINTEXT';
    const unresolved = firstUnresolved(o.value ?? o.Value);
    if (unresolved) {
      issues.push({ path: `${at}[${i}]`, message: `${name}: cannot be known here: ${unresolved.describe()}` });
      return;
    }
    if (!(VARIABLE_TYPES as readonly string[]).includes(type)) {
      issues.push({ path: `${at}[${i}]`, message: `${name}: type ${type}; expected PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER` });
      return;
    }
    out[type as VariableType][name] = str(o.value ?? o.Value) ?? '';
  });
  return out;
}

/** The resource a value refers to with `!Ref` (or names), when the template defines it with that type. */
function templateResource(ctx: TemplateContext, logicalId: string, type: string, t: Tracker) {
  const known = ctx.resources.get(logicalId);
  if (known) return known;
  const resource = ctx.template.Resources?.[logicalId];
  if (!resource || resource.Type !== type) return undefined;
  const path = `Resources.${logicalId}.Properties`;
  const props = ctx.resolver.resolve(resource.Properties ?? {}, path);
  const entry = { props: isObj(props) ? props : {}, tracker: new Tracker(t.issues, t.notes), path };
  ctx.resources.set(logicalId, entry);
  return entry;
}

/** The logical id a raw (unresolved) value refers to: `{Ref: Id}`, or a resource whose name is that text. */
function referencedId(ctx: TemplateContext, raw: unknown, resolved: unknown, type: string, nameProperty: string): string | undefined {
  if (isObj(raw) && typeof raw.Ref === 'string') return raw.Ref;
  const text = str(resolved);
  const rawText = raw === undefined ? undefined : JSON.stringify(raw);
  // By the name's value, or, when the name cannot be known here, by the same expression (`!Sub ${AWS::StackName}-build` in both).
  return Object.entries(ctx.template.Resources ?? {}).find(([id, r]) => {
    if (r.Type !== type) return false;
    if (rawText !== undefined && JSON.stringify(r.Properties?.[nameProperty]) === rawText) return true;
    return text !== undefined && ctx.resolver.resolve(r.Properties?.[nameProperty], `Resources.${id}.Properties.${nameProperty}`) === text;
  })?.[0];
}

/** Why a field of a CodeBuild project or deployment group is not carried over. */
const RESOURCE_FIELD_REASONS: Readonly<Record<string, string>> = {
  ServiceRole: "not carried over: the project stepline creates has the installation's build role",
  ServiceRoleArn: "not carried over: stepline's canary function holds the deployment's permissions",
  Artifacts: 'not carried over: the action’s outputArtifacts say where the build’s artifacts go',
  Cache: 'not carried over: use the buildspec’s cache.paths',
  LogsConfig: "not carried over: build logs go to the installation's log group",
  VpcConfig: 'not carried over: the project stepline creates runs outside a VPC',
  Tags: 'not carried over: tag the installation instead (sst deploy)',
  Description: 'not carried over',
};
const resourceFieldReason = (key: string): string | undefined => (Object.hasOwn(RESOURCE_FIELD_REASONS, key) ? RESOURCE_FIELD_REASONS[key] : undefined);

/**
 * The CodeBuild project an action names, when the template defines it (by `!Ref` or by its Name):
 * its buildspec, image, compute type, privileged mode, timeout and environment variables.
 */
function projectFromTemplate(ctx: TemplateContext, rawProjectName: unknown, projectName: unknown, at: string, t: Tracker) {
  const logicalId = referencedId(ctx, rawProjectName, projectName, 'AWS::CodeBuild::Project', 'Name');
  if (!logicalId) return undefined;
  const entry = templateResource(ctx, logicalId, 'AWS::CodeBuild::Project', t);
  if (!entry) return undefined;
  // The project's name was read (to find it), unresolved or not: stepline names its own project.
  t.mark(at);
  const { props, tracker: r, path } = entry;
  r.mark(`${path}.Name`);
  const source = isObj(props.Source) ? props.Source : {};
  const env = isObj(props.Environment) ? props.Environment : {};
  const buildspec = r.text(source, 'BuildSpec', `${path}.Source`);
  if (source.Type === 'CODEPIPELINE' || source.Type === undefined) r.mark(`${path}.Source.Type`);
  if (isObj(props.Artifacts) && props.Artifacts.Type === 'CODEPIPELINE') r.mark(`${path}.Artifacts`);
  const image = r.text(env, 'Image', `${path}.Environment`);
  const computeType = r.text(env, 'ComputeType', `${path}.Environment`);
  const privileged = r.value(env, 'PrivilegedMode', `${path}.Environment`);
  if (env.Type === 'LINUX_CONTAINER') r.mark(`${path}.Environment.Type`);
  if (env.ImagePullCredentialsType === 'CODEBUILD') r.mark(`${path}.Environment.ImagePullCredentialsType`);
  r.mark(`${path}.Environment.EnvironmentVariables`);
  const variables = codeBuildVariables(env.EnvironmentVariables, `${path}.Environment.EnvironmentVariables`, t.issues);
  const timeout = r.value(props, 'TimeoutInMinutes', path);
  t.note(
    at.replace(/\.configuration\.ProjectName$/, ''),
    `the CodeBuild project ${logicalId} is defined in the template; stepline creates its own project for this action, with the same buildspec, environment and variables`,
  );
  return {
    logicalId,
    buildspec: buildspec ?? (source.BuildSpec === undefined ? undefined : 'buildspec.yml'),
    timeoutMinutes: timeout === undefined ? undefined : Number(timeout),
    variables,
    environment:
      image !== undefined
        ? {
            image,
            ...(computeType !== undefined && { computeType }),
            ...(privileged !== undefined && { privilegedMode: privileged === true || privileged === 'true' }),
          }
        : undefined,
  };
}

/** The logical id of the deployment group (of the same template) the action's DeploymentGroupName refers to. */
function deploymentGroupId(ctx: TemplateContext, config: Obj, cfg: string): string | undefined {
  return referencedId(
    ctx,
    rawConfigValue(ctx, cfg, 'DeploymentGroupName'),
    config.DeploymentGroupName,
    'AWS::CodeDeploy::DeploymentGroup',
    'DeploymentGroupName',
  );
}

/** Whether the action's deployment group (of the same template) deploys to Lambda: its application's ComputePlatform, or a Lambda configuration. */
function isLambdaGroup(ctx: TemplateContext, config: Obj, cfg: string): boolean {
  const groupId = deploymentGroupId(ctx, config, cfg);
  const group = groupId ? ctx.template.Resources?.[groupId]?.Properties : undefined;
  if (!group) return false;
  const configName = ctx.resolver.resolve(group.DeploymentConfigName, `Resources.${groupId}.Properties.DeploymentConfigName`);
  if (typeof configName === 'string' && configName.startsWith('CodeDeployDefault.Lambda')) return true;
  const appId = referencedId(
    ctx,
    group.ApplicationName,
    ctx.resolver.resolve(group.ApplicationName, `Resources.${groupId}.Properties.ApplicationName`),
    'AWS::CodeDeploy::Application',
    'ApplicationName',
  );
  const platform = appId ? ctx.template.Resources?.[appId]?.Properties?.ComputePlatform : undefined;
  return platform === 'Lambda';
}

/** Strategy, alarms and ECS target from an `AWS::CodeDeploy::DeploymentGroup` of the same template. */
function deploymentGroupFromTemplate(ctx: TemplateContext | undefined, config: Obj, cfg: string, t: Tracker) {
  if (!ctx) return undefined;
  const rawGroup = rawConfigValue(ctx, cfg, 'DeploymentGroupName');
  const logicalId = referencedId(ctx, rawGroup, config.DeploymentGroupName, 'AWS::CodeDeploy::DeploymentGroup', 'DeploymentGroupName');
  if (!logicalId) return undefined;
  const entry = templateResource(ctx, logicalId, 'AWS::CodeDeploy::DeploymentGroup', t);
  if (!entry) return undefined;
  t.mark(`${cfg}.DeploymentGroupName`);
  t.mark(`${cfg}.ApplicationName`);
  const { props, tracker: r, path } = entry;
  for (const key of ['DeploymentGroupName', 'ApplicationName', 'DeploymentStyle']) r.mark(`${path}.${key}`);

  const deploy: Obj = {};
  r.mark(`${path}.DeploymentConfigName`);
  const configName = props.DeploymentConfigName;
  const strategy = strategyFrom(ctx, configName, rawConfigValueOf(ctx, logicalId, 'DeploymentConfigName'), `${path}.DeploymentConfigName`, r);
  deploy.strategy = strategy ?? 'CodeDeployDefault.ECSAllAtOnce';

  const alarmConfig = isObj(props.AlarmConfiguration) ? props.AlarmConfiguration : undefined;
  if (alarmConfig) {
    const at = `${path}.AlarmConfiguration`;
    const enabled = r.value(alarmConfig, 'Enabled', at);
    const alarms = r.value(alarmConfig, 'Alarms', at);
    const names = (Array.isArray(alarms) ? alarms : []).flatMap((x) => (isObj(x) && str(x.Name) !== undefined ? [str(x.Name) as string] : []));
    if (enabled === false || enabled === 'false') {
      if (names.length > 0) t.note(at, `disabled in the group: alarms ${names.join(', ')} are not carried over`);
    } else if (names.length > 0) deploy.alarms = names;
    if (alarmConfig.IgnorePollAlarmFailure !== undefined) {
      r.mark(`${at}.IgnorePollAlarmFailure`);
      if (alarmConfig.IgnorePollAlarmFailure === true || alarmConfig.IgnorePollAlarmFailure === 'true')
        t.note(`${at}.IgnorePollAlarmFailure`, 'not carried over: stepline fails the deployment when it cannot read an alarm');
    }
  }
  const rollback = isObj(props.AutoRollbackConfiguration) ? props.AutoRollbackConfiguration : undefined;
  if (rollback) {
    const at = `${path}.AutoRollbackConfiguration`;
    r.mark(at);
    const enabled = rollback.Enabled === true || rollback.Enabled === 'true';
    const events = Array.isArray(rollback.Events) ? rollback.Events.map(String) : [];
    const always = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM'];
    if (!enabled || !always.every((e) => events.includes(e)))
      t.note(at, `${enabled ? `events ${events.join(', ') || '(none)'}` : 'disabled'}: stepline always rolls back a deployment that fails or meets an alarm`);
  }
  const blueGreen = isObj(props.BlueGreenDeploymentConfiguration) ? props.BlueGreenDeploymentConfiguration : undefined;
  if (blueGreen) {
    const at = `${path}.BlueGreenDeploymentConfiguration`;
    const terminate = isObj(blueGreen.TerminateBlueInstancesOnDeploymentSuccess) ? blueGreen.TerminateBlueInstancesOnDeploymentSuccess : {};
    const wait = r.value(terminate, 'TerminationWaitTimeInMinutes', `${at}.TerminateBlueInstancesOnDeploymentSuccess`);
    r.mark(`${at}.TerminateBlueInstancesOnDeploymentSuccess.Action`);
    if (wait !== undefined) deploy.terminationWaitMinutes = Number(wait);
    const ready = isObj(blueGreen.DeploymentReadyOption) ? blueGreen.DeploymentReadyOption : undefined;
    if (ready) {
      r.mark(`${at}.DeploymentReadyOption`);
      if (ready.ActionOnTimeout === 'STOP_DEPLOYMENT')
        t.note(
          `${at}.DeploymentReadyOption`,
          'STOP_DEPLOYMENT (wait for a manual go-ahead before rerouting) is not carried over: add an approval action before the deploy',
        );
    }
  }

  r.mark(`${path}.ECSServices`);
  const services = r.container(props, 'ECSServices', path);
  const service = Array.isArray(services) && isObj(services[0]) ? services[0] : {};
  const lb = isObj(props.LoadBalancerInfo) ? props.LoadBalancerInfo : {};
  const pairs = lb.TargetGroupPairInfoList;
  r.mark(`${path}.LoadBalancerInfo`);
  const pair = Array.isArray(pairs) && isObj(pairs[0]) ? pairs[0] : {};
  const known = (what: string, value: unknown) => {
    const u = firstUnresolved(value);
    if (u) t.issues.push({ path: `${path}.${what}`, message: `cannot be known here: ${u.describe()}` });
    return u ? undefined : value;
  };
  const pairPath = 'LoadBalancerInfo.TargetGroupPairInfoList[0]';
  const tgs = (Array.isArray(pair.TargetGroups) ? pair.TargetGroups : []).map((x, i) =>
    str(known(`${pairPath}.TargetGroups[${i}].Name`, isObj(x) ? x.Name : undefined)),
  );
  const listenerOf = (route: unknown, what: string) =>
    isObj(route) && Array.isArray(route.ListenerArns) ? str(known(`${pairPath}.${what}.ListenerArns[0]`, route.ListenerArns[0])) : undefined;
  const listener = listenerOf(pair.ProdTrafficRoute, 'ProdTrafficRoute');
  const testListener = listenerOf(pair.TestTrafficRoute, 'TestTrafficRoute');
  const cluster = str(known('ECSServices[0].ClusterName', service.ClusterName));
  const serviceName = str(known('ECSServices[0].ServiceName', service.ServiceName));
  return {
    deploy,
    ecs: {
      ...(cluster && { cluster }),
      ...(serviceName && { service: serviceName }),
      ...(listener && { listenerArn: listener }),
      ...(testListener && { testListenerArn: testListener }),
      ...(tgs[0] && tgs[1] && { targetGroups: { blue: tgs[0], green: tgs[1] } }),
    },
  };
}

/** The compute platform of the action's `AWS::CodeDeploy::Application`, when the template defines it. */
function computePlatformOf(ctx: TemplateContext | undefined, config: Obj, cfg: string): string | undefined {
  if (!ctx) return undefined;
  const id = referencedId(ctx, rawConfigValue(ctx, cfg, 'ApplicationName'), config.ApplicationName, 'AWS::CodeDeploy::Application', 'ApplicationName');
  const platform = id ? ctx.template.Resources?.[id]?.Properties?.ComputePlatform : undefined;
  return typeof platform === 'string' ? platform : undefined;
}

/**
 * An EC2/on-premises deployment group of the same template: its EC2 tag filters (KEY_AND_VALUE), its
 * deployment configuration (predefined, or an `AWS::CodeDeploy::DeploymentConfig` with
 * MinimumHealthyHosts) and whether it rolls back. What stepline cannot target (Auto Scaling groups,
 * on-premises tag filters, tag sets, load balancers) is an issue or a note.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codedeploy-deploymentgroup.html
 */
function serverGroupFromTemplate(ctx: TemplateContext | undefined, config: Obj, cfg: string, t: Tracker): Obj | undefined {
  if (!ctx) return undefined;
  const logicalId = deploymentGroupId(ctx, config, cfg);
  const entry = logicalId ? templateResource(ctx, logicalId, 'AWS::CodeDeploy::DeploymentGroup', t) : undefined;
  if (!entry || !logicalId) return undefined;
  t.mark(`${cfg}.DeploymentGroupName`);
  t.mark(`${cfg}.ApplicationName`);
  const { props, tracker: r, path } = entry;
  for (const key of ['DeploymentGroupName', 'ApplicationName', 'DeploymentStyle']) r.mark(`${path}.${key}`);
  const group: Obj = {};

  const filters = r.container(props, 'Ec2TagFilters', path);
  const tagFilters = (Array.isArray(filters) ? filters : []).flatMap((f, i) => {
    const at = `${path}.Ec2TagFilters[${i}]`;
    const o = isObj(f) ? f : {};
    const type = r.text(o, 'Type', at) ?? 'KEY_AND_VALUE';
    const key = r.text(o, 'Key', at);
    const value = r.text(o, 'Value', at);
    if (type !== 'KEY_AND_VALUE' || key === undefined || value === undefined) {
      t.issues.push({ path: at, message: `a ${type} tag filter is not imported: stepline finds instances by a tag's key and value` });
      return [];
    }
    return [{ key, value }];
  });
  group.ec2 = { tagFilters };
  for (const unsupported of ['Ec2TagSet', 'OnPremisesInstanceTagFilters', 'OnPremisesTagSet', 'AutoScalingGroups'] as const) {
    if (props[unsupported] === undefined) continue;
    r.mark(`${path}.${unsupported}`);
    t.note(
      `${path}.${unsupported}`,
      'not carried over: stepline finds instances by EC2 tag filters; list on-premises (mi-…) and other instances in ec2.instanceIds',
    );
  }
  if (props.LoadBalancerInfo !== undefined) {
    r.mark(`${path}.LoadBalancerInfo`);
    t.note(
      `${path}.LoadBalancerInfo`,
      'not carried over: an in-place deployment does not take instances out of a load balancer; do it in the BeforeBlockTraffic and AfterAllowTraffic hooks',
    );
  }

  r.mark(`${path}.DeploymentConfigName`);
  const configName = props.DeploymentConfigName;
  if (typeof configName === 'string' && (SERVER_DEPLOYMENT_CONFIG_NAMES as readonly string[]).includes(configName)) group.deploymentConfig = configName;
  else if (configName !== undefined) {
    const raw = rawConfigValueOf(ctx, logicalId, 'DeploymentConfigName');
    const customId = referencedId(ctx, raw, configName, 'AWS::CodeDeploy::DeploymentConfig', 'DeploymentConfigName');
    const custom = customId ? templateResource(ctx, customId, 'AWS::CodeDeploy::DeploymentConfig', r) : undefined;
    const minimum = custom && isObj(custom.props.MinimumHealthyHosts) ? custom.props.MinimumHealthyHosts : undefined;
    if (custom && minimum) {
      custom.tracker.mark(custom.path);
      group.deploymentConfig = { minimumHealthyHosts: { type: str(minimum.Type), value: Number(minimum.Value) } };
    } else if (configName instanceof Unresolved)
      r.issues.push({ path: `${path}.DeploymentConfigName`, message: `cannot be known here: ${configName.describe()}` });
    else
      t.note(
        `${path}.DeploymentConfigName`,
        `${String(configName)} is neither a CodeDeployDefault.* EC2 configuration nor defined in this template: the deployment goes OneAtATime until you set deploymentConfig`,
      );
  }
  const rollback = isObj(props.AutoRollbackConfiguration) ? props.AutoRollbackConfiguration : undefined;
  if (rollback) {
    r.mark(`${path}.AutoRollbackConfiguration`);
    const enabled = rollback.Enabled === true || rollback.Enabled === 'true';
    const events = Array.isArray(rollback.Events) ? rollback.Events.map(String) : [];
    group.autoRollback = enabled && events.includes('DEPLOYMENT_FAILURE');
  } else group.autoRollback = false;
  return group;
}

/** A group's deployment configuration: a predefined name, or a custom `AWS::CodeDeploy::DeploymentConfig` of the template. */
function strategyFrom(ctx: TemplateContext, name: unknown, raw: unknown, at: string, r: Tracker): unknown {
  if (name === undefined) return undefined;
  if (typeof name === 'string' && (DEPLOYMENT_CONFIG_NAMES as readonly string[]).includes(name)) return name;
  const logicalId = referencedId(ctx, raw, name, 'AWS::CodeDeploy::DeploymentConfig', 'DeploymentConfigName');
  const custom = logicalId ? templateResource(ctx, logicalId, 'AWS::CodeDeploy::DeploymentConfig', r) : undefined;
  if (custom) {
    const routing = isObj(custom.props.TrafficRoutingConfig) ? custom.props.TrafficRoutingConfig : {};
    custom.tracker.mark(custom.path);
    const type = str(routing.Type);
    const shape = type === 'TimeBasedCanary' ? routing.TimeBasedCanary : type === 'TimeBasedLinear' ? routing.TimeBasedLinear : undefined;
    if (type === 'AllAtOnce') return 'CodeDeployDefault.ECSAllAtOnce';
    if (isObj(shape)) {
      const step = {
        percentage: Number(type === 'TimeBasedCanary' ? shape.CanaryPercentage : shape.LinearPercentage),
        intervalMinutes: Number(type === 'TimeBasedCanary' ? shape.CanaryInterval : shape.LinearInterval),
      };
      return type === 'TimeBasedCanary' ? { canary: step } : { linear: step };
    }
  }
  if (name instanceof Unresolved) {
    r.issues.push({ path: at, message: `cannot be known here: ${name.describe()}` });
    return undefined;
  }
  r.note(
    at,
    `${String(name)} is neither a CodeDeployDefault.ECS* configuration nor defined in this template; the deploy shifts all traffic at once until you set strategy`,
  );
  return undefined;
}

/** The raw (pre-resolution) value of a configuration key, to see a `!Ref` the resolution replaced. */
function rawConfigValue(ctx: TemplateContext, cfgPath: string, key: string): unknown {
  const m = /^Resources\.([^.]+)\.Properties\.stages\[(\d+)\]\.actions\[(\d+)\]\.configuration$/.exec(cfgPath);
  if (!m) return undefined;
  const [, id, s, a] = m;
  const stages = ctx.template.Resources?.[id as string]?.Properties?.Stages;
  const stage = Array.isArray(stages) ? stages[Number(s)] : undefined;
  const actions = isObj(stage) ? stage.Actions : undefined;
  const action = Array.isArray(actions) ? actions[Number(a)] : undefined;
  const config = isObj(action) ? action.Configuration : undefined;
  return isObj(config) ? config[key] : undefined;
}

function rawConfigValueOf(ctx: TemplateContext, logicalId: string, key: string): unknown {
  return ctx.template.Resources?.[logicalId]?.Properties?.[key];
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
