// Draw every figure of the report with Plotly (inlined above), mark each plot and the page when done,
// and let the status checkboxes hide results of that status.
(function () {
  "use strict";
  const figures = JSON.parse(document.getElementById("edgeqa-figures").textContent);
  const plots = Array.from(document.querySelectorAll("div.plot[data-plot]"));
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  let drawn = 0;
  const done = () => {
    drawn += 1;
    document.body.dataset.plotsRendered = String(drawn);
    if (drawn === plots.length) document.body.dataset.ready = "true";
  };
  if (plots.length === 0) document.body.dataset.ready = "true";
  for (const el of plots) {
    const fig = figures[Number(el.dataset.plot)];
    Plotly.newPlot(el, fig.data, fig.layout, config).then(() => {
      el.dataset.rendered = "true";
      done();
    });
  }
  for (const box of document.querySelectorAll("input[data-filter]")) {
    box.addEventListener("change", () => document.body.classList.toggle("hide-" + box.dataset.filter, !box.checked));
  }
})();
