/// The gradient of the table is zero but for the rows used, which receive the sum of the
/// gradient rows that read them, added in order of place (torch's dense `embedding_backward`).
func embeddingBackward(_ indices: [Int], tableShape: [Int]) -> GradientTape.Pullback {
    { gradient, _ in
        let width = tableShape[1]
        let table = Tensor(zeros: tableShape)
        let destination = table.mutablePointer, source = gradient.pointer
        for (place, index) in indices.enumerated() {
            let row = destination + index * width, values = source + place * width
            for column in 0..<width { row[column] += values[column] }
        }
        return [table]
    }
}
