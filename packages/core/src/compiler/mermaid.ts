/**
 * A Mermaid flowchart of a pipeline: one subgraph per stage, its actions grouped by runOrder, arrows
 * in the order things run. Paste it into a README or a GitHub comment.
 */
import type { Pipeline } from '../model/schema';

const id = (...parts: Array<string | number>) => parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
const label = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;

export function pipelineToMermaid(pipeline: Pipeline): string {
  const lines = ['flowchart LR'];
  let previous: string[] = [];
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
    lines.push('  end');
    const entry = inStage[0] ?? [];
    for (const from of previous) for (const to of entry) lines.push(`  ${from} --> ${to}`);
    previous = inStage.at(-1) ?? [];
  });
  return `${lines.join('\n')}\n`;
}
