// Small SVG charts for the demo report, written as text: line charts (with optional bands and markers),
// horizontal grouped bar charts (with optional interval whiskers) and heat maps with a colour legend.
// Policy: every chart is self-contained SVG (no scripts, no external fonts or styles; the page's CSS
// sets the font), sized in user units with a viewBox so it scales with the page, and deterministic
// (numbers are printed with fixed precision). Styling follows paper figures: light grid, ticks at
// 1-2-5 steps, axis labels, a legend above the plot.
// Cost: proportional to the points drawn; heat maps average columns down to at most `maxColumns`.
import Foundation

/// Escapes text for XML/HTML content and attribute values.
func xmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// A coordinate with two decimals (enough for a screen, and stable across runs).
private func f(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    if r == r.rounded() { return String(Int(r)) }
    return String(format: "%.2f", r)
}

/// Colour-blind-safe categorical colours (Paul Tol's "bright" scheme).
let chartPalette = ["#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"]

/// Tick values at 1, 2 or 5 × 10^k covering [lo, hi], about `count` of them.
/// Worked example: lo 0.3, hi 9.7, count 5: raw step 1.88 → 2; ticks 0, 2, 4, 6, 8, 10.
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    guard lo.isFinite, hi.isFinite else { return [0, 1] }
    var lo = lo, hi = hi
    if hi - lo < 1e-12 { lo -= max(abs(lo) * 0.1, 0.5); hi += max(abs(hi) * 0.1, 0.5) }
    let raw = (hi - lo) / Double(max(count, 1))
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    let first = floor(lo / step + 1e-9) * step, last = ceil(hi / step - 1e-9) * step
    var ticks: [Double] = []
    var v = first
    while v <= last + step * 1e-6 {
        ticks.append(abs(v) < step * 1e-9 ? 0 : v)
        v += step
    }
    return ticks
}

/// A tick label: SI suffixes above a thousand, and as many decimals as the step needs.
func tickLabel(_ v: Double, step: Double) -> String {
    let a = abs(v)
    func trimmed(_ x: Double, _ suffix: String, _ s: Double) -> String {
        let decimals = s >= 1 ? 0 : min(3, Int(ceil(-log10(s) - 1e-9)))
        return String(format: "%.\(decimals)f", x) + suffix
    }
    if a >= 1e9 { return trimmed(v / 1e9, "G", step / 1e9) }
    if a >= 1e6 { return trimmed(v / 1e6, "M", step / 1e6) }
    if a >= 1e4 { return trimmed(v / 1e3, "k", step / 1e3) }
    return trimmed(v, "", step)
}

/// A linear map from a data interval onto a pixel interval.
struct LinearScale {
    var domain: (Double, Double)
    var range: (Double, Double)
    func callAsFunction(_ v: Double) -> Double {
        let span = domain.1 - domain.0
        let t = span == 0 ? 0.5 : (v - domain.0) / span
        return range.0 + t * (range.1 - range.0)
    }
}

/// The outer frame shared by the charts: an `<svg>` element with a viewBox and an accessible title.
private func svgDocument(width: Double, height: Double, title: String, body: String) -> String {
    """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(f(width)) \(f(height))" width="\(f(width))" height="\(f(height))" role="img" aria-label="\(xmlEscape(title))">
    <title>\(xmlEscape(title))</title>
    \(body)</svg>
    """
}

/// A legend row of coloured keys, laid out left to right from (x, y).
private func legend(_ entries: [(name: String, color: String, kind: LegendKind)], x: Double, y: Double, maxWidth: Double) -> String {
    var out = "<g class=\"legend\">"
    var cx = x, cy = y
    for e in entries {
        let w = 26 + Double(e.name.count) * 6.6
        if cx + w > x + maxWidth && cx > x { cx = x; cy += 16 }
        switch e.kind {
        case .line(let dashed):
            out += "<line x1=\"\(f(cx))\" y1=\"\(f(cy))\" x2=\"\(f(cx + 16))\" y2=\"\(f(cy))\" stroke=\"\(e.color)\" stroke-width=\"2\"\(dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
        case .lineMarker:
            out += "<line x1=\"\(f(cx))\" y1=\"\(f(cy))\" x2=\"\(f(cx + 16))\" y2=\"\(f(cy))\" stroke=\"\(e.color)\" stroke-width=\"2\"/>"
            out += "<circle cx=\"\(f(cx + 8))\" cy=\"\(f(cy))\" r=\"3.2\" fill=\"\(e.color)\" stroke=\"#fff\" stroke-width=\"0.8\"/>"
        case .marker:
            out += "<circle cx=\"\(f(cx + 8))\" cy=\"\(f(cy))\" r=\"3.5\" fill=\"\(e.color)\"/>"
        case .box:
            out += "<rect x=\"\(f(cx + 2))\" y=\"\(f(cy - 5))\" width=\"12\" height=\"10\" fill=\"\(e.color)\"/>"
        case .band:
            out += "<rect x=\"\(f(cx))\" y=\"\(f(cy - 5))\" width=\"16\" height=\"10\" fill=\"\(e.color)\" fill-opacity=\"0.25\" stroke=\"\(e.color)\"/>"
        }
        out += "<text x=\"\(f(cx + 21))\" y=\"\(f(cy + 4))\">\(xmlEscape(e.name))</text>"
        cx += w
    }
    return out + "</g>"
}

private enum LegendKind { case line(dashed: Bool), lineMarker, marker, box, band }

/// Number of legend rows `legend` will use.
private func legendRows(_ names: [String], maxWidth: Double) -> Int {
    var rows = 1, cx = 0.0
    for n in names {
        let w = 26 + Double(n.count) * 6.6
        if cx + w > maxWidth && cx > 0 { rows += 1; cx = 0 }
        cx += w
    }
    return names.isEmpty ? 0 : rows
}

/// One line of a line chart.
struct LineSeries {
    var name: String
    var color: String
    var points: [(x: Double, y: Double)]
    var dashed = false
    /// Draw a dot at each point (for sparse series such as validation loss).
    var markers = false
    /// A shaded band (lo...hi at each x) drawn under the line, e.g. a bias range.
    var band: [(x: Double, lo: Double, hi: Double)] = []
}

/// A line chart with x and y axes, grid, ticks, axis labels and a legend.
func lineChart(title: String, series: [LineSeries], xLabel: String, yLabel: String,
               width: Double = 800, height: Double = 300, yIncludesZero: Bool = false) -> String {
    let xs = series.flatMap { $0.points.map(\.x) + $0.band.map(\.x) }
    var ys = series.flatMap { $0.points.map(\.y) + $0.band.flatMap { [$0.lo, $0.hi] } }.filter(\.isFinite)
    if yIncludesZero { ys.append(0) }
    let rows = legendRows(series.map(\.name), maxWidth: width - 80)
    let top = 10 + Double(rows) * 16 + 6, left = 62.0, right = 18.0, bottom = 44.0
    // The x axis spans the data exactly (ticks inside it); the y axis is widened to whole ticks.
    let xLo = min(xs.min() ?? 0, 0), xHi = max(xs.max() ?? 1, xLo + 1e-9)
    let xt = niceTicks(xLo, xHi).filter { $0 >= xLo - 1e-9 && $0 <= xHi * (1 + 1e-9) }, yt = niceTicks(ys.min() ?? 0, ys.max() ?? 1)
    let x = LinearScale(domain: (xLo, xHi), range: (left, width - right))
    let y = LinearScale(domain: (yt.first!, yt.last!), range: (height - bottom, top))
    var body = axes(x: x, y: y, xTicks: xt, yTicks: yt, xLabel: xLabel, yLabel: yLabel, width: width, height: height, top: top, left: left, bottom: bottom)
    for s in series where !s.band.isEmpty {
        let upper = s.band.map { "\(f(x($0.x))),\(f(y($0.hi)))" }
        let lower = s.band.reversed().map { "\(f(x($0.x))),\(f(y($0.lo)))" }
        body += "<polygon class=\"band\" points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(s.color)\" fill-opacity=\"0.22\" stroke=\"none\"/>"
    }
    for s in series where s.points.count > 1 {
        let d = s.points.enumerated().map { i, p in (i == 0 ? "M" : "L") + "\(f(x(p.x))),\(f(y(p.y)))" }.joined()
        body += "<path class=\"series\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\" stroke-linejoin=\"round\"\(s.dashed ? " stroke-dasharray=\"5 3\"" : "")/>"
    }
    for s in series where s.markers || s.points.count == 1 {
        for p in s.points {
            body += "<circle cx=\"\(f(x(p.x)))\" cy=\"\(f(y(p.y)))\" r=\"3.2\" fill=\"\(s.color)\" stroke=\"#fff\" stroke-width=\"0.8\"/>"
        }
    }
    body += legend(series.map { s in (s.name, s.color, s.band.isEmpty ? (s.markers ? (s.points.count < 2 ? .marker : .lineMarker) : .line(dashed: s.dashed)) : .band) },
                   x: left, y: 14, maxWidth: width - left - right)
    return svgDocument(width: width, height: height, title: title, body: body)
}

/// Grid lines, tick marks and labels, axis titles.
private func axes(x: LinearScale, y: LinearScale, xTicks: [Double], yTicks: [Double], xLabel: String, yLabel: String,
                  width: Double, height: Double, top: Double, left: Double, bottom: Double) -> String {
    var out = "<g class=\"axes\">"
    let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1, yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
    for t in yTicks {
        out += "<line class=\"grid\" x1=\"\(f(x.range.0))\" x2=\"\(f(x.range.1))\" y1=\"\(f(y(t)))\" y2=\"\(f(y(t)))\"/>"
        out += "<text class=\"tick\" x=\"\(f(x.range.0 - 6))\" y=\"\(f(y(t) + 4))\" text-anchor=\"end\">\(tickLabel(t, step: yStep))</text>"
    }
    for t in xTicks {
        out += "<line class=\"tickmark\" x1=\"\(f(x(t)))\" x2=\"\(f(x(t)))\" y1=\"\(f(y.range.0))\" y2=\"\(f(y.range.0 + 4))\"/>"
        out += "<text class=\"tick\" x=\"\(f(x(t)))\" y=\"\(f(y.range.0 + 17))\" text-anchor=\"middle\">\(tickLabel(t, step: xStep))</text>"
    }
    out += "<line class=\"axis\" x1=\"\(f(x.range.0))\" x2=\"\(f(x.range.1))\" y1=\"\(f(y.range.0))\" y2=\"\(f(y.range.0))\"/>"
    out += "<line class=\"axis\" x1=\"\(f(x.range.0))\" x2=\"\(f(x.range.0))\" y1=\"\(f(y.range.0))\" y2=\"\(f(top))\"/>"
    out += "<text class=\"label\" x=\"\(f((x.range.0 + x.range.1) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(xmlEscape(xLabel))</text>"
    out += "<text class=\"label\" transform=\"translate(14,\(f((y.range.0 + top) / 2))) rotate(-90)\" text-anchor=\"middle\">\(xmlEscape(yLabel))</text>"
    return out + "</g>"
}

/// One category of a horizontal grouped bar chart: a label and one value per series (nil: no bar).
struct BarGroup {
    var label: String
    var values: [Double?]
    /// An interval drawn as a whisker over the bar of the same index (e.g. a 95% confidence interval).
    var intervals: [(Double, Double)?] = []
    /// Draw the label in bold (e.g. the overall row).
    var emphasized = false
}

/// Horizontal grouped bars: one band per group, one bar per series, the value printed at the bar's end.
func barChart(title: String, groups: [BarGroup], seriesNames: [String], colors: [String], xLabel: String,
              valueFormat: String = "%.3f", width: Double = 800, barHeight: Double = 9) -> String {
    let labelWidth = 16 + 7 * Double(groups.map(\.label.count).max() ?? 8)
    let n = max(seriesNames.count, 1)
    let groupHeight = Double(n) * barHeight + 8
    let rows = seriesNames.count > 1 ? legendRows(seriesNames, maxWidth: width - labelWidth - 20) : 0
    let top = 10 + Double(rows) * 16 + 4, bottom = 42.0, right = 56.0
    let height = top + Double(groups.count) * groupHeight + bottom
    let values = groups.flatMap { $0.values.compactMap { $0 } + $0.intervals.compactMap { $0?.1 } }
    let xt = niceTicks(0, max(values.max() ?? 1, 1e-9))
    let x = LinearScale(domain: (0, xt.last!), range: (labelWidth, width - right))
    var body = "<g class=\"axes\">"
    let step = xt.count > 1 ? xt[1] - xt[0] : 1
    for t in xt {
        body += "<line class=\"grid\" x1=\"\(f(x(t)))\" x2=\"\(f(x(t)))\" y1=\"\(f(top))\" y2=\"\(f(height - bottom))\"/>"
        body += "<text class=\"tick\" x=\"\(f(x(t)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(tickLabel(t, step: step))</text>"
    }
    body += "<line class=\"axis\" x1=\"\(f(labelWidth))\" x2=\"\(f(labelWidth))\" y1=\"\(f(top))\" y2=\"\(f(height - bottom))\"/>"
    body += "<text class=\"label\" x=\"\(f((labelWidth + width - right) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(xmlEscape(xLabel))</text></g>"
    for (g, group) in groups.enumerated() {
        let y0 = top + Double(g) * groupHeight + 4
        if g > 0 { body += "<line class=\"separator\" x1=\"\(f(labelWidth - 4))\" x2=\"\(f(width - right))\" y1=\"\(f(y0 - 4))\" y2=\"\(f(y0 - 4))\"/>" }
        body += "<text class=\"category\(group.emphasized ? " strong" : "")\" x=\"\(f(labelWidth - 8))\" y=\"\(f(y0 + Double(n) * barHeight / 2 + 4))\" text-anchor=\"end\">\(xmlEscape(group.label))</text>"
        for (s, value) in group.values.enumerated() {
            guard let value, value.isFinite else { continue }
            let by = y0 + Double(s) * barHeight
            body += "<rect class=\"bar\" x=\"\(f(labelWidth))\" y=\"\(f(by))\" width=\"\(f(max(x(value) - labelWidth, 0.5)))\" height=\"\(f(barHeight - 1))\" fill=\"\(colors[s % colors.count])\"><title>\(xmlEscape(group.label)) · \(xmlEscape(seriesNames[s])): \(String(format: valueFormat, value))</title></rect>"
            var end = x(value)
            if s < group.intervals.count, let (lo, hi) = group.intervals[s] {
                let cy = by + (barHeight - 1) / 2
                body += "<path class=\"whisker\" d=\"M\(f(x(lo))),\(f(cy))H\(f(x(hi)))M\(f(x(lo))),\(f(cy - 3))V\(f(cy + 3))M\(f(x(hi))),\(f(cy - 3))V\(f(cy + 3))\"/>"
                end = max(end, x(hi))
            }
            body += "<text class=\"value\" x=\"\(f(end + 4))\" y=\"\(f(by + barHeight / 2 + 3))\">\(String(format: valueFormat, value))</text>"
        }
    }
    if seriesNames.count > 1 {
        body += legend(seriesNames.enumerated().map { ($1, colors[$0 % colors.count], .box) }, x: labelWidth, y: 14, maxWidth: width - labelWidth - 20)
    }
    return svgDocument(width: width, height: height, title: title, body: body)
}

/// A colour scale for heat maps: maps a value to a colour and draws its legend.
struct ColorScale {
    var domain: (Double, Double)
    /// Colour stops from domain.0 to domain.1, evenly spaced.
    var stops: [(Double, Double, Double)]
    var label: String
    /// Tick values to print under the legend, with their labels.
    var ticks: [(Double, String)]

    func color(_ v: Double) -> String {
        let t = min(max((v - domain.0) / (domain.1 - domain.0), 0), 1) * Double(stops.count - 1)
        let i = min(Int(t), stops.count - 2), u = t - Double(i)
        let a = stops[i], b = stops[i + 1]
        func c(_ p: Double, _ q: Double) -> Int { Int((p + (q - p) * u).rounded()) }
        return String(format: "#%02x%02x%02x", c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
    }

    /// Diverging blue–white–red on log2(value), centred on 1 (balanced), clipped at ±`limit` doublings.
    static func balance(limit: Double = 2, label: String) -> ColorScale {
        let ticks = stride(from: -limit, through: limit, by: 1).map { v -> (Double, String) in
            (v, v == 0 ? "1" : v < 0 ? "1/\(Int(pow(2, -v)))" : "\(Int(pow(2, v)))")
        }
        return ColorScale(domain: (-limit, limit), stops: [(33, 102, 172), (103, 169, 207), (247, 247, 247), (239, 138, 98), (178, 24, 43)],
                          label: label, ticks: ticks)
    }

    /// Sequential (viridis-like) on log2(value) from 1 up to 2^`limit`.
    static func sequentialRatio(limit: Double, label: String) -> ColorScale {
        let top = max(ceil(limit), 1)
        let ticks = stride(from: 0, through: top, by: max(1, (top / 4).rounded(.up))).map { ($0, "\(Int(pow(2, $0)))") }
        return ColorScale(domain: (0, top), stops: [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)],
                          label: label, ticks: ticks)
    }
}

/// One block of heat-map rows (e.g. one MoE layer), with a title printed above it.
struct HeatBlock {
    var title: String
    var rowLabels: [String]
    /// values[row][column]; nil leaves the cell empty.
    var values: [[Double?]]
}

/// A heat map: blocks of rows over shared columns (positions along `columnX`, e.g. tokens), a colour
/// legend on the right. Columns beyond `maxColumns` are averaged together.
func heatMap(title: String, blocks: [HeatBlock], columnX: [Double], scale: ColorScale, xLabel: String,
             width: Double = 800, rowHeight: Double = 7, maxColumns: Int = 160) -> String {
    // 1. Merge columns down to at most maxColumns (means of runs of adjacent columns).
    let C = columnX.count, group = max(1, (C + maxColumns - 1) / maxColumns)
    let merged = stride(from: 0, to: C, by: group).map { $0 ..< min($0 + group, C) }
    func mean(_ row: [Double?], _ r: Range<Int>) -> Double? {
        let vs = r.compactMap { $0 < row.count ? row[$0] : nil }
        return vs.isEmpty ? nil : vs.reduce(0, +) / Double(vs.count)
    }
    // 2. Layout.
    let left = 64.0, right = 96.0, top = 8.0, bottom = 44.0, blockGap = 20.0
    let plotW = width - left - right
    let blockHeights = blocks.map { 16 + Double($0.rowLabels.count) * rowHeight }
    let height = top + blockHeights.reduce(0, +) + Double(max(blocks.count - 1, 0)) * blockGap + bottom
    let cellW = plotW / Double(max(merged.count, 1))
    var body = ""
    var y0 = top
    for (b, block) in blocks.enumerated() {
        body += "<text class=\"blocktitle\" x=\"\(f(left))\" y=\"\(f(y0 + 11))\">\(xmlEscape(block.title))</text>"
        let gy = y0 + 16
        for (r, row) in block.values.enumerated() {
            for (c, range) in merged.enumerated() {
                guard let v = mean(row, range), v.isFinite else { continue }
                body += "<rect class=\"cell\" x=\"\(f(left + Double(c) * cellW))\" y=\"\(f(gy + Double(r) * rowHeight))\" width=\"\(f(cellW + 0.3))\" height=\"\(f(rowHeight + 0.3))\" fill=\"\(scale.color(v))\"/>"
            }
        }
        // Row labels: all when there is room, else every few rows.
        let every = rowHeight >= 11 ? 1 : Int((11 / rowHeight).rounded(.up))
        for (r, label) in block.rowLabels.enumerated() where r % every == 0 {
            body += "<text class=\"tick\" x=\"\(f(left - 5))\" y=\"\(f(gy + (Double(r) + 0.5) * rowHeight + 3.5))\" text-anchor=\"end\">\(xmlEscape(label))</text>"
        }
        body += "<rect class=\"frame\" x=\"\(f(left))\" y=\"\(f(gy))\" width=\"\(f(plotW))\" height=\"\(f(Double(block.rowLabels.count) * rowHeight))\"/>"
        y0 += blockHeights[b] + blockGap
    }
    // 3. The x axis: ticks at nice values of columnX, placed at the column holding them.
    let bottomY = y0 - blockGap
    if let lo = columnX.first, let hi = columnX.last {
        let ticks = niceTicks(lo, hi).filter { $0 >= lo && $0 <= hi }
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        let span = max(hi - lo, 1e-12)
        for t in ticks {
            let px = left + (t - lo) / span * plotW
            body += "<line class=\"tickmark\" x1=\"\(f(px))\" x2=\"\(f(px))\" y1=\"\(f(bottomY))\" y2=\"\(f(bottomY + 4))\"/>"
            body += "<text class=\"tick\" x=\"\(f(px))\" y=\"\(f(bottomY + 17))\" text-anchor=\"middle\">\(tickLabel(t, step: step))</text>"
        }
    }
    body += "<text class=\"label\" x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(xmlEscape(xLabel))</text>"
    // 4. The colour legend: a vertical gradient with ticks.
    let lx = width - right + 18, ly = top + 16, lh = min(140, max(bottomY - ly, 60))
    let gradient = "grad-" + String(title.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) }.prefix(24).map(Character.init))
    body += "<defs><linearGradient id=\"\(gradient)\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
    for i in 0 ... 10 {
        let v = scale.domain.0 + (scale.domain.1 - scale.domain.0) * Double(i) / 10
        body += "<stop offset=\"\(f(Double(i) / 10))\" stop-color=\"\(scale.color(v))\"/>"
    }
    body += "</linearGradient></defs>"
    body += "<rect class=\"legendbar\" x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"12\" height=\"\(f(lh))\" fill=\"url(#\(gradient))\"/>"
    for (v, label) in scale.ticks {
        let py = ly + lh - (v - scale.domain.0) / (scale.domain.1 - scale.domain.0) * lh
        body += "<line class=\"tickmark\" x1=\"\(f(lx + 12))\" x2=\"\(f(lx + 16))\" y1=\"\(f(py))\" y2=\"\(f(py))\"/>"
        body += "<text class=\"tick\" x=\"\(f(lx + 19))\" y=\"\(f(py + 4))\">\(xmlEscape(label))</text>"
    }
    body += "<text class=\"label\" x=\"\(f(lx - 4))\" y=\"\(f(ly - 6))\">\(xmlEscape(scale.label))</text>"
    return svgDocument(width: width, height: height, title: title, body: body)
}
