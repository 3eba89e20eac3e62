import Lamina

extension TextVectorization {
    /// Learns the vocabulary from every batch of `dataset` (its inputs: texts encoded by
    /// `Tensor(texts:)`), as Keras's `adapt` on a dataset of strings.
    public func adapt(_ dataset: Dataset) throws {
        let iterator = try dataset.makeIterator()
        try adapt(nextBatch: { try iterator.next()?.x.texts() })
    }
}
