export { type DashboardView, renderDashboard } from './dashboard';
