import Testing
@testable import Lamina

@Suite(.serialized) struct SummaryTests {
    /// The layout captured from Keras 3.15.1 (KERAS_REFERENCE.md §2.3), with this model.
    @Test func tableMatchesKerasLayout() throws {
        let model = Sequential([
            Conv2D(32, kernelSize: (3, 3), inputShape: [28, 28, 1], name: "conv2d"),
            MaxPooling2D(poolSize: (2, 2), name: "max_pooling2d"),
            BatchNormalization(name: "batch_normalization"),
            Flatten(name: "flatten"), Dropout(0.5, name: "dropout"),
            Dense(10, activation: .softmax, name: "dense"),
        ], name: "sequential")
        let expected = """
        Model: "sequential"
        ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
        ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
        ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
        │ conv2d (Conv2D)                 │ (None, 26, 26, 32)     │           320 │
        ├─────────────────────────────────┼────────────────────────┼───────────────┤
        │ max_pooling2d (MaxPooling2D)    │ (None, 13, 13, 32)     │             0 │
        ├─────────────────────────────────┼────────────────────────┼───────────────┤
        │ batch_normalization             │ (None, 13, 13, 32)     │           128 │
        │ (BatchNormalization)            │                        │               │
        ├─────────────────────────────────┼────────────────────────┼───────────────┤
        │ flatten (Flatten)               │ (None, 5408)           │             0 │
        ├─────────────────────────────────┼────────────────────────┼───────────────┤
        │ dropout (Dropout)               │ (None, 5408)           │             0 │
        ├─────────────────────────────────┼────────────────────────┼───────────────┤
        │ dense (Dense)                   │ (None, 10)             │        54,090 │
        └─────────────────────────────────┴────────────────────────┴───────────────┘
         Total params: 54,538 (213.04 KB)
         Trainable params: 54,474 (212.79 KB)
         Non-trainable params: 64 (256.00 B)
        """
        #expect(model.summaryText(lineLength: 76) == expected)
    }
}
