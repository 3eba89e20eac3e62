import Foundation

// The parts of ONNX's `ModelProto` that `Model.loadONNX` reads, decoded with `ProtobufReader`
// (field numbers from onnx/onnx.proto, the same schema `ONNXExporter` writes).

/// A `TensorProto`: an initializer or a `Constant`'s value, its numbers widened to Double
/// (float32, float64, int32 and int64 data, raw or typed).
struct ONNXTensorProto {
    var name = "", dims: [Int] = [], dataType = 0, values: [Double] = []

    /// The values as a float32 tensor of `dims`.
    var tensor: Tensor { Tensor(shape: dims, scalars: values.map { Float($0) }) }

    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        var r = ProtobufReader(bytes, what: what)
        var raw: ArraySlice<UInt8>?
        var typed: [Double] = []
        while case let (field, value)? = try r.next() {
            switch field {
            case 1: dims += try ONNXTensorProto.ints(value, what)
            case 2: dataType = value.int ?? 0
            case 4:   // float_data: packed fixed32, or one per field
                if let b = value.bytes { typed += try ONNXTensorProto.fixed32s(b, what).map { Double(Float(bitPattern: $0)) } } else if let f = value.float { typed.append(Double(f)) }
            case 5, 7: typed += try ONNXTensorProto.ints(value, what).map(Double.init)   // int32_data, int64_data
            case 8: name = value.string ?? ""
            case 9: raw = value.bytes
            case 10:   // double_data: packed fixed64
                if let b = value.bytes {
                    guard b.count % 8 == 0 else { throw LaminaError(.io, "\(what): double_data of \(b.count) bytes") }
                    typed += stride(from: b.startIndex, to: b.endIndex, by: 8).map { i in
                        Double(bitPattern: b[i..<i + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) })
                    }
                } else if case .fixed64(let v) = value { typed.append(Double(bitPattern: v)) }
            case 13: throw LaminaError(.io, "\(what): tensor \(name) keeps its data in an external file, which loadONNX does not read")
            default: break
            }
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw LaminaError(.io, "\(what): tensor \(name) has dims \(dims)") }
        // Damaged dims can overflow Int: an error, not a trap.
        var count = 1
        for d in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw LaminaError(.io, "\(what): tensor \(name) has dims \(dims), too many elements") }
            count = product
        }
        if let raw {
            let width: Int
            switch dataType {
            case 1, 6: width = 4
            case 7, 11: width = 8
            default: throw LaminaError(.io, "\(what): tensor \(name) has ONNX data type \(dataType) (loadONNX reads float, double, int32 and int64)")
            }
            guard raw.count == count * width else {
                throw LaminaError(.io, "\(what): tensor \(name) holds \(raw.count) bytes for \(count) values of \(width) bytes")
            }
            values = stride(from: raw.startIndex, to: raw.endIndex, by: width).map { i in
                let bits = raw[i..<i + width].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                switch dataType {
                case 1: return Double(Float(bitPattern: UInt32(bits)))
                case 6: return Double(Int32(bitPattern: UInt32(bits)))
                case 7: return Double(Int64(bitPattern: bits))
                default: return Double(bitPattern: bits)
                }
            }
        } else {
            guard typed.count == count else {
                throw LaminaError(.io, "\(what): tensor \(name) holds \(typed.count) values for dims \(dims)")
            }
            values = typed
        }
    }

    /// Repeated varints, packed or one per field.
    static func ints(_ value: ProtobufReader.Value, _ what: String) throws -> [Int] {
        if let i = value.int { return [i] }
        guard let b = value.bytes else { throw LaminaError(.io, "\(what): a repeated integer field has the wrong wire type") }
        // A packed run of varints: no keys between them.
        var out: [Int] = []
        out.reserveCapacity(b.count)
        var i = b.startIndex
        while i < b.endIndex {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < b.endIndex, shift < 64 else { throw LaminaError(.io, "\(what): truncated packed varint") }
                let byte = b[i]; i += 1
                v |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            out.append(Int(truncatingIfNeeded: Int64(bitPattern: v)))
        }
        return out
    }

    static func fixed32s(_ b: ArraySlice<UInt8>, _ what: String) throws -> [UInt32] {
        guard b.count % 4 == 0 else { throw LaminaError(.io, "\(what): packed float field of \(b.count) bytes") }
        return stride(from: b.startIndex, to: b.endIndex, by: 4).map { i in b[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    }
}

/// An `AttributeProto`: one of f, i, s, t, floats, ints.
struct ONNXAttribute {
    var name = "", f: Float?, i: Int?, s: String?, t: ONNXTensorProto?, floats: [Float] = [], ints: [Int] = [], strings: [String] = []

    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        var r = ProtobufReader(bytes, what: what)
        while case let (field, value)? = try r.next() {
            switch field {
            case 1: name = value.string ?? ""
            case 2: f = value.float
            case 3: i = value.int
            case 4: s = value.string
            case 5: if let b = value.bytes { t = try ONNXTensorProto(b, what: what) }
            case 7:
                if let b = value.bytes { floats += try ONNXTensorProto.fixed32s(b, what).map { Float(bitPattern: $0) } } else if let x = value.float { floats.append(x) }
            case 8: ints += try ONNXTensorProto.ints(value, what)
            case 9: strings.append(value.string ?? "")
            default: break
            }
        }
    }
}

/// A `NodeProto`: one operator call.
struct ONNXNode {
    var inputs: [String] = [], outputs: [String] = [], name = "", op = "", domain = ""
    var attributes: [String: ONNXAttribute] = [:]

    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        var r = ProtobufReader(bytes, what: what)
        while case let (field, value)? = try r.next() {
            switch field {
            case 1: inputs.append(value.string ?? "")
            case 2: outputs.append(value.string ?? "")
            case 3: name = value.string ?? ""
            case 4: op = value.string ?? ""
            case 5: if let b = value.bytes { let a = try ONNXAttribute(b, what: what); attributes[a.name] = a }
            case 7: domain = value.string ?? ""
            default: break
            }
        }
    }

    /// "'name' (Op)" for messages.
    var label: String { "node '\(name.isEmpty ? outputs.first ?? "?" : name)' (\(op))" }
}

/// A `ValueInfoProto` of a graph input or output: name, element type and dims (nil: symbolic).
struct ONNXValueInfo {
    var name = "", elementType = 0, dims: [Int?] = []

    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        var r = ProtobufReader(bytes, what: what)
        while case let (field, value)? = try r.next() {
            switch field {
            case 1: name = value.string ?? ""
            case 2:   // TypeProto { tensor_type (1) { elem_type (1), shape (2) { dim (1) { dim_value (1) | dim_param (2) } } } }
                guard let type = value.bytes else { continue }
                var t = ProtobufReader(type, what: what)
                while case let (f, v)? = try t.next() {
                    guard f == 1 else { continue }
                    guard let tensorType = v.bytes else { continue }
                    var tt = ProtobufReader(tensorType, what: what)
                    while case let (f2, v2)? = try tt.next() {
                        if f2 == 1 { elementType = v2.int ?? 0 }
                        guard f2 == 2, let shape = v2.bytes else { continue }
                        var s = ProtobufReader(shape, what: what)
                        while case let (f3, v3)? = try s.next() {
                            guard f3 == 1 else { continue }
                            var dim: Int?
                            if let d = v3.bytes {
                                var dr = ProtobufReader(d, what: what)
                                while case let (f4, v4)? = try dr.next() { if f4 == 1 { dim = v4.int } }
                            }
                            dims.append(dim)
                        }
                    }
                }
            default: break
            }
        }
    }
}

/// A `ModelProto`'s graph and its default-domain opset.
struct ONNXModelProto {
    var opset = 0, graphName = ""
    var nodes: [ONNXNode] = [], initializers: [String: ONNXTensorProto] = [:]
    var inputs: [ONNXValueInfo] = [], outputs: [ONNXValueInfo] = []

    init(_ bytes: [UInt8], what: String) throws {
        var r = ProtobufReader(bytes[...], what: what)
        var graph: ArraySlice<UInt8>?
        while case let (field, value)? = try r.next() {
            switch field {
            case 7: graph = value.bytes
            case 8:   // OperatorSetIdProto { domain (1), version (2) }
                guard let b = value.bytes else { continue }
                var o = ProtobufReader(b, what: what)
                var domain = "", version = 0
                while case let (f, v)? = try o.next() { if f == 1 { domain = v.string ?? "" } else if f == 2 { version = v.int ?? 0 } }
                if domain.isEmpty || domain == "ai.onnx" { opset = version }
            default: break
            }
        }
        guard let graph else { throw LaminaError(.io, "\(what): not an ONNX model (no graph)") }
        var g = ProtobufReader(graph, what: what)
        while case let (field, value)? = try g.next() {
            guard let b = value.bytes else { continue }
            switch field {
            case 1: nodes.append(try ONNXNode(b, what: what))
            case 2: graphName = String(decoding: b, as: UTF8.self)
            case 5: let t = try ONNXTensorProto(b, what: what); initializers[t.name] = t
            case 11: inputs.append(try ONNXValueInfo(b, what: what))
            case 12: outputs.append(try ONNXValueInfo(b, what: what))
            default: break
            }
        }
    }
}
