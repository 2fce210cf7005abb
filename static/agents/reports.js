// The reports page's charts: Chart.js (static/vendor/chart.js, its UMD file, loaded before this
// module as a classic script that sets window.Chart) draws the figures the page's tables show,
// from the JSON the server put in the page (templates/agents/reports.html). No animation: the
// figures are there at once, and a test can read the pixels.
import "./catalogue.js";
import { gettext } from "../sealdesk/i18n.js";

const data = JSON.parse(document.getElementById("report-charts")?.textContent ?? "null");
const { Chart } = globalThis;

const COLORS = { taken: "#1f7a4d", unanswered: "#b42318", other: "#8a94a6", missed: "#c77700", declined: "#6941c6" };
const SCORE_COLORS = ["#b42318", "#e4572e", "#f0b429", "#7cb342", "#1f7a4d"];
const PIE_COLORS = ["#1f5fbf", "#1f7a4d", "#c77700", "#b42318", "#6941c6", "#0e7490", "#8a94a6", "#d63384"];

const common = {
  animation: false,
  responsive: true,
  maintainAspectRatio: false,
  plugins: { legend: { position: "bottom" } },
};
const counted = { y: { beginAtZero: true, ticks: { precision: 0 } } };

function bars(id, labels, datasets, { stacked = false, legend = true } = {}) {
  return new Chart(document.getElementById(id), {
    type: "bar",
    data: { labels, datasets },
    options: {
      ...common,
      plugins: { legend: { ...common.plugins.legend, display: legend } },
      scales: { x: { stacked }, y: { ...counted.y, stacked } },
    },
  });
}

if (data && Chart) {
  // Labels and grid lines in the page's own colours, light or dark (static/css/sealdesk.css).
  const page = getComputedStyle(document.documentElement);
  Chart.defaults.color = page.getPropertyValue("--muted").trim() || Chart.defaults.color;
  Chart.defaults.borderColor = page.getPropertyValue("--line").trim() || Chart.defaults.borderColor;
  const { teams, agents, dispositions, satisfaction } = data;
  bars("chart-teams", teams.labels, [
    { label: gettext("Taken"), data: teams.taken, backgroundColor: COLORS.taken },
    { label: gettext("Ended before an agent took them"), data: teams.unanswered, backgroundColor: COLORS.unanswered },
    { label: gettext("Still waiting or parked"), data: teams.other, backgroundColor: COLORS.other },
  ], { stacked: true });
  bars("chart-agents", agents.labels, [
    { label: gettext("Missed"), data: agents.missed, backgroundColor: COLORS.missed },
    { label: gettext("Declined"), data: agents.declined, backgroundColor: COLORS.declined },
  ]);
  new Chart(document.getElementById("chart-dispositions"), {
    type: "doughnut",
    data: { labels: dispositions.labels, datasets: [{ data: dispositions.counts, backgroundColor: PIE_COLORS }] },
    options: common,
  });
  bars("chart-satisfaction", satisfaction.labels, [
    { label: gettext("Conversations"), data: satisfaction.counts, backgroundColor: SCORE_COLORS },
  ], { legend: false });
  // The charts come after the page's catalogue (catalogue.js): the page says when they are drawn.
  document.querySelector(".reports")?.setAttribute("data-charts", "drawn");
}
