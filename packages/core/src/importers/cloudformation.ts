/**
 * Reads CloudFormation templates (YAML with the short intrinsic tags, or JSON) and resolves intrinsic
 * functions the way CloudFormation would at stack creation, as far as the template and the values the
 * user gives allow. What cannot be known here (another stack's export, a nested stack's output, a
 * parameter without a default or a value, a name CloudFormation generates) becomes an {@link Unresolved}
 * value that says why and which `--parameter` would settle it: never a literal that looks like a value.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html
 */
import { LineCounter, parseDocument, type Tags } from 'yaml';
import { DefinitionError } from '../errors';
import { yamlToJS } from '../model/issues';

const INTRINSICS = [
  'Ref',
  'Sub',
  'GetAtt',
  'Join',
  'If',
  'Select',
  'Split',
  'FindInMap',
  'ImportValue',
  'Base64',
  'Equals',
  'Not',
  'And',
  'Or',
  'Condition',
  'GetAZs',
  'Cidr',
  'ToJsonString',
  'Length',
];
const intrinsicKey = (name: string) => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

/** The short-form tags (`!Ref`, `!Sub`, …) as their long forms, in scalar, sequence and map position. */
const CFN_TAGS: Tags = INTRINSICS.flatMap((name) => [
  { tag: `!${name}`, resolve: (v: string) => ({ [intrinsicKey(name)]: name === 'GetAtt' ? splitGetAtt(v) : v }) },
  { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => ({ [intrinsicKey(name)]: seq.toJSON() }) },
  { tag: `!${name}`, collection: 'map' as const, resolve: (map: { toJSON(): unknown }) => ({ [intrinsicKey(name)]: map.toJSON() }) },
]) as Tags;

/** `!GetAtt Stack.Outputs.Name` is the resource `Stack` and the attribute `Outputs.Name`. */
function splitGetAtt(text: string): [string, string] {
  const dot = text.indexOf('.');
  return dot < 0 ? [text, ''] : [text.slice(0, dot), text.slice(dot + 1)];
}

/** Parses YAML that may use CloudFormation's short intrinsic tags. */
export function parseCloudFormationYaml(text: string, source?: string): unknown {
  if (/\{%|\{\{\s*cookiecutter|%\{\s*(if|for)\b/.test(text)) {
    throw new DefinitionError(
      [{ path: '', message: 'this file is a template (Jinja, cookiecutter or Terraform directives): render it, then import the result' }],
      source,
    );
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { customTags: CFN_TAGS, lineCounter, uniqueKeys: false, version: '1.1' });
  if (doc.errors.length > 0) {
    throw new DefinitionError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return {
          path: '',
          message: `malformed YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${(e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
        };
      }),
      source,
    );
  }
  return yamlToJS(doc, source);
}

type Json = unknown;
type Obj = Record<string, Json>;
export interface TemplateResource {
  Type?: string;
  Condition?: string;
  Properties?: Obj;
}
export interface Template {
  Parameters?: Record<string, { Type?: string; Default?: Json; AllowedValues?: Json[] }>;
  Mappings?: Record<string, Record<string, Record<string, Json>>>;
  Conditions?: Record<string, Json>;
  Resources?: Record<string, TemplateResource>;
}

export function isCloudFormationTemplate(value: unknown): value is Template {
  return !!value && typeof value === 'object' && 'Resources' in value && typeof (value as Template).Resources === 'object';
}

/**
 * A value only a deployed stack (or the user) knows. It travels through `Fn::Sub`, `Fn::Join` and the
 * rest, so that whatever is built from it is unresolved too.
 */
export class Unresolved {
  constructor(
    /** Why, in words: `Fn::ImportValue vpc-id is another stack's export`. */
    readonly reason: string,
    /** The `--parameter` key that would give the value, when one would. */
    readonly parameter?: string,
  ) {}

  /** `…; give it with --parameter Key=<value>` */
  describe(): string {
    return this.parameter === undefined ? this.reason : `${this.reason}; give it with --parameter ${this.parameter}=<value>`;
  }
}

/** `Ref: AWS::NoValue`, and an `Fn::If` branch that yields it: the property or list item is left out. */
export const NO_VALUE = Symbol('AWS::NoValue');

export interface ResolveOptions {
  /** Values for template parameters, pseudo parameters (`AWS::StackName`) and anything an {@link Unresolved} names. */
  parameters?: Record<string, string>;
  region?: string;
  accountId?: string;
}

/** Placeholders for the pseudo parameters nobody gave; each use adds a note. */
const PSEUDO_PLACEHOLDER: Record<string, { text: string; option: string }> = {
  'AWS::Region': { text: 'REGION', option: '--region' },
  'AWS::AccountId': { text: 'ACCOUNT_ID', option: '--account' },
};

/** The property that names a resource, for the resource types whose `Ref` is that name. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::CodeBuild::Project': 'Name',
  'AWS::CodeDeploy::DeploymentGroup': 'DeploymentGroupName',
  'AWS::CodeDeploy::Application': 'ApplicationName',
  'AWS::CodeDeploy::DeploymentConfig': 'DeploymentConfigName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::ECS::Cluster': 'ClusterName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Serverless::Function': 'FunctionName',
  'AWS::ECR::Repository': 'RepositoryName',
  'AWS::CodePipeline::Pipeline': 'Name',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

/** Resolves intrinsic functions against a template; `notes` collects placeholders it had to use. */
export class IntrinsicResolver {
  private readonly parameters: Record<string, string>;
  private readonly conditionValues = new Map<string, boolean | Unresolved>();
  private readonly notedPseudo = new Set<string>();

  constructor(
    private readonly template: Template,
    private readonly notes: string[],
    private readonly options: ResolveOptions = {},
  ) {
    this.parameters = options.parameters ?? {};
  }

  /** Resolves every intrinsic in `value`; `NO_VALUE` when the whole value is `AWS::NoValue`. */
  resolve(value: Json, path: string): Json {
    if (Array.isArray(value)) return value.map((v, i) => this.resolve(v, `${path}[${i}]`)).filter((v) => v !== NO_VALUE);
    if (!value || typeof value !== 'object' || value instanceof Unresolved) return value;
    const entries = Object.entries(value as Obj);
    const [only] = entries;
    if (entries.length === 1 && only && (only[0] === 'Ref' || only[0].startsWith('Fn::') || only[0] === 'Condition'))
      return this.intrinsic(only[0], only[1], path);
    const out: Obj = {};
    for (const [k, v] of entries) {
      const resolved = this.resolve(v, `${path}.${k}`);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  /** Whether a resource with a `Condition` is created. */
  resourceCreated(logicalId: string): boolean | Unresolved {
    const condition = this.template.Resources?.[logicalId]?.Condition;
    return condition === undefined ? true : this.condition(condition);
  }

  private intrinsic(fn: string, arg: Json, path: string): Json {
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg), path);
      case 'Condition':
        return this.condition(String(arg));
      case 'Fn::Sub':
        return this.sub(arg, path);
      case 'Fn::Join': {
        const [delimiter, parts] = Array.isArray(arg) ? arg : [];
        const list = this.resolve(parts, path);
        if (list instanceof Unresolved) return list;
        if (typeof delimiter !== 'string' || !Array.isArray(list)) return this.malformed(fn, path);
        return joinStrings(list.map(scalarText), delimiter);
      }
      case 'Fn::Select': {
        const [rawIndex, rawList] = Array.isArray(arg) ? arg : [];
        const index = this.resolve(rawIndex, path);
        const list = this.resolve(rawList, path);
        if (index instanceof Unresolved) return index;
        if (list instanceof Unresolved) return list;
        const i = Number(index);
        if (!Array.isArray(list) || !Number.isInteger(i)) return this.malformed(fn, path);
        // CloudFormation fails the stack on an index out of range; so does the import.
        if (i < 0 || i >= list.length) return new Unresolved(`Fn::Select index ${i} is out of range for a list of ${list.length}`);
        return list[i];
      }
      case 'Fn::Split': {
        const [delimiter, rawText] = Array.isArray(arg) ? arg : [];
        const text = this.resolve(rawText, path);
        if (text instanceof Unresolved) return text;
        if (typeof delimiter !== 'string' || typeof text !== 'string') return this.malformed(fn, path);
        return text.split(delimiter);
      }
      case 'Fn::FindInMap':
        return this.findInMap(arg, path);
      case 'Fn::If': {
        const [name, whenTrue, whenFalse] = Array.isArray(arg) ? arg : [];
        const value = this.condition(String(name));
        if (value instanceof Unresolved) return new Unresolved(`Fn::If ${String(name)}: ${value.reason}`, value.parameter);
        return this.resolve(value ? whenTrue : whenFalse, path);
      }
      case 'Fn::Equals':
      case 'Fn::And':
      case 'Fn::Or':
      case 'Fn::Not':
        return this.evaluate({ [fn]: arg });
      case 'Fn::GetAtt': {
        const [resource, attribute] = Array.isArray(arg) ? arg.map(String) : splitGetAtt(String(arg));
        return this.getAtt(resource ?? '', attribute ?? '', path);
      }
      case 'Fn::ImportValue': {
        const name = this.resolve(arg, path);
        if (name instanceof Unresolved) return name;
        const key = scalarText(name);
        if (key !== undefined && key in this.parameters) return this.parameters[key];
        return new Unresolved(`Fn::ImportValue ${key ?? '(no name)'} is another stack's export`, key);
      }
      case 'Fn::Base64': {
        const text = this.resolve(arg, path);
        if (typeof text !== 'string') return text instanceof Unresolved ? text : this.malformed(fn, path);
        return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
      }
      case 'Fn::ToJsonString': {
        const value = this.resolve(arg, path);
        const inner = firstUnresolved(value);
        return inner ?? JSON.stringify(value);
      }
      case 'Fn::Length': {
        const value = this.resolve(arg, path);
        if (value instanceof Unresolved) return value;
        return Array.isArray(value) ? value.length : this.malformed(fn, path);
      }
      default:
        return new Unresolved(`${fn} needs a deployed stack (${fn === 'Fn::GetAZs' ? 'the region’s zones' : 'AWS'}) to be resolved`);
    }
  }

  private malformed(fn: string, path: string): Unresolved {
    return new Unresolved(`${fn} at ${path} is malformed; CloudFormation would reject the template`);
  }

  /** `Fn::Sub`, both forms: `${Name}` is a parameter, resource or pseudo parameter, `${R.Attr}` an attribute, `${!Text}` literal. */
  private sub(arg: Json, path: string): Json {
    const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
    if (typeof template !== 'string') return this.malformed('Fn::Sub', path);
    const local = this.resolve(vars ?? {}, path);
    if (local instanceof Unresolved) return local;
    const map = (local && typeof local === 'object' ? local : {}) as Obj;
    const pieces: Array<string | Unresolved> = [];
    let last = 0;
    for (const match of template.matchAll(/\$\{([^}]*)\}/g)) {
      pieces.push(template.slice(last, match.index));
      last = match.index + match[0].length;
      const name = (match[1] ?? '').trim();
      if (name.startsWith('!')) {
        pieces.push(`\${${name.slice(1)}}`);
        continue;
      }
      const value = name in map ? map[name] : name.includes('.') && !name.startsWith('AWS::') ? this.getAtt(...splitGetAtt(name), path) : this.ref(name, path);
      pieces.push(value instanceof Unresolved ? value : (scalarText(value) ?? this.malformed('Fn::Sub', path)));
    }
    pieces.push(template.slice(last));
    return joinStrings(pieces, '');
  }

  private findInMap(arg: Json, path: string): Json {
    const [rawMap, rawTop, rawSecond, options] = Array.isArray(arg) ? arg : [];
    const keys = [rawMap, rawTop, rawSecond].map((k) => this.resolve(k, path));
    const unresolved = keys.find((k) => k instanceof Unresolved);
    if (unresolved) return unresolved;
    const [map, top, second] = keys.map((k) => scalarText(k) ?? '');
    const value = this.template.Mappings?.[map ?? '']?.[top ?? '']?.[second ?? ''];
    if (value !== undefined) return value;
    // AWS::LanguageExtensions adds a DefaultValue for keys the map lacks.
    const fallback = options && typeof options === 'object' ? (options as Obj).DefaultValue : undefined;
    if (fallback !== undefined) return this.resolve(fallback, path);
    return new Unresolved(`Fn::FindInMap ${map}.${top}.${second} is not in the template's Mappings`);
  }

  /** Evaluates one entry of `Conditions` (memoized). */
  private condition(name: string): boolean | Unresolved {
    const known = this.conditionValues.get(name);
    if (known !== undefined) return known;
    const expression = this.template.Conditions?.[name];
    const value = expression === undefined ? new Unresolved(`condition ${name} is not in the template's Conditions`) : this.evaluate(expression);
    this.conditionValues.set(name, value);
    return value;
  }

  private evaluate(expression: Json): boolean | Unresolved {
    const [entry] = expression && typeof expression === 'object' ? Object.entries(expression as Obj) : [];
    const [fn, arg] = entry ?? [];
    const args = Array.isArray(arg) ? arg : [arg];
    switch (fn) {
      case 'Condition':
        return this.condition(String(arg));
      case 'Fn::Equals': {
        const [a, b] = args.map((v) => this.resolve(v, 'Conditions'));
        if (a instanceof Unresolved) return a;
        if (b instanceof Unresolved) return b;
        return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
      }
      case 'Fn::Not': {
        const v = this.evaluate(args[0]);
        return v instanceof Unresolved ? v : !v;
      }
      case 'Fn::And':
      case 'Fn::Or': {
        const values = args.map((v) => this.evaluate(v));
        const decisive = fn !== 'Fn::And';
        if (values.includes(decisive)) return decisive;
        return values.find((v) => v instanceof Unresolved) ?? !decisive;
      }
      default:
        return new Unresolved(`a condition must be Fn::Equals, Fn::And, Fn::Or, Fn::Not or Condition; got ${String(fn)}`);
    }
  }

  /** `Ref`: a given value, a parameter's default, a pseudo parameter, or a resource's physical id. */
  private ref(name: string, path: string): Json {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in this.parameters) return this.parameterValue(name, this.parameters[name]);
    if (name.startsWith('AWS::')) return this.pseudo(name, path);
    const parameter = this.template.Parameters?.[name];
    if (parameter) {
      if (parameter.Default !== undefined) return this.parameterValue(name, parameter.Default);
      return new Unresolved(`parameter ${name} has no Default`, name);
    }
    const resource = this.template.Resources?.[name];
    if (!resource) return new Unresolved(`Ref ${name} names no parameter or resource of this template`);
    const created = this.resourceCreated(name);
    if (created !== true) return created === false ? NO_VALUE : created;
    return this.physicalId(name, resource, path);
  }

  /** A parameter's value as Ref gives it: list types split on commas (each item trimmed), the rest as text. */
  private parameterValue(name: string, value: Json): Json {
    const type = this.template.Parameters?.[name]?.Type ?? '';
    const text = Array.isArray(value) ? value.map(String).join(',') : String(value);
    const allowed = this.template.Parameters?.[name]?.AllowedValues;
    if (Array.isArray(allowed) && !type.startsWith('List') && !allowed.map(String).includes(text))
      return new Unresolved(`parameter ${name} is ${JSON.stringify(text)}, not one of its AllowedValues ${allowed.map(String).join(', ')}`, name);
    return type === 'CommaDelimitedList' || type.startsWith('List<') ? text.split(',').map((s) => s.trim()) : text;
  }

  private pseudo(name: string, path: string): Json {
    const region = this.options.region;
    switch (name) {
      case 'AWS::Region':
        if (region) return region;
        break;
      case 'AWS::AccountId':
        if (this.options.accountId) return this.options.accountId;
        break;
      case 'AWS::Partition':
        return partition(region);
      case 'AWS::URLSuffix':
        return region?.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
      case 'AWS::StackName':
        return new Unresolved('AWS::StackName is the name the stack is created with', name);
      case 'AWS::NotificationARNs':
        return [];
      default:
        return new Unresolved(`${name} is only known once the stack exists`, name);
    }
    const placeholder = PSEUDO_PLACEHOLDER[name] ?? { text: name, option: `--parameter ${name}=<value>` };
    if (!this.notedPseudo.has(name)) {
      this.notedPseudo.add(name);
      this.notes.push(`${path}: ${name} is ${placeholder.text} here (first use); give ${placeholder.option} for the real value`);
    }
    return placeholder.text;
  }

  /** What `Ref` returns for a resource: its name for most types, its ARN for topics. */
  private physicalId(logicalId: string, resource: TemplateResource, path: string): Json {
    const type = resource.Type ?? '';
    if (type === 'AWS::SNS::Topic') {
      const name = this.resolve(resource.Properties?.TopicName, `Resources.${logicalId}.Properties.TopicName`);
      if (typeof name === 'string') return this.arn('sns', `${name}`, path, ':');
      return generatedName(logicalId, 'TopicName');
    }
    const property = NAME_PROPERTY[type];
    if (!property) return new Unresolved(`Ref ${logicalId} is the id CloudFormation gives the ${type || 'resource'} when it creates it`, logicalId);
    const name = this.resolve(resource.Properties?.[property], `Resources.${logicalId}.Properties.${property}`);
    if (name === undefined || name === NO_VALUE) return generatedName(logicalId, property);
    return name;
  }

  private getAtt(logicalId: string, attribute: string, path: string): Json {
    const key = `${logicalId}.${attribute}`;
    if (key in this.parameters) return this.parameters[key];
    const resource = this.template.Resources?.[logicalId];
    if (!resource) return new Unresolved(`Fn::GetAtt ${key} names no resource of this template`);
    const type = resource.Type ?? '';
    if (type === 'AWS::CloudFormation::Stack' || type === 'AWS::Serverless::Application')
      return new Unresolved(`Fn::GetAtt ${key} is an output of the nested stack ${logicalId}`, key);
    const name = () => this.physicalId(logicalId, resource, path);
    const withName = (build: (n: string) => string): Json => {
      const n = name();
      return typeof n === 'string' ? build(n) : n instanceof Unresolved ? new Unresolved(n.reason, key) : n;
    };
    switch (`${type}.${attribute}`) {
      case 'AWS::CodeBuild::Project.Arn':
        return withName((n) => this.arn('codebuild', `project/${n}`, path));
      case 'AWS::S3::Bucket.Arn':
        return withName((n) => `arn:${partition(this.options.region)}:s3:::${n}`);
      case 'AWS::IAM::Role.Arn':
        return withName((n) => `arn:${partition(this.options.region)}:iam::${this.textOf('AWS::AccountId', path)}:role${rolePath(resource)}${n}`);
      case 'AWS::Lambda::Function.Arn':
        return withName((n) => this.arn('lambda', `function:${n}`, path));
      case 'AWS::SNS::Topic.TopicArn':
        return name();
      case 'AWS::SNS::Topic.TopicName': {
        const n = this.resolve(resource.Properties?.TopicName, path);
        return typeof n === 'string' ? n : generatedName(logicalId, 'TopicName');
      }
      case 'AWS::ECS::Cluster.Arn':
        return withName((n) => this.arn('ecs', `cluster/${n}`, path));
      case 'AWS::ECR::Repository.Arn':
        return withName((n) => this.arn('ecr', `repository/${n}`, path));
      case 'AWS::CodeCommit::Repository.Name':
        return this.resolve(resource.Properties?.RepositoryName, path) ?? generatedName(logicalId, 'RepositoryName');
      case 'AWS::ECS::Service.Name':
        return this.resolve(resource.Properties?.ServiceName, path) ?? generatedName(logicalId, 'ServiceName');
      default:
        return new Unresolved(`Fn::GetAtt ${key} is known only once CloudFormation has created ${logicalId}`, key);
    }
  }

  private textOf(pseudo: string, path: string): string {
    const v = this.ref(pseudo, path);
    return typeof v === 'string' ? v : pseudo;
  }

  private arn(service: string, resource: string, path: string, separator = ':'): string {
    return `arn:${partition(this.options.region)}:${service}:${this.textOf('AWS::Region', path)}:${this.textOf('AWS::AccountId', path)}${separator}${resource}`;
  }
}

const generatedName = (logicalId: string, property: string) =>
  new Unresolved(`${logicalId} sets no ${property}, so CloudFormation generates its name`, logicalId);

const rolePath = (resource: TemplateResource) => (typeof resource.Properties?.Path === 'string' ? resource.Properties.Path : '/');

function partition(region: string | undefined): string {
  if (region?.startsWith('cn-')) return 'aws-cn';
  if (region?.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

const scalarText = (v: Json): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** Joins text; any unresolved piece makes the whole unresolved (naming every reason once). */
function joinStrings(pieces: Array<string | Unresolved | undefined | typeof NO_VALUE>, delimiter: string): string | Unresolved {
  const unresolved = pieces.filter((p): p is Unresolved => p instanceof Unresolved);
  if (unresolved.length === 0) return pieces.filter((p): p is string => typeof p === 'string').join(delimiter);
  const first = unresolved[0] as Unresolved;
  const reasons = [...new Set(unresolved.map((u) => u.reason))];
  return new Unresolved(reasons.join('; '), unresolved.length === 1 ? first.parameter : unresolved.find((u) => u.parameter)?.parameter);
}

const normalize = (v: Json): Json => (Array.isArray(v) ? v.map(normalize) : (scalarText(v) ?? v));

/** The first unresolved value inside `value`, if any. */
export function firstUnresolved(value: Json): Unresolved | undefined {
  if (value instanceof Unresolved) return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const u = firstUnresolved(v);
      if (u) return u;
    }
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value as Obj)) {
      const u = firstUnresolved(v);
      if (u) return u;
    }
  }
  return undefined;
}

/** Turns a CloudFormation-cased object (`Stages`, `ActionTypeId`) into the API's casing (`stages`, `actionTypeId`). */
export function camelCaseKeys(value: Json, keepBelow: ReadonlySet<string>): Json {
  if (Array.isArray(value)) return value.map((v) => camelCaseKeys(v, keepBelow));
  if (!value || typeof value !== 'object' || value instanceof Unresolved) return value;
  return Object.fromEntries(
    Object.entries(value as Obj).map(([k, v]) => {
      const key = k.charAt(0).toLowerCase() + k.slice(1);
      return [key, keepBelow.has(key) ? v : camelCaseKeys(v, keepBelow)];
    }),
  );
}
