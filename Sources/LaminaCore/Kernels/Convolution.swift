import CLaminaKernels

extension Kernels {
    static func usesDirectConv(taps: Int) -> Bool { taps <= directConvMaxTaps }

    /// conv2d by the direct kernel over all images, split across the cores: [N, OH, OW, F].
    static func convDirect<T: FloatScalar>(_: T.Type, _ x: Tensor, _ w: Tensor, bias: Tensor?, _ g: WindowGeometry) -> Tensor {
        let (n, c, f) = (x.shape[0], x.shape[3], w.shape[3])
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * f
        return x.withUnsafeBuffer(as: T.self) { xp in
            w.withUnsafeBuffer(as: T.self) { wp in
                (bias ?? w).withUnsafeBuffer(as: T.self) { bp in
                    Tensor.build([n, g.outH, g.outW, f], as: T.self) { op in
                        nonisolated(unsafe) let (xp, wp, bp, op) = (xp.baseAddress!, wp.baseAddress!, bias == nil ? nil : bp.baseAddress, op.baseAddress!)
                        parallelFor(n, grain: directConvGrain(g, taps: g.kH * g.kW * c, filters: f)) { r in
                            convDirect(xp + r.lowerBound * inImage, images: r.count, channels: c, g, wp, filters: f,
                                       bias: bp, relu: false, op + r.lowerBound * outImage)
                        }
                    }
                }
            }
        }
    }

    /// The sum of `parts` partial sums of `size` values laid end to end in `partial`, as a tensor
    /// of `shape` (the per-core partial kernel and weight gradients, added in part order).
    static func summedParts<T: FloatScalar>(_ partial: [T], parts: Int, size: Int, shape: [Int]) -> Tensor {
        Tensor.build(shape, as: T.self) { out in
            let o = out.baseAddress!
            o.update(from: partial, count: size)
            for part in 1..<Swift.max(1, parts) { for i in 0..<size { o[i] += partial[part * size + i] } }
        }
    }

    /// Chunks of `n` images for the chunked convolution passes (`balancedChunks`): as many
    /// images as keep `floatsPerImage` each within `inferenceChunkBytes`, but at least
    /// `atLeast`. Returns the count of chunks and the most images one holds.
    static func imageChunks(_ n: Int, floatsPerImage: Int, atLeast: Int = 1) -> (count: Int, most: Int) {
        let cached = inferenceChunkBytes / Swift.max(1, 4 * floatsPerImage)
        let chunks = balancedChunks(n, size: Swift.max(1, Swift.min(n, Swift.max(cached, atLeast))))
        return (chunks, (n + chunks - 1) / chunks)
    }

    /// dKernel of the direct convolution: one partial sum per core, added at the end.
    static func convDirectFilterGradient<T: FloatScalar>(_: T.Type, _ x: Tensor, _ grad: Tensor, kernelShape: [Int],
                                                         _ g: WindowGeometry) -> Tensor {
        let (n, c, f) = (x.shape[0], x.shape[3], kernelShape[3])
        let taps = g.kH * g.kW * c, inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * f
        let parts = Swift.min(ThreadCount.current, Swift.max(1, n / directConvGrain(g, taps: taps, filters: f)))
        var partial = [T](repeating: 0, count: parts * taps * f)
        x.withUnsafeBuffer(as: T.self) { xp in
            grad.withUnsafeBuffer(as: T.self) { gp in
                partial.withUnsafeMutableBufferPointer { pp in
                    nonisolated(unsafe) let (xp, gp, pp) = (xp.baseAddress!, gp.baseAddress!, pp.baseAddress!)
                    parallelFor(parts) { range in
                        for part in range {
                            let lo = n * part / parts, hi = n * (part + 1) / parts
                            convDirectFilterGradient(xp + lo * inImage, images: hi - lo, channels: c, g,
                                                     gp + lo * outImage, filters: f, pp + part * taps * f)
                        }
                    }
                }
            }
        }
        return summedParts(partial, parts: parts, size: taps * f, shape: kernelShape)
    }

    /// Images per parallel chunk of the direct convolution: at least `parallelThreshold` multiply-adds.
    private static func directConvGrain(_ g: WindowGeometry, taps: Int, filters: Int) -> Int {
        Swift.max(1, parallelThreshold / Swift.max(g.outH * g.outW * filters * taps, 1))
    }

    /// out[n, oh, ow, :] = bias + Σ x·w over the window (then max(·, 0) with `relu`), for
    /// `images` NHWC images; kernel [kH, kW, C, F]. The C kernel of the element type.
    static func convDirect<T: FloatScalar>(_ x: UnsafePointer<T>, images: Int, channels c: Int, _ g: WindowGeometry,
                                           _ w: UnsafePointer<T>, filters f: Int, bias: UnsafePointer<T>?, relu: Bool,
                                           _ out: UnsafeMutablePointer<T>) {
        CKernels<T>.convDirect(x, images, c, g, w, f, bias, relu, out)
    }

    /// dW[kh, kw, c, :] += Σ x · dOut over the output pixels of `images` images.
    static func convDirectFilterGradient<T: FloatScalar>(_ x: UnsafePointer<T>, images: Int, channels c: Int, _ g: WindowGeometry,
                                                         _ dOut: UnsafePointer<T>, filters f: Int, _ dw: UnsafeMutablePointer<T>) {
        CKernels<T>.convDirectFilterGradient(x, images, c, g, dOut, f, dw)
    }

    /// The count of chunks for `n` images in chunks of about `size` images; where that makes only
    /// a few chunks (under eight per core), rounded down to a multiple of the cores, so no core
    /// idles through a last round (three chunks of ResNet50's last stage on two cores took two
    /// rounds). Chunk i holds images n·i/chunks ..< n·(i+1)/chunks: at most ⌈n/chunks⌉ each.
    static func balancedChunks(_ n: Int, size: Int) -> Int {
        let threads = ThreadCount.current
        let chunks = (n + size - 1) / size
        return chunks > threads && chunks < 8 * threads ? chunks - chunks % threads : chunks
    }

    /// What an inference convolution applies to each chunk of its output while it is in cache:
    /// a per-channel bias, then `(x − mean)·scale + shift` (a batch normalization), a residual
    /// tensor of the output's shape added (`residual + y`), then a floor and a ceiling (ReLU: 0
    /// and ∞; ReLU6: 0 and 6) — one pass of the C `channel_affine` kernel.
    struct ConvEpilogue {
        var bias: [Float]? = nil, mean: [Float]? = nil, scale: [Float]? = nil, shift: [Float]? = nil
        var residual: Tensor? = nil
        var lower: Float = -.infinity, upper: Float = .infinity
        static let none = ConvEpilogue()
        static let relu = ConvEpilogue(lower: 0)
        private var hasAffine: Bool { bias != nil || mean != nil || scale != nil || shift != nil || residual != nil }
        var isNone: Bool { !hasAffine && lower == -.infinity && upper == .infinity }
        /// Only max(x, 0): the direct loop's flag does it.
        var isReLU: Bool { !hasAffine && lower == 0 && upper == .infinity }
        /// The vectors given (bias, mean, scale, shift) in one array, and where each starts.
        var packed: (values: [Float], starts: [Int?]) {
            var values: [Float] = [], starts: [Int?] = []
            for v in [bias, mean, scale, shift] {
                starts.append(v.map { _ in values.count })
                values += v ?? []
            }
            return (values, starts)
        }
        /// Applies the epilogue in place to `rows` rows of `channels` (`packed` gives its vectors;
        /// `residual` points at those rows' residual).
        static func apply(_ y: UnsafeMutablePointer<Float>, rows: Int, channels: Int, _ packed: (values: [Float], starts: [Int?]),
                          residual: UnsafePointer<Float>?, lower: Float, upper: Float) {
            packed.values.withUnsafeBufferPointer { p in
                func at(_ i: Int) -> UnsafePointer<Float>? { packed.starts[i].map { p.baseAddress! + $0 } }
                CKernels<Float>.channelAffine(y, rows: rows, c: channels, bias: at(0), mean: at(1), scale: at(2), shift: at(3),
                                              residual: residual, lower: lower, upper: upper, y)
            }
        }
    }

    /// conv2d in chunks of images (float32): at inference, and for the forward pass of training
    /// where the kernel gradient reads the input (`filterGradientReadsInput`), so the patches
    /// need not be kept. The cores take chunks of images (`inferenceChunkBytes`), each with its
    /// own scratch; per chunk a direct convolution (from the bias), Winograd F(4×4, 3×3)
    /// (`usesWinograd`) or im2col + one single-threaded GEMM, the epilogue (the GEMM's bias, ReLU, batch normalization, residual)
    /// while the rows are in cache, and optionally a max pooling of the chunk.
    /// With `argmax` (and `pool`), each pooled value's flat index into the whole convolution
    /// output [N, outH, outW, F] (its window's first maximum) is written there, for training.
    static func chunkedConv2d(_ x: Tensor, _ kernel: Tensor, _ bias: Tensor?, _ g: WindowGeometry, epilogue: ConvEpilogue,
                              pool: WindowGeometry?, argmax: UnsafeMutablePointer<Int32>? = nil) -> Tensor {
        let (n, c, f) = (x.shape[0], x.shape[3], kernel.shape[3])
        let taps = g.kH * g.kW * c, pixels = g.outH * g.outW, imageSize = x.shape[1] * x.shape[2] * c
        let direct = usesDirectConv(taps: taps)
        let outImage = pool.map { $0.outH * $0.outW * f } ?? pixels * f
        // A 1×1 convolution with stride 1 reads the images as its patch rows: no im2col.
        let pointwise = !direct && g.kH == 1 && g.kW == 1 && g.outH == g.inH && g.outW == g.inW && g.padTop == 0 && g.padLeft == 0
        let winograd = !direct && usesWinograd(g, channels: c, filters: f, images: n)
        var window = g.c
        let transformed = winograd ? simd.winograd_scratch_floats(1, c, f, &window) : 0
        let perImage = (direct || pointwise ? 0 : winograd ? transformed : pixels * taps) + (pool == nil ? 0 : pixels * f)
        // Images per chunk: what keeps a chunk's patches and output in cache, but for a product at
        // least `inferenceMinRows` rows (deep layers have few pixels and large kernels, which
        // every chunk streams once) or `winogradMinTiles` tiles, while every core still gets a chunk.
        let (rows, minRows) = winograd ? (((g.outH + 3) / 4) * ((g.outW + 3) / 4), winogradMinTiles) : (pixels, inferenceMinRows)
        let forRows = direct ? 1 : Swift.min((minRows + rows - 1) / rows, (n + ThreadCount.current - 1) / ThreadCount.current)
        let (chunks, chunk) = imageChunks(n, floatsPerImage: perImage + pixels * f, atLeast: forRows)
        let outShape = pool.map { [n, $0.outH, $0.outW, f] } ?? [n, g.outH, g.outW, f]
        let poolWindow = pool?.c
        // The direct loop starts from the bias and applies a lone ReLU itself; the GEMM path adds
        // the bias in the epilogue (not prefilled into C, which a product over several k blocks
        // would add before the later blocks' sums): the same numbers with or without the rest.
        let relu = direct && epilogue.isReLU
        var after = epilogue
        if !direct { after.bias = bias?.asArray(Float.self) }
        let post = relu || after.isNone ? nil : after.packed
        precondition(epilogue.residual.map { $0.shape == outShape && $0.dtype == .float32 && pool == nil } ?? true,
                     "chunkedConv2d: the residual must be the output's shape \(outShape), float32")
        _ = backendReady
        return withBaseAddresses(Float.self, [x, kernel, bias, epilogue.residual]) { p in
            withChunkConvolution(direct: direct, winograd: winograd, UnsafePointer(p[1]!), taps: taps, channels: c, filters: f,
                                 rows: chunk * pixels) { how in
                Tensor.build(outShape, as: Float.self) { out in
                    nonisolated(unsafe) let (x, w, b, residual, out, how) = (UnsafePointer(p[0]!), UnsafePointer(p[1]!), UnsafePointer(p[2]),
                                                                             UnsafePointer(p[3]), out.baseAddress!, how)
                    parallelFor(chunks) { range in
                        // This core's scratch: patch rows (or Winograd's transformed tiles and
                        // their products) and, before pooling, the convolution output.
                        let patchCount = direct || pointwise ? 0 : chunk * (winograd ? transformed : pixels * taps)
                        let convCount = pool == nil ? 0 : chunk * pixels * f
                        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, patchCount + convCount))
                        defer { scratch.deallocate() }
                        for index in range {
                            let start = n * index / chunks, count = n * (index + 1) / chunks - start
                            let images = x + start * imageSize
                            let conv = pool == nil ? out + start * outImage : scratch + patchCount
                            withUnsafePointer(to: window) { wp in
                                let rows = count * pixels
                                switch how {
                                case .direct: simd.conv_direct(images, count, c, wp, w, f, b, relu ? 1 : 0, conv)
                                case .winograd(let u): simd.winograd_conv(images, count, c, wp, u, f, scratch, conv)
                                case .product(let product):
                                    if !pointwise { simd.im2col(images, count, c, wp, scratch) }
                                    product(m: rows, pointwise ? images : UnsafePointer(scratch), lda: taps, beta: 0, conv, ldc: f)
                                }
                                if let post {
                                    ConvEpilogue.apply(conv, rows: rows, channels: f, post, residual: residual.map { $0 + start * outImage },
                                                       lower: epilogue.lower, upper: epilogue.upper)
                                }
                            }
                            if let poolWindow {
                                withUnsafePointer(to: poolWindow) {
                                    simd.max_pool(conv, count, f, $0, out + start * outImage, argmax.map { $0 + start * outImage },
                                                  start * pixels * f)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// How `chunkedConv2d` convolves each chunk, with what it prepared once for every chunk.
    private enum ChunkConvolution {
        /// The direct loop, on the kernel as it is.
        case direct
        /// Winograd F(4×4, 3×3) on the transformed, packed kernel.
        case winograd(UnsafePointer<Float>)
        /// im2col (unless the images are the patch rows) and a product with the packed kernel.
        case product(RepeatedProduct<Float>)
    }

    /// `body` with the way each chunk is convolved by the kernel [taps, F] (`ChunkConvolution`):
    /// the direct loop, or the kernel transformed for Winograd, or packed for products of up to
    /// `rows` rows — each prepared here once, and freed after `body`.
    private static func withChunkConvolution<R>(direct: Bool, winograd: Bool, _ kernel: UnsafePointer<Float>, taps: Int,
                                                channels c: Int, filters f: Int, rows: Int,
                                                _ body: (ChunkConvolution) throws -> R) rethrows -> R {
        if direct { return try body(.direct) }
        guard winograd else {
            return try withRepeatedProduct(transB: false, n: f, k: taps, kernel, ldb: f, rows: rows) { try body(.product($0)) }
        }
        let floats = simd.winograd_kernel_floats(c, f)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: floats * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: floats)
        defer { packed.deallocate() }
        let work = UnsafeMutablePointer<Float>.allocate(capacity: 36 * c * f)
        simd.winograd_pack_kernel(kernel, c, f, work, packed)
        work.deallocate()
        return try body(.winograd(packed))
    }

    /// Whether `chunkedConv2d` runs a convolution by Winograd F(4×4, 3×3) (`winograd_conv`,
    /// while `WinogradConvolution.isEnabled`): a 3×3 window with stride 1 over at least 16
    /// channels into 16 filters, on enough output pixels (`winogradMinPixels`) to repay each
    /// call's kernel transform (about 200·C·F multiply-adds on one core). ResNet50's predict at
    /// batch 32 (96×96 images: 3×3 convolutions of 288 to 18,432 output pixels a call, the
    /// smallest left to im2col) took 0.24 s against 0.28 without Winograd [Zen 4].
    static func usesWinograd(_ g: WindowGeometry, channels c: Int, filters f: Int, images n: Int) -> Bool {
        g.kH == 3 && g.kW == 3 && g.strideH == 1 && g.strideW == 1 && c >= 16 && f >= 16
            && n * g.outH * g.outW >= winogradMinPixels && WinogradConvolution.isEnabled
    }

    /// A convolution's input gradient dx [N, H, W, C] from dOut [N·outH·outW, F] and its kernel
    /// [taps, F] (float32), in chunks of images as `chunkedConv2d`: each core multiplies its
    /// chunk's rows by the kernel's transpose (packed once for all chunks) into its own scratch
    /// and folds them back with col2im while they are in cache (`foldInputGradient`), so the
    /// gradient of the patch matrix (kH·kW times the input) is never whole. The same numbers as
    /// `matmul(dOut, kernel, transB: true)` then `col2im`.
    static func chunkedConv2dInputGradient(_ dOut: Tensor, kernel: Tensor, inputShape: [Int], _ g: WindowGeometry) -> Tensor {
        let (n, c, taps, f) = (inputShape[0], inputShape[3], kernel.shape[0], kernel.shape[1])
        let pixels = g.outH * g.outW, imageSize = inputShape[1] * inputShape[2] * c
        let (chunks, chunk) = imageChunks(n, floatsPerImage: pixels * taps + imageSize)
        let window = g.c
        _ = backendReady
        return withBaseAddresses(Float.self, [dOut, kernel]) { p in
            withRepeatedProduct(transB: true, n: taps, k: f, UnsafePointer(p[1]!), ldb: f, rows: chunk * pixels) { product in
                Tensor.build(inputShape, as: Float.self) { dx in  // every chunk's images are written below
                    nonisolated(unsafe) let (d, dx) = (UnsafePointer(p[0]!), dx.baseAddress!)
                    parallelFor(chunks) { range in
                        let patches = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, chunk * pixels * taps))
                        defer { patches.deallocate() }
                        for index in range {
                            let start = n * index / chunks, count = n * (index + 1) / chunks - start
                            withUnsafePointer(to: window) {
                                foldInputGradient(product, d + start * pixels * f, images: count, channels: c, $0,
                                                  patches: patches, into: dx + start * imageSize)
                            }
                        }
                    }
                }
            }
        }
    }

    /// One chunk of `images` images' input gradient: their convolution output's gradient rows
    /// [images·outH·outW, F] times the kernel's transpose (`product`) into `patches`, folded back
    /// with col2im into the images' gradient `dx` (zeroed here first).
    private static func foldInputGradient(_ product: RepeatedProduct<Float>, _ dOut: UnsafePointer<Float>, images: Int,
                                          channels c: Int, _ window: UnsafePointer<lamina_window>,
                                          patches: UnsafeMutablePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let g = window.pointee
        product(m: images * g.outH * g.outW, dOut, lda: product.k, beta: 0, patches, ldc: product.n)
        dx.initialize(repeating: 0, count: images * g.inH * g.inW * c)
        simd.col2im(patches, images, c, window, dx)
    }

    /// The backward pass of a training `conv2dMaxPool` whose forward pass `chunkedConv2d` ran
    /// (float32; `direct` convolution, or im2col where the own GEMM reads the kernel gradient
    /// from the input). From the pooled output's gradient and its maxima's flat indices into the
    /// convolution output, per chunk of images in cache: the convolution output's gradient
    /// scattered into scratch; the kernel gradient [taps, F] added into the core's partial sum
    /// (the direct kernel, or `sgemm_cols_t` on the chunk's images); where `inputGradient`, the
    /// chunk's input gradient (its rows times the kernel's transpose, folded back with col2im).
    /// The convolution output's gradient and the patch matrix are never whole.
    static func chunkedConv2dMaxPoolBackward(_ dPooled: Tensor, argmax: [Int32], x: Tensor, kernel w: Tensor, _ g: WindowGeometry,
                                             pool: WindowGeometry, direct: Bool, inputGradient: Bool,
                                             kernelGradient: Bool) -> (dx: Tensor?, dw: Tensor?) {
        let (n, c, taps, f) = (x.shape[0], x.shape[3], w.shape[0], w.shape[1])
        let pixels = g.outH * g.outW, convImage = pixels * f, pooledImage = pool.outH * pool.outW * f
        let inImage = x.shape[1] * x.shape[2] * c, patchImage = inputGradient ? pixels * taps : 0
        let (chunks, chunk) = imageChunks(n, floatsPerImage: convImage + patchImage)
        let parts = Swift.min(ThreadCount.current, chunks)  // one partial kernel gradient each
        var partial = [Float](repeating: 0, count: kernelGradient ? parts * taps * f : 0)
        let window = g.c
        _ = backendReady
        func run(_ dx: UnsafeMutablePointer<Float>?, _ product: RepeatedProduct<Float>) {
            withBaseAddresses(Float.self, [dPooled, x]) { p in
                argmax.withUnsafeBufferPointer { idx in
                    partial.withUnsafeMutableBufferPointer { pp in
                        // (an empty array may still have an address: the flag decides)
                        nonisolated(unsafe) let (d, xp, idx, pp, dx) = (UnsafePointer(p[0]!), UnsafePointer(p[1]!), idx.baseAddress!,
                                                                        kernelGradient ? pp.baseAddress : nil, dx)
                        parallelFor(parts) { range in
                            let conv = UnsafeMutablePointer<Float>.allocate(capacity: chunk * convImage)
                            let patches = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, chunk * patchImage))
                            defer { conv.deallocate(); patches.deallocate() }
                            for part in range {
                                for index in (chunks * part / parts)..<(chunks * (part + 1) / parts) {
                                    let start = n * index / chunks, count = n * (index + 1) / chunks - start
                                    let images = xp + start * inImage
                                    conv.initialize(repeating: 0, count: count * convImage)
                                    simd.scatter_add(d + start * pooledImage, idx + start * pooledImage, count * pooledImage,
                                                     start * convImage, conv)
                                    withUnsafePointer(to: window) { wp in
                                        if let dx {
                                            foldInputGradient(product, conv, images: count, channels: c, wp, patches: patches,
                                                              into: dx + start * inImage)
                                        }
                                        if let pp {
                                            let dw = pp + part * taps * f
                                            if direct {
                                                simd.conv_direct_dw(images, count, c, wp, conv, f, dw)
                                            } else if simd.sgemm_cols_t(images, count, c, wp, 0, f, 1, conv, f, 1, dw, f, 1) != 0 {
                                                // no packing buffer: the chunk's patches, then the BLAS
                                                let cols = UnsafeMutablePointer<Float>.allocate(capacity: count * pixels * taps)
                                                defer { cols.deallocate() }
                                                simd.im2col(images, count, c, wp, cols)
                                                blasGemm(true, false, taps, f, count * pixels, Float(1), cols, taps, conv, f, Float(1), dw, f)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let dx: Tensor? = w.withUnsafeBuffer(as: Float.self) { wp in
            // The kernel [taps, F] transposed, packed once for every chunk's input gradient.
            withRepeatedProduct(transB: true, n: inputGradient ? taps : 0, k: f, wp.baseAddress!, ldb: f, rows: chunk * pixels) { product in
                guard inputGradient else { run(nil, product); return nil }
                return Tensor.build(x.shape, as: Float.self) { run($0.baseAddress!, product) }  // every image is written
            }
        }
        guard kernelGradient else { return (dx, nil) }
        return (dx, summedParts(partial, parts: parts, size: taps * f, shape: [taps, f]))
    }
}

