import Testing
import LaminaTestSupport
@testable import Lamina

/// The `Layer` base class: its call contract (building on first use, dtype of the weights).
@Suite struct LayerTests {
    /// A layer built in one precision and called with the other computes in its own, as Keras
    /// autocasts inputs to a layer's compute dtype (it used to stop the process in matmul).
    @Test func floatingInputIsCastToTheLayersPrecision() throws {
        let dense = Dense(3, activation: .tanh)
        let x64 = randn([4, 5], seed: 1)
        let y64 = try dense(x64)
        #expect(dense.dtype == .float64 && y64.dtype == .float64)
        let y = try dense(x64.cast(to: .float32))
        #expect(y.dtype == .float64)
        // The same as the float64 call on the rounded input.
        expectClose(y, try dense(x64.cast(to: .float32).cast(to: .float64)), atol: 0, rtol: 0, "autocast output")

        // A float64 layer inside a float32 model: predict runs and the gradient reaches the input.
        let inner = Dense(2)
        try inner.buildIfNeeded([3], dtype: .float64)
        let model = Sequential([Input(shape: [3]), inner])
        let out = try model.predict(Tensor.ones([2, 3]))
        #expect(out.shape == [2, 2])
        var x = Tensor.ones([2, 3])
        x.requiresGrad = true
        let g = try inner(x).sum().gradients(wrt: [x])[0]
        #expect(g.dtype == .float32 && g.shape == [2, 3])
        expectClose(g, inner.weights[0].value.sum(axes: [1]).reshaped(to: [1, 3]).broadcasted(to: [2, 3]).cast(to: .float32),
                    atol: 1e-6, rtol: 1e-6, "gradient through the cast")
    }
}
