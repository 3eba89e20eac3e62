/// Keras's automatic layer names: the snake_case class name and a process-wide counter
/// (`dense`, `dense_1`, ...). Reset with `Lamina.clearSession()`.
enum NameScope {
    static let counters = Locked<[String: Int]>([:])

    static func unique(_ base: String) -> String {
        counters.withLock { counters in
            let n = counters[base, default: 0]
            counters[base] = n + 1
            return n == 0 ? base : "\(base)_\(n)"
        }
    }

    /// Keras's `to_snake_case`: `MaxPooling2D` → `max_pooling2d`, `LeakyReLU` → `leaky_re_lu`,
    /// `SimpleRNN` → `simple_rnn`, `LSTM` → `lstm`.
    static func snakeCase(_ name: String) -> String {
        // Python: re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name) then re.sub(r"([a-z])([A-Z])", r"\1_\2", ...).lower()
        let chars = Array(name)
        var first: [Character] = []
        var i = 0
        while i < chars.count {
            if i > 0, chars[i].isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase {
                first.append("_")
            }
            first.append(chars[i])
            i += 1
        }
        var out: [Character] = []
        for (j, c) in first.enumerated() {
            if j > 0, c.isUppercase, first[j - 1].isLowercase { out.append("_") }
            out.append(c)
        }
        return String(out).lowercased()
    }
}

extension Lamina {
    /// Resets the automatic names, as `keras.backend.clear_session()`.
    public static func clearSession() { NameScope.counters.withLock { $0 = [:] } }
}
