import Foundation
import GRPCCore
import Lamina

/// Reading request tensors from TensorFlow's `TensorProto` and writing outputs into it.
///
/// Accepted encodings, as TensorFlow's clients send them: the typed repeated field
/// (`float_val`, `double_val`, `int_val`, `int64_val`, `half_val`: what
/// `tf.make_tensor_proto(..., shape)` writes for small or explicit tensors and what hand-built
/// protos use) and `tensor_content` (raw little-endian bytes: what `tf.make_tensor_proto`
/// writes for NumPy arrays). Like TensorFlow, a repeated field shorter than the shape is
/// padded with its last value (one value fills the tensor). dtypes DT_FLOAT, DT_DOUBLE,
/// DT_HALF, DT_INT32 and DT_INT64 become Float32; others are INVALID_ARGUMENT.
enum TensorProtoCoding {
    /// The most values one request tensor may hold.
    static let maximumElements = 1 << 28

    /// The shape `proto` declares (check it before `decode`: a short repeated field is padded
    /// to the shape, so a small message can ask for many values).
    static func shape(_ proto: Tensorflow_TensorProto, name: String) throws(RPCError) -> [Int] {
        guard proto.hasTensorShape, !proto.tensorShape.unknownRank else {
            throw RPCError(code: .invalidArgument, message: "input '\(name)': the tensor has no shape (set tensor_shape)")
        }
        var shape: [Int] = []
        var count = 1
        for dim in proto.tensorShape.dim {
            guard dim.size >= 0, dim.size <= Int64(maximumElements) else {
                throw RPCError(code: .invalidArgument, message: "input '\(name)': dimension \(dim.size) in its shape is negative or too large")
            }
            shape.append(Int(dim.size))
            count *= Int(dim.size)
            guard count <= maximumElements else {
                throw RPCError(code: .invalidArgument, message: "input '\(name)': more than \(maximumElements) values")
            }
        }
        return shape
    }

    /// The shape and Float values of `proto`; `name` names it in errors.
    static func decode(_ proto: Tensorflow_TensorProto, name: String) throws(RPCError) -> (shape: [Int], values: [Float]) {
        let shape = try shape(proto, name: name)
        return (shape, try values(proto, shape: shape, name: name))
    }

    /// The Float values of `proto`, whose `shape` (from `shape(_:name:)`) has been checked.
    static func values(_ proto: Tensorflow_TensorProto, shape: [Int], name: String) throws(RPCError) -> [Float] {
        let count = shape.reduce(1, *)
        let width: Int
        switch proto.dtype {
        case .dtFloat, .dtInt32: width = 4
        case .dtDouble, .dtInt64: width = 8
        case .dtHalf: width = 2
        default:
            throw RPCError(code: .invalidArgument, message: "input '\(name)': dtype \(proto.dtype) is not served; send DT_FLOAT (or DT_DOUBLE, DT_HALF, DT_INT32, DT_INT64)")
        }
        if !proto.tensorContent.isEmpty {
            guard proto.tensorContent.count == count * width else {
                throw RPCError(code: .invalidArgument, message: "input '\(name)': tensor_content has \(proto.tensorContent.count) bytes; shape \(shape) of \(proto.dtype) needs \(count * width)")
            }
            return fromContent(proto.tensorContent, dtype: proto.dtype, count: count)
        }
        let given: [Float]
        switch proto.dtype {
        case .dtFloat: given = proto.floatVal
        case .dtDouble: given = proto.doubleVal.map { Float($0) }
        case .dtInt32: given = proto.intVal.map { Float($0) }
        case .dtInt64: given = proto.int64Val.map { Float($0) }
        case .dtHalf: given = proto.halfVal.map { Float(halfBits: UInt16(truncatingIfNeeded: $0)) }
        default: given = []
        }
        if given.count == count { return given }
        guard given.count < count else {
            throw RPCError(code: .invalidArgument, message: "input '\(name)': \(given.count) values for shape \(shape) (\(count) elements)")
        }
        guard let last = given.last else {
            throw RPCError(code: .invalidArgument, message: "input '\(name)': no values; send them in \(fieldName(proto.dtype)) or tensor_content")
        }
        return given + Array(repeating: last, count: count - given.count)
    }

    private static func fieldName(_ dtype: Tensorflow_DataType) -> String {
        switch dtype {
        case .dtDouble: "double_val"
        case .dtInt32: "int_val"
        case .dtInt64: "int64_val"
        case .dtHalf: "half_val"
        default: "float_val"
        }
    }

    /// Little-endian values of `dtype` as Float.
    private static func fromContent(_ data: Data, dtype: Tensorflow_DataType, count: Int) -> [Float] {
        data.withUnsafeBytes { raw -> [Float] in
            [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch dtype {
                case .dtFloat:
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
                case .dtDouble:
                    for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
                case .dtInt32:
                    for i in 0..<count { out[i] = Float(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
                case .dtInt64:
                    for i in 0..<count { out[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
                default:   // .dtHalf
                    for i in 0..<count { out[i] = Float(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
                }
                initialized = count
            }
        }
    }

    /// `tensor` as a TensorProto in the typed repeated field (as TF Serving answers by default):
    /// DT_FLOAT in `float_val` (DT_DOUBLE in `double_val` for a float64 model, DT_INT32 in
    /// `int_val`); DT_FLOAT in `tensor_content` when `content`.
    static func encode(_ tensor: Tensor, content: Bool = false) -> Tensorflow_TensorProto {
        var proto = Tensorflow_TensorProto()
        proto.tensorShape = shapeProto(tensor.shape)
        if content {
            let values = tensor.dtype == .float32 ? tensor.asArray(Float.self) : tensor.scalarsAsDouble().map { Float($0) }
            var data = Data(count: values.count * 4)
            data.withUnsafeMutableBytes { raw in
                for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
            }
            proto.dtype = .dtFloat
            proto.tensorContent = data
            return proto
        }
        switch tensor.dtype {
        case .float64:
            proto.dtype = .dtDouble
            proto.doubleVal = tensor.asArray(Double.self)
        case .int32:
            proto.dtype = .dtInt32
            proto.intVal = tensor.asArray(Int32.self)
        default:
            proto.dtype = .dtFloat
            proto.floatVal = tensor.asArray(Float.self)
        }
        return proto
    }

    static func shapeProto(_ shape: [Int]) -> Tensorflow_TensorShapeProto {
        var proto = Tensorflow_TensorShapeProto()
        proto.dim = shape.map { size in
            var dim = Tensorflow_TensorShapeProto.Dim()
            dim.size = Int64(size)
            return dim
        }
        return proto
    }
}

extension Float {
    /// An IEEE 754 half-precision value's bits as Float (Float16 is not on every platform).
    init(halfBits bits: UInt16) {
        let sign = UInt32(bits >> 15) << 31
        let exponent = Int((bits >> 10) & 0x1f), fraction = UInt32(bits & 0x3ff)
        if exponent == 0x1f {
            self = Float(bitPattern: sign | 0x7f80_0000 | (fraction << 13))
        } else if exponent == 0 {
            let magnitude = Float(fraction) * 0x1p-24
            self = sign == 0 ? magnitude : -magnitude
        } else {
            self = Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (fraction << 13))
        }
    }
}
