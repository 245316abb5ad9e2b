import Testing
import ZFlowTensor

/// Data-caused shape mismatches throw `ShapeError` naming both shapes.
@Suite struct OpsShapeErrorTests {
    /// Runs `body`, expecting a ShapeError whose message contains every one of `shapes`.
    func expectShapeError(_ shapes: [[Int]], _ body: () throws -> Tensor) {
        do {
            let result = try body()
            Issue.record("expected a ShapeError, got a tensor \(result.shape)")
        } catch let error as ShapeError {
            for shape in shapes {
                #expect("\(error)".contains("\(shape)"), "\(error) should name \(shape)")
            }
        } catch {
            Issue.record("expected a ShapeError, got \(error)")
        }
    }

    @Test func mismatchedShapesNameBothShapes() {
        let a = Tensor(zeros: [2, 3]), b = Tensor(zeros: [4, 5])
        expectShapeError([[2, 3], [4, 5]]) { try matmul(a, b) }
        expectShapeError([[2, 3], [2, 3, 1]]) { try matmul(a, Tensor(zeros: [2, 3, 1])) }
        expectShapeError([[2, 3], [5, 4]]) { try linear(a, weight: Tensor(zeros: [5, 4]), bias: nil) }
        expectShapeError([[7], [5, 3]]) { try linear(a, weight: Tensor(zeros: [5, 3]), bias: Tensor(zeros: [7])) }
        let image = Tensor(zeros: [1, 3, 8, 8])
        expectShapeError([[1, 3, 8, 8], [4, 2, 3, 3]]) { try conv2d(image, weight: Tensor(zeros: [4, 2, 3, 3]), bias: nil) }
        expectShapeError([[1, 3, 8, 8], [4, 3, 9, 9]]) { try conv2d(image, weight: Tensor(zeros: [4, 3, 9, 9]), bias: nil) }
        expectShapeError([[2], [4, 3, 3, 3]]) { try conv2d(image, weight: Tensor(zeros: [4, 3, 3, 3]), bias: Tensor(zeros: [2])) }
        expectShapeError([[1, 3, 8, 8], [2, 4, 2, 2]]) { try convTranspose2d(image, weight: Tensor(zeros: [2, 4, 2, 2]), bias: nil, stride: 2) }
        expectShapeError([[1, 3, 8, 8]]) { try groupNorm(image, groups: 2, weight: Tensor(zeros: [3]), bias: Tensor(zeros: [3]), eps: 1e-5) }
        expectShapeError([[4], [3], [1, 3, 8, 8]]) { try groupNorm(image, groups: 3, weight: Tensor(zeros: [4]), bias: Tensor(zeros: [3]), eps: 1e-5) }
        expectShapeError([[4], [3], [2, 3]]) { try layerNorm(a, weight: Tensor(zeros: [4]), bias: Tensor(zeros: [3]), eps: 1e-5) }
        expectShapeError([[2, 8], [3, 6], [3, 8]]) {
            try attention(query: Tensor(zeros: [2, 8]), key: Tensor(zeros: [3, 6]), value: Tensor(zeros: [3, 8]), heads: 2)
        }
        expectShapeError([[2, 8], [3, 9]]) {
            try attention(query: Tensor(zeros: [2, 8]), key: Tensor(zeros: [3, 8]), value: Tensor(zeros: [3, 9]), heads: 2)
        }
        expectShapeError([[2, 3]]) { try geglu(a) }
        expectShapeError([[2, 3], [4, 5]]) { try add(a, b) }
        expectShapeError([[2, 3], [4, 5]]) { try sub(a, b) }
        expectShapeError([[2, 3], [4, 5]]) { try mul(a, b) }
        expectShapeError([[4], [1, 3, 8, 8]]) { try add(image, channelBias: Tensor(zeros: [4])) }
        expectShapeError([[2, 3], [4, 5]]) { try concat([a, b], axis: 0) }
        expectShapeError([[2, 3]]) { try mean(a, axis: 2) }
        expectShapeError([[2, 3]]) { try permute(a, [0, 0]) }
        expectShapeError([[1, 3, 8, 8]]) { try resizeBicubic(image, height: 0, width: 4) }
    }
}
