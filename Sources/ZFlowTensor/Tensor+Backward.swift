// Pullbacks of the views (Tensor.swift): they share storage, their gradients do not.

func reshapeBackward(_ inputShape: [Int]) -> GradientTape.Pullback {
    { gradient, _ in [Tensor(shape: inputShape, storage: gradient.storage, offset: gradient.offset)] }
}

/// The gradient of rows `rows` of a tensor of `inputShape` placed in zeros of that shape.
func sliceBackward(_ inputShape: [Int], rows: Range<Int>) -> GradientTape.Pullback {
    { gradient, _ in
        let result = Tensor(zeros: inputShape)
        let inner = Tensor.elementCount(Array(inputShape.dropFirst()))
        (result.mutablePointer + rows.lowerBound * inner).update(from: gradient.pointer, count: gradient.count)
        return [result]
    }
}
