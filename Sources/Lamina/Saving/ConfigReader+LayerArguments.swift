import Foundation

extension ConfigReader {
    /// The `name` entry, after checking `data_format` is channels-last (the only layout Lamina has).
    func channelsLastLayerName() throws -> String? {
        if let format = value("data_format"), !(format is NSNull) {
            guard (format as? String) == "channels_last" else { throw error("only data_format 'channels_last' is supported") }
        }
        return try layerName()
    }

    /// A positive int given as `3` or `[3]` (Keras's 1-D sizes); `default` when absent or null.
    func single(_ key: String, default fallback: Int? = nil) throws -> Int {
        let v = value(key)
        if v == nil || v is NSNull, let fallback { return fallback }
        let n = (v as? NSNumber)?.intValue ?? ((v as? [Any]).flatMap { $0.count == 1 ? ($0[0] as? NSNumber)?.intValue : nil })
        guard let n, n >= 1 else { throw error("'\(key)' must be a positive int or a list of one, got \(ConfigReader.show(v as Any))") }
        return n
    }

    /// Keras's `((top, bottom), (left, right))`, also given as one int or a pair (symmetric).
    func pairOfPairs(_ key: String) throws -> ((Int, Int), (Int, Int)) {
        let v = value(key)
        if let n = (v as? NSNumber)?.intValue, n >= 0 { return ((n, n), (n, n)) }
        guard let list = v as? [Any], list.count == 2 else { throw error("'\(key)' must be an int, a pair or a pair of pairs") }
        if let a = (list[0] as? NSNumber)?.intValue, let b = (list[1] as? NSNumber)?.intValue, a >= 0, b >= 0 { return ((a, a), (b, b)) }
        guard let r = list[0] as? [Any], let c = list[1] as? [Any], r.count == 2, c.count == 2,
              case let n = (r + c).compactMap({ ($0 as? NSNumber)?.intValue }), n.count == 4, n.allSatisfy({ $0 >= 0 }) else {
            throw error("'\(key)' must be an int, a pair or a pair of pairs of non-negative ints")
        }
        return ((n[0], n[1]), (n[2], n[3]))
    }
}
