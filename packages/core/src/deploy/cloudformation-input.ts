/**
 * What a CloudFormation action sends to CloudFormation, worked out from its input artifacts the same
 * way on AWS (the cloudformation function) and on one machine (the local handler): the template
 * configuration file's Parameters, Tags and StackPolicy, the parameter overrides with `Fn::GetParam`
 * and `Fn::GetArtifactAtt` resolved, and the file of the stack's outputs (`outputFileName`). Only the
 * reading of files differs between the runtimes, behind {@link ActionArtifacts}.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/continuous-delivery-codepipeline-parameter-override-functions.html
 */
import * as z from 'zod';
import { ArtifactInvalidError, DefinitionError, type DefinitionIssue } from '../errors';

/** The attributes `Fn::GetArtifactAtt` may ask for. */
export const ARTIFACT_ATTRIBUTES = ['BucketName', 'ObjectKey', 'URL'] as const;
export type ArtifactAttribute = (typeof ARTIFACT_ATTRIBUTES)[number];

/** An input artifact's files and where it is stored, as the runtime running the action reads them. */
export interface ActionArtifacts {
  /** A file's text in an input artifact (checked against the artifact); fails naming the file when it is missing. */
  read(artifact: string, path: string): Promise<string>;
  /** An attribute of the artifact's stored copy, or a sentence saying why this runtime has none. */
  attribute(artifact: string, name: ArtifactAttribute): string | { unavailable: string };
}

/** The fields of the action that decide the stack's input. */
export interface StackInputAction {
  stackName: string;
  changeSetName?: string;
  templatePath?: string;
  templateConfiguration?: string;
  parameterOverrides?: Record<string, string>;
  capabilities?: string[];
  roleArn?: string;
  inputArtifacts: string[];
}

type KeyValue<K extends string, V extends string> = Array<{ [P in K]: string } & { [P in V]: string }>;

/** CreateStack / UpdateStack input (the SDK's and Step Functions' field names), with the template given by the runtime. */
export interface StackCallInput {
  StackName: string;
  TemplateURL?: string;
  TemplateBody?: string;
  /** Left out when empty: an UpdateStack with `Tags: []` would remove the stack's tags. */
  Parameters?: KeyValue<'ParameterKey', 'ParameterValue'>;
  Tags?: KeyValue<'Key', 'Value'>;
  Capabilities?: string[];
  RoleARN?: string;
  StackPolicyBody?: string;
}

/** CreateChangeSet input but its ChangeSetType, which the state machine decides from the stack it finds. */
export type ChangeSetCallInput = Omit<StackCallInput, 'StackPolicyBody'> & { ChangeSetName: string };

/** A template's text or its URL: CloudFormation takes either. */
export type TemplateSource = { TemplateURL: string } | { TemplateBody: string };

/** The largest TemplateBody CloudFormation accepts (larger templates go by TemplateURL, from S3). */
export const TEMPLATE_BODY_MAX_BYTES = 51_200;

/** `Artifact::path/in/artifact` → its two parts. */
export function splitArtifactFile(ref: string): { artifact: string; path: string } {
  const at = ref.indexOf('::');
  return { artifact: ref.slice(0, at), path: ref.slice(at + 2) };
}

const TemplateConfigurationSchema = z.strictObject({
  Parameters: z.record(z.string(), z.string({ error: 'expected a string value' })).optional(),
  Tags: z.record(z.string(), z.string({ error: 'expected a string value' })).optional(),
  StackPolicy: z.record(z.string(), z.unknown()).optional(),
});
export type TemplateConfiguration = z.infer<typeof TemplateConfigurationSchema>;

/** A template configuration file (JSON: Parameters, Tags, StackPolicy); errors name the file and the key. */
export function parseTemplateConfiguration(text: string, file: string): TemplateConfiguration {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ArtifactInvalidError(`template configuration ${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = TemplateConfigurationSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${[file, ...i.path].join('.')}: ${i.message}`);
  throw new ArtifactInvalidError(`template configuration ${issues.join('; ')} (it holds Parameters, Tags and StackPolicy)`);
}

const GetParam = z.strictObject({ 'Fn::GetParam': z.tuple([z.string(), z.string(), z.string()]) });
const GetArtifactAtt = z.strictObject({ 'Fn::GetArtifactAtt': z.tuple([z.string(), z.enum(ARTIFACT_ATTRIBUTES)]) });

/** A parameter override: its text, or the function it holds (JSON `{"Fn::GetParam": [...]}` in the text). */
export type OverrideValue =
  | { literal: string }
  | { getParam: { artifact: string; file: string; key: string } }
  | { getArtifactAtt: { artifact: string; attribute: ArtifactAttribute } };

/**
 * Reads a parameter override. A value that is a JSON object naming `Fn::GetParam` or
 * `Fn::GetArtifactAtt` is that function (checked: its arguments, and that the artifact is an input of
 * the action); any other value is text. `path` names the override in errors.
 */
export function parseOverrideValue(value: string, inputArtifacts: readonly string[], path: string): OverrideValue {
  const trimmed = value.trim();
  if (!trimmed.startsWith('{') || !/Fn::Get(Param|ArtifactAtt)/.test(trimmed)) return { literal: value };
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new DefinitionError([{ path, message: `${value} names a parameter override function but is not JSON` }]);
  }
  const param = GetParam.safeParse(json);
  const att = GetArtifactAtt.safeParse(json);
  const artifact = param.data?.['Fn::GetParam'][0] ?? att.data?.['Fn::GetArtifactAtt'][0];
  if (artifact === undefined) {
    throw new DefinitionError([
      {
        path,
        message: `expected {"Fn::GetParam": ["Artifact", "file.json", "key"]} or {"Fn::GetArtifactAtt": ["Artifact", "${ARTIFACT_ATTRIBUTES.join('|')}"]}`,
      },
    ]);
  }
  if (!inputArtifacts.includes(artifact)) {
    throw new DefinitionError([{ path, message: `artifact ${artifact} is not an input artifact of the action (${inputArtifacts.join(', ') || 'none'})` }]);
  }
  if (param.data) {
    const [, file, key] = param.data['Fn::GetParam'];
    return { getParam: { artifact, file, key } };
  }
  return { getArtifactAtt: { artifact, attribute: att.data?.['Fn::GetArtifactAtt'][1] as ArtifactAttribute } };
}

/** Checks every override of an action (what can be checked before it runs); the issues name each one. */
export function checkParameterOverrides(overrides: Record<string, string>, inputArtifacts: readonly string[], path: string) {
  const issues: DefinitionIssue[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    try {
      parseOverrideValue(value, inputArtifacts, `${path}.${name}`);
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      issues.push(...error.issues);
    }
  }
  return issues;
}

/** CodePipeline's limit on a file `Fn::GetParam` reads. */
export const GET_PARAM_FILE_MAX_BYTES = 1024;

/** The overrides' values, each function read from the action's artifacts. */
export async function resolveParameterOverrides(
  overrides: Record<string, string>,
  inputArtifacts: readonly string[],
  artifacts: ActionArtifacts,
  path = 'parameterOverrides',
): Promise<Record<string, string>> {
  const resolved: Record<string, string> = {};
  const files = new Map<string, Promise<Record<string, unknown>>>();
  const readJson = (artifact: string, file: string) => {
    const id = `${artifact}::${file}`;
    let read = files.get(id);
    if (!read) {
      read = artifacts.read(artifact, file).then((text) => {
        if (new TextEncoder().encode(text).length > GET_PARAM_FILE_MAX_BYTES)
          throw new ArtifactInvalidError(`${id}, read by Fn::GetParam, is larger than ${GET_PARAM_FILE_MAX_BYTES} bytes (CodePipeline's limit)`);
        try {
          const json = JSON.parse(text) as unknown;
          if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
        } catch {}
        throw new ArtifactInvalidError(`${id}, read by Fn::GetParam, is not a JSON object`);
      });
      files.set(id, read);
    }
    return read;
  };
  for (const [name, text] of Object.entries(overrides)) {
    const at = `${path}.${name}`;
    const value = parseOverrideValue(text, inputArtifacts, at);
    if ('literal' in value) {
      resolved[name] = value.literal;
    } else if ('getParam' in value) {
      const { artifact, file, key } = value.getParam;
      const json = await readJson(artifact, file);
      const found = json[key];
      if (found === undefined) throw new ArtifactInvalidError(`${at}: ${artifact}::${file} has no key ${key} (Fn::GetParam)`);
      resolved[name] = typeof found === 'string' ? found : JSON.stringify(found);
    } else {
      const { artifact, attribute } = value.getArtifactAtt;
      const found = artifacts.attribute(artifact, attribute);
      if (typeof found !== 'string') throw new ArtifactInvalidError(`${at}: Fn::GetArtifactAtt ${attribute} of ${artifact}: ${found.unavailable}`);
      resolved[name] = found;
    }
  }
  return resolved;
}

const pairs = <K extends string, V extends string>(map: Record<string, string>, k: K, v: V) =>
  Object.entries(map).map(([key, value]) => ({ [k]: key, [v]: value }) as { [P in K]: string } & { [P in V]: string });

/**
 * The stack's call input: the template configuration's Parameters with the overrides on top (overrides
 * win, as CodePipeline documents), its Tags, its StackPolicy (CreateStack and UpdateStack only: a
 * change set takes none), the action's capabilities and role.
 */
export async function stackCallInput(
  action: StackInputAction,
  template: TemplateSource,
  artifacts: ActionArtifacts,
): Promise<{ stack: StackCallInput; changeSet?: ChangeSetCallInput }> {
  let configuration: TemplateConfiguration = {};
  if (action.templateConfiguration !== undefined) {
    const { artifact, path } = splitArtifactFile(action.templateConfiguration);
    configuration = parseTemplateConfiguration(await artifacts.read(artifact, path), action.templateConfiguration);
  }
  const overrides = await resolveParameterOverrides(action.parameterOverrides ?? {}, action.inputArtifacts, artifacts);
  const parameters = pairs({ ...configuration.Parameters, ...overrides }, 'ParameterKey', 'ParameterValue');
  const tags = pairs(configuration.Tags ?? {}, 'Key', 'Value');
  const common = {
    StackName: action.stackName,
    ...template,
    ...(parameters.length > 0 && { Parameters: parameters }),
    ...(tags.length > 0 && { Tags: tags }),
    ...(action.capabilities?.length && { Capabilities: action.capabilities }),
    ...(action.roleArn !== undefined && { RoleARN: action.roleArn }),
  };
  return {
    stack: { ...common, ...(configuration.StackPolicy && { StackPolicyBody: JSON.stringify(configuration.StackPolicy) }) },
    ...(action.changeSetName !== undefined && { changeSet: { ...common, ChangeSetName: action.changeSetName } }),
  };
}

/** A template read as text, checked against CloudFormation's TemplateBody limit. */
export function templateBody(text: string, file: string): TemplateSource {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > TEMPLATE_BODY_MAX_BYTES) {
    throw new ArtifactInvalidError(
      `template ${file} is ${bytes} bytes; CloudFormation takes at most ${TEMPLATE_BODY_MAX_BYTES} bytes as a template body (larger templates deploy from S3, on AWS)`,
    );
  }
  return { TemplateBody: text };
}

/** The `outputFileName` file CodePipeline writes: the stack's outputs as one JSON object of key → value. */
export function stackOutputsFile(outputs: ReadonlyArray<{ OutputKey?: string; OutputValue?: string }> | undefined): string {
  const map: Record<string, string> = {};
  for (const o of outputs ?? []) if (o.OutputKey !== undefined) map[o.OutputKey] = o.OutputValue ?? '';
  return `${JSON.stringify(map, null, 2)}\n`;
}
