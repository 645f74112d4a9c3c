export { type TimelineOptions, timelineChart, trafficChart } from './charts';
export { CONSOLE_JS } from './client';
export { escapeHtml, href } from './html';
export * from './model';
export { executionPage, loginPage, messagePage, type Page, pipelinePage, pipelinesPage, type RenderContext, renderPage, type Section } from './pages';
export { stageGraph } from './stage-graph';
export { CONSOLE_CSS } from './styles';
export { CONSOLE_VERSION } from './version';
