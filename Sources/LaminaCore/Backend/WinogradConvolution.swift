import Foundation
import Synchronization

/// Whether float32 3×3 convolutions with stride 1 (at least 16 channels into 16 filters, over at
/// least 1024 output pixels a call) run by Winograd F(4×4, 3×3) — 3.4-4× fewer multiply-adds
/// than im2col + GEMM — in inference, and in the forward pass of training where the own GEMM
/// runs it (`Kernels.filterGradientReadsInput`); their gradients are im2col + GEMM either way.
/// On by default; `LAMINA_WINOGRAD=0` turns it off at start, `set(enabled:)` at any time, and
/// `ComputeBackend.current` shows it.
///
/// The results differ from the direct sum's by rounding only: within 0.7-2.4e-6 of the largest
/// output where the direct sum is within about 1e-7 (interpolation points 0, ±1, 2, −1/2, ∞;
/// `winograd_impl.h`). Turn it off to compare with another framework to the last bits, as
/// cuDNN's users do with its algorithm choice and PyTorch's with `allow_tf32`.
public enum WinogradConvolution {
    private static let initial = decide(environment: ProcessInfo.processInfo.environment)
    private static let setting = Atomic<Bool>(initial.enabled)
    private static let reasonBox = Mutex(initial.reason)

    /// Whether it runs now.
    public static var isEnabled: Bool { setting.load(ordering: .relaxed) }

    /// Why it is on or off ("default", "LAMINA_WINOGRAD=0", "WinogradConvolution.set(enabled: false)").
    public static var reason: String { reasonBox.withLock { $0 } }

    /// Turns it on or off from the next convolution on.
    public static func set(enabled: Bool) {
        setting.store(enabled, ordering: .relaxed)
        reasonBox.withLock { $0 = "WinogradConvolution.set(enabled: \(enabled))" }
    }

    static func decide(environment: [String: String]) -> (enabled: Bool, reason: String) {
        switch environment["LAMINA_WINOGRAD"] {
        case nil, "": return (true, "default")
        case "0": return (false, "LAMINA_WINOGRAD=0")
        case "1": return (true, "LAMINA_WINOGRAD=1")
        case let text?: return (true, "LAMINA_WINOGRAD=\(text) is not 0 or 1; on")
        }
    }
}
