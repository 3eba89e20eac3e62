import Foundation
import Testing
import LaminaTestSupport
@testable import Lamina

/// BatchNormalization's `center` and `scale` options (Keras omits beta / gamma when false).
@Suite struct BatchNormalizationOptionsTests {
    /// BatchNormalization with `center: false` / `scale: false` has no beta / gamma (Keras).
    @Test func batchNormalizationWithoutCenterOrScale() throws {
        var worst = 0.0
        for (center, scale) in [(false, true), (true, false), (false, false)] {
            let bn = BatchNormalization(center: center, scale: scale)
            try bn.buildIfNeeded([3])
            #expect(bn.weights.count == 2 + (center ? 1 : 0) + (scale ? 1 : 0))
            #expect(try bn.weightShapes(for: [3]) == bn.weights.map(\.shape))
            worst = max(worst, try checkLayerGradients(BatchNormalization(center: center, scale: scale), [5, 3], training: true).maxRelativeError)
            worst = max(worst, try checkLayerGradients(BatchNormalization(center: center, scale: scale), [2, 2, 2, 3]).maxRelativeError)
        }
        print("BatchNormalization (center/scale off) gradient check max relative error: \(worst)")
    }
}
