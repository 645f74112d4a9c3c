/**
 * CodeDeploy's AppSpec file for a Lambda deployment (version 0.0): one `AWS::Lambda::Function`
 * resource naming the function, its alias and the versions traffic moves between, and optionally the
 * BeforeAllowTraffic/AfterAllowTraffic hook functions. Parsed once where it enters (the deploy action's
 * input artifact); YAML or JSON.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-example.html#appspec-file-example-lambda
 */
import { parse } from 'yaml';
import * as z from 'zod';
import { ArtifactInvalidError } from '../errors';
import { LAMBDA_LIFECYCLE_HOOKS, type LifecycleHook } from '../model/schema';

/**
 * Whether a Lambda deployment reads its function and alias, and so its hooks, from the appspec in its
 * input artifact when it runs (`lambda: {}` as imported from CodePipeline). Its plan then holds both
 * Lambda hook steps, each running the hook the appspec (or the definition) names, if any.
 */
export function readsLambdaAppSpec(action: { lambda?: { functionName?: string | undefined; alias?: string | undefined } | undefined }): boolean {
  return action.lambda !== undefined && (action.lambda.functionName === undefined || action.lambda.alias === undefined);
}

/** The names CodeDeploy looks for at the root of a revision, in this order. */
export const APPSPEC_FILES = ['appspec.yaml', 'appspec.yml', 'appspec.json'] as const;

// A version written as a number (`CurrentVersion: 1`) is still a version.
const VERSION_ERROR = 'expected a published version number such as 2';
const version = z
  .union(
    [
      z.string().regex(/^[0-9]+$/, { error: VERSION_ERROR }),
      z.number({ error: VERSION_ERROR }).int({ error: VERSION_ERROR }).positive({ error: VERSION_ERROR }),
    ],
    {
      error: VERSION_ERROR,
    },
  )
  .transform(String);
const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const AppSpecSchema = z.object({
  version: z.union([z.literal(0), z.literal('0.0')], { error: 'expected 0.0' }),
  Resources: z
    .array(
      z.record(
        z.string(),
        z.object({
          Type: z.literal('AWS::Lambda::Function', { error: 'expected AWS::Lambda::Function' }),
          Properties: z.object({
            Name: text('a function name'),
            Alias: text('an alias name'),
            CurrentVersion: version.optional(),
            TargetVersion: version,
          }),
        }),
      ),
      { error: 'expected a list of resources' },
    )
    .length(1, { error: 'expected exactly one resource: a Lambda deployment shifts one alias' }),
  Hooks: z
    .array(
      z.record(z.string(), text('a function name')).superRefine((hooks, ctx) => {
        for (const key of Object.keys(hooks))
          if (!(LAMBDA_LIFECYCLE_HOOKS as readonly string[]).includes(key))
            ctx.addIssue({ code: 'custom', path: [key], message: `expected ${LAMBDA_LIFECYCLE_HOOKS.join(' or ')}: a Lambda deployment has no other hooks` });
      }),
      { error: 'expected a list of hooks' },
    )
    .optional(),
});

export interface LambdaAppSpec {
  functionName: string;
  alias: string;
  currentVersion: string | undefined;
  targetVersion: string;
  hooks: Partial<Record<LifecycleHook, string>>;
}

/** Parses an AppSpec file's text; throws `ArtifactInvalidError` naming the file and the path of each problem. */
export function parseLambdaAppSpec(text: string, file: string): LambdaAppSpec {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new ArtifactInvalidError(`${file}: not YAML or JSON: ${(error as Error).message}`);
  }
  const parsed = AppSpecSchema.safeParse(raw);
  if (!parsed.success)
    throw new ArtifactInvalidError(`${file}: ${parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const [resource] = Object.values(parsed.data.Resources[0] ?? {});
  if (!resource) throw new ArtifactInvalidError(`${file}: Resources.0: expected one AWS::Lambda::Function resource`);
  const { Name, Alias, CurrentVersion, TargetVersion } = resource.Properties;
  return {
    functionName: Name,
    alias: Alias,
    currentVersion: CurrentVersion,
    targetVersion: TargetVersion,
    hooks: Object.assign({}, ...(parsed.data.Hooks ?? [])) as Partial<Record<LifecycleHook, string>>,
  };
}
