import Testing
import ZFlowTensor

/// `embedding`: torch.nn.functional.embedding's rows, and a backward that adds each place's
/// gradient row into the row it read (a row read twice gets both).
@Suite struct EmbeddingTests {
    @Test func rowsAndTheirGradient() throws {
        let table = Tensor(shape: [4, 2], scalars: [0, 1, 10, 11, 20, 21, 30, 31])
        let indices = [2, 0, 2]
        let weights = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let tape = GradientTape()
        let loss = try tape.record { () throws -> Tensor in
            let rows = try embedding(indices, table: table)
            #expect(rows.shape == [3, 2] && rows.scalars == [20, 21, 0, 1, 20, 21])
            return try sum(mul(rows, weights))
        }
        let gradient = try #require(try tape.gradient(of: loss, withRespectTo: ["table": table])["table"])
        #expect(gradient.shape == [4, 2])
        #expect(gradient.scalars == [3, 4, 0, 0, 1 + 5, 2 + 6, 0, 0])
    }

    @Test func indexOutsideTheTableIsNamed() {
        let table = Tensor(zeros: [4, 2])
        #expect(throws: ShapeError("embedding", "index 4 outside the 4 rows of the table [4, 2]")) { _ = try embedding([0, 4], table: table) }
        #expect(throws: ShapeError("embedding", "index -1 outside the 4 rows of the table [4, 2]")) { _ = try embedding([-1], table: table) }
        #expect(throws: ShapeError("embedding", "the table must be [rows, width], got [8]")) { _ = try embedding([0], table: Tensor(zeros: [8])) }
    }
}
