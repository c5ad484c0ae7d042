// Draw every figure of the report with Plotly (inlined above), in page order, one at a time with the event loop
// free between them (the top of a large report is readable and scrollable at once); mark each plot and, when all
// are drawn, the page (body[data-ready]). The status checkboxes hide results of that status.
(function () {
  "use strict";
  const figures = JSON.parse(document.getElementById("edgeqa-figures").textContent);
  const plots = Array.from(document.querySelectorAll("div.plot[data-plot]"));
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  const pause = () => new Promise((resolve) => setTimeout(resolve, 0));
  async function drawAll() {
    for (const el of plots) {
      const fig = figures[Number(el.dataset.plot)];
      await Plotly.newPlot(el, fig.data, fig.layout, config);
      el.dataset.rendered = "true";
      document.body.dataset.plotsRendered = String(Number(document.body.dataset.plotsRendered || 0) + 1);
      await pause();
    }
    document.body.dataset.ready = "true";
  }
  drawAll().catch((err) => console.error("edgeqa: a plot could not be drawn:", err));
  for (const box of document.querySelectorAll("input[data-filter]")) {
    box.addEventListener("change", () => document.body.classList.toggle("hide-" + box.dataset.filter, !box.checked));
  }
})();
