/**
 * The AppSpec file of an EC2/on-premises deployment (version 0.0): which files of the revision go
 * where, and which scripts run at each lifecycle event, parsed once with zod.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure.html
 */
import picomatch from 'picomatch';
import * as z from 'zod';
import { DefinitionError } from '../errors';
import { parseDocumentText, zodIssues } from '../model/issues';
import { named } from '../named';

/**
 * The lifecycle events of an in-place deployment, in the order the CodeDeploy agent runs them on each
 * instance. DownloadBundle and Install are the agent's own work and take no scripts; the traffic
 * events run their scripts in place with no load balancer to block or allow.
 * @see https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-server
 */
export const LifecycleEvent = named(
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'DownloadBundle',
  'BeforeInstall',
  'Install',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
);
export type LifecycleEvent = (typeof LifecycleEvent)[keyof typeof LifecycleEvent];

export const LIFECYCLE_ORDER: readonly LifecycleEvent[] = Object.values(LifecycleEvent);
const RESERVED_EVENTS: readonly LifecycleEvent[] = [LifecycleEvent.DownloadBundle, LifecycleEvent.Install];
/**
 * Events whose scripts come from the last revision deployed successfully, not the one being deployed:
 * they stop what that revision started.
 */
export const PREVIOUS_REVISION_EVENTS: readonly LifecycleEvent[] = [
  LifecycleEvent.BeforeBlockTraffic,
  LifecycleEvent.AfterBlockTraffic,
  LifecycleEvent.ApplicationStop,
];
const SCRIPTABLE = LIFECYCLE_ORDER.filter((e) => !RESERVED_EVENTS.includes(e));

/** CodeDeploy allows every script of one lifecycle event one hour in all. */
export const MAX_EVENT_SECONDS = 3600;

export const FileExistsBehavior = { Disallow: 'DISALLOW', Overwrite: 'OVERWRITE', Retain: 'RETAIN' } as const;
export type FileExistsBehavior = (typeof FileExistsBehavior)[keyof typeof FileExistsBehavior];

const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, got an empty string` });
const relative = (what: string) => text(what).refine((p) => !p.split('/').includes('..'), { error: `expected ${what} inside the revision, without ..` });

const ScriptSchema = z.strictObject({
  /** Path of the script in the revision. */
  location: relative('a script path in the revision').transform((p) => p.replace(/^\/+/, '')),
  /** Seconds the script may run. @default 3600 */
  timeout: z
    .number({ error: 'expected a number of seconds' })
    .int({ error: 'expected a whole number of seconds' })
    .min(1, { error: 'expected 1 to 3600 seconds' })
    .max(MAX_EVENT_SECONDS, { error: 'expected 1 to 3600 seconds' })
    .default(MAX_EVENT_SECONDS),
  /** The user the script runs as. @default the agent's user (root) */
  runas: text('a user name').optional(),
});

const PermissionSchema = z.strictObject({
  object: text('a path on the instance'),
  pattern: text('a glob').default('**'),
  except: z.array(text('a glob'), { error: 'expected a list of globs' }).default([]),
  owner: text('a user name').optional(),
  group: text('a group name').optional(),
  mode: z
    .union([z.string(), z.number()], { error: 'expected an octal mode such as 755' })
    .transform(String)
    .refine((m) => /^[0-7]{3,4}$/.test(m), { error: 'expected an octal mode such as 755' })
    .optional(),
  type: z.array(z.enum(['file', 'directory'], { error: 'expected file or directory' }), { error: 'expected a list of file, directory' }).optional(),
  acls: z.array(z.string()).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
});

export const AppSpecSchema = z
  .strictObject({
    version: z.union([z.literal(0), z.literal('0.0')], { error: 'expected version 0.0' }),
    os: z.enum(['linux', 'windows'], { error: 'expected linux or windows' }),
    files: z
      .array(
        z.strictObject({
          /** A file or directory of the revision; `/` is the whole revision. */
          source: relative('a path in the revision'),
          /** An absolute path on the instance. */
          destination: text('an absolute path on the instance').refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), {
            error: 'expected an absolute path on the instance',
          }),
        }),
        { error: 'expected a list of { source, destination }' },
      )
      .default([]),
    file_exists_behavior: z.enum(Object.values(FileExistsBehavior), { error: 'expected DISALLOW, OVERWRITE or RETAIN' }).default(FileExistsBehavior.Disallow),
    permissions: z.array(PermissionSchema, { error: 'expected a list of permissions' }).default([]),
    hooks: z
      .record(z.string(), z.array(ScriptSchema, { error: 'expected a list of { location, timeout, runas }' }), {
        error: 'expected a map of lifecycle event: scripts',
      })
      .default({}),
  })
  .superRefine((spec, ctx) => {
    for (const [event, scripts] of Object.entries(spec.hooks)) {
      if (RESERVED_EVENTS.includes(event as LifecycleEvent))
        ctx.addIssue({ code: 'custom', path: ['hooks', event], message: `${event} is the agent's own work and takes no scripts` });
      else if (!SCRIPTABLE.includes(event as LifecycleEvent))
        ctx.addIssue({ code: 'custom', path: ['hooks', event], message: `expected one of ${SCRIPTABLE.join(', ')}` });
      const total = scripts.reduce((sum, s) => sum + s.timeout, 0);
      if (total > MAX_EVENT_SECONDS && scripts.every((s) => s.timeout <= MAX_EVENT_SECONDS))
        ctx.addIssue({
          code: 'custom',
          path: ['hooks', event],
          message: `the scripts' timeouts add up to ${total} seconds; one lifecycle event may take at most ${MAX_EVENT_SECONDS}`,
        });
    }
    if (spec.os === 'windows' && spec.permissions.length > 0)
      ctx.addIssue({ code: 'custom', path: ['permissions'], message: 'permissions apply to Linux instances only' });
  });

export type AppSpec = z.output<typeof AppSpecSchema>;
export type HookScript = z.output<typeof ScriptSchema>;
export type Permission = z.output<typeof PermissionSchema>;

/** Parses an appspec.yml (YAML or JSON text); every problem is reported with its path in the file. */
export function parseAppSpec(text: string, source = 'appspec.yml'): AppSpec {
  const value = parseDocumentText(text, source);
  const result = AppSpecSchema.safeParse(value, { reportInput: true });
  if (!result.success) throw new DefinitionError(zodIssues(result.error.issues), source);
  return result.data;
}

/** One lifecycle event as an instance runs it: the agent's own work, or scripts (maybe none). */
export interface LifecycleStep {
  event: LifecycleEvent;
  /** The scripts to run, from the revision being deployed or (for stop events) the previous one. */
  scripts: HookScript[];
  /** Where the scripts come from. */
  revision: 'current' | 'previous';
  /** DownloadBundle and Install: the agent's work, no scripts. */
  builtin: boolean;
}

/** Where an event's scripts come from: the stop events run the previous revision's (none on a first deployment). */
export function eventScripts(event: LifecycleEvent, current: AppSpec | undefined, previous: AppSpec | undefined): Omit<LifecycleStep, 'event'> {
  const fromPrevious = PREVIOUS_REVISION_EVENTS.includes(event);
  return {
    scripts: (fromPrevious ? previous : current)?.hooks[event] ?? [],
    revision: fromPrevious ? 'previous' : 'current',
    builtin: RESERVED_EVENTS.includes(event),
  };
}

/** The events an instance goes through, in order, with their scripts. */
export function lifecycleSteps(current: AppSpec, previous: AppSpec | undefined): LifecycleStep[] {
  return LIFECYCLE_ORDER.map((event) => ({ event, ...eventScripts(event, current, previous) }));
}

/** One file of the revision and where it goes on the instance. */
export interface FileCopy {
  /** Path in the revision, with `/` separators. */
  from: string;
  /** Absolute path on the instance. */
  to: string;
}

/**
 * Where each file of the revision goes: a `files` entry whose source is a directory (or `/`) copies
 * everything below it under the destination, one that names a file copies it into the destination
 * directory. A source that matches nothing is an error, as it fails the agent's Install.
 */
export function installPlan(spec: AppSpec, revisionFiles: readonly string[]): FileCopy[] {
  const copies: FileCopy[] = [];
  spec.files.forEach((entry, i) => {
    const source = entry.source.replace(/^\/+|\/+$/g, '');
    const destination = entry.destination.replace(/\/+$/, '') || '/';
    const join = (rest: string) => (destination === '/' ? `/${rest}` : `${destination}/${rest}`);
    const matched = revisionFiles.filter((f) => source === '' || f === source || f.startsWith(`${source}/`));
    if (matched.length === 0) throw new DefinitionError([{ path: `files[${i}].source`, message: `${entry.source} is not in the revision` }], 'appspec');
    for (const file of matched) {
      const rest = source === '' ? file : file === source ? (source.split('/').pop() ?? file) : file.slice(source.length + 1);
      copies.push({ from: file, to: join(rest) });
    }
  });
  return copies;
}

/** A mode (and, where the agent runs as root, an owner and group) that `permissions` gives an installed file. */
export interface PermissionChange {
  /** Absolute path on the instance. */
  path: string;
  mode?: string;
  owner?: string;
  group?: string;
}

/**
 * What `permissions` does to the files an install wrote: each entry applies to the files below its
 * `object` whose path (relative to it) matches `pattern` and no `except` glob, when its `type` includes
 * files. Later entries win, as they are applied in order.
 */
export function permissionChanges(spec: AppSpec, installed: readonly string[]): PermissionChange[] {
  const changes: PermissionChange[] = [];
  for (const p of spec.permissions) {
    if (p.type && !p.type.includes('file')) continue;
    if (p.mode === undefined && p.owner === undefined && p.group === undefined) continue;
    const object = p.object.replace(/\/+$/, '');
    const matches = picomatch(p.pattern, { dot: true });
    const excluded = p.except.length > 0 ? picomatch(p.except, { dot: true }) : () => false;
    for (const file of installed) {
      if (file !== object && !file.startsWith(`${object}/`)) continue;
      const rest = file === object ? (file.split('/').pop() ?? file) : file.slice(object.length + 1);
      if (!matches(rest) || excluded(rest)) continue;
      changes.push({ path: file, ...(p.mode && { mode: p.mode }), ...(p.owner && { owner: p.owner }), ...(p.group && { group: p.group }) });
    }
  }
  return changes;
}
