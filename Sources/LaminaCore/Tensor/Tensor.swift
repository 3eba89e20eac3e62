/// An n-dimensional array with a runtime dtype, copy-on-write storage and optional
/// participation in reverse-mode autodiff.
///
/// ```swift
/// var w = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4] as [Float])
/// w.requiresGrad = true
/// let loss = (w * w).sum()
/// loss.backward()
/// w.grad!.asArray(Float.self)   // [2, 4, 6, 8]
/// ```
///
/// `Sendable`: a value, safe to hand to another task or actor (copy-on-write storage; the
/// autodiff node keeps its mutable state behind a mutex — see `Storage` and `GradNode`).
///
/// Tensors are always contiguous and row-major. Shape ops that keep the element order
/// (`reshaped`, `flattened`, `expandingDims`, `squeezed`) share storage; everything else
/// writes a new buffer.
public struct Tensor: Sendable {
    @usableFromInline var storage: Storage
    /// The dimensions, outermost first. A scalar has shape `[]`.
    public let shape: [Int]
    /// The autodiff node: a leaf for tensors marked `requiresGrad`, an op for their results.
    @usableFromInline var node: GradNode?
    /// The Keras mask riding on this tensor (see `kerasMask`).
    @usableFromInline var maskBox: MaskBox?

    @usableFromInline init(storage: Storage, shape: [Int], node: GradNode? = nil) {
        precondition(storage.count == Shape.count(shape),
                     "Tensor: shape \(shape) needs \(Shape.count(shape)) elements, storage has \(storage.count)")
        self.storage = storage
        self.shape = shape
        self.node = node
    }

    /// The element type.
    public var dtype: DType { storage.dtype }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { storage.count }

    /// The mask of a padded batch, as Keras attaches it to a tensor (`_keras_mask`): float32,
    /// 1 for a step that counts and 0 for padding, shaped as this tensor's leading axes
    /// (`[batch, timesteps]` for a sequence batch). Layers set and read it (`Embedding(maskZero:
    /// true)` and `Masking` make one, recurrent, pooling and attention layers honour it, losses
    /// and metrics skip masked steps); arithmetic and shape ops give results without one, as in Keras.
    public var kerasMask: Tensor? {
        get { maskBox?.mask }
        set { maskBox = newValue.map(MaskBox.init) }
    }
}

/// Holds a tensor's Keras mask (a struct cannot hold its own type inline).
@usableFromInline final class MaskBox: Sendable {
    let mask: Tensor
    init(_ mask: Tensor) { self.mask = mask }
}

// MARK: - Creation

extension Tensor {
    /// A tensor holding `scalars` in row-major order.
    ///
    /// ```swift
    /// let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6] as [Float])
    /// ```
    public init<T: TensorScalar>(shape: [Int], scalars: [T]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor(shape:scalars:): negative dimension in \(shape)")
        precondition(Shape.count(shape) == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) needs \(Shape.count(shape)) scalars, got \(scalars.count)")
        let s = Storage(count: scalars.count, dtype: T.dtype)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress {
                s.pointer.copyMemory(from: base, byteCount: src.count * MemoryLayout<T>.stride)
            }
        }
        self.init(storage: s, shape: shape)
    }

    /// A rank-1 tensor of `scalars`.
    public init<T: TensorScalar>(_ scalars: [T]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-1 float32 tensor; this overload makes `Tensor([1, 2])` float32, the default dtype.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A rank-0 tensor.
    public init<T: TensorScalar>(scalar: T) { self.init(shape: [], scalars: [scalar]) }

    /// A tensor of the given shape and dtype whose elements are written by `body`.
    @inlinable
    public static func build<T: TensorScalar>(
        _ shape: [Int], as _: T.Type, _ body: (UnsafeMutableBufferPointer<T>) -> Void
    ) -> Tensor {
        let s = Storage(count: Shape.count(shape), dtype: T.dtype)
        let p = s.pointer.bindMemory(to: T.self, capacity: s.count)
        body(UnsafeMutableBufferPointer(start: p, count: s.count))
        return Tensor(storage: s, shape: shape)
    }

    /// A tensor of zeros. Keras: `ops.zeros`.
    public static func zeros(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        Tensor(storage: Storage(zeros: Shape.count(shape), dtype: dtype), shape: shape)
    }

    /// A tensor of ones. Keras: `ops.ones`.
    public static func ones(_ shape: [Int], dtype: DType = .float32) -> Tensor {
        full(shape, value: 1, dtype: dtype)
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], value: Double, dtype: DType = .float32) -> Tensor {
        switch dtype {
        case .float32: return build(shape, as: Float.self) { $0.initialize(repeating: Float(value)) }
        case .float64: return build(shape, as: Double.self) { $0.initialize(repeating: value) }
        case .int32: return build(shape, as: Int32.self) { $0.initialize(repeating: Int32(value)) }
        }
    }

    /// A rank-0 tensor holding `value` in the given dtype.
    public static func scalar(_ value: Double, dtype: DType = .float32) -> Tensor {
        full([], value: value, dtype: dtype)
    }

    /// `start, start + step, ...` up to but excluding `end`, as NumPy's `arange`.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1,
                              dtype: DType = .float32) -> Tensor {
        precondition(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return (0..<n).map { start + Double($0) * step }.tensor(shape: [n], dtype: dtype)
    }

    /// `count` evenly spaced values from `start` to `end` inclusive, as NumPy's `linspace`.
    public static func linspace(_ start: Double, _ end: Double, count: Int,
                                dtype: DType = .float32) -> Tensor {
        precondition(count >= 0, "linspace: negative count \(count)")
        let step = count > 1 ? (end - start) / Double(count - 1) : 0
        return (0..<count).map { start + Double($0) * step }.tensor(shape: [count], dtype: dtype)
    }
}

extension Array where Element == Double {
    /// These values as a tensor of the given dtype.
    func tensor(shape: [Int], dtype: DType) -> Tensor {
        switch dtype {
        case .float32: return Tensor(shape: shape, scalars: map { Float($0) })
        case .float64: return Tensor(shape: shape, scalars: self)
        case .int32: return Tensor(shape: shape, scalars: map { Int32($0) })
        }
    }
}

// MARK: - Reading back

extension Tensor {
    /// The elements in row-major order. The requested type must be the tensor's dtype
    /// (use `cast(to:)` first to convert).
    public func asArray<T: TensorScalar>(_: T.Type) -> [T] {
        precondition(T.dtype == dtype, "asArray: tensor is \(dtype), asked for \(T.dtype); cast(to:) first")
        return withUnsafeBuffer(as: T.self) { Array($0) }
    }

    /// The single element of a tensor with one element.
    public func item<T: TensorScalar>(_: T.Type) -> T {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements, not 1")
        return asArray(T.self)[0]
    }

    /// The elements converted to Double, whatever the dtype.
    public func scalarsAsDouble() -> [Double] {
        switch dtype {
        case .float32: return asArray(Float.self).map(Double.init)
        case .float64: return asArray(Double.self)
        case .int32: return asArray(Int32.self).map(Double.init)
        }
    }

    /// Read access to the raw elements.
    @inlinable
    public func withUnsafeBuffer<T: TensorScalar, R>(
        as _: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "withUnsafeBuffer: tensor is \(dtype), accessed as \(T.dtype)")
        let p = storage.pointer.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: p, count: storage.count))
    }

    /// Write access to the raw elements, in place. The storage is copied first if another
    /// tensor shares it (copy-on-write), so no other value changes.
    @inlinable
    public mutating func withUnsafeMutableBuffer<T: TensorScalar, R>(
        as _: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) rethrows -> R {
        precondition(T.dtype == dtype, "withUnsafeMutableBuffer: tensor is \(dtype), accessed as \(T.dtype)")
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        let p = storage.pointer.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: p, count: storage.count))
    }

    /// The elements as raw bytes in row-major order and the host's (little-endian) byte
    /// order: what `.npy` and safetensors files hold.
    public func withUnsafeRawBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: storage.count * dtype.byteSize))
    }

    /// Whether two tensors share one buffer (for tests of copy-on-write and in-place updates).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

// MARK: - Casting

extension Tensor {
    /// This tensor converted to `dtype` (differentiable between float types).
    public func cast(to newType: DType) -> Tensor {
        if newType == dtype { return self }
        let values = scalarsAsDouble()
        let out = values.tensor(shape: shape, dtype: newType)
        guard newType.isFloatingPoint && dtype.isFloatingPoint else { return out }
        let from = dtype
        return out.recorded("cast", inputs: [self]) { g, _ in [g.cast(to: from)] }
    }
}
