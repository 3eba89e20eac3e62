import Lamina

/// Just enough of Python's pickle format to read the data files Keras's datasets ship in:
/// CIFAR's batches (Python 2 `cPickle`, protocol 2) and the object arrays inside IMDB's
/// `.npz` (NumPy's protocol 2/3 pickles of lists of ints).
///
/// It never runs code: `GLOBAL` only records a name, `REDUCE` and `BUILD` record the call and
/// the state, and the caller decides what a recorded `numpy.dtype` or `_reconstruct` call
/// means. Containers live in arenas and are referred to by index, so a hostile pickle that
/// makes a list hold itself is just data, not a reference cycle.
struct Pickle {
    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double)
        case string(String), bytes([UInt8])
        case tuple([Value])
        case list(Int), dict(Int), object(Int)       // indices into the arenas
        case global(module: String, name: String)
    }

    struct Object {
        let callable: Value, args: Value
        var state: Value?
    }

    private(set) var lists: [[Value]] = []
    private(set) var dicts: [[(key: Value, value: Value)]] = []
    private(set) var objects: [Object] = []
    private(set) var root: Value = .none

    /// The most container entries (list items, dict pairs, tuple items) one pickle may build,
    /// so a few bytes cannot ask for gigabytes.
    static let maximumItems = 1 << 26

    init(_ bytes: [UInt8], name: String) throws {
        var reader = Reader(bytes: bytes, name: name)
        root = try reader.run(into: &self)
    }

    func list(_ value: Value) -> [Value]? { if case .list(let i) = value { lists[i] } else { nil } }
    func dict(_ value: Value) -> [(key: Value, value: Value)]? { if case .dict(let i) = value { dicts[i] } else { nil } }
    func object(_ value: Value) -> Object? { if case .object(let i) = value { objects[i] } else { nil } }

    /// A dict entry by key, whether the key was pickled as `str` (Python 3) or as Python 2's
    /// byte string.
    func entry(_ value: Value, _ key: String) -> Value? {
        dict(value)?.first { pair in
            switch pair.key {
            case .string(let s): s == key
            case .bytes(let b): b == Array(key.utf8)
            default: false
            }
        }?.value
    }

    // MARK: - NumPy arrays inside pickles

    /// A NumPy array rebuilt from `numpy.core.multiarray._reconstruct` + `BUILD`: numeric
    /// arrays keep their raw bytes, object arrays their pickled items.
    struct NDArray {
        let shape: [Int]
        let descr: String        // "u1", "i8", "O8", …
        let littleEndian: Bool
        let raw: [UInt8]         // numeric arrays
        let items: [Value]       // object arrays
    }

    func numpyArray(_ value: Value, name: String) throws -> NDArray {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): \(why)") }
        guard let object = object(value), case .global(let module, let function) = object.callable,
              ["numpy.core.multiarray", "numpy._core.multiarray"].contains(module), function == "_reconstruct",
              case .tuple(let state)? = object.state, state.count == 5 else {
            throw fail("expected a pickled NumPy array")
        }
        guard case .tuple(let dims) = state[1] else { throw fail("array shape is not a tuple") }
        let shape = try dims.map { dim -> Int in
            guard case .int(let n) = dim, n >= 0 else { throw fail("bad array dimension") }
            return n
        }
        var count = 1
        for n in shape {
            let (p, o) = count.multipliedReportingOverflow(by: n)
            guard !o, p <= NumPy.maximumBytes else { throw fail("array shape \(shape) is too large") }
            count = p
        }
        guard let dtype = self.object(state[2]), case .global(_, "dtype") = dtype.callable,
              case .tuple(let dtypeArgs) = dtype.args, let first = dtypeArgs.first else {
            throw fail("array dtype is not a pickled numpy.dtype")
        }
        let descr: String
        switch first {
        case .string(let s): descr = s
        case .bytes(let b): descr = String(decoding: b, as: UTF8.self)
        default: throw fail("array dtype has no type code")
        }
        var littleEndian = true
        if case .tuple(let dtypeState)? = dtype.state, dtypeState.count > 1 {
            switch dtypeState[1] {
            case .string(">"), .bytes([0x3e]): littleEndian = false
            default: break
            }
        }
        switch state[3] {
        case .bool(true), .int(1...), .int(...(-1)):
            if shape.count > 1 { throw fail("Fortran-ordered pickled arrays are not supported") }
        default: break
        }
        if descr.hasPrefix("O") {
            guard let items = list(state[4]), items.count == count else {
                throw fail("object array of shape \(shape) does not hold \(count) items")
            }
            return NDArray(shape: shape, descr: descr, littleEndian: littleEndian, raw: [], items: items)
        }
        guard let size = Int(descr.dropFirst()), size > 0, size <= 8 else { throw fail("unsupported array dtype '\(descr)'") }
        let raw: [UInt8]
        switch state[4] {
        case .bytes(let b): raw = b
        case .string(let s): raw = s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        default: throw fail("array data is not a byte string")
        }
        guard raw.count == count * size else {
            throw fail("array of shape \(shape) and dtype '\(descr)' needs \(count * size) bytes, holds \(raw.count)")
        }
        return NDArray(shape: shape, descr: descr, littleEndian: littleEndian, raw: raw, items: [])
    }

    /// A Python list or tuple of ints (CIFAR's labels, one IMDB review).
    func ints(_ value: Value, name: String) throws -> [Int] {
        let items: [Value]
        if let list = list(value) { items = list } else if case .tuple(let t) = value { items = t } else {
            throw LaminaError(.io, "\(name): expected a list of ints")
        }
        return try items.map {
            guard case .int(let n) = $0 else { throw LaminaError(.io, "\(name): expected a list of ints") }
            return n
        }
    }

    // MARK: - The machine

    private struct Reader {
        let bytes: [UInt8]
        let name: String
        var at = 0
        var stack: [Value] = []
        var marks: [Int] = []
        var memo: [Int: Value] = [:]
        var items = 0

        init(bytes: [UInt8], name: String) { self.bytes = bytes; self.name = name }

        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(name): not a readable pickle (\(why) at byte \(at))") }

        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - at else { throw fail("truncated") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }
        mutating func byte() throws -> Int { Int(try take(1).first!) }
        mutating func le(_ n: Int) throws -> UInt64 {
            try take(n).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        mutating func line() throws -> String {
            guard let end = bytes[at...].firstIndex(of: 0x0a) else { throw fail("unterminated line") }
            defer { at = end + 1 }
            return String(decoding: bytes[at..<end], as: UTF8.self)
        }
        mutating func pop() throws -> Value {
            guard let top = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw fail("stack underflow") }
            return top
        }
        mutating func popMark() throws -> [Value] {
            guard let mark = marks.popLast(), mark <= stack.count else { throw fail("no mark") }
            defer { stack.removeSubrange(mark...) }
            return Array(stack[mark...])
        }
        mutating func count(_ n: Int) throws {
            items += n
            guard items <= Pickle.maximumItems else { throw fail("more than \(Pickle.maximumItems) items") }
        }
        mutating func text(_ n: Int) throws -> String {
            guard let s = String(validating: try take(n), as: UTF8.self) else { throw fail("string is not UTF-8") }
            return s
        }

        mutating func run(into pickle: inout Pickle) throws -> Value {
            while true {
                let op = try byte()
                switch op {
                case 0x80: _ = try byte()                                   // PROTO
                case 0x95: _ = try le(8)                                    // FRAME
                case 0x2e: return try pop()                                 // STOP
                case 0x28: marks.append(stack.count)                        // MARK
                case 0x30: _ = try pop()                                    // POP
                case 0x31: _ = try popMark()                                // POP_MARK
                case 0x32: let v = try pop(); stack += [v, v]               // DUP
                case 0x4e: stack.append(.none)                              // NONE
                case 0x88: stack.append(.bool(true))                        // NEWTRUE
                case 0x89: stack.append(.bool(false))                       // NEWFALSE
                case 0x4b: stack.append(.int(try byte()))                   // BININT1
                case 0x4d: stack.append(.int(Int(try le(2))))               // BININT2
                case 0x4a: stack.append(.int(Int(Int32(truncatingIfNeeded: try le(4)))))  // BININT
                case 0x8a:                                                  // LONG1
                    let n = try byte()
                    guard n <= 8 else { throw fail("integer wider than 64 bits") }
                    var v = n == 0 ? 0 : try le(n)
                    if n > 0, n < 8, v >> UInt64(8 * n - 1) & 1 == 1 { v |= ~((1 << UInt64(8 * n)) - 1) }
                    stack.append(.int(Int(Int64(bitPattern: v))))
                case 0x49:                                                  // INT (protocol 0)
                    let s = try line()
                    if s == "01" { stack.append(.bool(true)) } else if s == "00" { stack.append(.bool(false)) } else {
                        guard let n = Int(s) else { throw fail("bad INT") }
                        stack.append(.int(n))
                    }
                case 0x47:                                                  // BINFLOAT (big-endian)
                    stack.append(.float(Double(bitPattern: try take(8).reduce(0) { $0 << 8 | UInt64($1) })))
                case 0x55: stack.append(.bytes(Array(try take(try byte()))))             // SHORT_BINSTRING
                case 0x54: stack.append(.bytes(Array(try take(Int(Int32(truncatingIfNeeded: try le(4))))))) // BINSTRING
                case 0x43: stack.append(.bytes(Array(try take(try byte()))))             // SHORT_BINBYTES
                case 0x42: stack.append(.bytes(Array(try take(Int(try le(4))))))         // BINBYTES
                case 0x8e:                                                                      // BINBYTES8
                    let n = try le(8)
                    guard n <= UInt64(bytes.count) else { throw fail("truncated") }
                    stack.append(.bytes(Array(try take(Int(n)))))
                case 0x8c: stack.append(.string(try text(try byte())))                          // SHORT_BINUNICODE
                case 0x58: stack.append(.string(try text(Int(try le(4)))))                      // BINUNICODE
                case 0x8d:                                                                      // BINUNICODE8
                    let n = try le(8)
                    guard n <= UInt64(bytes.count) else { throw fail("truncated") }
                    stack.append(.string(try text(Int(n))))
                case 0x29: stack.append(.tuple([]))                                             // EMPTY_TUPLE
                case 0x85, 0x86, 0x87:                                                          // TUPLE1/2/3
                    let n = op - 0x84
                    guard stack.count - n >= (marks.last ?? 0) else { throw fail("stack underflow") }
                    let t = Array(stack.suffix(n))
                    stack.removeLast(n)
                    stack.append(.tuple(t))
                case 0x74:                                                                      // TUPLE
                    let t = try popMark()
                    try count(t.count)
                    stack.append(.tuple(t))
                case 0x5d, 0x6c:                                                                // EMPTY_LIST, LIST
                    let initial = op == 0x6c ? try popMark() : []
                    try count(initial.count)
                    pickle.lists.append(initial)
                    stack.append(.list(pickle.lists.count - 1))
                case 0x61, 0x65:                                                                // APPEND, APPENDS
                    let new = op == 0x61 ? [try pop()] : try popMark()
                    try count(new.count)
                    guard case .list(let i)? = stack.last else { throw fail("append to a non-list") }
                    pickle.lists[i] += new
                case 0x7d, 0x64:                                                                // EMPTY_DICT, DICT
                    let flat = op == 0x64 ? try popMark() : []
                    guard flat.count % 2 == 0 else { throw fail("odd DICT") }
                    try count(flat.count / 2)
                    pickle.dicts.append(stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) })
                    stack.append(.dict(pickle.dicts.count - 1))
                case 0x73, 0x75:                                                                // SETITEM, SETITEMS
                    let flat: [Value] = op == 0x73 ? try { let v = try pop(); let k = try pop(); return [k, v] }() : try popMark()
                    guard flat.count % 2 == 0 else { throw fail("odd SETITEMS") }
                    try count(flat.count / 2)
                    guard case .dict(let i)? = stack.last else { throw fail("set item on a non-dict") }
                    for j in stride(from: 0, to: flat.count, by: 2) { pickle.dicts[i].append((flat[j], flat[j + 1])) }
                case 0x63:                                                                      // GLOBAL
                    stack.append(.global(module: try line(), name: try line()))
                case 0x93:                                                                      // STACK_GLOBAL
                    let n = try pop(), m = try pop()
                    guard case .string(let module) = m, case .string(let name) = n else { throw fail("bad STACK_GLOBAL") }
                    stack.append(.global(module: module, name: name))
                case 0x52:                                                                      // REDUCE
                    let args = try pop(), callable = try pop()
                    stack.append(try reduce(callable, args, into: &pickle))
                case 0x81:                                                                      // NEWOBJ
                    let args = try pop(), cls = try pop()
                    try count(1)
                    pickle.objects.append(Object(callable: cls, args: args, state: nil))
                    stack.append(.object(pickle.objects.count - 1))
                case 0x62:                                                                      // BUILD
                    let state = try pop()
                    guard case .object(let i)? = stack.last else { throw fail("BUILD on a non-object") }
                    pickle.objects[i].state = state
                case 0x71: memo[try byte()] = try peek()                                       // BINPUT
                case 0x72: memo[Int(try le(4))] = try peek()                                   // LONG_BINPUT
                case 0x94: memo[memo.count] = try peek()                                        // MEMOIZE
                case 0x70:                                                                      // PUT (protocol 0)
                    guard let k = Int(try line()) else { throw fail("bad PUT") }
                    memo[k] = try peek()
                case 0x68, 0x6a, 0x67:                                                          // BINGET, LONG_BINGET, GET
                    let k = op == 0x68 ? try byte() : op == 0x6a ? Int(try le(4)) : (Int(try line()) ?? -1)
                    guard let v = memo[k] else { throw fail("memo \(k) is not set") }
                    stack.append(v)
                default:
                    throw fail(String(format: "opcode 0x%02x is not supported", op))
                }
            }
        }

        func peek() throws -> Value {
            guard let top = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow") }
            return top
        }

        /// Records a call; Python 3's protocol-2 spelling of a byte string,
        /// `_codecs.encode(text, "latin1")`, becomes the bytes it stands for.
        mutating func reduce(_ callable: Value, _ args: Value, into pickle: inout Pickle) throws -> Value {
            if case .global("_codecs", "encode") = callable, case .tuple(let a) = args, a.count == 2,
               case .string(let text) = a[0], case .string(let encoding) = a[1], encoding == "latin1" || encoding == "latin-1" {
                return .bytes(text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            }
            if case .global("__builtin__", "bytes") = callable, case .tuple(let a) = args, a.isEmpty { return .bytes([]) }
            if case .global("builtins", "bytes") = callable, case .tuple(let a) = args, a.isEmpty { return .bytes([]) }
            try count(1)
            pickle.objects.append(Object(callable: callable, args: args, state: nil))
            return .object(pickle.objects.count - 1)
        }
    }
}
