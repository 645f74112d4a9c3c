export { type DashboardView, escapeHtml, renderDashboard } from './dashboard';
