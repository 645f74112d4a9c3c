/**
 * `#{Namespace.Variable}` references, as CodePipeline resolves them in action configuration.
 * @see https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html
 */
import type { Action } from './schema';

export interface VariableReference {
  namespace: string;
  variable: string;
  /** The whole `#{…}` text. */
  text: string;
}

/** Text and references of a string, in order: `['img:', ref, '-', ref]`. */
export type TemplatePart = string | VariableReference;

const REFERENCE = /#\{([^{}.]*)\.([^{}]*)\}/g;
const PART = /^[A-Za-z0-9@_-]+$/;

/** Pipeline-level variables live in this namespace: `#{variables.NAME}`. */
export const PIPELINE_VARIABLES_NAMESPACE = 'variables';
/** CodePipeline's own namespace; stepline provides its execution id. */
export const EXECUTION_NAMESPACE = 'codepipeline';
export const EXECUTION_VARIABLES = ['PipelineExecutionId', 'PipelineName'] as const;

/** Output variables of every source action, as CodePipeline's source actions name them. */
export const SOURCE_VARIABLES = ['CommitId', 'BranchName', 'CommitMessage', 'AuthorName', 'AuthorDate', 'FullRepositoryName', 'ProviderType'] as const;
export type SourceVariables = Record<(typeof SOURCE_VARIABLES)[number], string>;

/** Output variables of an S3 source action: CodePipeline's (ETag, VersionId) besides every source's. */
export const S3_SOURCE_VARIABLES = [...SOURCE_VARIABLES, 'ETag', 'VersionId'] as const;

/** Output variables of an ECR source action, as CodePipeline's. */
export const ECR_SOURCE_VARIABLES = ['RegistryId', 'RepositoryName', 'ImageTag', 'ImageDigest', 'ImageURI'] as const;
export type EcrSourceVariables = Record<(typeof ECR_SOURCE_VARIABLES)[number], string>;

/** Output variables every Step Functions action has, as CodePipeline's; the output's fields come beside them. */
export const STEP_FUNCTIONS_VARIABLES = ['ExecutionArn', 'StateMachineArn'] as const;

/** Output variables of an approval action. */
export const APPROVAL_VARIABLES = ['ApprovedBy', 'Comment'] as const;

export function parseTemplate(value: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of value.matchAll(REFERENCE)) {
    if (match.index > last) parts.push(value.slice(last, match.index));
    parts.push({ namespace: match[1] ?? '', variable: match[2] ?? '', text: match[0] });
    last = match.index + match[0].length;
  }
  if (last < value.length) parts.push(value.slice(last));
  return parts;
}

export function referencesIn(value: string): VariableReference[] {
  return parseTemplate(value).filter((p): p is VariableReference => typeof p !== 'string');
}

export function isWellFormed(ref: VariableReference): boolean {
  return PART.test(ref.namespace) && PART.test(ref.variable);
}

/**
 * The fields of an action whose values may hold references, with their paths relative to the action.
 * One list, used by validation and by the compiler, so the two never disagree.
 */
export function referenceFields(action: Action): Array<{ path: string; value: string }> {
  switch (action.kind) {
    case 'build':
    case 'test':
    case 'commands':
      return Object.entries(action.environmentVariables).map(([name, value]) => ({ path: `environmentVariables.${name}`, value }));
    case 'approval':
      return [
        ...(action.customData === undefined ? [] : [{ path: 'customData', value: action.customData }]),
        ...(action.externalEntityLink === undefined ? [] : [{ path: 'externalEntityLink', value: action.externalEntityLink }]),
      ];
    case 'invoke':
      return [
        ...(action.userParameters === undefined ? [] : [{ path: 'userParameters', value: action.userParameters }]),
        ...(action.command === undefined ? [] : [{ path: 'command', value: action.command }]),
      ];
    case 'cloudformation':
      return Object.entries(action.parameterOverrides ?? {}).map(([name, value]) => ({ path: `parameterOverrides.${name}`, value }));
    case 's3deploy':
      return action.objectKey === undefined ? [] : [{ path: 'objectKey', value: action.objectKey }];
    case 'stepfunctions':
      return action.inputType === 'Literal' && action.input !== undefined ? [{ path: 'input', value: action.input }] : [];
    case 'source':
    case 'deploy':
    case 'codedeploy':
      return [];
  }
}

/** Substitutes references from a lookup; what the local runtime uses where ASL does not reach. */
export function renderTemplate(value: string, lookup: (ref: VariableReference) => string | undefined): string {
  return parseTemplate(value)
    .map((p) => (typeof p === 'string' ? p : (lookup(p) ?? p.text)))
    .join('');
}
