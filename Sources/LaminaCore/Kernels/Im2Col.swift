import CLaminaKernels

/// Padding modes of convolution and pooling, as Keras spells them: `.valid`, `.same`, or the
/// strings `"valid"` and `"same"` (any case). A string naming neither keeps its error in
/// `nameError` (and acts as valid) so the layer given it can report it when used, as an
/// activation name does; Tensor ops take only the two members.
public struct Padding: Sendable, Hashable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The two modes, with Keras's names as raw values.
    public enum Kind: String, Sendable, CaseIterable, Codable {
        /// No padding: windows lie inside the input.
        case valid
        /// Output size ceil(input / stride); TensorFlow's rule, the extra pad goes bottom/right.
        case same
    }
    /// Valid or same.
    public let kind: Kind
    /// Set when a string named neither mode: the layer given it reports this error when used.
    public let nameError: String?

    /// Keras's `"valid"` and `"same"`.
    public static let valid = Padding(kind: .valid), same = Padding(kind: .same)
    init(kind: Kind, nameError: String? = nil) { (self.kind, self.nameError) = (kind, nameError) }

    /// `padding: "same"` (any case); another string is kept as `nameError`.
    public init(stringLiteral name: String) {
        if let kind = Kind(rawValue: name.lowercased()) {
            self.init(kind: kind)
        } else {
            self.init(kind: .valid, nameError: "padding must be \"valid\" or \"same\", got \"\(name)\"")
        }
    }
    /// Keras's spelling: `"valid"` or `"same"`.
    public var rawValue: String { kind.rawValue }
    /// Keras's spelling.
    public var description: String { rawValue }

    /// Decodes Keras's string.
    public init(from decoder: Decoder) throws { self.init(kind: try Kind(from: decoder)) }
    /// Encodes Keras's string.
    public func encode(to encoder: Encoder) throws { try kind.encode(to: encoder) }
}

/// The spatial arithmetic of a 2-D window sliding over NHWC data.
public struct WindowGeometry: Equatable, Sendable {
    /// The input's height and width, the window's, and the steps.
    public let inH, inW, kH, kW, strideH, strideW: Int
    /// The output's height and width, and the padding before the first row and column.
    public let outH, outW, padTop, padLeft: Int

    /// The geometry of a `kH × kW` window with these steps over an `inH × inW` input under `padding`.
    public init(inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int, strideW: Int, padding: Padding) {
        (self.inH, self.inW, self.kH, self.kW, self.strideH, self.strideW) = (inH, inW, kH, kW, strideH, strideW)
        switch padding.kind {
        case .valid:
            outH = inH >= kH ? (inH - kH) / strideH + 1 : 0
            outW = inW >= kW ? (inW - kW) / strideW + 1 : 0
            padTop = 0; padLeft = 0
        case .same:
            outH = (inH + strideH - 1) / strideH
            outW = (inW + strideW - 1) / strideW
            // TensorFlow puts the odd pixel of padding at the bottom/right, so top gets floor.
            padTop = Swift.max((outH - 1) * strideH + kH - inH, 0) / 2
            padLeft = Swift.max((outW - 1) * strideW + kW - inW, 0) / 2
        }
    }

    /// The geometry of valid windows over the input with these zero rows and columns added
    /// around it (ZeroPadding2D then a `.valid` window, without the padded copy).
    public init(inH: Int, inW: Int, kH: Int, kW: Int, strideH: Int, strideW: Int,
                zeroPadding p: (top: Int, bottom: Int, left: Int, right: Int)) {
        let valid = WindowGeometry(inH: inH + p.top + p.bottom, inW: inW + p.left + p.right, kH: kH, kW: kW,
                                   strideH: strideH, strideW: strideW, padding: .valid)
        (self.inH, self.inW, self.kH, self.kW, self.strideH, self.strideW) = (inH, inW, kH, kW, strideH, strideW)
        (outH, outW, padTop, padLeft) = (valid.outH, valid.outW, p.top, p.left)
    }
}

extension Kernels {
    /// Unfolds NHWC patches into rows: cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c].
    /// The row order makes `cols · kernel[KH·KW·C, F]` come out directly in NHWC. The C
    /// kernel, images split across the cores.
    static func im2col<T: FloatScalar>(_ x: UnsafeBufferPointer<T>, batch: Int, channels c: Int,
                                       _ g: WindowGeometry, _ cols: UnsafeMutableBufferPointer<T>) {
        let (xp, cp) = (x.baseAddress!, cols.baseAddress!)
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * g.kH * g.kW * c
        parallelFor(batch) { r in
            CKernels<T>.im2col(xp + r.lowerBound * inImage, r.count, c, g, cp + r.lowerBound * outImage)
        }
    }

    /// The adjoint of im2col: adds each patch row back to the NHWC positions it came from.
    static func col2im<T: FloatScalar>(_ cols: UnsafeBufferPointer<T>, batch: Int, channels c: Int,
                                       _ g: WindowGeometry, _ x: UnsafeMutableBufferPointer<T>) {
        let (cp, xp) = (cols.baseAddress!, x.baseAddress!)
        let inImage = g.inH * g.inW * c, outImage = g.outH * g.outW * g.kH * g.kW * c
        parallelFor(batch) { r in
            CKernels<T>.col2im(cp + r.lowerBound * outImage, r.count, c, g, xp + r.lowerBound * inImage)
        }
    }

    /// Whether a float32 convolution's kernel gradient colsᵀ·dOut ([taps, filters], summed over
    /// `rows` output pixels) is read straight from its input (`convFilterGradientFromInput`):
    /// where `GemmChoice` runs the product on the own GEMM. Otherwise the patches are kept from
    /// the forward pass and multiplied.
    static func filterGradientReadsInput(taps: Int, filters: Int, rows: Int) -> Bool {
        _ = backendReady
        return useOwnGemm(m: taps, n: filters, k: rows)
    }

    /// A convolution's kernel gradient dK [kH·kW·C, F] = im2col(x)ᵀ · dOut, float32, x
    /// [N, H, W, C] and dOut [N·outH·outW, F]: the own GEMM packs its op(A) panels straight from
    /// the input (`sgemm_cols_t`), the same numbers as `matmul(im2col(x), transA: true, dOut)`
    /// without the patch matrix — kH·kW times the input's size, read in strided columns. On
    /// `threads` threads with the kernels of `level` (nil: the CPU's). Nil when the GEMM's
    /// packing buffer could not be allocated.
    static func convFilterGradientFromInput(_ x: UnsafePointer<Float>, batch: Int, channels c: Int, _ g: WindowGeometry,
                                            _ dOut: UnsafePointer<Float>, filters f: Int, _ dk: UnsafeMutablePointer<Float>,
                                            level: Int? = nil, threads: Int = ThreadCount.current) -> Bool {
        _ = backendReady
        let table = level.map { lamina_kernels_for_level(Int32($0))!.pointee } ?? simd
        return withUnsafePointer(to: g.c) { w in
            table.sgemm_cols_t(x, batch, c, w, 0, f, 1, dOut, f, 0, dk, f, threads) == 0
        }
    }
}

