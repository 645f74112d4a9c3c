/**
 * Parses buildspec YAML the way CodeBuild reads it, and normalizes what real files contain (scalar
 * `files`, empty `-` items, null `commands`, CRLF, version 0.1) into a `Buildspec` ready to run.
 *
 * Problems are reported all at once, each with its key path (`phases.build.on-failure: expected ABORT
 * or CONTINUE, got "STOP"`). Keys stepline does not act on locally (`runtime-versions`,
 * `git-credential-helper`, unknown keys outside `phases`) are accepted and come back as notes. A
 * `batch` is expanded into its builds (see `batch.ts`).
 */
import { parseDocument } from 'yaml';
import { DefinitionError, type DefinitionIssue } from '../errors';
import { formatPath, parseDocumentText, yamlToJS, zodIssues } from '../model/issues';
import { type BuildBatch, expandBatch } from './batch';
import { type ArtifactSpec, type Buildspec, type BuildspecPhase, PHASE_KEYS, type RawBuildspec, RawBuildspecSchema, ReportFileFormat } from './schema';

export interface ParsedBuildspec {
  buildspec: Buildspec;
  /** Accepted but not acted on locally, or read leniently: shown to the user as warnings. */
  notes: DefinitionIssue[];
}

/** Whether an action's `buildspec` is the buildspec itself (YAML text: it holds a newline) rather than a path to one. */
export const isInlineBuildspec = (buildspec: string): boolean => buildspec.includes('\n');

/**
 * Parses buildspec text (YAML, or JSON). Throws a `DefinitionError` listing every problem with its path.
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
 */
export function parseBuildspecText(text: string, source?: string): ParsedBuildspec {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  // Syntax errors first, worded like every other definition stepline reads.
  parseDocumentText(normalized, source, 'yaml');
  return parseBuildspec(readScalarsAsText(normalized, source), source);
}

/**
 * YAML 1.1 as CodeBuild's decoder reads it, except that scalars stay the text the user wrote: its
 * string fields get "3.10" for `3.10` and "yes" for `yes`, which a YAML 1.1 float or boolean would
 * turn into 3.1 and true. The schema reads booleans from YAML 1.1's spellings where it wants one.
 */
function readScalarsAsText(text: string, source?: string): unknown {
  const doc = parseDocument(text, {
    version: '1.1',
    uniqueKeys: true,
    customTags: (tags) => tags.filter((tag) => typeof tag !== 'object' || !/:(?:bool|int|float|timestamp)$/.test(tag.tag)),
  });
  const first = doc.errors[0];
  if (first) throw new DefinitionError([{ path: '', message: `malformed YAML: ${first.message.split('\n')[0] ?? ''}` }], source);
  return yamlToJS(doc, source);
}

/** Parses a buildspec already read into plain data (YAML text parsed elsewhere, or an object). */
export function parseBuildspec(value: unknown, source?: string): ParsedBuildspec {
  const errors: DefinitionIssue[] = [];
  const notes: DefinitionIssue[] = [];
  const structural = checkPhasesAndBatch(value);
  if (structural) errors.push(structural);

  let input = value;
  let result = RawBuildspecSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const unknownKeys: Array<{ path: PropertyKey[]; key: string }> = [];
    const problems = result.error.issues.filter((issue) => {
      // A misspelt phase or phase key changes what runs, and so does a misspelt batch key
      // (`depends-on` would drop an order): refuse them. Elsewhere an unknown key is ignored, as
      // CodeBuild ignores keys it does not know (`env.compute-type` in real files).
      if (issue.code !== 'unrecognized_keys' || issue.path[0] === 'phases' || issue.path[0] === 'batch') return true;
      for (const key of issue.keys) unknownKeys.push({ path: issue.path, key });
      return false;
    });
    errors.push(...zodIssues(problems));
    if (errors.length === 0) {
      input = withoutKeys(value, unknownKeys);
      result = RawBuildspecSchema.safeParse(input, { reportInput: true });
      if (!result.success) errors.push(...zodIssues(result.error.issues));
    }
    for (const { path, key } of unknownKeys) notes.push({ path: formatPath([...path, key]), message: 'unknown key, ignored' });
  }
  if (errors.length > 0 || !result.success) throw new DefinitionError(dedupe(errors), source);

  const raw = result.data;
  errors.push(...checkArtifacts(raw));
  const batch = readBatch(raw, errors, notes);
  if (errors.length > 0) throw new DefinitionError(errors, source);
  notes.push(...localNotes(raw));
  const buildspec = normalize(raw);
  if (batch) buildspec.batch = batch;
  return { buildspec, notes };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `phases` is required, unless the file declares a batch whose builds each name a buildspec of their own. */
function checkPhasesAndBatch(value: unknown): DefinitionIssue | undefined {
  if (!isRecord(value)) return undefined;
  const hasPhases = value.phases !== undefined && value.phases !== null;
  if (hasPhases || (value.batch !== undefined && value.batch !== null)) return undefined;
  return { path: 'phases', message: 'missing: expected the phases to run (install, pre_build, build, post_build)' };
}

/** The batch expanded, and a build that would run this file's phases refused when it has none. */
function readBatch(raw: RawBuildspec, errors: DefinitionIssue[], notes: DefinitionIssue[]): BuildBatch | undefined {
  if (raw.batch === undefined || raw.batch === null) return undefined;
  const { batch, issues, notes: batchNotes } = expandBatch(raw.batch);
  errors.push(...issues);
  notes.push(...batchNotes);
  if (!batch || raw.phases) return batch;
  batch.builds.forEach((build, i) => {
    if (build.buildspec === undefined)
      errors.push({
        path: formatPath(['batch', batch.type, i, 'buildspec']),
        message: 'missing: this build would run the phases of this file, which declares none; name its buildspec',
      });
  });
  return batch;
}

function withoutKeys(value: unknown, keys: ReadonlyArray<{ path: PropertyKey[]; key: string }>): unknown {
  const copy = structuredClone(value);
  for (const { path, key } of keys) {
    let node: unknown = copy;
    for (const step of path) node = isRecord(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[step] : undefined;
    if (isRecord(node)) delete node[key];
  }
  return copy;
}

function dedupe(issues: DefinitionIssue[]): DefinitionIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function checkArtifacts(raw: RawBuildspec): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const artifacts = raw.artifacts;
  if (!artifacts) return issues;
  const secondary = Object.entries(artifacts['secondary-artifacts'] ?? {});
  if (artifacts.files === undefined && secondary.length === 0) issues.push({ path: 'artifacts.files', message: 'missing: expected file paths or globs' });
  for (const [id, artifact] of secondary) {
    if (artifact.files === undefined)
      issues.push({ path: formatPath(['artifacts', 'secondary-artifacts', id, 'files']), message: 'missing: expected file paths or globs' });
  }
  return issues;
}

/** What a CodeBuild user wrote that this machine does not act on, said once per key. */
function localNotes(raw: RawBuildspec): DefinitionIssue[] {
  const notes: DefinitionIssue[] = [];
  if (raw.version === '0.1') {
    notes.push({
      path: 'version',
      message: '0.1 runs every command in a fresh shell: a cd or a variable does not carry over to the next command (0.2 keeps them)',
    });
  }
  if (raw['run-as'] !== undefined) notes.push({ path: 'run-as', message: 'ignored locally: commands run as the current user' });
  if (raw.proxy !== undefined) notes.push({ path: 'proxy', message: 'ignored locally' });
  if (raw.env?.['git-credential-helper'])
    notes.push({ path: 'env.git-credential-helper', message: "ignored locally: git uses this machine's own credentials" });
  for (const name of Object.keys(raw.env?.variables ?? {})) {
    if (name.startsWith('CODEBUILD_'))
      notes.push({ path: formatPath(['env', 'variables', name]), message: 'names starting with CODEBUILD_ are reserved by CodeBuild' });
  }
  for (const key of PHASE_KEYS) {
    const phase = raw.phases?.[key];
    if (!phase) continue;
    const runtimes = Object.entries(phase['runtime-versions'] ?? {});
    if (phase['runtime-versions'] !== undefined) {
      const wanted = runtimes.map(([runtime, version]) => `${runtime} ${version}`).join(', ');
      notes.push({
        path: formatPath(['phases', key, 'runtime-versions']),
        message: `ignored locally: commands use the tools on this machine's PATH${wanted ? ` (wanted: ${wanted})` : ''}`,
      });
    }
    if (phase['run-as'] !== undefined)
      notes.push({ path: formatPath(['phases', key, 'run-as']), message: 'ignored locally: commands run as the current user' });
  }
  const artifactEntries: Array<[PropertyKey[], { 'enable-symlinks'?: boolean; 's3-prefix'?: string }]> = raw.artifacts
    ? [
        [['artifacts'], raw.artifacts],
        ...Object.entries(raw.artifacts['secondary-artifacts'] ?? {}).map(([id, a]): [PropertyKey[], typeof a] => [
          ['artifacts', 'secondary-artifacts', id],
          a,
        ]),
      ]
    : [];
  for (const [path, artifact] of artifactEntries) {
    if (artifact['s3-prefix'] !== undefined)
      notes.push({ path: formatPath([...path, 's3-prefix']), message: 'ignored locally: artifacts are written to disk' });
    if (artifact['enable-symlinks'] !== undefined)
      notes.push({ path: formatPath([...path, 'enable-symlinks']), message: 'ignored locally: the files symlinks point to are copied' });
  }
  for (const key of ['key', 'fallback-keys', 'action'] as const) {
    if (raw.cache?.[key] !== undefined) notes.push({ path: formatPath(['cache', key]), message: 'ignored locally: one cache is kept per source directory' });
  }
  for (const [group, report] of Object.entries(raw.reports ?? {})) {
    const format = report['file-format'];
    if (format !== undefined && format !== ReportFileFormat.JUnitXml) {
      notes.push({ path: formatPath(['reports', group, 'file-format']), message: `${format} is not read locally: only JUNITXML test reports are counted` });
    }
  }
  return notes;
}

function normalizePhase(phase: NonNullable<NonNullable<RawBuildspec['phases']>['build']> | null | undefined): BuildspecPhase | undefined {
  if (phase === undefined) return undefined;
  const out: BuildspecPhase = { commands: phase?.commands ?? [], finally: phase?.finally ?? [] };
  if (phase?.['on-failure']) out.onFailure = phase['on-failure'];
  return out;
}

type RawArtifact = Omit<NonNullable<RawBuildspec['artifacts']>, 'secondary-artifacts'>;

function normalizeArtifact(artifact: RawArtifact): ArtifactSpec {
  const out: ArtifactSpec = { files: artifact.files ?? [], discardPaths: artifact['discard-paths'] ?? false, excludePaths: artifact['exclude-paths'] ?? [] };
  if (artifact.name !== undefined && artifact.name !== '') out.name = artifact.name;
  if (artifact['base-directory'] !== undefined && artifact['base-directory'] !== '') out.baseDirectory = artifact['base-directory'];
  return out;
}

function normalize(raw: RawBuildspec): Buildspec {
  const env = raw.env ?? {};
  const buildspec: Buildspec = {
    version: raw.version === '0.1' ? '0.1' : '0.2',
    env: {
      variables: env.variables ?? {},
      parameterStore: env['parameter-store'] ?? {},
      secretsManager: env['secrets-manager'] ?? {},
      exportedVariables: (env['exported-variables'] ?? []).filter((name): name is string => name !== null),
    },
    phases: {
      install: normalizePhase(raw.phases?.install),
      pre_build: normalizePhase(raw.phases?.pre_build),
      build: normalizePhase(raw.phases?.build),
      post_build: normalizePhase(raw.phases?.post_build),
    },
    cache: { paths: raw.cache?.paths ?? [] },
    hasPhases: raw.phases !== undefined && raw.phases !== null,
    reports: Object.fromEntries(
      Object.entries(raw.reports ?? {}).map(([group, report]) => {
        const spec = { files: report.files, discardPaths: report['discard-paths'] ?? false, fileFormat: report['file-format'] ?? ReportFileFormat.JUnitXml };
        return [group, report['base-directory'] ? { ...spec, baseDirectory: report['base-directory'] } : spec];
      }),
    ),
  };
  if (env.shell) buildspec.env.shell = env.shell;
  if (raw.artifacts) {
    const secondary = Object.entries(raw.artifacts['secondary-artifacts'] ?? {}).map(([id, a]) => [id, normalizeArtifact(a)] as const);
    buildspec.artifacts = { ...normalizeArtifact(raw.artifacts), secondary: Object.fromEntries(secondary) };
  }
  return buildspec;
}
