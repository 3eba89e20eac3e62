import Foundation

/// Keras 3's progress bar (`keras.utils.Progbar`, `utils/progbar.py`):
/// `12/25 ━━━━━━━━━━━━━━━━━━━━ 4s 55ms/step - accuracy: 0.4712 - loss: 0.7270`.
///
/// ```swift
/// var bar = Progbar(target: files.count, unitName: "file")
/// for (i, file) in files.enumerated() { try process(file); bar.update(i + 1, values: ["errors": errors]) }
/// ```
///
/// - `target: nil` is an unknown length (a dataset that does not know its size): the count
///   shows as `7/Unknown` until `update(_:values:finalize: true)` ends the bar.
/// - `values` are shown as given (Keras's `stateful_metrics`: Lamina's logs are already
///   running means), in name order.
/// - On a terminal the line is redrawn in place (at most every 0.05 s); when stdout is not a
///   terminal only the finished line is printed — a deliberate difference from Keras, which
///   writes every redraw with \b and \r into log files too. `verbose: 2` prints only the
///   finished line, `0` nothing.
public struct Progbar {
    /// The number of steps, nil while unknown.
    public private(set) var target: Int?
    /// 0: silent; 1: a bar (redrawn on a terminal); 2: one finished line.
    public let verbose: Int
    /// What one step is called in the time per step (`55ms/step`).
    public let unitName: String
    let start = Date()
    private var lastDraw = Date.distantPast
    private var firstStepEnd: Date?
    private(set) var current = 0
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    /// A bar of `target` steps (nil: unknown, shown as `7/Unknown`). Keras: `keras.utils.Progbar(target, verbose=1, unit_name="step")`.
    public init(target: Int?, verbose: Int = 1, unitName: String = "step") {
        (self.target, self.verbose, self.unitName) = (target, verbose, unitName)
    }

    static func format(_ logs: [String: Double]) -> String {
        logs.keys.sorted().map { key in
            let v = logs[key]!
            return " - \(key): " + (Swift.abs(v) <= 1e-3 && v != 0 ? String(format: "%.4e", v) : String(format: "%.4f", v))
        }.joined()
    }

    func perStep(_ t: Double) -> String {
        t >= 1 ? String(format: "%.0fs/\(unitName)", t) : t >= 1e-3 ? String(format: "%.0fms/\(unitName)", t * 1e3)
            : String(format: "%.0fus/\(unitName)", t * 1e6)
    }

    /// Shows step `current` with `values`; the bar finishes at the target, or when `finalize`
    /// (which also fixes an unknown target at `current`).
    public mutating func update(_ current: Int, values: [String: Double] = [:], finalize: Bool? = nil) {
        if current >= 1 && firstStepEnd == nil { firstStepEnd = Date() }
        self.current = current
        let finished = finalize ?? (target.map { current >= $0 } ?? false)
        if finished && target == nil { target = current }
        guard verbose > 0 else { return }  // verbose 0: silent
        guard verbose == 1 else { if finished { finish(values) }; return }
        if finished { finish(values); return }
        guard Self.isTerminal, Date().timeIntervalSince(lastDraw) >= 0.05 else { return }
        lastDraw = Date()
        let perStep = stepTime(current)
        var eta = ""
        if let target {
            let left = Int(perStep * Double(target - current))
            eta = left >= 3600 ? String(format: " %d:%02d:%02d", left / 3600, left % 3600 / 60, left % 60)
                : left >= 60 ? String(format: " %d:%02d", left / 60, left % 60) : " \(left)s"
        }
        FileHandle.standardOutput.write(Data(("\r" + bar(current) + eta + " " + self.perStep(perStep) + Self.format(values) + "\u{1B}[K").utf8))
    }

    /// Advances the bar by `n` steps (Keras's `Progbar.add`).
    public mutating func add(_ n: Int, values: [String: Double] = [:]) { update(current + n, values: values) }

    private func stepTime(_ current: Int) -> Double {
        // Keras leaves the first step (tracing, warm-up) out of the estimate.
        if let first = firstStepEnd, current > 1 { return Date().timeIntervalSince(first) / Double(current - 1) }
        return Date().timeIntervalSince(start) / Double(max(current, 1))
    }

    private func bar(_ current: Int) -> String {
        guard let target else {   // Keras: "7/Unknown" and no bar
            return Self.isTerminal ? "\u{1B}[1m\(current)/Unknown\u{1B}[0m" : "\(current)/Unknown"
        }
        let width = String(target).count
        let done = target > 0 ? min(20, 20 * current / target) : 20
        let count = String(repeating: " ", count: max(0, width - String(current).count)) + "\(current)/\(target)"
        if Self.isTerminal {
            return "\u{1B}[1m\(count)\u{1B}[0m \u{1B}[32m" + String(repeating: "━", count: done) + "\u{1B}[37m"
                + String(repeating: "━", count: 20 - done) + "\u{1B}[0m"
        }
        return count + " " + String(repeating: "━", count: 20)
    }

    /// The finished line (as `line`), printed.
    func finish(_ logs: [String: Double]) { print(finishedLine(logs)) }

    func finishedLine(_ logs: [String: Double]) -> String {
        let target = self.target ?? current
        let elapsed = Date().timeIntervalSince(start)
        let perStep = elapsed / Double(max(target, 1))
        if verbose == 1 {
            return (Self.isTerminal ? "\r" : "") + bar(target) + String(format: " %.0fs ", elapsed) + self.perStep(perStep) + Self.format(logs)
                + (Self.isTerminal ? "\u{1B}[K" : "")
        }
        return "\(target)/\(target) - " + String(format: "%.0fs - ", elapsed) + self.perStep(perStep) + Self.format(logs)
    }
}
