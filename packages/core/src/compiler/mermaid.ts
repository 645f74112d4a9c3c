/**
 * A Mermaid flowchart of a pipeline: one subgraph per stage, its actions grouped by runOrder, arrows
 * in the order things run. Stage conditions are hexagons: the entry condition before the actions
 * (a dotted arrow past the stage when it skips), the success condition after them, and what a failure
 * does (a retry arrow back to the stage's start, or a rollback). Paste it into a README or a GitHub comment.
 */
import type { Rule } from '../model/conditions';
import type { Pipeline } from '../model/schema';

const id = (...parts: Array<string | number>) => parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
const label = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;
const ruleLines = (rules: readonly Rule[] | undefined) => (rules ?? []).map((r) => `\n${r.name} (${r.provider})`).join('');

export function pipelineToMermaid(pipeline: Pipeline): string {
  const lines = ['flowchart LR'];
  let previous: string[] = [];
  /** Conditions that skip their stage: they point at whatever comes next. */
  let skips: string[] = [];
  pipeline.stages.forEach((stage, s) => {
    lines.push(`  subgraph ${id('stage', s)}[${label(stage.name)}]`, '    direction LR');
    const orders = [...new Set(stage.actions.map((a) => a.runOrder))].sort((a, b) => a - b);
    const inStage: string[][] = orders.map((order) => stage.actions.flatMap((a, i) => (a.runOrder === order ? [id('a', s, i)] : [])));
    stage.actions.forEach((a, i) => {
      lines.push(`    ${id('a', s, i)}[${label(`${a.name}\n(${a.kind})`)}]`);
    });
    for (let k = 1; k < inStage.length; k++) {
      for (const from of inStage[k - 1] ?? []) for (const to of inStage[k] ?? []) lines.push(`    ${from} --> ${to}`);
    }
    let entry = inStage[0] ?? [];
    let exit = inStage.at(-1) ?? [];
    const actionsEntry = entry;
    if (stage.beforeEntry) {
      const node = id('entry', s);
      lines.push(`    ${node}{{${label(`beforeEntry: ${stage.beforeEntry.result} if not met${ruleLines(stage.beforeEntry.rules)}`)}}}`);
      for (const to of entry) lines.push(`    ${node} --> ${to}`);
      entry = [node];
    }
    if (stage.onSuccess) {
      const node = id('success', s);
      lines.push(`    ${node}{{${label(`onSuccess: ${stage.onSuccess.result} if not met${ruleLines(stage.onSuccess.rules)}`)}}}`);
      for (const from of exit) lines.push(`    ${from} --> ${node}`);
      exit = [node];
    }
    if (stage.onFailure) {
      const { result, retryMode, rules } = stage.onFailure;
      const node = id('failure', s);
      const what =
        result === 'RETRY' ? `RETRY once (${retryMode ?? 'FAILED_ACTIONS'})` : result === 'ROLLBACK' ? 'ROLLBACK to the last good execution' : 'FAIL';
      lines.push(`    ${node}{{${label(`onFailure: ${what}${rules ? `, when${ruleLines(rules)}` : ''}`)}}}`);
      for (const from of inStage.flat()) lines.push(`    ${from} -. fails .-> ${node}`);
      if (result === 'RETRY') for (const to of actionsEntry) lines.push(`    ${node} -. retry .-> ${to}`);
    }
    lines.push('  end');
    for (const from of previous) for (const to of entry) lines.push(`  ${from} --> ${to}`);
    for (const from of skips) for (const to of entry) lines.push(`  ${from} -. SKIP .-> ${to}`);
    skips = stage.beforeEntry?.result === 'SKIP' ? [id('entry', s)] : [];
    previous = exit;
  });
  return `${lines.join('\n')}\n`;
}
