// Charts drawn as SVG here (no chart library): grouped bars by week and
// horizontal bars by category. Each chart has a table beside it for screen
// readers and for the exact figures.
import {formatDate, t} from "../i18n.js";
import {h} from "../dom.js";

const W = 640;

function svgText(x, y, text, anchor = "middle") {
  return h("svg:text", {x, y, "text-anchor": anchor}, text);
}

export function weeklyBars(weeks, series, title) {
  const height = 240;
  const left = 36;
  const bottom = 40;
  const top = 12;
  const max = Math.max(1, ...weeks.flatMap((week) => series.map((s) => week[s.key] || 0)));
  const slot = (W - left - 8) / Math.max(weeks.length, 1);
  const barWidth = Math.max(4, (slot - 6) / series.length);
  const scale = (value) => ((height - bottom - top) * value) / max;
  const svg = h("svg:svg", {class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": title});
  svg.append(h("svg:line", {class: "axis", x1: left, y1: height - bottom, x2: W - 4, y2: height - bottom}));
  svg.append(h("svg:line", {class: "axis", x1: left, y1: top, x2: left, y2: height - bottom}));
  svg.append(svgText(left - 4, top + 8, String(max), "end"), svgText(left - 4, height - bottom, "0", "end"));
  weeks.forEach((week, index) => {
    const x0 = left + index * slot + 3;
    series.forEach((s, n) => {
      const value = week[s.key] || 0;
      const barHeight = scale(value);
      svg.append(h("svg:rect", {class: s.className, x: x0 + n * barWidth, y: height - bottom - barHeight,
        width: barWidth - 1, height: Math.max(barHeight, value ? 1 : 0)},
      h("svg:title", {}, `${s.name}, ${formatDate(week.week)}: ${value}`)));
    });
    if (weeks.length <= 12 || index % 2 === 0) {
      const [, month, day] = week.week.split("-");
      svg.append(svgText(x0 + (slot - 6) / 2, height - bottom + 16, `${day}.${month}`));
    }
  });
  const legend = h("ul", {class: "legend"}, series.map((s) =>
    h("li", {}, h("span", {class: ["swatch", s.className], "aria-hidden": "true"}), s.name)));
  const figures = h("details", {}, h("summary", {}, t("stats.figures")),
    h("div", {class: "table-wrap"}, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {scope: "col"}, t("stats.week")),
        series.map((s) => h("th", {scope: "col"}, s.name)))),
      h("tbody", {}, weeks.map((week) => h("tr", {}, h("td", {}, formatDate(week.week)),
        series.map((s) => h("td", {}, String(week[s.key] || 0)))))))));
  return h("figure", {class: "figure"}, h("figcaption", {}, h("h3", {}, title)), svg, legend, figures);
}

export function horizontalBars(entries, title) {
  const rowHeight = 26;
  const label = 170;
  const height = Math.max(1, entries.length) * rowHeight + 8;
  const max = Math.max(1, ...entries.map((entry) => entry.value));
  const svg = h("svg:svg", {class: "chart", viewBox: `0 0 ${W} ${height}`, role: "img", "aria-label": title});
  entries.forEach((entry, index) => {
    const y = index * rowHeight + 4;
    const width = ((W - label - 60) * entry.value) / max;
    svg.append(svgText(label - 6, y + 15, entry.label, "end"),
      h("svg:rect", {class: "bar-messages", x: label, y, width: Math.max(width, entry.value ? 2 : 0),
        height: rowHeight - 8}, h("svg:title", {}, `${entry.label}: ${entry.value}`)),
      svgText(label + width + 6, y + 15, String(entry.value), "start"));
  });
  return h("figure", {class: "figure"}, h("figcaption", {}, h("h3", {}, title)), svg,
    h("details", {}, h("summary", {}, t("stats.figures")),
      h("ul", {}, entries.map((entry) => h("li", {}, `${entry.label}: ${entry.value}`)))));
}
