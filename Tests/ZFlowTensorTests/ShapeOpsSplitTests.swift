import Testing
import ZFlowTensor
import ZFlowTestSupport

/// concat, permute, transpose and mean on tensors large enough (over `parallelCopyMinimum`, 2^15
/// values) that they split their work between the cores: equal to the definitions written as index
/// loops, to the bit (the copies move values; each mean sums its inputs in the same order).
@Suite struct ShapeOpsSplitTests {
    @Test(arguments: [0, 1, 2])
    func concatMatchesItsDefinition(axis: Int) throws {
        var shapeA = [3, 200, 300], shapeB = shapeA
        shapeB[axis] = [1, 70, 170][axis]
        let a = randomTensor(shapeA, seed: 21), b = randomTensor(shapeB, seed: 22)
        let joined = try concat([a, b], axis: axis)
        var shape = shapeA
        shape[axis] += shapeB[axis]
        #expect(joined.shape == shape)
        let aValues = a.scalars, bValues = b.scalars
        var expected: [Float] = []
        for i in 0..<shape[0] { for j in 0..<shape[1] { for k in 0..<shape[2] {
            var index = [i, j, k]
            if index[axis] < shapeA[axis] {
                expected.append(aValues[(index[0] * shapeA[1] + index[1]) * shapeA[2] + index[2]])
            } else {
                index[axis] -= shapeA[axis]
                expected.append(bValues[(index[0] * shapeB[1] + index[1]) * shapeB[2] + index[2]])
            }
        } } }
        #expect(firstDifference(joined.scalars, expected) == nil)
    }

    @Test(arguments: [[2, 0, 3, 1], [3, 2, 1, 0], [0, 1, 3, 2]])
    func permuteMatchesItsDefinition(order: [Int]) throws {
        let shape = [3, 70, 5, 300]
        let x = randomTensor(shape, seed: 23)
        let permuted = try permute(x, order)
        #expect(permuted.shape == order.map { shape[$0] })
        let values = x.scalars, outShape = permuted.shape
        var expected = [Float](repeating: .nan, count: x.count)
        for i in 0..<shape[0] { for j in 0..<shape[1] { for k in 0..<shape[2] { for l in 0..<shape[3] {
            let index = [i, j, k, l], out = order.map { index[$0] }
            let target = ((out[0] * outShape[1] + out[1]) * outShape[2] + out[2]) * outShape[3] + out[3]
            expected[target] = values[((i * shape[1] + j) * shape[2] + k) * shape[3] + l]
        } } } }
        #expect(firstDifference(permuted.scalars, expected) == nil)
    }

    @Test func transposeMatchesItsDefinition() {
        let (batch, rows, columns) = (2, 333, 517)
        let x = randomTensor([batch, rows, columns], seed: 24)
        let transposed = transpose(x)
        #expect(transposed.shape == [batch, columns, rows])
        let values = x.scalars
        var expected: [Float] = []
        for item in 0..<batch { for column in 0..<columns { for row in 0..<rows {
            expected.append(values[(item * rows + row) * columns + column])
        } } }
        #expect(firstDifference(transposed.scalars, expected) == nil)
    }

    /// Along the last axis (many blocks, split by block) and along the first (one block, split
    /// along the values it keeps).
    @Test(arguments: [([4, 70, 1000], 2), ([300, 1100], 0), ([3, 300, 400], 1)])
    func meanMatchesItsDefinition(shape: [Int], axis: Int) throws {
        let x = randomTensor(shape, seed: 25)
        let reduced = try mean(x, axis: axis)
        let outer = shape[..<axis].reduce(1, *), length = shape[axis], inner = shape[(axis + 1)...].reduce(1, *)
        let values = x.scalars
        var expected: [Float] = []
        for block in 0..<outer { for index in 0..<inner {
            var total: Float = 0
            for step in 0..<length { total += values[(block * length + step) * inner + index] }
            expected.append(total / Float(length))
        } }
        #expect(firstDifference(reduced.scalars, expected) == nil)
    }
}

/// The first index where two arrays of the same length differ (nil if none): a failure names one
/// value instead of printing hundreds of thousands.
private func firstDifference(_ actual: [Float], _ expected: [Float]) -> String? {
    guard actual.count == expected.count else { return "\(actual.count) values, expected \(expected.count)" }
    return actual.indices.first { actual[$0] != expected[$0] }.map { "at \($0): \(actual[$0]), expected \(expected[$0])" }
}
