/* Charts over the dashboard's tables. The tables are the content (accessible, printable); when
   ECharts is available the charts are drawn and the heatmap / trend tables fold behind a
   "表格视图" button. Data come from json_script elements, never from inline script. */
(function () {
  "use strict";
  if (!window.echarts) return;
  var COLOURS = { met: "#0072b2", due: "#dcebf5", due_soon: "#f0e442", overdue: "#d55e00", not_applicable: "#efefef" };
  var TEXT = { met: "#fff", due: "#1d1d1d", due_soon: "#1d1d1d", overdue: "#fff", not_applicable: "#595959" };
  var SYMBOLS = { met: "✓", due: "○", due_soon: "!", overdue: "×", not_applicable: "–" };

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function show(chartId, toggleId, tableId) {
    var el = document.getElementById(chartId);
    el.classList.remove("d-none");
    var toggle = document.getElementById(toggleId);
    toggle.classList.remove("d-none");
    toggle.setAttribute("aria-expanded", "false");
    toggle.classList.add("collapsed");
    document.getElementById(tableId).classList.remove("show");
    return el;
  }

  function heatmap() {
    var d = data("heat-data");
    if (!d || !d.rows.length || window.matchMedia("(max-width: 575.98px)").matches) return null;
    var el = show("heat-chart", "heat-toggle", "heat-table");
    el.style.height = Math.max(160, 60 + d.rows.length * 26) + "px";
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 8, top: 24, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: d.months, position: "top", splitArea: { show: false } },
      yAxis: {
        type: "category", data: d.rows, inverse: true,
        axisLabel: { width: 150, overflow: "truncate" }
      },
      tooltip: {
        formatter: function (p) {
          var c = p.data.cell;
          // The tooltip is HTML: a branch name is the township office's free text, so it is escaped.
          return echarts.format.encodeHTML(d.rows[c.y] + " " + d.months[c.x]) + "<br>" +
            echarts.format.encodeHTML(d.labels[c.s]) + "：已完成 " + c.met + "/" + c.applicable;
        }
      },
      series: [{
        type: "heatmap",
        data: d.cells.map(function (c) {
          return {
            value: [c.x, c.y, 1], cell: c,
            itemStyle: { color: COLOURS[c.s], borderColor: "#fff", borderWidth: 2 },
            label: {
              show: true, color: TEXT[c.s],
              formatter: SYMBOLS[c.s] + (c.n ? " " + c.n : "")
            }
          };
        })
      }]
    });
    chart.on("click", function (p) { if (p.data && p.data.cell) window.location.href = p.data.cell.url; });
    return chart;
  }

  function trend() {
    var d = data("trend-data");
    if (!d || !d.length) return null;
    var el = show("trend-chart", "trend-toggle", "trend-table");
    var chart = echarts.init(el, null, { renderer: "svg" });
    chart.setOption({
      animation: false,
      grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        formatter: function (ps) {
          var p = d[ps[0].dataIndex];
          return echarts.format.encodeHTML(p.label) + "<br>完成率 " + (p.rate === null ? "—" : p.rate + "%") + "（" + p.met + "/" + p.applicable + "）";
        }
      },
      xAxis: { type: "category", data: d.map(function (p) { return p.label.replace(/^\d+年/, ""); }) },
      yAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{
        type: "line", data: d.map(function (p) { return p.rate; }), connectNulls: false,
        symbol: "circle", symbolSize: 7, itemStyle: { color: "#0072b2" }, lineStyle: { width: 2 },
        label: { show: window.innerWidth >= 768, formatter: "{c}%", fontSize: 10 }
      }]
    });
    return chart;
  }

  var charts = [heatmap(), trend()].filter(Boolean);
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
