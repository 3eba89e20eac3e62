/// The reference-counted buffer under a ``Tensor``. Tensors share it until one of them is
/// mutated (copy-on-write, see `Tensor.withUnsafeMutableBuffer`).
@usableFromInline
final class Storage {
    @usableFromInline let pointer: UnsafeMutableRawPointer
    @usableFromInline let count: Int
    @usableFromInline let dtype: DType

    /// Uninitialized memory for `count` elements, 64-byte aligned for vector loads.
    @usableFromInline init(count: Int, dtype: DType) {
        precondition(count >= 0, "Tensor: negative element count \(count)")
        self.count = count
        self.dtype = dtype
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * dtype.byteSize,
                                                   alignment: 64)
    }

    /// Zero-filled memory.
    convenience init(zeros count: Int, dtype: DType) {
        self.init(count: count, dtype: dtype)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: count * dtype.byteSize)
    }

    @usableFromInline func copy() -> Storage {
        let s = Storage(count: count, dtype: dtype)
        s.pointer.copyMemory(from: pointer, byteCount: count * dtype.byteSize)
        return s
    }

    deinit { pointer.deallocate() }
}
