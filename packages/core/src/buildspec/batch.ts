/**
 * CodeBuild batch builds (`batch` in a buildspec): a build list, a build matrix or a build graph,
 * read and expanded into the builds a batch runs, each with its environment variables, buildspec,
 * dependencies and whether its failure fails the batch.
 *
 * The expansion is pure, so both runtimes and the tests read a batch the same way: on one machine the
 * builds run in parallel within the cores; on AWS CodeBuild runs them (`startBuildBatch.sync`).
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build-buildspec.html
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/batch-build.html
 */
import * as z from 'zod';
import type { DefinitionIssue } from '../errors';
import { formatPath } from '../model/issues';
import { envMap, flag, text, textList } from './scalars';

/** The batch types CodeBuild knows, in the order a buildspec is read for one. */
export const BatchType = { List: 'build-list', Matrix: 'build-matrix', Graph: 'build-graph' } as const;
export type BatchType = (typeof BatchType)[keyof typeof BatchType];

/** Environment keys CodeBuild applies to a build's container; on one machine only `variables` act. */
const containerEnv = {
  'compute-type': text('a compute type').optional(),
  image: text('an image').optional(),
  type: text('an environment type').optional(),
  'privileged-mode': flag.optional(),
  fleet: text('a fleet name').optional(),
};

const TaskSchema = z.strictObject(
  {
    identifier: text('an identifier').optional(),
    buildspec: text('a buildspec path').optional(),
    'debug-session': flag.optional(),
    'depend-on': textList('identifiers', 'an identifier').optional(),
    'ignore-failure': flag.optional(),
    env: z
      .strictObject({ ...containerEnv, variables: envMap('value').optional() }, { error: 'expected build environment overrides (variables, image, …)' })
      .nullable()
      .optional(),
  },
  { error: 'expected a build (identifier, buildspec, env, depend-on, ignore-failure)' },
);

const TaskListSchema = z.array(TaskSchema, { error: 'expected a list of builds' }).nullable();

const MatrixSchema = z.strictObject(
  {
    static: z
      .strictObject(
        {
          'ignore-failure': flag.optional(),
          env: z
            .strictObject({ ...containerEnv, variables: envMap('value').optional() }, { error: 'expected build environment overrides' })
            .nullable()
            .optional(),
        },
        { error: 'expected the settings every build of the matrix shares (ignore-failure, env)' },
      )
      .nullable()
      .optional(),
    dynamic: z
      .strictObject(
        {
          buildspec: textList('buildspec paths', 'a buildspec path').optional(),
          env: z
            .strictObject(
              {
                'compute-type': textList('compute types', 'a compute type').optional(),
                image: textList('images', 'an image').optional(),
                fleet: textList('fleet names', 'a fleet name').optional(),
                variables: z.record(z.string(), textList('values', 'a value'), { error: 'expected a map of NAME: list of values' }).nullable().optional(),
              },
              { error: 'expected the matrix dimensions (variables, image, compute-type)' },
            )
            .nullable()
            .optional(),
        },
        { error: 'expected the matrix dimensions (buildspec, env)' },
      )
      .nullable()
      .optional(),
  },
  { error: 'expected a build matrix (static, dynamic)' },
);

/** `batch` as written, before expansion. */
export const BatchSchema = z.strictObject(
  {
    'fast-fail': flag.optional(),
    [BatchType.List]: TaskListSchema.optional(),
    [BatchType.Matrix]: MatrixSchema.nullable().optional(),
    [BatchType.Graph]: TaskListSchema.optional(),
    'build-fanout': z.unknown().optional(),
  },
  { error: 'expected a batch (build-list, build-matrix or build-graph, fast-fail)' },
);
export type RawBatch = z.output<typeof BatchSchema>;

/** One build of a batch, as it runs. */
export interface BatchBuild {
  /** Unique in the batch; letters, digits and `_`. Builds of a matrix, and of a list that names none, are numbered `build1`, `build2`, … */
  identifier: string;
  /** Another buildspec for this build (a path in the source). Absent: the batch's own buildspec's phases. */
  buildspec?: string;
  /** Variables of this build; they win over the buildspec's `env.variables` and the action's. */
  variables: Record<string, string>;
  /** Container settings CodeBuild applies (`image`, `compute-type`, …); not acted on locally. */
  container: Record<string, string>;
  /** Identifiers of the builds that must end before this one starts (build graphs only). */
  dependOn: string[];
  /** A failure of this build does not fail the batch, and builds that depend on it still run. @default false */
  ignoreFailure: boolean;
  /** What makes this build of a matrix different from the others (`MY_VAR=VALUE1, image=…`). */
  label?: string;
}

export interface BuildBatch {
  type: BatchType;
  /** Stop every running build, and start no other, when one build fails. @default false */
  fastFail: boolean;
  builds: BatchBuild[];
}

/** CodeBuild's identifiers accept letters, digits and `_`. */
const IDENTIFIER = /^[A-Za-z0-9_]+$/;

export interface ExpandedBatch {
  batch?: BuildBatch;
  issues: DefinitionIssue[];
  notes: DefinitionIssue[];
}

/**
 * Expands a batch into its builds, and says what is wrong with it, each problem with its path under
 * `batch`: no or several batch types, a build-fanout, identifiers missing, repeated or with other
 * characters, `depend-on` outside a graph or naming no build, cycles.
 */
export function expandBatch(raw: RawBatch): ExpandedBatch {
  const issues: DefinitionIssue[] = [];
  const notes: DefinitionIssue[] = [];
  const at = (...path: PropertyKey[]) => formatPath(['batch', ...path]);
  if (raw['build-fanout'] !== undefined)
    issues.push({ path: at('build-fanout'), message: 'build-fanout (tests split across builds) is not supported: use a build-list or build-matrix' });
  const types = Object.values(BatchType).filter((type) => raw[type] !== undefined);
  if (types.length > 1) issues.push({ path: at(types[1] ?? ''), message: `a batch has one type: this one also declares ${types[0]}` });
  const type = types[0];
  if (type === undefined) {
    if (raw['build-fanout'] === undefined) issues.push({ path: 'batch', message: 'missing: expected build-list, build-matrix or build-graph' });
    return { issues, notes };
  }
  const builds = type === BatchType.Matrix ? expandMatrix(raw[BatchType.Matrix] ?? null, notes) : expandTasks(raw[type] ?? null, type, issues, notes);
  if (builds.length === 0) notes.push({ path: at(type), message: 'declares no builds: a batch action running this file fails' });
  checkGraph(builds, type, issues);
  return { batch: { type, fastFail: raw['fast-fail'] ?? false, builds }, issues, notes };
}

type RawTask = z.output<typeof TaskSchema>;
type RawContainer = Partial<Record<keyof typeof containerEnv, string | boolean>>;

/** Container keys as text (`privileged-mode: true` → "true"), noted once: they change nothing on one machine. */
function containerOf(env: RawContainer | null | undefined, path: PropertyKey[], notes: DefinitionIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(containerEnv) as Array<keyof typeof containerEnv>) {
    const value = env?.[key];
    if (value === undefined) continue;
    out[key] = String(value);
    notes.push({ path: formatPath([...path, 'env', key]), message: 'used by CodeBuild on AWS; ignored locally: builds run on this machine' });
  }
  return out;
}

function expandTasks(tasks: RawTask[] | null, type: BatchType, issues: DefinitionIssue[], notes: DefinitionIssue[]): BatchBuild[] {
  return (tasks ?? []).map((task, i) => {
    const path = ['batch', type, i];
    let identifier = task.identifier;
    if (identifier === undefined) {
      if (type === BatchType.Graph) issues.push({ path: formatPath([...path, 'identifier']), message: 'missing: every build of a graph needs an identifier' });
      identifier = `build${i + 1}`;
    }
    if (task['depend-on'] !== undefined && type !== BatchType.Graph)
      issues.push({ path: formatPath([...path, 'depend-on']), message: 'only a build-graph orders its builds: use build-graph' });
    if (task['debug-session'] !== undefined)
      notes.push({ path: formatPath([...path, 'debug-session']), message: 'ignored locally: Session Manager exists on AWS only' });
    const build: BatchBuild = {
      identifier,
      variables: task.env?.variables ?? {},
      container: containerOf(task.env, path, notes),
      dependOn: task['depend-on'] ?? [],
      ignoreFailure: task['ignore-failure'] ?? false,
    };
    if (task.buildspec !== undefined && task.buildspec !== '') build.buildspec = task.buildspec;
    return build;
  });
}

/** Every combination of the dynamic values, buildspecs outermost, then images, compute types, fleets and variables in the order written. */
function expandMatrix(matrix: z.output<typeof MatrixSchema> | null, notes: DefinitionIssue[]): BatchBuild[] {
  const dynamic = matrix?.dynamic;
  const env = dynamic?.env;
  const dimensions: Array<{ key: string; values: string[] }> = [];
  if (dynamic?.buildspec?.length) dimensions.push({ key: 'buildspec', values: dynamic.buildspec });
  for (const key of ['image', 'compute-type', 'fleet'] as const) {
    const values = env?.[key];
    if (values?.length) {
      dimensions.push({ key, values });
      notes.push({
        path: formatPath(['batch', BatchType.Matrix, 'dynamic', 'env', key]),
        message: 'used by CodeBuild on AWS; ignored locally: builds run on this machine',
      });
    }
  }
  for (const [name, values] of Object.entries(env?.variables ?? {})) if (values.length > 0) dimensions.push({ key: `$${name}`, values });

  let combinations: Array<Array<[string, string]>> = [[]];
  for (const { key, values } of dimensions) combinations = combinations.flatMap((combo) => values.map((value) => [...combo, [key, value] as [string, string]]));
  if (dimensions.length === 0) return [];

  const staticPart = matrix?.static;
  const container = containerOf(staticPart?.env, ['batch', BatchType.Matrix, 'static'], notes);
  return combinations.map((combo, i) => {
    const build: BatchBuild = {
      identifier: `build${i + 1}`,
      variables: { ...(staticPart?.env?.variables ?? {}) },
      container: { ...container },
      dependOn: [],
      ignoreFailure: staticPart?.['ignore-failure'] ?? false,
      label: combo.map(([key, value]) => `${key.replace(/^\$/, '')}=${value}`).join(', '),
    };
    for (const [key, value] of combo) {
      if (key === 'buildspec') build.buildspec = value;
      else if (key.startsWith('$')) build.variables[key.slice(1)] = value;
      else build.container[key] = value;
    }
    return build;
  });
}

/** Identifiers unique and well formed; `depend-on` names builds of the batch, with no cycle. */
function checkGraph(builds: readonly BatchBuild[], type: BatchType, issues: DefinitionIssue[]): void {
  const index = new Map<string, number>();
  builds.forEach((build, i) => {
    const path = formatPath(['batch', type, i, 'identifier']);
    if (!IDENTIFIER.test(build.identifier))
      issues.push({ path, message: `expected letters, digits and _ (CodeBuild's identifiers), got ${JSON.stringify(build.identifier)}` });
    if (index.has(build.identifier))
      issues.push({ path, message: `${build.identifier} is already the identifier of batch.${type}[${index.get(build.identifier)}]` });
    else index.set(build.identifier, i);
  });
  builds.forEach((build, i) => {
    build.dependOn.forEach((dependency, j) => {
      if (!index.has(dependency))
        issues.push({ path: formatPath(['batch', type, i, 'depend-on', j]), message: `no build of the batch is named ${JSON.stringify(dependency)}` });
    });
  });
  // Depth-first search: a build met again while its own dependencies are being walked closes a cycle.
  const state = new Map<string, 'walking' | 'done'>();
  const byId = new Map(builds.map((b) => [b.identifier, b]));
  const walk = (id: string, trail: string[]): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'walking') return [...trail.slice(trail.indexOf(id)), id];
    state.set(id, 'walking');
    for (const next of byId.get(id)?.dependOn ?? []) {
      const cycle = walk(next, [...trail, id]);
      if (cycle) return cycle;
    }
    state.set(id, 'done');
    return undefined;
  };
  for (const build of builds) {
    const cycle = walk(build.identifier, []);
    if (cycle) {
      issues.push({
        path: formatPath(['batch', type, index.get(build.identifier) ?? 0, 'depend-on']),
        message: `builds depend on each other: ${cycle.join(' → ')}`,
      });
      return;
    }
  }
}
