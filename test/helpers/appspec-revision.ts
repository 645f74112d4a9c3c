/**
 * Revisions for the in-place deployment tests: an appspec with a script on every lifecycle event; each
 * hook notes its event and the revision's VERSION in `$STEPLINE_ROOT/journal`, ApplicationStart
 * sleeps when the revision holds `scripts/slow` and starts a daemon when it holds `scripts/daemon`,
 * ValidateService fails unless app/health says healthy (and the daemon beats).
 */
export const LIFECYCLE_EVENTS = [
  'BeforeBlockTraffic',
  'AfterBlockTraffic',
  'ApplicationStop',
  'BeforeInstall',
  'AfterInstall',
  'ApplicationStart',
  'ValidateService',
  'BeforeAllowTraffic',
  'AfterAllowTraffic',
];

export const appspecWithEveryHook = (options: { applicationStartTimeout?: number; runas?: string } = {}) => `version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/app
  - source: config/app.conf
    destination: /etc/app
permissions:
  - object: /var/www/app
    pattern: "*.sh"
    mode: 750
    type: [file]
hooks:
${LIFECYCLE_EVENTS.map(
  (e) =>
    `  ${e}:\n    - location: scripts/hook.sh\n      timeout: ${e === 'ApplicationStart' ? (options.applicationStartTimeout ?? 30) : 30}\n      runas: ${options.runas ?? 'root'}`,
).join('\n')}
`;

const HOOK = `#!/bin/sh
set -e
version=$(cat "$(dirname "$0")/../VERSION")
echo "$LIFECYCLE_EVENT $version" >> "$STEPLINE_ROOT/journal"
case "$LIFECYCLE_EVENT" in
  ApplicationStart)
    [ -f "$(dirname "$0")/slow" ] && sleep 30
    # The application as a daemon that lets go of the script's output, as the agent asks of one.
    if [ -f "$(dirname "$0")/daemon" ]; then
      setsid sh -c 'while :; do touch "$STEPLINE_ROOT/daemon.beat"; sleep 0.1; done' > /dev/null 2>&1 < /dev/null &
    fi
    true ;;
  ValidateService)
    grep -q healthy "$STEPLINE_ROOT/var/www/app/health" || { echo "health check failed" >&2; exit 3; }
    if [ -f "$(dirname "$0")/daemon" ]; then
      rm -f "$STEPLINE_ROOT/daemon.beat"; sleep 1
      [ -f "$STEPLINE_ROOT/daemon.beat" ] || { echo "the daemon ApplicationStart started is not running" >&2; exit 4; }
    fi ;;
esac
`;

export const revisionFiles = (version: string, health: string, extra: Record<string, string> = {}, appspec = appspecWithEveryHook()) => ({
  'appspec.yml': appspec,
  'scripts/hook.sh': HOOK,
  VERSION: version,
  'app/index.html': `<h1>${version}</h1>\n`,
  'app/health': `${health}\n`,
  'app/run.sh': 'echo run\n',
  'config/app.conf': `version=${version}\n`,
  ...extra,
});

/** The journal a first deployment of `version` writes: no stop scripts (no previous revision). */
export const firstDeploymentJournal = (version: string) =>
  ['BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService', 'BeforeAllowTraffic', 'AfterAllowTraffic'].map((e) => `${e} ${version}`);

/** The journal of a deployment of `next` over `previous` that fails ValidateService, then the rollback to `previous`. */
export const rolledBackJournal = (previous: string, next: string) => [
  // The new revision's deployment: the previous one's stop scripts, then its own until ValidateService fails.
  ...['BeforeBlockTraffic', 'AfterBlockTraffic', 'ApplicationStop'].map((e) => `${e} ${previous}`),
  ...['BeforeInstall', 'AfterInstall', 'ApplicationStart', 'ValidateService'].map((e) => `${e} ${next}`),
  // The rollback: a deployment of the previous revision, whose own stop scripts run (the new one never succeeded).
  ...LIFECYCLE_EVENTS.map((e) => `${e} ${previous}`),
];
