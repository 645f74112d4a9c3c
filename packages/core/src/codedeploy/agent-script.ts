/**
 * The CodeDeploy agent's work on one instance, as one bash script that SSM Run Command
 * (AWS-RunShellScript) runs there: stop scripts of the last successful revision, the revision
 * downloaded from S3 (with the instance profile, as the agent does), the last install's files
 * removed, the new ones copied as appspec `files` says, `permissions` applied, and every other event's
 * scripts in order, each under `timeout` and as its `runas` user. The downloaded files are checked
 * against the artifact's manifest (`sha256sum -c`) before anything is placed, as every other consumer
 * of an artifact checks them. The instance keeps its revisions
 * under /opt/stepline/deployment-root, so the next deployment finds the last successful one.
 *
 * `STEPLINE_INSTANCE_ROOT` (unset on AWS) moves every instance path under a directory: how the
 * script itself is tested on one machine.
 */
import type { ManifestFile } from '../artifacts';
import { type AppSpec, eventScripts, type FileCopy, FileExistsBehavior, LIFECYCLE_ORDER, LifecycleEvent, permissionChanges } from './appspec';

export interface AgentScriptOptions {
  deploymentId: string;
  applicationName: string;
  deploymentGroupName: string;
  /** `s3://bucket/prefix/` of the revision. */
  revisionUri: string;
  /** The revision's appspec. */
  spec: AppSpec;
  /** The last successful revision's appspec, whose stop scripts run first (where the instance has it). */
  previous?: AppSpec | undefined;
  /** Where each file of the revision goes (`installPlan`). */
  files: readonly FileCopy[];
  /** Every file of the revision and its SHA-256, as the artifact's manifest lists them. */
  digests: ReadonlyArray<Pick<ManifestFile, 'path' | 'sha256'>>;
}

/** One word for bash, whatever it holds. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const segment = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

const PRELUDE = `set -u
R="\${STEPLINE_INSTANCE_ROOT:-}"
fail() { echo "$1" >&2; exit 1; }
# hook EVENT DIR SCRIPT TIMEOUT RUNAS: a script of a lifecycle event, from the revision in DIR.
hook() {
  [ -n "$2" ] || return 0
  [ -f "$2/$3" ] || fail "$1: the script $3 is not in the revision"
  chmod +x "$2/$3"
  echo "== $1: $3"
  if [ -n "$5" ] && [ "$5" != "$(id -un)" ]; then
    (cd "$2" && LIFECYCLE_EVENT="$1" timeout "$4" sudo -E -u "$5" "$2/$3")
  else
    (cd "$2" && LIFECYCLE_EVENT="$1" timeout "$4" "$2/$3")
  fi
  rc=$?
  [ "$rc" -eq 124 ] && fail "$1: $3 timed out after $4 s"
  [ "$rc" -eq 0 ] || fail "$1: $3 exited with $rc"
}
# place FROM TO: one file of the revision onto the instance.
place() {
  mkdir -p "$(dirname "$R$2")" && cp -- "$ARCHIVE/$1" "$R$2" || fail "Install: could not copy $1 to $2"
  printf '%s\\n' "$2" >> "$GROUP/last-installed"
}
`;

export function agentScript(o: AgentScriptOptions): string {
  const lines = [
    '#!/bin/bash',
    `# stepline: in-place deployment ${o.deploymentId} of ${o.applicationName}/${o.deploymentGroupName}`,
    PRELUDE,
    `GROUP="$R/opt/stepline/deployment-root/${segment(o.applicationName)}/${segment(o.deploymentGroupName)}"`,
    `ARCHIVE="$GROUP/${segment(o.deploymentId)}/deployment-archive"`,
    `export APPLICATION_NAME=${shellQuote(o.applicationName)} DEPLOYMENT_GROUP_NAME=${shellQuote(o.deploymentGroupName)} DEPLOYMENT_ID=${shellQuote(o.deploymentId)} STEPLINE_ROOT="$R"`,
    'mkdir -p "$GROUP" || fail "cannot create $GROUP"',
    'PREVIOUS=""',
    '[ -s "$GROUP/last-successful" ] && PREVIOUS="$GROUP/$(cat "$GROUP/last-successful")/deployment-archive"',
  ];
  for (const event of LIFECYCLE_ORDER) {
    if (event === LifecycleEvent.DownloadBundle) {
      lines.push(
        'echo "== DownloadBundle"',
        'rm -rf "$ARCHIVE" && mkdir -p "$ARCHIVE" || fail "DownloadBundle: cannot create $ARCHIVE"',
        `aws s3 cp --recursive --only-show-errors ${shellQuote(o.revisionUri)} "$ARCHIVE" || fail ${shellQuote(`DownloadBundle: could not download ${o.revisionUri} (the instance profile needs s3:GetObject and s3:ListBucket on it)`)}`,
        ...digestCheck(o),
      );
      continue;
    }
    if (event === LifecycleEvent.Install) {
      lines.push(...installLines(o));
      continue;
    }
    const step = eventScripts(event, o.spec, o.previous);
    const dir = step.revision === 'previous' ? '"$PREVIOUS"' : '"$ARCHIVE"';
    for (const s of step.scripts) lines.push(`hook ${event} ${dir} ${shellQuote(s.location)} ${s.timeout} ${shellQuote(s.runas ?? '')}`);
  }
  lines.push(`printf '%s' ${shellQuote(segment(o.deploymentId))} > "$GROUP/last-successful"`, 'echo "== deployed"', '');
  return lines.join('\n');
}

const DIGESTS_END = 'STEPLINE_SHA256';

/**
 * `sha256sum -c` over the revision downloaded, in its own format: a name holding a backslash or a
 * newline is escaped and its line starts with a backslash (GNU coreutils). A file that differs or is
 * missing fails DownloadBundle naming it.
 */
function digestCheck(o: AgentScriptOptions): string[] {
  const line = (d: Pick<ManifestFile, 'path' | 'sha256'>) =>
    /[\\\n]/.test(d.path) ? `\\${d.sha256}  ${d.path.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}` : `${d.sha256}  ${d.path}`;
  return [
    `BAD=$(cd "$ARCHIVE" && sha256sum --quiet --strict -c - 2>/dev/null <<'${DIGESTS_END}'`,
    ...o.digests.map(line),
    DIGESTS_END,
    `) || fail "DownloadBundle: the revision downloaded from ${o.revisionUri.replace(/["$`\\]/g, '\\$&')} does not match its manifest ($(printf '%s' "$BAD" | tr '\\n' ';'))"`,
  ];
}

function installLines(o: AgentScriptOptions): string[] {
  const lines = [
    'echo "== Install"',
    // What the last install wrote goes, whether or not that deployment succeeded; the list is kept as
    // files are placed, so what a failed install left is removed by the next one.
    '[ -f "$GROUP/last-installed" ] && while IFS= read -r f; do rm -f -- "$R$f"; done < "$GROUP/last-installed"',
    ': > "$GROUP/last-installed"',
  ];
  for (const f of o.files) {
    const to = shellQuote(f.to);
    const place = `place ${shellQuote(f.from)} ${to}`;
    switch (o.spec.file_exists_behavior) {
      case FileExistsBehavior.Overwrite:
        lines.push(place);
        break;
      case FileExistsBehavior.Retain:
        lines.push(`[ -e "$R"${to} ] || ${place}`);
        break;
      case FileExistsBehavior.Disallow:
        lines.push(
          `[ -e "$R"${to} ] && fail ${shellQuote(`Install: ${f.to} already exists and no earlier deployment wrote it (file_exists_behavior DISALLOW; set OVERWRITE or RETAIN)`)}`,
          place,
        );
        break;
    }
  }
  for (const c of permissionChanges(
    o.spec,
    o.files.map((f) => f.to),
  )) {
    if (c.mode) lines.push(`chmod ${c.mode} -- "$R"${shellQuote(c.path)} || fail ${shellQuote(`Install: chmod ${c.mode} ${c.path} failed`)}`);
    if (c.owner || c.group) {
      const who = `${c.owner ?? ''}${c.group ? `:${c.group}` : ''}`;
      lines.push(`chown ${shellQuote(who)} -- "$R"${shellQuote(c.path)} || fail ${shellQuote(`Install: chown ${who} ${c.path} failed`)}`);
    }
  }
  return lines;
}
