/**
 * Reads `AWS::CodePipeline::Pipeline` resources out of CloudFormation templates (YAML with the short
 * intrinsic tags, or JSON), and resolves intrinsic functions as far as the template itself allows:
 * parameters with defaults, resources with a literal `Name`, `Fn::Join`, `Fn::Sub`. What stays
 * unresolved becomes `${Name}` text and a note, never a silent gap.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-codepipeline-pipeline.html
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
];
const intrinsicKey = (name: string) => (name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`);

/** The short-form tags (`!Ref`, `!Sub`, …) as their long forms, in scalar, sequence and map position. */
const CFN_TAGS: Tags = INTRINSICS.flatMap((name) => [
  { tag: `!${name}`, resolve: (v: string) => ({ [intrinsicKey(name)]: name === 'GetAtt' ? v.split('.') : v }) },
  { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => ({ [intrinsicKey(name)]: seq.toJSON() }) },
  { tag: `!${name}`, collection: 'map' as const, resolve: (map: { toJSON(): unknown }) => ({ [intrinsicKey(name)]: map.toJSON() }) },
]) as Tags;

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
interface Template {
  Parameters?: Record<string, { Default?: Json }>;
  Resources?: Record<string, { Type?: string; Properties?: Record<string, Json> }>;
}

export function isCloudFormationTemplate(value: unknown): value is Template {
  return !!value && typeof value === 'object' && 'Resources' in value && typeof (value as Template).Resources === 'object';
}

/** Resolves intrinsic functions against a template; `notes` collects what could not be resolved. */
export class IntrinsicResolver {
  constructor(
    private readonly template: Template,
    private readonly notes: string[],
  ) {}

  resolve(value: Json, path: string): Json {
    if (Array.isArray(value)) return value.map((v, i) => this.resolve(v, `${path}[${i}]`)).filter((v) => v !== NO_VALUE);
    if (!value || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, Json>);
    const [only] = entries;
    if (entries.length === 1 && only && (only[0] === 'Ref' || only[0].startsWith('Fn::'))) return this.intrinsic(only[0], only[1], path);
    const out: Record<string, Json> = {};
    for (const [k, v] of entries) {
      const resolved = this.resolve(v, `${path}.${k}`);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  private intrinsic(fn: string, arg: Json, path: string): Json {
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg), path);
      case 'Fn::Join': {
        const [sep, parts] = Array.isArray(arg) ? arg : [];
        const resolved = this.resolve(parts, path);
        if (typeof sep === 'string' && Array.isArray(resolved) && resolved.every((p) => typeof p === 'string')) return resolved.join(sep);
        break;
      }
      case 'Fn::Sub': {
        const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
        if (typeof template !== 'string') break;
        const local = (this.resolve(vars, path) ?? {}) as Record<string, Json>;
        return template.replace(/\$\{([^}!]+)\}/g, (whole, name: string) => {
          const v = name in local ? local[name] : name.includes('.') ? undefined : this.ref(name, path, false);
          return typeof v === 'string' ? v : whole;
        });
      }
      case 'Fn::GetAtt': {
        const [resource, attribute] = Array.isArray(arg) ? arg : String(arg).split('.');
        this.notes.push(`${path}: !GetAtt ${resource}.${attribute} kept as \${${resource}.${attribute}}`);
        return `\${${resource}.${attribute}}`;
      }
      default:
        break;
    }
    this.notes.push(`${path}: ${fn} is not resolved here; kept as text`);
    return `\${${fn}}`;
  }

  /** A parameter's default, a resource's literal name, or `${Name}` text. */
  private ref(name: string, path: string, note = true): Json {
    if (name === 'AWS::NoValue') return NO_VALUE;
    const parameter = this.template.Parameters?.[name];
    if (parameter && (typeof parameter.Default === 'string' || typeof parameter.Default === 'number')) return String(parameter.Default);
    const resource = this.template.Resources?.[name];
    const literalName = resource?.Properties?.Name;
    if (typeof literalName === 'string') return literalName;
    if (note) this.notes.push(`${path}: !Ref ${name} has no value in the template; kept as \${${name}}`);
    return `\${${name}}`;
  }
}

const NO_VALUE = Symbol('AWS::NoValue');

/** Turns a CloudFormation-cased object (`Stages`, `ActionTypeId`) into the API's casing (`stages`, `actionTypeId`). */
export function camelCaseKeys(value: Json, keepBelow: ReadonlySet<string>): Json {
  if (Array.isArray(value)) return value.map((v) => camelCaseKeys(v, keepBelow));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, Json>).map(([k, v]) => {
      const key = k.charAt(0).toLowerCase() + k.slice(1);
      return [key, keepBelow.has(key) ? v : camelCaseKeys(v, keepBelow)];
    }),
  );
}
