import Foundation

/// The byte-level reader behind `PredictRequest.parse`: a strict single-pass JSON parser
/// (RFC 8259, plus TensorFlow Serving's `NaN`, `Infinity`, `-Infinity` tokens, as its
/// rapidjson reader takes them) that reads the tensor parts of a request straight into `Float`
/// buffers, checking each level's length against the model's input shape as it goes.
///
/// Why not Foundation's `JSONSerialization`: it builds an `NSNumber` (holding a `Decimal`) per
/// number, boxes every list, and the checks then walk `[Any]`; under load that was a third of
/// lamina-serve's time. Here a number is read in place (`Float` fast path, `strtof` for the
/// rare long or extreme ones), the nesting is checked against the expected shape without
/// building anything, and a path such as `instance 3[2][7]` is spelled out only when a request
/// is refused.
///
/// Limits and strictness, as before: the body must be one JSON object (nothing but
/// whitespace after it); strings must be valid UTF-8 without raw control characters and with
/// valid escapes; numbers follow JSON's grammar (no leading zeros, `+`, `.5`, `1.`, hex); values
/// outside float32's range are refused; nesting is limited to `maximumDepth` in values the
/// parser skips (unknown top-level keys) and to the input's rank in tensors; each problem is a
/// `RequestError` (400, or 413 for too many samples), never a trap.
struct RequestReader: ~Copyable {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    /// The deepest nesting accepted in a skipped value (JSONSerialization's limit was 512).
    static let maximumDepth = 128

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    // MARK: - Bytes and whitespace

    @inline(__always) var atEnd: Bool { at >= bytes.count }
    @inline(__always) func peek() -> UInt8 { at < bytes.count ? bytes[at] : 0 }

    @inline(__always) mutating func skipSpace() {
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x0A, 0x0D, 0x09: at += 1
            default: return
            }
        }
    }

    /// Skips whitespace, then consumes `byte` if it is next.
    @inline(__always) mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        if at < bytes.count && bytes[at] == byte {
            at += 1
            return true
        }
        return false
    }

    func malformed(_ what: String) -> RequestError {
        RequestError(400, "malformed JSON: \(what) at byte \(at)")
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws(RequestError) {
        guard consume(byte) else { throw malformed("expected \(what)") }
    }

    /// Opens a list of samples: false when it is empty (and closed). Anything but a list is
    /// skipped (malformed JSON is named as such) and refused with `notAList`.
    mutating func openSampleList(_ notAList: @autoclosure () -> String) throws(RequestError) -> Bool {
        skipSpace()
        guard peek() == UInt8(ascii: "[") else {
            try skipValue(depth: 1)
            throw RequestError(400, notAList())
        }
        at += 1
        return !consume(UInt8(ascii: "]"))
    }

    /// What the next value is, for messages ("a string", "a list", ...); `nil` if nothing valid starts here.
    func kindOfNext() -> String? {
        switch peek() {
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "["): return "a list"
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"): return "a number"
        default: return nil
        }
    }

    // MARK: - Literals and strings

    /// Consumes `word` if the bytes from here spell it.
    mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard bytes.count - at >= n else { return false }
        let p = word.utf8Start
        for k in 0..<n where bytes[at + k] != p[k] { return false }
        at += n
        return true
    }

    /// A string (the opening quote is next), unescaped and checked to be UTF-8.
    mutating func string() throws(RequestError) -> String {
        guard consume(UInt8(ascii: "\"")) else { throw malformed("expected a string") }
        let start = at
        // The common case: no escapes; the bytes are the string.
        while at < bytes.count {
            let c = bytes[at]
            if c == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<at])
                at += 1
                guard let text = String(validating: raw, as: UTF8.self) else { throw malformed("a string is not valid UTF-8") }
                return text
            }
            if c == UInt8(ascii: "\\") { break }
            guard c >= 0x20 else { throw malformed("a control character in a string") }
            at += 1
        }
        var out = [UInt8](bytes[start..<at])
        while true {
            guard at < bytes.count else { throw malformed("an unterminated string") }
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw malformed("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw malformed("an unterminated string") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard literal("\\u") else { throw malformed("a lone surrogate in a string") }
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw malformed("a lone surrogate in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw malformed("a lone surrogate in a string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw malformed("a bad \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw malformed("a bad escape in a string")
                }
            default:
                guard c >= 0x20 else { throw malformed("a control character in a string") }
                out.append(c)
            }
        }
    }

    private mutating func hex4() throws(RequestError) -> UInt32 {
        guard bytes.count - at >= 4 else { throw malformed("a bad \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[at]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw malformed("a bad \\u escape")
            }
            v = v << 4 | UInt32(d)
            at += 1
        }
        return v
    }

    // MARK: - Numbers

    /// A number as float32 (the next byte starts one: `-`, a digit, `N` or `I`); `nil` for a
    /// finite number outside float32's range (the caller names the place). Malformed: throws.
    @inline(__always)
    mutating func float() throws(RequestError) -> Float? {
        let start = at
        var negative = false
        if at < bytes.count && bytes[at] == UInt8(ascii: "-") {
            negative = true
            at += 1
        }
        guard at < bytes.count else { throw malformed("a bad number") }
        var c = bytes[at]
        if c < UInt8(ascii: "0") || c > UInt8(ascii: "9") {
            if !negative && literal("NaN") { return .nan }
            if literal("Infinity") || literal("Inf") { return negative ? -.infinity : .infinity }
            throw malformed("a bad number")
        }
        // Integer part: no leading zeros.
        var mantissa: UInt64 = 0
        var digits = 0          // significant digits kept in `mantissa`
        var dropped = 0         // integer digits beyond 19 (scale by 10 each)
        if c == UInt8(ascii: "0") {
            at += 1
        } else {
            while at < bytes.count {
                c = bytes[at]
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { break }
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(c &- UInt8(ascii: "0"))
                    if mantissa != 0 { digits += 1 }
                } else {
                    dropped += 1
                }
                at += 1
            }
        }
        var exponent = dropped
        var exact = dropped == 0
        if at < bytes.count && bytes[at] == UInt8(ascii: ".") {
            at += 1
            let fractionStart = at
            while at < bytes.count {
                c = bytes[at]
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { break }
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(c &- UInt8(ascii: "0"))
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                } else if c != UInt8(ascii: "0") {
                    exact = false
                }
                at += 1
            }
            guard at > fractionStart else { throw malformed("a bad number (no digits after the point)") }
        }
        if at < bytes.count && (bytes[at] | 0x20) == UInt8(ascii: "e") {
            at += 1
            var exponentNegative = false
            if at < bytes.count && (bytes[at] == UInt8(ascii: "-") || bytes[at] == UInt8(ascii: "+")) {
                exponentNegative = bytes[at] == UInt8(ascii: "-")
                at += 1
            }
            let exponentStart = at
            var e = 0
            while at < bytes.count {
                c = bytes[at]
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { break }
                if e < 100_000 { e = e * 10 + Int(c &- UInt8(ascii: "0")) }
                at += 1
            }
            guard at > exponentStart else { throw malformed("a bad number (no digits in the exponent)") }
            exponent += exponentNegative ? -e : e
        }
        // Exactly representable mantissa and power of ten: one correctly rounded double
        // operation (Clinger's fast path), then to float unless the double sits exactly on a
        // float rounding boundary (where rounding twice could differ from rounding once).
        if exact && mantissa < (1 << 53) && exponent >= -22 && exponent <= 22 {
            let m = Double(mantissa)
            let d = exponent < 0 ? m / Self.powersOfTen[-exponent] : m * Self.powersOfTen[exponent]
            let bits = d.bitPattern & ((1 << 29) - 1)
            if (bits != 1 << 28 || mantissa == 0) && (d == 0 || d >= Double(Float.leastNormalMagnitude)) {
                let f = Float(negative ? -d : d)
                return f.isFinite ? f : nil
            }
        }
        return try slowFloat(from: start)
    }

    static let powersOfTen: [Double] = (0...22).map { (0..<$0).reduce(1.0) { v, _ in v * 10 } }

    /// `strtof` on a copy of the number's text (already checked against JSON's grammar).
    private func slowFloat(from start: Int) throws(RequestError) -> Float? {
        let length = at - start
        guard length < 4096 else { throw malformed("a number of \(length) characters") }
        let value: Float = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for k in 0..<length { buffer[k] = CChar(bitPattern: bytes[start + k]) }
            buffer[length] = 0
            return strtof(buffer.baseAddress!, nil)
        }
        return value.isFinite ? value : nil
    }

    /// Whether the number from `start` to here is within double's range (`strtod`).
    private func doubleInRange(from start: Int) -> Bool {
        let length = at - start
        guard length < 4096 else { return false }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
            for k in 0..<length { buffer[k] = CChar(bitPattern: bytes[start + k]) }
            buffer[length] = 0
            return strtod(buffer.baseAddress!, nil).isFinite
        }
    }

    // MARK: - Skipping

    /// Checks and skips one value of any kind.
    mutating func skipValue(depth: Int = 0) throws(RequestError) {
        skipSpace()
        guard depth < Self.maximumDepth else { throw RequestError(400, "the request nests deeper than \(Self.maximumDepth) levels") }
        switch peek() {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "["):
            at += 1
            if consume(UInt8(ascii: "]")) { return }
            repeat { try skipValue(depth: depth + 1) } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"), "',' or ']' in a list")
        case UInt8(ascii: "{"):
            at += 1
            if consume(UInt8(ascii: "}")) { return }
            repeat {
                skipSpace()
                _ = try string()
                try expect(UInt8(ascii: ":"), "':' after a key")
                try skipValue(depth: depth + 1)
            } while consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
        case UInt8(ascii: "t"): guard literal("true") else { throw malformed("a bad literal") }
        case UInt8(ascii: "f"): guard literal("false") else { throw malformed("a bad literal") }
        case UInt8(ascii: "n"): guard literal("null") else { throw malformed("a bad literal") }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "N"), UInt8(ascii: "I"):
            let start = at
            if try float() == nil, !doubleInRange(from: start) {
                // Beyond float32 is fine in a value nobody reads; beyond double no JSON reader takes.
                throw RequestError(400, "a number beyond the range of double at byte \(start)")
            }
        default: throw malformed(atEnd ? "unexpected end of input" : "unexpected character")
        }
    }

    // MARK: - Tensors

    /// One sample of `shape` (nested lists of exactly those lengths, numbers at the bottom),
    /// appended to `out` in row-major order.
    mutating func sample(_ shape: [Int], level: Int = 0, into out: inout [Float], at place: @autoclosure () -> String,
                         indices: inout [Int]) throws(RequestError) {
        skipSpace()
        if level == shape.count {
            guard let kind = kindOfNext() else { throw malformed(atEnd ? "unexpected end of input" : "unexpected character") }
            guard kind == "a number" else {
                try skipValue(depth: level)   // a malformed value is malformed JSON, not the wrong kind
                throw RequestError(400, "\(Self.name(place(), indices)): expected a number, got \(kind)")
            }
            guard let value = try float() else {
                throw RequestError(400, "\(Self.name(place(), indices)): the value is not a finite float32 value (outside ±3.4028235e38)")
            }
            out.append(value)
            return
        }
        let length = shape[level]
        guard peek() == UInt8(ascii: "[") else {
            guard let kind = kindOfNext() else { throw malformed(atEnd ? "unexpected end of input" : "unexpected character") }
            try skipValue(depth: level)   // a malformed value is malformed JSON, not the wrong kind
            throw RequestError(400, "\(Self.name(place(), indices)): expected a list of \(length) (sample shape \(Array(shape[level...]))), got \(kind)")
        }
        at += 1
        var count = 0
        if !consume(UInt8(ascii: "]")) {
            indices.append(0)
            let leaf = level + 1 == shape.count
            while true {
                if count == length {
                    // More elements than the shape allows: count them for the message.
                    try skipValue(depth: level + 1)
                    count += 1
                } else {
                    indices[indices.count - 1] = count
                    skipSpace()
                    let c = peek()
                    if leaf && (c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))) {
                        // Leaf lists of numbers, the bulk of a request: no recursion.
                        guard let value = try float() else {
                            throw RequestError(400, "\(Self.name(place(), indices)): the value is not a finite float32 value (outside ±3.4028235e38)")
                        }
                        out.append(value)
                    } else {
                        try sample(shape, level: level + 1, into: &out, at: place(), indices: &indices)
                    }
                    count += 1
                }
                if consume(UInt8(ascii: ",")) { continue }
                try expect(UInt8(ascii: "]"), "',' or ']' in a list")
                break
            }
            indices.removeLast()
        }
        guard count == length else {
            throw RequestError(400, "\(Self.name(place(), indices)): expected \(length) values at this level (sample shape \(Array(shape[level...]))), got \(count)")
        }
    }

    static func name(_ place: String, _ indices: [Int]) -> String {
        place + indices.map { "[\($0)]" }.joined()
    }
}
