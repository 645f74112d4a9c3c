/**
 * A pipeline's stages as boxes joined by arrows, as the CodePipeline console draws them: each stage
 * with its status and actions, each arrow its inbound transition (a disabled one is broken and says
 * why, with a button to enable it again), held executions and stages that did not run.
 */
import type { ExecutionStatus, PipelineState, StageState } from '@stepline/core';
import { csrfField, e, href, pill, shortCommit, tone, when } from './html';

export interface StageGraphOptions {
  /** CSRF token when the page may change transitions; absent for a read-only graph. */
  csrf?: string;
  /** The commit of the execution shown, for its source actions. */
  commitId?: string;
  /** Whether stages without a status did not run because the execution ended before them. */
  ended?: boolean;
}

const ENDED: ReadonlyArray<ExecutionStatus | undefined> = ['Succeeded', 'Failed', 'Stopped', 'Superseded'];
export const executionEnded = (status: ExecutionStatus | undefined) => ENDED.includes(status);

function transition(state: PipelineState, stage: StageState, o: StageGraphOptions, index: number): string {
  const on = stage.inboundTransition.enabled;
  const name = `transition into ${stage.name}`;
  let control = '';
  if (o.csrf !== undefined) {
    control = on
      ? `<details class="tctl"><summary class="btn small">Disable<span class="sr"> ${e(name)}</span></summary><form method="post" action="${href.action('disable-transition')}">${csrfField(o.csrf)}<input type="hidden" name="pipeline" value="${e(state.pipeline)}"><input type="hidden" name="stage" value="${e(stage.name)}"><label for="reason-${index}">Reason</label><input type="text" id="reason-${index}" name="reason" required maxlength="300"><button type="submit" class="danger small">Disable</button></form></details>`
      : `<form method="post" action="${href.action('enable-transition')}">${csrfField(o.csrf)}<input type="hidden" name="pipeline" value="${e(state.pipeline)}"><input type="hidden" name="stage" value="${e(stage.name)}"><button type="submit" class="small">Enable<span class="sr"> ${e(name)}</span></button></form>`;
  }
  const lock = on ? '' : `<span class="lock">disabled: ${e(stage.inboundTransition.reason ?? '')}</span>`;
  return `<li class="arrow${on ? '' : ' off'}" data-transition="${e(stage.name)}" data-enabled="${on}"><span class="sr">${e(name)} ${on ? 'enabled' : 'disabled'}</span><span class="line" aria-hidden="true"></span>${lock}${control}</li>`;
}

export function stageGraph(state: PipelineState, o: StageGraphOptions = {}): string {
  const items = state.stages.map((stage, i) => {
    const arrow = i === 0 ? '' : transition(state, stage, o, i);
    const held = stage.held ? `<p class="held">Held since ${when(stage.held.since)}: ${e(stage.held.reason)}</p>` : '';
    const skipped = !stage.status && o.ended ? '<p class="skipped">Did not run</p>' : '';
    const actions = stage.actions
      .map((a) => {
        const err = a.error
          ? `<div class="err">${e(a.error.code)}: ${e(a.error.message.length > 240 ? `${a.error.message.slice(0, 240)}…` : a.error.message)}</div>`
          : '';
        const commit = a.kind === 'source' && a.status === 'Succeeded' ? shortCommit(o.commitId) : '';
        return `<li class="act" data-action="${e(a.name)}" data-status="${e(a.status ?? 'none')}"><div class="row"><span><span class="name">${e(a.name)}</span> <span class="kind">${e(a.kind)}</span></span>${pill(a.status)}</div><div class="meta">${a.lastStatusChange ? `<span>${when(a.lastStatusChange)}</span>` : ''}${commit}</div>${err}</li>`;
      })
      .join('');
    const box = `<li class="stage t-${tone(stage.status)}" data-stage="${e(stage.name)}" data-status="${e(stage.status ?? 'none')}"><header><h3>${e(stage.name)}</h3>${pill(stage.status)}</header>${held}${skipped}<ul aria-label="Actions of ${e(stage.name)}">${actions}</ul></li>`;
    return arrow + box;
  });
  return `<ol class="stages" aria-label="Stages of ${e(state.pipeline)}">${items.join('')}</ol>`;
}
