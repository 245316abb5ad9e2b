import Testing
import ZFlowTensor

@Suite struct TensorTests {
    @Test func reshapeInfersOneDimension() throws {
        let t = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        let r = try t.reshaped([6, -1])
        #expect(r.shape == [6, 4])
        #expect(r.scalars == t.scalars)
    }

    @Test func reshapeToWrongCountThrowsWithBothShapes() {
        let t = Tensor(zeros: [2, 3])
        #expect(throws: ShapeError.self) { try t.reshaped([4, 2]) }
        do { _ = try t.reshaped([4, 2]) } catch {
            #expect("\(error)".contains("[2, 3]") && "\(error)".contains("[4, 2]"))
        }
    }

    @Test func sliceSharesStorage() {
        let t = Tensor(shape: [3, 2], scalars: [0, 1, 2, 3, 4, 5])
        #expect(t.slice(1).scalars == [2, 3])
        #expect(t.slice(1..<3).scalars == [2, 3, 4, 5])
        #expect(t.slice(2).storage === t.storage)
    }
}
