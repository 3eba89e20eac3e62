import CLaminaKernels

extension Kernels {
    /// The float32 kernels of `CLaminaKernels` at the SIMD level chosen once for this CPU
    /// (see `ComputeBackend`). Float64 runs the generic Swift loops beside each call site.
    static var simd: lamina_kernel_table { lamina_kernels()!.pointee }

    /// y = kernel(x) over contiguous float32 buffers, split across the cores in chunks.
    static func unaryFloat(_ x: Tensor, _ kernel: @escaping @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor {
        x.withUnsafeBuffer(as: Float.self) { px in
            Tensor.build(x.shape, as: Float.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    kernel(px.baseAddress! + r.lowerBound, out.baseAddress! + r.lowerBound, r.count)
                }
            }
        }
    }

    /// y = kernel(a, b) over two contiguous float32 buffers of one length.
    static func binaryFloat(_ a: Tensor, _ b: Tensor, _ kernel: @escaping @convention(c) (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> Tensor {
        a.withUnsafeBuffer(as: Float.self) { pa in
            b.withUnsafeBuffer(as: Float.self) { pb in
                Tensor.build(a.shape, as: Float.self) { out in
                    parallelFor(pa.count, grain: parallelThreshold) { r in
                        kernel(pa.baseAddress! + r.lowerBound, pb.baseAddress! + r.lowerBound, out.baseAddress! + r.lowerBound, r.count)
                    }
                }
            }
        }
    }
}

extension WindowGeometry {
    /// The same geometry for the C kernels.
    var c: lamina_window {
        lamina_window(inH: inH, inW: inW, kH: kH, kW: kW, strideH: strideH, strideW: strideW,
                      padTop: padTop, padLeft: padLeft, outH: outH, outW: outW)
    }
}

extension Kernels {
    /// The float32 Adam update in one pass through the SIMD kernel:
    /// m += (g − m)·b1; v += (g² − v)·b2; w −= alpha·m / (√v + eps).
    public static func adamUpdate(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                                  v: UnsafeMutablePointer<Float>, count: Int, alpha: Float, b1: Float, b2: Float, eps: Float) {
        simd.adam(w, g, m, v, count, alpha, b1, b2, eps)
    }
}

/// A generic buffer's address as float32, for the SIMD kernels (the caller has checked
/// `T.self == Float.self`).
@inline(__always) func floats<T>(_ p: UnsafePointer<T>?) -> UnsafeMutablePointer<Float> {
    UnsafeMutablePointer(mutating: UnsafeRawPointer(p!).assumingMemoryBound(to: Float.self))
}
@inline(__always) func floats<T>(_ p: UnsafeMutablePointer<T>?) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p!).assumingMemoryBound(to: Float.self)
}
