import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON
/// header `{name: {dtype, shape, data_offsets}, "__metadata__": {String: String}}`, then the
/// raw little-endian tensor bytes. Python's `safetensors` and NumPy read what this writes.
/// The reader treats its input as untrusted: every length and offset is checked against the
/// bytes present before anything is allocated or copied.
public enum Safetensors {
    /// The largest header Lamina accepts (the format's own reference limit).
    public static let maximumHeaderBytes = 100 << 20

    /// The safetensors bytes of `tensors` (in order) with `metadata` in the header.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, tensor) in tensors {
            guard header[name] == nil, name != "__metadata__" else {
                throw LaminaError(.io, "safetensors: the name '\(name)' appears twice")
            }
            let bytes = tensor.count * tensor.dtype.byteSize
            header[name] = ["dtype": code(tensor.dtype), "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so the data is aligned
        var data = Data()
        data.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        for (_, tensor) in tensors { tensor.withUnsafeRawBytes { data.append(contentsOf: $0) } }
        return data
    }

    /// Writes atomically (temporary file, fsync, rename).
    public static func save(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:], to url: URL) throws {
        try AtomicFile.write(try encode(tensors, metadata: metadata), to: url)
    }

    /// The tensors in file order and the metadata.
    public static func decode(_ bytes: [UInt8], name file: String = "safetensors") throws
        -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        func fail(_ why: String) -> LaminaError { LaminaError(.io, "\(file): \(why)") }
        guard bytes.count >= 8 else { throw fail("too short for a safetensors header") }
        var length = 0
        for i in 0..<8 { length |= Int(bytes[i]) << (8 * i) }
        guard length >= 2, length <= maximumHeaderBytes, length <= bytes.count - 8 else {
            throw fail("header length \(length) does not fit the file (\(bytes.count) bytes)")
        }
        let header: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + length)])) as? [String: Any] else {
                throw fail("header is not a JSON object")
            }
            header = object
        } catch let error as LaminaError {
            throw error
        } catch {
            throw fail("header is not valid JSON")
        }
        let dataStart = 8 + length, dataLength = bytes.count - dataStart
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let strings = meta as? [String: String] else { throw fail("__metadata__ must map strings to strings") }
            metadata = strings
        }
        var entries: [(name: String, dtype: Stored, shape: [Int], range: Range<Int>)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeCode = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsetValues = info["data_offsets"] as? [Any],
                  offsetValues.count == 2 else {
                throw fail("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = Stored(rawValue: dtypeCode) else {
                throw fail("entry '\(name)' has dtype \(dtypeCode); Lamina reads F32, F64, F16, BF16, I32 and I64")
            }
            let shape = try shapeValues.map { v -> Int in
                guard let d = (v as? NSNumber)?.intValue, d >= 0, (v as? NSNumber)?.doubleValue == Double(d) else {
                    throw fail("entry '\(name)' has a bad dimension in its shape")
                }
                return d
            }
            let offsets = try offsetValues.map { v -> Int in
                guard let o = (v as? NSNumber)?.intValue, o >= 0 else { throw fail("entry '\(name)' has a bad data offset") }
                return o
            }
            var count = 1
            for d in shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= dataLength else { throw fail("entry '\(name)': shape \(shape) is larger than the file") }
                count = p
            }
            guard offsets[0] <= offsets[1], offsets[1] <= dataLength, offsets[1] - offsets[0] == count * dtype.byteSize else {
                throw fail("entry '\(name)': data_offsets \(offsets) do not match shape \(shape) of \(dtypeCode) "
                    + "within \(dataLength) data bytes (truncated or corrupt)")
            }
            entries.append((name, dtype, shape, (dataStart + offsets[0])..<(dataStart + offsets[1])))
        }
        entries.sort { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(entries, entries.dropFirst()) where a.range.upperBound > b.range.lowerBound {
            throw fail("entries '\(a.name)' and '\(b.name)' overlap")
        }
        let tensors = try entries.map { entry in
            (entry.name, try bytes.withUnsafeBytes { raw in
                try tensorFromBytes(UnsafeRawBufferPointer(rebasing: raw[entry.range]), dtype: entry.dtype, shape: entry.shape,
                                    name: entry.name, fail)
            })
        }
        return (tensors, metadata)
    }

    /// The tensors (in file order) and the metadata of the safetensors file at `url`; a malformed file is a `LaminaError`.
    public static func load(_ url: URL) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        try decode(try readFileBytes(url), name: url.lastPathComponent)
    }

    static func code(_ dtype: DType) -> String {
        switch dtype {
        case .float32: "F32"
        case .float64: "F64"
        case .int32: "I32"
        }
    }

    /// The element types Lamina reads: its own three, and PyTorch's half types and int64,
    /// widened to float32 / narrowed to int32 (range-checked) on the way in.
    enum Stored: String {
        case f32 = "F32", f64 = "F64", i32 = "I32", f16 = "F16", bf16 = "BF16", i64 = "I64"
        var byteSize: Int { switch self { case .f32, .i32: 4; case .f64, .i64: 8; case .f16, .bf16: 2 } }
    }

    private static func tensorFromBytes(_ raw: UnsafeRawBufferPointer, dtype: Stored, shape: [Int], name: String,
                                        _ fail: (String) -> LaminaError) throws -> Tensor {
        func copy<T: TensorScalar>(_: T.Type) -> Tensor {
            Tensor.build(shape, as: T.self) { out in
                if !raw.isEmpty { UnsafeMutableRawBufferPointer(out).copyMemory(from: raw) }
            }
        }
        func widen(_ convert: @escaping (UInt16) -> Float) -> Tensor {
            Tensor.build(shape, as: Float.self) { out in
                for i in out.indices { out[i] = convert(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
            }
        }
        switch dtype {
        case .f32: return copy(Float.self)
        case .f64: return copy(Double.self)
        case .i32: return copy(Int32.self)
        case .f16: return widen { Float(Float16(bitPattern: $0)) }
        case .bf16: return widen { Float(bitPattern: UInt32($0) << 16) }
        case .i64:
            let values = (0..<(raw.count / 8)).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
            guard values.allSatisfy({ Int64(Int32.min)...Int64(Int32.max) ~= $0 }) else {
                throw fail("entry '\(name)' holds int64 values outside the int32 range")
            }
            return Tensor.build(shape, as: Int32.self) { out in for i in out.indices { out[i] = Int32(values[i]) } }
        }
    }
}

extension Layer {
    /// Writes every weight (trainable and not) as a safetensors file, named as Keras names
    /// them (`dense_1/kernel`, `batch_normalization/moving_mean`). Keras: `save_weights`.
    public func saveWeights(to url: URL) throws {
        try Safetensors.save(weights.map { ($0.name, $0.value) }, metadata: ["format": "lamina-weights", "layer": name], to: url)
    }

    /// Loads weights saved by `saveWeights`. By default they are matched in order, as Keras
    /// does: a fresh model of the same architecture has other auto names (`dense_3` for
    /// `dense_1`) but the same weights in the same order and shapes. With `byName: true` each
    /// weight is looked up by its name instead. Either way a file that does not fit throws
    /// before anything is changed, naming what differs.
    public func loadWeights(from url: URL, byName: Bool = false) throws {
        let (tensors, _) = try Safetensors.load(url)
        let vars = weights
        guard byName else {
            guard tensors.count == vars.count else {
                throw LaminaError(.io, "\(url.lastPathComponent) holds \(tensors.count) weights, \(name) has \(vars.count): "
                    + "file \(tensors.map(\.name)), model \(vars.map(\.name))")
            }
            for (v, (fileName, t)) in zip(vars, tensors) where v.shape != t.shape {
                throw LaminaError(.io, "\(url.lastPathComponent): \(fileName) has shape \(t.shape), \(v.name) needs \(v.shape)")
            }
            try setWeights(tensors.map(\.tensor))
            return
        }
        try assignWeights(Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a }),
                          file: url.lastPathComponent)
    }

    /// Sets every weight from the tensor of its name; throws before changing anything when
    /// names are missing or unexpected, or shapes differ.
    func assignWeights(_ byName: [String: Tensor], file: String) throws {
        let vars = weights
        let missing = vars.map(\.name).filter { byName[$0] == nil }
        let unexpected = Set(byName.keys).subtracting(vars.map(\.name)).sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            throw LaminaError(.io, "\(file) does not fit \(name): "
                + (missing.isEmpty ? "" : "missing \(missing.joined(separator: ", "))")
                + (missing.isEmpty || unexpected.isEmpty ? "" : "; ")
                + (unexpected.isEmpty ? "" : "unexpected \(unexpected.joined(separator: ", "))"))
        }
        for v in vars where byName[v.name]!.shape != v.shape {
            throw LaminaError(.io, "\(file): \(v.name) has shape \(byName[v.name]!.shape), the model needs \(v.shape)")
        }
        try setWeights(vars.map { byName[$0.name]! })
    }
}
