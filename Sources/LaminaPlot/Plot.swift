import Lamina
import Foundation

/// A small SVG plotting module for examples and training curves: line and scatter series
/// with axes, ticks, labels and a legend, composed side by side with `Plot.save(_:to:)`.
///
/// ```swift
/// var plot = Plot(title: "Fit", xLabel: "x", yLabel: "y")
/// plot.scatter(xs, ys, label: "data")
/// plot.line([-1, 1], [-2, 2], label: "fit")
/// try plot.save(to: URL(fileURLWithPath: "fit.svg"))
/// ```
public struct Plot {
    /// How a series is drawn: joined by lines, or as points.
    public enum Kind { case line, scatter }
    /// One data series: its points, legend label, drawing kind and colour.
    public struct Series {
        /// The points, the legend label (empty: none), line or points, and an SVG colour.
        public var x: [Double], y: [Double], label: String, kind: Kind, color: String
    }

    /// The title above the plot and the axis labels.
    public var title: String, xLabel: String, yLabel: String
    /// The series, drawn in order.
    public var series: [Series] = []
    /// Fixed axis ranges; by default each covers its data with a little margin.
    public var xRange: ClosedRange<Double>?, yRange: ClosedRange<Double>?

    /// Matplotlib's default colour cycle ("tab10").
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// An empty plot with a title and axis labels.
    public init(title: String = "", xLabel: String = "", yLabel: String = "") {
        (self.title, self.xLabel, self.yLabel) = (title, xLabel, yLabel)
    }

    /// Adds a line through the points (x[i], y[i]), in the next palette colour unless `color` is given.
    public mutating func line<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        _ x: [X], _ y: [Y], label: String = "", color: String? = nil) {
        add(x, y, label, .line, color)
    }

    /// Adds the points (x[i], y[i]) as dots, in the next palette colour unless `color` is given.
    public mutating func scatter<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        _ x: [X], _ y: [Y], label: String = "", color: String? = nil) {
        add(x, y, label, .scatter, color)
    }

    private mutating func add<X: BinaryFloatingPoint, Y: BinaryFloatingPoint>(
        _ x: [X], _ y: [Y], _ label: String, _ kind: Kind, _ color: String?) {
        precondition(x.count == y.count, "Plot: \(x.count) x values but \(y.count) y values")
        series.append(Series(x: x.map { Double($0) }, y: y.map { Double($0) }, label: label, kind: kind,
                             color: color ?? Plot.palette[series.count % Plot.palette.count]))
    }

    /// A standalone SVG document of this plot.
    public func svg(width: Int = 640, height: Int = 420) -> String {
        SVG.document(width: width, height: height, body: render(x: 0, y: 0, width: Double(width), height: Double(height)))
    }

    /// Writes the plot as an SVG file (atomically).
    public func save(to url: URL, width: Int = 640, height: Int = 420) throws {
        try AtomicFile.write(svg(width: width, height: height), to: url)
    }

    /// Several plots side by side in one SVG file (a figure with one row of panels).
    public static func save(_ plots: [Plot], to url: URL, panelWidth: Int = 520, height: Int = 400) throws {
        let body = plots.enumerated().map {
            $0.element.render(x: Double($0.offset * panelWidth), y: 0, width: Double(panelWidth), height: Double(height))
        }.joined()
        try AtomicFile.write(SVG.document(width: panelWidth * plots.count, height: height, body: body), to: url)
    }

    func render(x: Double, y: Double, width: Double, height: Double) -> String {
        let left = x + 64, right = x + width - 16, top = y + 36, bottom = y + height - 48
        let finite = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
        let xr = xRange ?? Plot.padded(finite.map(\.0), margin: 0.02)
        let yr = yRange ?? Plot.padded(finite.map(\.1), margin: 0.06)
        func px(_ v: Double) -> Double { left + (v - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * (right - left) }
        func py(_ v: Double) -> Double { bottom - (v - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * (bottom - top) }
        var out = "<g class=\"plot\">\n"
        out += "<rect x=\"\(SVG.f(left))\" y=\"\(SVG.f(top))\" width=\"\(SVG.f(right - left))\" height=\"\(SVG.f(bottom - top))\" fill=\"white\" stroke=\"#333\"/>\n"
        for t in Plot.ticks(xr) {
            let p = px(t)
            out += "<line class=\"xtick\" x1=\"\(SVG.f(p))\" y1=\"\(SVG.f(bottom))\" x2=\"\(SVG.f(p))\" y2=\"\(SVG.f(bottom + 5))\" stroke=\"#333\"/>"
            out += SVG.text(Plot.label(t), x: p, y: bottom + 18, anchor: "middle", size: 11) + "\n"
        }
        for t in Plot.ticks(yr) {
            let p = py(t)
            out += "<line class=\"ytick\" x1=\"\(SVG.f(left - 5))\" y1=\"\(SVG.f(p))\" x2=\"\(SVG.f(left))\" y2=\"\(SVG.f(p))\" stroke=\"#333\"/>"
            out += "<line x1=\"\(SVG.f(left))\" y1=\"\(SVG.f(p))\" x2=\"\(SVG.f(right))\" y2=\"\(SVG.f(p))\" stroke=\"#eee\"/>"
            out += SVG.text(Plot.label(t), x: left - 8, y: p + 4, anchor: "end", size: 11) + "\n"
        }
        out += SVG.text(title, x: (left + right) / 2, y: top - 14, anchor: "middle", size: 15, bold: true) + "\n"
        out += SVG.text(xLabel, x: (left + right) / 2, y: bottom + 38, anchor: "middle", size: 13) + "\n"
        out += "<text x=\"\(SVG.f(x + 16))\" y=\"\(SVG.f((top + bottom) / 2))\" font-size=\"13\" font-family=\"sans-serif\" text-anchor=\"middle\" transform=\"rotate(-90 \(SVG.f(x + 16)) \(SVG.f((top + bottom) / 2)))\">\(SVG.escape(yLabel))</text>\n"
        for s in series {
            let points = zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite && xr.contains($0.0) }
            switch s.kind {
            case .line:
                let list = points.map { "\(SVG.f(px($0.0))),\(SVG.f(py(min(max($0.1, yr.lowerBound), yr.upperBound))))" }.joined(separator: " ")
                out += "<polyline class=\"series\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\"\(list)\"/>\n"
            case .scatter:
                out += "<g class=\"series\" fill=\"\(s.color)\" fill-opacity=\"0.7\">"
                for (a, b) in points where yr.contains(b) { out += "<circle cx=\"\(SVG.f(px(a)))\" cy=\"\(SVG.f(py(b)))\" r=\"2.5\"/>" }
                out += "</g>\n"
            }
        }
        let labelled = series.filter { !$0.label.isEmpty }
        if !labelled.isEmpty {  // legend, top right
            let boxWidth = Double(labelled.map(\.label.count).max()! * 7 + 36)
            let lx = right - boxWidth - 8, ly = top + 8
            out += "<g class=\"legend\"><rect x=\"\(SVG.f(lx))\" y=\"\(SVG.f(ly))\" width=\"\(SVG.f(boxWidth))\" height=\"\(labelled.count * 18 + 6)\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>"
            for (i, s) in labelled.enumerated() {
                let rowY = ly + 14 + Double(i * 18)
                out += s.kind == .line
                    ? "<line x1=\"\(SVG.f(lx + 6))\" y1=\"\(SVG.f(rowY - 4))\" x2=\"\(SVG.f(lx + 24))\" y2=\"\(SVG.f(rowY - 4))\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
                    : "<circle cx=\"\(SVG.f(lx + 15))\" cy=\"\(SVG.f(rowY - 4))\" r=\"3\" fill=\"\(s.color)\"/>"
                out += SVG.text(s.label, x: lx + 30, y: rowY, anchor: "start", size: 12)
            }
            out += "</g>\n"
        }
        return out + "</g>\n"
    }

    static func padded(_ values: [Double], margin: Double) -> ClosedRange<Double> {
        guard let lo = values.min(), let hi = values.max() else { return 0...1 }
        if lo == hi { return (lo - 1)...(hi + 1) }
        let pad = (hi - lo) * margin
        return (lo - pad)...(hi + pad)
    }

    /// About five "nice" tick positions (1, 2 or 5 times a power of ten apart) inside `range`.
    static func ticks(_ range: ClosedRange<Double>, target: Int = 5) -> [Double] {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return [range.lowerBound] }
        let raw = span / Double(target), magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var result = [Double]()
        var t = (range.lowerBound / step).rounded(.up) * step
        while t <= range.upperBound + step * 1e-9 { result.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return result
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        let s = String(format: "%.4g", v)
        return s
    }
}

/// A heat map with a value in every cell, for confusion matrices.
public struct HeatMap {
    /// The cell values (rows of equal length) and the labels of rows and columns.
    public var values: [[Double]], rowLabels: [String], columnLabels: [String]
    /// The title and the axis labels.
    public var title: String, xLabel: String, yLabel: String

    /// A heat map of `values`; labels default to the row and column indices.
    public init(_ values: [[Double]], rowLabels: [String]? = nil, columnLabels: [String]? = nil,
                title: String = "", xLabel: String = "", yLabel: String = "") {
        precondition(!values.isEmpty && values.allSatisfy { $0.count == values[0].count }, "HeatMap: rows of unequal length")
        self.values = values
        self.rowLabels = rowLabels ?? values.indices.map(String.init)
        self.columnLabels = columnLabels ?? values[0].indices.map(String.init)
        (self.title, self.xLabel, self.yLabel) = (title, xLabel, yLabel)
    }

    /// A standalone SVG document, `cell` pixels per cell, each cell shaded by its value and labelled with it.
    public func svg(cell: Int = 40) -> String {
        let rows = values.count, cols = values[0].count
        let left = 70.0, top = 50.0, c = Double(cell)
        let width = Int(left + c * Double(cols) + 20), height = Int(top + c * Double(rows) + 50)
        let peak = max(values.flatMap { $0 }.filter(\.isFinite).max() ?? 1, 1e-12)
        var body = SVG.text(title, x: left + c * Double(cols) / 2, y: 24, anchor: "middle", size: 15, bold: true) + "\n"
        for r in 0..<rows {
            for k in 0..<cols {
                let v = values[r][k], t = v.isFinite ? max(0, min(1, v / peak)) : 0
                // white to dark blue
                let shade = { (a: Double, b: Double) in Int((a + (b - a) * t).rounded()) }
                let fill = String(format: "#%02x%02x%02x", shade(247, 8), shade(251, 48), shade(255, 107))
                let x = left + Double(k) * c, y = top + Double(r) * c
                body += "<rect class=\"cell\" x=\"\(SVG.f(x))\" y=\"\(SVG.f(y))\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(fill)\"/>"
                body += SVG.text(Plot.label(v), x: x + c / 2, y: y + c / 2 + 4, anchor: "middle", size: 10,
                                 color: t > 0.5 ? "white" : "black") + "\n"
            }
            body += SVG.text(rowLabels[r], x: left - 8, y: top + (Double(r) + 0.5) * c + 4, anchor: "end", size: 12)
        }
        for k in 0..<cols {
            body += SVG.text(columnLabels[k], x: left + (Double(k) + 0.5) * c, y: top + Double(rows) * c + 16, anchor: "middle", size: 12)
        }
        body += SVG.text(xLabel, x: left + c * Double(cols) / 2, y: top + Double(rows) * c + 38, anchor: "middle", size: 13)
        body += "<text x=\"16\" y=\"\(SVG.f(top + c * Double(rows) / 2))\" font-size=\"13\" font-family=\"sans-serif\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(SVG.f(top + c * Double(rows) / 2)))\">\(SVG.escape(yLabel))</text>\n"
        return SVG.document(width: width, height: height, body: body)
    }

    /// Writes the heat map as an SVG file (atomically).
    public func save(to url: URL, cell: Int = 40) throws {
        try AtomicFile.write(svg(cell: cell), to: url)
    }
}

enum SVG {
    static func document(width: Int, height: Int, body: String) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
        <rect width="100%" height="100%" fill="white"/>
        \(body)</svg>

        """
    }

    static func text(_ s: String, x: Double, y: Double, anchor: String, size: Int, bold: Bool = false,
                     color: String = "#222") -> String {
        guard !s.isEmpty else { return "" }
        return "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" font-family=\"sans-serif\" text-anchor=\"\(anchor)\" fill=\"\(color)\"\(bold ? " font-weight=\"bold\"" : "")>\(escape(s))</text>"
    }

    static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension History {
    /// Training curves as SVG: losses in one panel, each metric beside it, with the
    /// validation curves (`val_...`) in the same panel as their training curve.
    public func plot(to url: URL) throws {
        let names = history.keys.filter { !$0.hasPrefix("val_") && $0 != "learning_rate" }.sorted {
            $0 == "loss" ? true : $1 == "loss" ? false : $0 < $1
        }
        let plots = names.map { name -> Plot in
            var p = Plot(title: name, xLabel: "epoch", yLabel: name)
            let epochs = (history[name] ?? []).indices.map { Double($0 + 1) }
            p.line(epochs, history[name] ?? [], label: name)
            if let val = history["val_" + name] { p.line(epochs, val, label: "val_" + name) }
            return p
        }
        try Plot.save(plots.isEmpty ? [Plot(title: "no history")] : plots, to: url)
    }
}
