import Foundation

/// Keras 3's progress output (`utils/progbar.py`): `12/25 ━━━━━━━━━━━━━━━━━━━━ 4s 55ms/step - accuracy: 0.4712 - loss: 0.7270`.
/// On a terminal the line is redrawn in place (at most every 0.05 s); when stdout is not a
/// terminal Lamina prints only the finished line of each epoch — a deliberate difference
/// from Keras, which writes every redraw with \b and \r into log files too.
package struct ProgressBar {
    let target: Int
    let verbose: Int
    let start = Date()
    private var lastDraw = Date.distantPast
    private var firstStepEnd: Date?
    static let isTerminal = isatty(STDOUT_FILENO) != 0

    package init(target: Int, verbose: Int) { self.target = target; self.verbose = verbose }

    static func format(_ logs: [String: Double]) -> String {
        logs.keys.sorted().map { key in
            let v = logs[key]!
            return " - \(key): " + (Swift.abs(v) <= 1e-3 && v != 0 ? String(format: "%.4e", v) : String(format: "%.4f", v))
        }.joined()
    }

    static func perStep(_ t: Double) -> String {
        t >= 1 ? String(format: "%.0fs/step", t) : t >= 1e-3 ? String(format: "%.0fms/step", t * 1e3) : String(format: "%.0fus/step", t * 1e6)
    }

    package mutating func update(_ current: Int, logs: [String: Double]) {
        if current == 1 { firstStepEnd = Date() }
        guard verbose > 0 else { return }  // verbose 0: silent
        guard verbose == 1 else { if current == target { finish(logs) }; return }
        if current == target { finish(logs); return }
        guard Self.isTerminal, Date().timeIntervalSince(lastDraw) >= 0.05 else { return }
        lastDraw = Date()
        let perStep = stepTime(current)
        let eta = Int(perStep * Double(target - current))
        let etaText = eta >= 3600 ? String(format: "%d:%02d:%02d", eta / 3600, eta % 3600 / 60, eta % 60)
            : eta >= 60 ? String(format: "%d:%02d", eta / 60, eta % 60) : "\(eta)s"
        FileHandle.standardOutput.write(Data(("\r" + bar(current) + " \(etaText) " + Self.perStep(perStep) + Self.format(logs) + "\u{1B}[K").utf8))
    }

    private func stepTime(_ current: Int) -> Double {
        // Keras leaves the first step (tracing, warm-up) out of the estimate.
        if let first = firstStepEnd, current > 1 { return Date().timeIntervalSince(first) / Double(current - 1) }
        return Date().timeIntervalSince(start) / Double(max(current, 1))
    }

    private func bar(_ current: Int) -> String {
        let width = String(target).count
        let done = target > 0 ? 20 * current / target : 20
        let count = String(repeating: " ", count: max(0, width - String(current).count)) + "\(current)/\(target)"
        if Self.isTerminal {
            return "\u{1B}[1m\(count)\u{1B}[0m \u{1B}[32m" + String(repeating: "━", count: done) + "\u{1B}[37m"
                + String(repeating: "━", count: 20 - done) + "\u{1B}[0m"
        }
        return count + " " + String(repeating: "━", count: 20)
    }

    func finish(_ logs: [String: Double]) {
        let elapsed = Date().timeIntervalSince(start)
        let perStep = elapsed / Double(max(target, 1))
        let line: String
        if verbose == 1 {
            line = (Self.isTerminal ? "\r" : "") + bar(target) + String(format: " %.0fs ", elapsed) + Self.perStep(perStep) + Self.format(logs)
                + (Self.isTerminal ? "\u{1B}[K" : "")
        } else {
            line = "\(target)/\(target) - " + String(format: "%.0fs - ", elapsed) + Self.perStep(perStep) + Self.format(logs)
        }
        print(line)
    }
}
