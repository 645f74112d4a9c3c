/**
 * The buildspec as CodeBuild reads it (version 0.2, and 0.1), parsed once with zod.
 *
 * Every scalar reaches these schemas as the text the user wrote (see `parse.ts`), the way CodeBuild's
 * Go YAML decoder fills string fields: `pythonversion: 3.10` stays "3.10" and `- true` stays the
 * command "true". Fields CodeBuild reads as booleans accept YAML 1.1's spellings (`yes`, `no`, `on`, …).
 * @see https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
 */
import * as z from 'zod';
import { BatchSchema, type BuildBatch } from './batch';
import { envMap, envName, flag, optionalText, text, textList } from './scalars';

export const OnFailure = { Abort: 'ABORT', Continue: 'CONTINUE' } as const;
export type OnFailure = (typeof OnFailure)[keyof typeof OnFailure];

const PhaseSchema = z
  .strictObject(
    {
      'run-as': text('a user name').optional(),
      'on-failure': z.enum(Object.values(OnFailure), { error: 'expected ABORT or CONTINUE' }).optional(),
      'runtime-versions': z.record(z.string(), optionalText('a version'), { error: 'expected a map of runtime: version' }).nullable().optional(),
      commands: textList('commands', 'a command').optional(),
      finally: textList('commands', 'a command').optional(),
    },
    { error: 'expected a phase (commands, finally, on-failure, …)' },
  )
  .nullable();

/** The keys of `phases`, in the order CodeBuild runs them. */
export const PHASE_KEYS = ['install', 'pre_build', 'build', 'post_build'] as const;
export type PhaseKey = (typeof PHASE_KEYS)[number];

const PhasesSchema = z.strictObject(
  { install: PhaseSchema.optional(), pre_build: PhaseSchema.optional(), build: PhaseSchema.optional(), post_build: PhaseSchema.optional() },
  { error: 'expected a map of phases (install, pre_build, build, post_build)' },
);

/** Shells CodeBuild accepts on Linux, and the names a Linux user means by them. */
const LINUX_SHELLS: Record<string, 'bash' | 'sh'> = { bash: 'bash', '/bin/bash': 'bash', '/usr/bin/bash': 'bash', sh: 'sh', '/bin/sh': 'sh' };
const WINDOWS_SHELLS = /^(?:powershell(?:\.exe)?|pwsh(?:\.exe)?|cmd(?:\.exe)?)$/i;

const ShellSchema = text('a shell').transform((value, ctx) => {
  const shell = LINUX_SHELLS[value];
  if (shell) return shell;
  const message = WINDOWS_SHELLS.test(value) ? "expected bash or /bin/sh (Windows shells don't run on this machine)" : 'expected bash or /bin/sh';
  ctx.issues.push({ code: 'custom', message, input: value });
  return z.NEVER;
});

const EnvSchema = z
  .strictObject(
    {
      shell: ShellSchema.optional(),
      variables: envMap('value').optional(),
      'parameter-store': envMap('a parameter name').optional(),
      'secrets-manager': envMap('a secret reference such as prod/db:password').optional(),
      'exported-variables': z.array(envName.nullable(), { error: 'expected a list of variable names' }).nullable().optional(),
      'git-credential-helper': flag.optional(),
    },
    { error: 'expected a map (variables, parameter-store, secrets-manager, exported-variables, shell, …)' },
  )
  .nullable();

const artifactFields = {
  files: textList('file paths or globs', 'a file path or glob').optional(),
  name: text('a name').optional(),
  'discard-paths': flag.optional(),
  'base-directory': text('a directory').optional(),
  'exclude-paths': textList('globs', 'a glob').optional(),
  'enable-symlinks': flag.optional(),
  's3-prefix': text('a prefix').optional(),
};

const SecondaryArtifactSchema = z.strictObject(artifactFields, { error: 'expected an artifact (files, name, base-directory, …)' });

const ArtifactsSchema = z.strictObject(
  {
    ...artifactFields,
    'secondary-artifacts': z.record(z.string(), SecondaryArtifactSchema, { error: 'expected a map of identifier: artifact' }).optional(),
  },
  { error: 'expected artifacts (files, name, base-directory, …)' },
);

/** Report file formats CodeBuild knows. Only JUnit XML is read locally. */
export const ReportFileFormat = {
  JUnitXml: 'JUNITXML',
  CucumberJson: 'CUCUMBERJSON',
  TestNgXml: 'TESTNGXML',
  VisualStudioTrx: 'VISUALSTUDIOTRX',
  NUnitXml: 'NUNITXML',
  NUnit3Xml: 'NUNIT3XML',
  CloverXml: 'CLOVERXML',
  CoberturaXml: 'COBERTURAXML',
  JaCoCoXml: 'JACOCOXML',
  SimpleCov: 'SIMPLECOV',
} as const;
export type ReportFileFormat = (typeof ReportFileFormat)[keyof typeof ReportFileFormat];
const REPORT_FORMATS: readonly string[] = Object.values(ReportFileFormat);

const ReportGroupSchema = z.strictObject(
  {
    files: textList('file paths or globs', 'a file path or glob'),
    'base-directory': text('a directory').optional(),
    'discard-paths': flag.optional(),
    // `JUNIT` is not a CodeBuild name, but it is what people write (the project's own seed does):
    // read it as JUNITXML and say so, rather than refuse a file whose meaning is plain.
    'file-format': text('a report file format')
      .transform((value, ctx) => {
        const upper = value.toUpperCase();
        if (REPORT_FORMATS.includes(upper)) return upper as ReportFileFormat;
        if (upper === 'JUNIT') return ReportFileFormat.JUnitXml;
        ctx.issues.push({ code: 'custom', message: `expected one of ${REPORT_FORMATS.join(', ')}`, input: value });
        return z.NEVER;
      })
      .optional(),
  },
  { error: 'expected a report group (files, base-directory, file-format)' },
);

const CacheSchema = z
  .strictObject(
    {
      paths: textList('paths or globs', 'a path or glob').optional(),
      key: text('a cache key').optional(),
      'fallback-keys': textList('cache keys', 'a cache key').optional(),
      action: text('restore or save').optional(),
    },
    { error: 'expected a cache (paths)' },
  )
  .nullable();

/** A buildspec as written, before normalization; every scalar is text (see `parse.ts`). */
export const RawBuildspecSchema = z.strictObject(
  {
    version: text('0.2 (or 0.1)').refine((v) => v === '0.2' || v === '0.1', { error: 'expected 0.2 (or 0.1)' }),
    'run-as': text('a user name').optional(),
    env: EnvSchema.optional(),
    proxy: z.unknown().optional(),
    batch: BatchSchema.nullable().optional(),
    phases: PhasesSchema.nullable().optional(),
    artifacts: ArtifactsSchema.nullable().optional(),
    cache: CacheSchema.optional(),
    reports: z.record(z.string(), ReportGroupSchema, { error: 'expected a map of report group: files' }).nullable().optional(),
  },
  { error: 'expected a buildspec: a map with version and phases' },
);
export type RawBuildspec = z.output<typeof RawBuildspecSchema>;

/** One phase, normalized: absent lists are empty. */
export interface BuildspecPhase {
  commands: string[];
  /** Run after `commands`, even when one of them failed. */
  finally: string[];
  /** What a failure of this phase does. Absent: CodeBuild's default transitions (see `nextPhase`). */
  onFailure?: OnFailure;
}

export interface ArtifactSpec {
  files: string[];
  /** May hold `$VAR` and `$(command)`, expanded by the shell after the build. */
  name?: string;
  discardPaths: boolean;
  /** Relative to CODEBUILD_SRC_DIR, or absolute. */
  baseDirectory?: string;
  excludePaths: string[];
}

export interface ReportGroupSpec {
  files: string[];
  baseDirectory?: string;
  discardPaths: boolean;
  /** @default JUNITXML, as CodeBuild */
  fileFormat: ReportFileFormat;
}

/** A buildspec normalized for running: every list present, camelCase names. */
export interface Buildspec {
  version: '0.1' | '0.2';
  env: {
    /** Absent: the runner's default shell. */
    shell?: 'bash' | 'sh';
    variables: Record<string, string>;
    /** NAME → parameter name. */
    parameterStore: Record<string, string>;
    /** NAME → secret reference (`secret-id:json-key:version-stage:version-id`). */
    secretsManager: Record<string, string>;
    exportedVariables: string[];
  };
  phases: Record<PhaseKey, BuildspecPhase | undefined>;
  artifacts?: ArtifactSpec & { secondary: Record<string, ArtifactSpec> };
  cache: { paths: string[] };
  reports: Record<string, ReportGroupSpec>;
  /** The builds a batch action runs (`batch`), expanded; absent when the file declares no batch. */
  batch?: BuildBatch;
  /** Whether the file declares phases: a batch-only file runs only as a batch. */
  hasPhases: boolean;
}
