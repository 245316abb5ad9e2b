import ZFlowTensor

/// The outcome of comparing a computed tensor with a reference one under
/// `|a - b| <= atol + rtol * |ref|`, element by element, shapes first.
public struct ParityReport: CustomStringConvertible, Sendable {
    public let name: String
    public let shapeMatches: Bool
    public let actualShape: [Int]
    public let expectedShape: [Int]
    public let maxAbsError: Float
    /// max |a - b| / max |ref|: the figure recorded in docs/parity.md.
    public let relativeToPeak: Float
    public let maxAbsReference: Float
    public let violations: Int
    public let worstIndex: Int
    public let atol: Float
    public let rtol: Float

    public var passes: Bool { shapeMatches && violations == 0 }

    public var description: String {
        guard shapeMatches else {
            return "\(name): shape \(actualShape) != reference \(expectedShape)"
        }
        return "\(name): max|a-b| = \(maxAbsError) (\(relativeToPeak) of max|ref| \(maxAbsReference)), "
            + "\(violations) values outside atol \(atol) + rtol \(rtol)*|ref|, worst at flat index \(worstIndex)"
    }
}

/// Compares `actual` with `expected`; NaN in either side counts as a violation.
public func compare(_ actual: Tensor, _ expected: Tensor, atol: Float, rtol: Float, name: String = "tensor") -> ParityReport {
    guard actual.shape == expected.shape else {
        return ParityReport(name: name, shapeMatches: false, actualShape: actual.shape, expectedShape: expected.shape,
                            maxAbsError: .nan, relativeToPeak: .nan, maxAbsReference: .nan, violations: 0,
                            worstIndex: -1, atol: atol, rtol: rtol)
    }
    var maxAbs: Float = 0, maxRef: Float = 0, violations = 0, worst = 0
    let a = actual.pointer, b = expected.pointer
    for i in 0..<actual.count {
        let difference = abs(a[i] - b[i])
        maxRef = max(maxRef, abs(b[i]))
        if !(difference <= atol + rtol * abs(b[i])) { violations += 1 }
        if difference > maxAbs || difference.isNaN { maxAbs = difference; worst = i }
    }
    return ParityReport(name: name, shapeMatches: true, actualShape: actual.shape, expectedShape: expected.shape,
                        maxAbsError: maxAbs, relativeToPeak: maxRef > 0 ? maxAbs / maxRef : maxAbs,
                        maxAbsReference: maxRef, violations: violations, worstIndex: worst, atol: atol, rtol: rtol)
}

/// Bitwise equality (so NaN payloads, -0 and inf count).
public func bitwiseEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && zip(a.scalars, b.scalars).allSatisfy { $0.bitPattern == $1.bitPattern }
}
