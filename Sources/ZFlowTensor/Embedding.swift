/// Matches `torch.nn.functional.embedding`: the rows `indices` of `table` [N, D], one after
/// another: [indices.count, D]. Every index must be in 0..<N.
public func embedding(_ indices: [Int], table: Tensor) throws -> Tensor {
    let timing = timeOp("embedding")
    defer { timing?.stop() }
    guard table.rank == 2 else { throw ShapeError("embedding", "the table must be [rows, width], got \(table.shape)") }
    let rows = table.shape[0], width = table.shape[1]
    if let bad = indices.first(where: { $0 < 0 || $0 >= rows }) {
        throw ShapeError("embedding", "index \(bad) outside the \(rows) rows of the table \(table.shape)")
    }
    let result = Tensor(uninitialized: [indices.count, width])
    let destination = result.mutablePointer, source = table.pointer
    for (place, index) in indices.enumerated() {
        (destination + place * width).update(from: source + index * width, count: width)
    }
    GradientTape.note("embedding", inputs: [table], output: result, pullback: embeddingBackward(indices, tableShape: table.shape))
    return result
}
