import Foundation

extension Sequential {
    /// Keras 3's summary table (`utils/summary_utils.py`): box drawing, 76 columns when
    /// stdout is not a terminal (88 on a wide one), sizes in bytes, "Optimizer params"
    /// once the optimizer has slots.
    public func summaryText(lineLength: Int? = nil) -> String {
        let width = lineLength ?? (ProgressBar.isTerminal ? 88 : 76)
        // Keras's column positions [0.45, 0.80, 1.0] give inner widths 33/24/15 at 76.
        let p1 = Int(Double(width) * 0.45), p2 = Int(Double(width) * 0.80)
        let w1 = p1 - 1, w2 = p2 - p1 - 2, w3 = width - p2 - 1
        func cell(_ s: String, _ w: Int, right: Bool = false) -> String {
            let pad = String(repeating: " ", count: max(0, w - 2 - s.count))
            return " " + (right ? pad + s : s + pad) + " "
        }
        func rule(_ l: String, _ m: String, _ r: String, _ h: String) -> String {
            l + String(repeating: h, count: w1) + m + String(repeating: h, count: w2) + m + String(repeating: h, count: w3) + r
        }
        var lines = ["Model: \"\(name)\""]
        lines.append(rule("┏", "┳", "┓", "━"))
        lines.append("┃" + cell("Layer (type)", w1) + "┃" + cell("Output Shape", w2) + "┃" + cell("Param #", w3, right: true) + "┃")
        lines.append(rule("┡", "╇", "┩", "━"))
        var shape = modelInputShape
        for (i, layer) in layers.enumerated() {
            var out = "?", params = "0 (unbuilt)"
            if let s = shape, let o = try? layer.computeOutputShape(s) {
                out = "(" + (["None"] + o.map(String.init)).joined(separator: ", ") + ")"
                shape = o
                params = layer.countParams().formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
            } else { shape = nil }
            let title = "\(layer.name) (\(layer.className))"
            let titleLines = title.count <= w1 - 2 ? [title] : [layer.name, "(\(layer.className))"]
            for (j, t) in titleLines.enumerated() {
                lines.append("│" + cell(t, w1) + "│" + cell(j == 0 ? out : "", w2) + "│" + cell(j == 0 ? params : "", w3, right: true) + "│")
            }
            lines.append(i == layers.count - 1 ? rule("└", "┴", "┘", "─") : rule("├", "┼", "┤", "─"))
        }
        if layers.isEmpty { lines.append(rule("└", "┴", "┘", "─")) }
        let bytes = dtype.byteSize
        let trainableCount = trainableWeights.reduce(0) { $0 + $1.value.count }
        let nonTrainableCount = nonTrainableWeights.reduce(0) { $0 + $1.value.count }
        let optimizerCount = (optimizer?.slots.isEmpty ?? true) ? 0 : optimizer!.variableCount
        func line(_ label: String, _ n: Int) -> String {
            " \(label): \(n.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))) (\(Self.formatBytes(n * bytes)))"
        }
        lines.append(line("Total params", trainableCount + nonTrainableCount + optimizerCount))
        lines.append(line("Trainable params", trainableCount))
        lines.append(line("Non-trainable params", nonTrainableCount))
        if optimizerCount > 0 { lines.append(line("Optimizer params", optimizerCount)) }
        return lines.joined(separator: "\n")
    }

    /// Prints `summaryText()`. Keras: `model.summary()`.
    public func summary() { print(summaryText()) }

    static func formatBytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return String(format: "%.2f %@", v, units[u])
    }
}
