// Pullbacks of the shape ops (ShapeOps.swift).

/// Cuts the gradient back into the concatenated pieces.
func concatBackward(_ shapes: [[Int]], axis: Int) -> GradientTape.Pullback {
    { gradient, needed in
        let outer = gradient.shape[..<axis].reduce(1, *)
        let inner = gradient.shape[(axis + 1)...].reduce(1, *)
        let total = gradient.shape[axis] * inner
        var offset = 0
        var pieces: [Tensor?] = []
        for (index, shape) in shapes.enumerated() {
            let span = shape[axis] * inner
            if needed[index] {
                let piece = Tensor(uninitialized: shape)
                for block in 0..<outer {
                    (piece.mutablePointer + block * span).update(from: gradient.pointer + block * total + offset, count: span)
                }
                pieces.append(piece)
            } else {
                pieces.append(nil)
            }
            offset += span
        }
        return pieces
    }
}

/// Spreads the gradient evenly back over the reduced axis.
func meanBackward(_ inputShape: [Int], axis: Int) -> GradientTape.Pullback {
    { gradient, _ in
        let outer = inputShape[..<axis].reduce(1, *)
        let length = inputShape[axis]
        let inner = inputShape[(axis + 1)...].reduce(1, *)
        let result = Tensor(uninitialized: inputShape)
        let source = gradient.pointer, destination = result.mutablePointer
        for block in 0..<outer {
            for step in 0..<length {
                affine(source + block * inner, scale: 1 / Float(length), shift: 0,
                       into: destination + (block * length + step) * inner, count: inner)
            }
        }
        return [result]
    }
}

func sumBackward(_ inputShape: [Int]) -> GradientTape.Pullback {
    { gradient, _ in [Tensor(repeating: gradient.pointer[0], shape: inputShape)] }
}

func transposeBackward() -> GradientTape.Pullback {
    { gradient, _ in [transpose(gradient)] }
}

/// Permutes back with the inverse order.
func permuteBackward(_ order: [Int]) -> GradientTape.Pullback {
    { gradient, _ in
        var inverse = [Int](repeating: 0, count: order.count)
        for (position, axis) in order.enumerated() { inverse[axis] = position }
        return [try permute(gradient, inverse)]
    }
}
