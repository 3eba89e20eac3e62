import Foundation

extension Model {
    /// Keras 3's summary table (`utils/summary_utils.py`, drawn by Rich): box drawing, 76
    /// columns when stdout is not a terminal (88, or 108 with "Connected to", on a wide
    /// one), sizes in bytes, "Optimizer params" once the optimizer has slots. A functional
    /// model that is not a plain chain gets Keras's "Connected to" column (`layer[node][tensor]`).
    public func summaryText(lineLength: Int? = nil) -> String {
        let chain = isSequentialLike
        let width = lineLength ?? (Progbar.isTerminal ? (chain ? 88 : 108) : 76)
        let positions = chain ? [0.45, 0.80, 1.0] : [0.3, 0.56, 0.74, 1.0]
        let widths = Self.richColumnWidths(positions: positions, lineLength: width)
        let rightAligned = [false, false, true, false]
        func rule(_ l: String, _ m: String, _ r: String, _ h: String) -> String {
            l + widths.map { String(repeating: h, count: $0) }.joined(separator: m) + r
        }
        /// One table row, each cell word-wrapped to its column as Rich does.
        func row(_ cells: [String], _ bar: String) -> [String] {
            let wrapped = zip(cells, widths).map { Self.wrap($0, width: $1 - 2) }
            let height = wrapped.map(\.count).max() ?? 1
            return (0..<height).map { i in
                bar + zip(wrapped, widths).enumerated().map { c, pair in
                    let text = i < pair.0.count ? pair.0[i] : ""
                    let pad = String(repeating: " ", count: max(0, pair.1 - 2 - text.count))
                    return " " + (rightAligned[c] ? pad + text : text + pad) + " "
                }.joined(separator: bar) + bar
            }
        }
        let header = ["Layer (type)", "Output Shape", "Param #", "Connected to"].prefix(widths.count)
        var lines = ["Model: \"\(name)\"", rule("┏", "┳", "┓", "━")]
        lines += row(Array(header), "┃")
        lines.append(rule("┡", "╇", "┩", "━"))
        let rows = summaryRows()
        for (i, fields) in rows.enumerated() {
            lines += row(Array(fields.prefix(widths.count)), "│")
            lines.append(i == rows.count - 1 ? rule("└", "┴", "┘", "─") : rule("├", "┼", "┤", "─"))
        }
        if rows.isEmpty { lines.append(rule("└", "┴", "┘", "─")) }
        let bytes = dtype.byteSize
        func size(_ ws: [Variable]) -> Int { ws.reduce(0) { $0 + $1.value.count * ($1.kerasByteSize ?? bytes) } }
        let trainableCount = trainableWeights.reduce(0) { $0 + $1.value.count }
        let nonTrainableCount = nonTrainableWeights.reduce(0) { $0 + $1.value.count }
        let optimizerCount = !(optimizer?.hasSlots ?? false) ? 0 : optimizer!.variableCount
        func line(_ label: String, _ n: Int, _ size: Int) -> String { " \(label): \(Self.grouped(n)) (\(Self.formatBytes(size)))" }
        let (trainableBytes, nonTrainableBytes) = (size(trainableWeights), size(nonTrainableWeights))
        lines.append(line("Total params", trainableCount + nonTrainableCount + optimizerCount,
                          trainableBytes + nonTrainableBytes + optimizerCount * bytes))
        lines.append(line("Trainable params", trainableCount, trainableBytes))
        lines.append(line("Non-trainable params", nonTrainableCount, nonTrainableBytes))
        if optimizerCount > 0 { lines.append(line("Optimizer params", optimizerCount, optimizerCount * bytes)) }
        return lines.joined(separator: "\n")
    }

    /// Prints `summaryText()`. Keras: `model.summary()`.
    public func summary() { print(summaryText()) }

    /// Keras prints a functional model as a Sequential when its graph is a chain: one call
    /// per depth, each of one input, no layer called twice.
    private var isSequentialLike: Bool {
        guard !(self is Sequential), !isSubclassed else { return true }
        guard inputs.count == 1, outputs.count == 1 else { return false }
        var calls = Set<ObjectIdentifier>(), consumers: [ObjectIdentifier: Int] = [:]
        for node in nodes {
            guard node.inputs.count <= 1, calls.insert(ObjectIdentifier(node.layer)).inserted else { return false }
            for parent in node.parents { consumers[ObjectIdentifier(parent), default: 0] += 1 }
        }
        return consumers.values.allSatisfy { $0 <= 1 }
    }

    /// Name (type), output shape, parameter count and connections of each layer.
    private func summaryRows() -> [[String]] {
        func shape(_ s: [Int]) -> String { "(" + (["None"] + s.map(String.init)).joined(separator: ", ") + ")" }
        func params(_ layer: Layer) -> String { layer.isBuilt ? Self.grouped(layer.countParams()) : "0 (unbuilt)" }
        if let sequential = self as? Sequential {
            var current = sequential.modelInputShape
            return layers.map { layer in
                var out = "?", count = "0 (unbuilt)"
                if let s = current, let o = try? layer.computeOutputShape(s) {
                    (out, count, current) = (shape(o), params(layer), o)
                } else { current = nil }
                return ["\(layer.name) (\(layer.className))", out, count, "-"]
            }
        }
        if isSubclassed {
            // Keras: each tracked layer with the output shape of its (last) call, once built.
            return layers.map { ["\($0.name) (\($0.className))", $0.outputShape.map(shape) ?? "?", params($0), "-"] }
        }
        let callsOf = Dictionary(grouping: nodes, by: { ObjectIdentifier($0.layer) })
        return layers.map { layer in
            let calls = callsOf[ObjectIdentifier(layer)] ?? []
            let shapes = calls.first?.outputShapes.map(shape) ?? []
            let out = shapes.count == 1 ? shapes[0] : "[" + shapes.joined(separator: ", ") + "]"
            let connections = calls.flatMap { node in
                node.inputs.map { "\($0.layer?.name ?? "?")[\($0.node?.callIndex ?? 0)][\($0.index)]" }
            }
            return ["\(layer.name) (\(layer.className))", out, params(layer), connections.isEmpty ? "-" : connections.joined(separator: ", ")]
        }
    }

    /// Rich's column widths (padding included) for Keras's relative positions: each column gets
    /// its share of the line, then the excess over the line (borders and padding) is taken from
    /// the columns in turn, rounding half to even as Python does (`rich._ratio.ratio_reduce`).
    static func richColumnWidths(positions: [Double], lineLength: Int) -> [Int] {
        var widths: [Int] = [], current = 0
        for p in positions {
            let w = Int(p * Double(lineLength)) - current
            widths.append(w + 2)
            current += w
        }
        var excess = widths.reduce(0, +) - (lineLength - (positions.count + 1))
        var ratio = widths.count
        for i in widths.indices where excess > 0 {
            let taken = min(widths[i], Int((Double(excess) / Double(ratio)).rounded(.toNearestOrEven)))
            widths[i] -= taken
            excess -= taken
            ratio -= 1
        }
        return widths
    }

    /// Greedy word wrap at spaces; a word longer than the line is cut with "…" (Rich's default
    /// `overflow="ellipsis"`).
    static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0, text.count > width else { return [text] }
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = line.isEmpty ? word : line + " " + word
            if candidate.count <= width { line = candidate; continue }
            if !line.isEmpty { lines.append(line) }
            line = word.count <= width ? word : String(word.prefix(width - 1)) + "…"
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    static func grouped(_ n: Int) -> String { n.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }

    static func formatBytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return String(format: "%.2f %@", v, units[u])
    }
}
