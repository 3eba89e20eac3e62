import CLaminaKernels

extension Kernels {
    /// The float32 kernels of `CLaminaKernels` at the SIMD level chosen once for this CPU
    /// (see `ComputeBackend`).
    static var simd: lamina_kernel_table { lamina_kernels()!.pointee }
    /// The same kernels in float64, at the level of `simd`.
    static var simd64: lamina_kernel_table_f64 { lamina_kernels_f64()!.pointee }

    /// y = kernel(x) over contiguous buffers, split across the cores in chunks.
    static func unary<T: FloatScalar>(_: T.Type, _ x: Tensor, _ kernel: @escaping (UnsafePointer<T>, UnsafeMutablePointer<T>, Int) -> Void) -> Tensor {
        x.withUnsafeBuffer(as: T.self) { px in
            Tensor.build(x.shape, as: T.self) { out in
                parallelFor(px.count, grain: parallelThreshold) { r in
                    kernel(px.baseAddress! + r.lowerBound, out.baseAddress! + r.lowerBound, r.count)
                }
            }
        }
    }

    /// y = kernel(a, b) over two contiguous buffers of one length.
    static func binary<T: FloatScalar>(_: T.Type, _ a: Tensor, _ b: Tensor,
                                       _ kernel: @escaping (UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>, Int) -> Void) -> Tensor {
        // Two closures, not withBaseAddresses: every elementwise op of a training step comes
        // here, and that helper allocates two arrays per call.
        a.withUnsafeBuffer(as: T.self) { pa in
            b.withUnsafeBuffer(as: T.self) { pb in
                Tensor.build(a.shape, as: T.self) { out in
                    parallelFor(pa.count, grain: parallelThreshold) { r in
                        kernel(pa.baseAddress! + r.lowerBound, pb.baseAddress! + r.lowerBound, out.baseAddress! + r.lowerBound, r.count)
                    }
                }
            }
        }
    }

    /// The base addresses of `tensors` (each of element type T; nil for a nil tensor) for the
    /// length of `body`: one call instead of a nest of `withUnsafeBuffer` closures, for ops that
    /// run once over many steps (it allocates two small arrays, so per-element-op paths nest
    /// their two or three closures instead). The pointers are mutable so that kernels can write their outputs: write only to tensors
    /// this code has just built, whose storage nothing else shares.
    static func withBaseAddresses<T: FloatScalar, R>(_: T.Type, _ tensors: [Tensor?],
                                                     _ body: ([UnsafeMutablePointer<T>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<T>?] = []
        pointers.reserveCapacity(tensors.count)
        func next(_ i: Int) -> R {
            guard i < tensors.count else { return body(pointers) }
            guard let t = tensors[i] else { pointers.append(nil); return next(i + 1) }
            return t.withUnsafeBuffer(as: T.self) { b in
                pointers.append(UnsafeMutablePointer(mutating: b.baseAddress))
                return next(i + 1)
            }
        }
        return next(0)
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
        CKernels<Float>.adam(w, g, m, v, count, alpha, b1, b2, eps)
    }

    /// The same update for float32 or float64 (the element type's kernel table).
    package static func adamUpdate<T: FloatScalar>(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, m: UnsafeMutablePointer<T>,
                                                   v: UnsafeMutablePointer<T>, count: Int, alpha: T, b1: T, b2: T, eps: T) {
        CKernels<T>.adam(w, g, m, v, count, alpha, b1, b2, eps)
    }
}

/// The C kernels of element type T: Float's table (`Kernels.simd`) for Float, Double's
/// (`Kernels.simd64`) for Double, one entry per kernel with T's pointers. Each entry is the
/// only place that tells the two tables apart, so the ops above call one kernel for both
/// dtypes (and float64 gradient checks test the code that runs in float32).
enum CKernels<T: FloatScalar> {
    static var isFloat: Bool { T.self == Float.self }

    static func relu(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int) {
        isFloat ? Kernels.simd.relu(cast(x), cast(y), n) : Kernels.simd64.relu(cast(x), cast(y), n)
    }
    static func reluBackward(_ g: UnsafePointer<T>, _ x: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ n: Int) {
        isFloat ? Kernels.simd.relu_backward(cast(g), cast(x), cast(dx), n) : Kernels.simd64.relu_backward(cast(g), cast(x), cast(dx), n)
    }
    static func channelAffine(_ x: UnsafePointer<T>, rows: Int, c: Int, bias: UnsafePointer<T>? = nil, mean: UnsafePointer<T>?,
                              scale: UnsafePointer<T>?, shift: UnsafePointer<T>?, residual: UnsafePointer<T>? = nil, lower: T, upper: T,
                              _ y: UnsafeMutablePointer<T>) {
        if isFloat {
            Kernels.simd.channel_affine(cast(x), rows, c, cast(bias), cast(mean), cast(scale), cast(shift), cast(residual), Float(lower),
                                        Float(upper), cast(y))
        } else {
            Kernels.simd64.channel_affine(cast(x), rows, c, cast(bias), cast(mean), cast(scale), cast(shift), cast(residual), Double(lower),
                                          Double(upper), cast(y))
        }
    }
    static func add(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int) {
        isFloat ? Kernels.simd.add(cast(a), cast(b), cast(y), n) : Kernels.simd64.add(cast(a), cast(b), cast(y), n)
    }
    static func mul(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ n: Int) {
        isFloat ? Kernels.simd.mul(cast(a), cast(b), cast(y), n) : Kernels.simd64.mul(cast(a), cast(b), cast(y), n)
    }
    static func binaryScalar(_ a: UnsafePointer<T>, _ s: T, _ y: UnsafeMutablePointer<T>, _ n: Int, _ op: Int32) {
        isFloat ? Kernels.simd.binary_scalar(cast(a), Float(s), cast(y), n, op) : Kernels.simd64.binary_scalar(cast(a), Double(s), cast(y), n, op)
    }
    static func columnSums(_ x: UnsafePointer<T>, _ rows: Int, _ cols: Int, _ acc: UnsafeMutablePointer<Double>) {
        isFloat ? Kernels.simd.column_sums(cast(x), rows, cols, acc) : Kernels.simd64.column_sums(cast(x), rows, cols, acc)
    }
    static func maxPool(_ x: UnsafePointer<T>, _ images: Int, _ c: Int, _ g: WindowGeometry, _ out: UnsafeMutablePointer<T>,
                        _ argmax: UnsafeMutablePointer<Int32>?, _ indexBase: Int) {
        withUnsafePointer(to: g.c) { w in
            isFloat ? Kernels.simd.max_pool(cast(x), images, c, w, cast(out), argmax, indexBase)
                : Kernels.simd64.max_pool(cast(x), images, c, w, cast(out), argmax, indexBase)
        }
    }
    static func scatterAdd(_ g: UnsafePointer<T>, _ idx: UnsafePointer<Int32>, _ n: Int, _ indexBase: Int, _ d: UnsafeMutablePointer<T>) {
        isFloat ? Kernels.simd.scatter_add(cast(g), idx, n, indexBase, cast(d)) : Kernels.simd64.scatter_add(cast(g), idx, n, indexBase, cast(d))
    }
    static func im2col(_ x: UnsafePointer<T>, _ images: Int, _ c: Int, _ g: WindowGeometry, _ cols: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: g.c) { w in
            isFloat ? Kernels.simd.im2col(cast(x), images, c, w, cast(cols)) : Kernels.simd64.im2col(cast(x), images, c, w, cast(cols))
        }
    }
    static func col2im(_ cols: UnsafePointer<T>, _ images: Int, _ c: Int, _ g: WindowGeometry, _ x: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: g.c) { w in
            isFloat ? Kernels.simd.col2im(cast(cols), images, c, w, cast(x)) : Kernels.simd64.col2im(cast(cols), images, c, w, cast(x))
        }
    }
    static func convDirect(_ x: UnsafePointer<T>, _ images: Int, _ c: Int, _ g: WindowGeometry, _ w: UnsafePointer<T>, _ f: Int,
                           _ bias: UnsafePointer<T>?, _ relu: Bool, _ out: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: g.c) { wg in
            isFloat ? Kernels.simd.conv_direct(cast(x), images, c, wg, cast(w), f, cast(bias), relu ? 1 : 0, cast(out))
                : Kernels.simd64.conv_direct(cast(x), images, c, wg, cast(w), f, cast(bias), relu ? 1 : 0, cast(out))
        }
    }
    static func convDirectFilterGradient(_ x: UnsafePointer<T>, _ images: Int, _ c: Int, _ g: WindowGeometry, _ dOut: UnsafePointer<T>,
                                         _ f: Int, _ dw: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: g.c) { wg in
            isFloat ? Kernels.simd.conv_direct_dw(cast(x), images, c, wg, cast(dOut), f, cast(dw))
                : Kernels.simd64.conv_direct_dw(cast(x), images, c, wg, cast(dOut), f, cast(dw))
        }
    }
    static func depthwise(_ x: UnsafePointer<T>, _ images: Int, _ d: DepthwiseGeometry, _ w: UnsafePointer<T>, _ bias: UnsafePointer<T>?,
                          _ out: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: d.window.c) { g in
            isFloat ? Kernels.simd.depthwise(cast(x), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(w), d.multiplier, cast(bias), cast(out))
                : Kernels.simd64.depthwise(cast(x), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(w), d.multiplier, cast(bias), cast(out))
        }
    }
    static func depthwiseInputGradient(_ dOut: UnsafePointer<T>, _ images: Int, _ d: DepthwiseGeometry, _ w: UnsafePointer<T>,
                                       _ dx: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: d.window.c) { g in
            isFloat ? Kernels.simd.depthwise_dx(cast(dOut), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(w), d.multiplier, cast(dx))
                : Kernels.simd64.depthwise_dx(cast(dOut), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(w), d.multiplier, cast(dx))
        }
    }
    static func depthwiseKernelGradient(_ x: UnsafePointer<T>, _ images: Int, _ d: DepthwiseGeometry, _ dOut: UnsafePointer<T>,
                                        _ dw: UnsafeMutablePointer<T>) {
        withUnsafePointer(to: d.window.c) { g in
            isFloat ? Kernels.simd.depthwise_dw(cast(x), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(dOut), d.multiplier, cast(dw))
                : Kernels.simd64.depthwise_dw(cast(x), images, d.channels, g, d.kH, d.kW, d.dilationH, d.dilationW, cast(dOut), d.multiplier, cast(dw))
        }
    }
    static func lstmForward(_ z: UnsafeMutablePointer<T>, _ rows: Int, _ n: Int, _ cPrev: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>,
                            _ tc: UnsafeMutablePointer<T>, _ h: UnsafeMutablePointer<T>) {
        isFloat ? Kernels.simd.lstm_forward(cast(z), rows, n, cast(cPrev), cast(c), cast(tc), cast(h))
            : Kernels.simd64.lstm_forward(cast(z), rows, n, cast(cPrev), cast(c), cast(tc), cast(h))
    }
    static func lstmBackward(_ a: UnsafePointer<T>, _ tc: UnsafePointer<T>, _ cPrev: UnsafePointer<T>, _ dh: UnsafePointer<T>,
                             _ dc: UnsafeMutablePointer<T>, _ dz: UnsafeMutablePointer<T>, _ rows: Int, _ n: Int) {
        isFloat ? Kernels.simd.lstm_backward(cast(a), cast(tc), cast(cPrev), cast(dh), cast(dc), cast(dz), rows, n)
            : Kernels.simd64.lstm_backward(cast(a), cast(tc), cast(cPrev), cast(dh), cast(dc), cast(dz), rows, n)
    }
    static func adam(_ w: UnsafeMutablePointer<T>, _ g: UnsafePointer<T>, _ m: UnsafeMutablePointer<T>, _ v: UnsafeMutablePointer<T>,
                     _ n: Int, _ alpha: T, _ b1: T, _ b2: T, _ eps: T) {
        isFloat ? Kernels.simd.adam(cast(w), cast(g), cast(m), cast(v), n, Float(alpha), Float(b1), Float(b2), Float(eps))
            : Kernels.simd64.adam(cast(w), cast(g), cast(m), cast(v), n, Double(alpha), Double(b1), Double(b2), Double(eps))
    }
    static func softmaxRows(_ x: UnsafeMutablePointer<T>, _ rows: Int, _ n: Int) {
        isFloat ? Kernels.simd.softmax_rows(cast(x), rows, n) : Kernels.simd64.softmax_rows(cast(x), rows, n)
    }
    static func softmaxBackwardRows(_ dp: UnsafePointer<T>, _ p: UnsafePointer<T>, _ ds: UnsafeMutablePointer<T>, _ rows: Int, _ n: Int) {
        isFloat ? Kernels.simd.softmax_backward_rows(cast(dp), cast(p), cast(ds), rows, n)
            : Kernels.simd64.softmax_backward_rows(cast(dp), cast(p), cast(ds), rows, n)
    }
    static func layerNormRows(_ x: UnsafePointer<T>, _ rows: Int, _ n: Int, _ gamma: UnsafePointer<T>?, _ beta: UnsafePointer<T>?,
                              _ eps: Double, _ y: UnsafeMutablePointer<T>, _ stats: UnsafeMutablePointer<T>) {
        isFloat ? Kernels.simd.layer_norm_rows(cast(x), rows, n, cast(gamma), cast(beta), Float(eps), cast(y), cast(stats))
            : Kernels.simd64.layer_norm_rows(cast(x), rows, n, cast(gamma), cast(beta), eps, cast(y), cast(stats))
    }
    static func layerNormBackwardRows(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ rows: Int, _ n: Int, _ gamma: UnsafePointer<T>?,
                                      _ stats: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>) {
        isFloat ? Kernels.simd.layer_norm_backward_rows(cast(dy), cast(x), rows, n, cast(gamma), cast(stats), cast(dx))
            : Kernels.simd64.layer_norm_backward_rows(cast(dy), cast(x), rows, n, cast(gamma), cast(stats), cast(dx))
    }
    static func layerNormParamGrads(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ rows: Int, _ n: Int, _ stats: UnsafePointer<T>,
                                    _ dgamma: UnsafeMutablePointer<Double>?, _ dbeta: UnsafeMutablePointer<Double>?) {
        isFloat ? Kernels.simd.layer_norm_param_grads(cast(dy), cast(x), rows, n, cast(stats), dgamma, dbeta)
            : Kernels.simd64.layer_norm_param_grads(cast(dy), cast(x), rows, n, cast(stats), dgamma, dbeta)
    }
}

/// A pointer to T as a pointer to the C kernel's element type U (T and U are the same type:
/// the caller has picked the table by T).
@inline(__always) func cast<T, U>(_ p: UnsafePointer<T>?) -> UnsafePointer<U>? {
    UnsafeRawPointer(p)?.assumingMemoryBound(to: U.self)
}
@inline(__always) func cast<T, U>(_ p: UnsafeMutablePointer<T>?) -> UnsafeMutablePointer<U>? {
    UnsafeMutableRawPointer(p)?.assumingMemoryBound(to: U.self)
}

/// A generic buffer's address as float32, for the float32-only GEMM (the caller has checked
/// `T.self == Float.self`).
@inline(__always) func floats<T>(_ p: UnsafePointer<T>?) -> UnsafeMutablePointer<Float> {
    UnsafeMutablePointer(mutating: UnsafeRawPointer(p!).assumingMemoryBound(to: Float.self))
}
@inline(__always) func floats<T>(_ p: UnsafeMutablePointer<T>?) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(p!).assumingMemoryBound(to: Float.self)
}
