/// Matches `torch.nn.functional.scaled_dot_product_attention` on heads split from the channels:
/// q [Tq,D], k [Tk,D], v [Tk,Dv] -> [Tq,Dv]; head h uses channels h*D/heads ..< (h+1)*D/heads of
/// q and k and the same share of v, with scale 1/sqrt(D/heads). `causal` lets query i see keys
/// 0...i (PyTorch's `is_causal`, aligned top-left).
///
/// Batched: q [B,Tq,D] with k [B,Tk,D], v [B,Tk,Dv] (one set of keys per sample) or with k [Tk,D],
/// v [Tk,Dv] shared by every sample (a text or pool context common to the batch, packed once)
/// -> [B,Tq,Dv]. Each sample's arithmetic is that of an unbatched call.
///
/// Keys and values are packed once per head (AttentionKernels.swift). The work is then split into
/// (sample, head, block of queries) items, run on both cores; each item keeps its block's scores
/// (block x Tk) in its own buffer, takes max-subtracted exponentials in place and scales the
/// product with the values by the inverse row sums (so the wide score rows are never divided).
/// Each item's arithmetic is fixed, so results do not depend on the number of threads or timing.
public func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool = false) throws -> Tensor {
    let timing = timeOp("attention")
    defer { timing?.stop() }
    return try attention(query: query, key: key, value: value, heads: heads, causal: causal, queryBlock: 48)
}

/// `attention` with `queryBlock` queries of one head per work item, rounded up to a multiple of 12
/// (the score and value tile heights); tests use small blocks.
func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int, causal: Bool, queryBlock: Int) throws -> Tensor {
    let batch = try AttentionBatch(query: query, key: key, value: value, heads: heads)
    let width = query.shape[query.rank - 1], valueWidth = value.shape[value.rank - 1]
    let result = Tensor(uninitialized: Array(query.shape.dropLast()) + [valueWidth])
    guard batch.queries > 0, batch.keys > 0 else {
        result.mutablePointer.update(repeating: 0, count: result.count)
        return result
    }
    let layout = AttentionLayout(queries: batch.queries, keys: batch.keys, width: width, valueWidth: valueWidth,
                                 heads: heads, causal: causal, block: roundUp(max(1, queryBlock), to: 12))
    let packed = PackedKeysAndValues(key: key.pointer, value: value.pointer, sets: batch.keySets, layout: layout)
    defer { packed.deallocate() }
    let blocksPerHead = (layout.queries + layout.block - 1) / layout.block
    let itemsPerSample = heads * blocksPerHead
    let itemCost = layout.block * layout.keys * (layout.headWidth + layout.valueHeadWidth)
    parallelRanges(batch.samples * itemsPerSample, costPerItem: itemCost) { items in
        let scratch = AttentionScratch(layout)
        defer { scratch.deallocate() }
        for item in items {
            let sample = item / itemsPerSample, local = item % itemsPerSample
            attendBlock(head: local / blocksPerHead, firstQuery: (local % blocksPerHead) * layout.block,
                        query: query.pointer + sample * layout.queries * width,
                        packed: packed, keySet: batch.keySet(of: sample), scratch: scratch,
                        out: result.mutablePointer + sample * layout.queries * valueWidth, layout: layout)
        }
    }
    GradientTape.note("attention", inputs: [query, key, value], output: result,
                      pullback: attentionBackward(query: query, key: key, value: value, heads: heads, causal: causal))
    return result
}

/// The batch structure of one attention call, checked: B samples of Tq queries, and either one
/// key/value set per sample or one set shared by all.
struct AttentionBatch {
    let samples, queries, keys: Int
    /// How many key/value sets are stored: `samples`, or 1 when shared.
    let keySets: Int

    init(query: Tensor, key: Tensor, value: Tensor, heads: Int) throws {
        let unbatched = query.rank == 2 && key.rank == 2 && value.rank == 2
        let batched = query.rank == 3 && key.rank == value.rank
            && (key.rank == 2 || (key.rank == 3 && key.shape[0] == query.shape[0] && value.shape[0] == query.shape[0]))
        guard unbatched || batched, query.shape.last == key.shape.last,
              key.shape[key.rank - 2] == value.shape[value.rank - 2] else {
            throw ShapeError("attention", "query \(query.shape), key \(key.shape), value \(value.shape) must be [Tq,D], [Tk,D], "
                             + "[Tk,Dv], or a batch [B,Tq,D] with keys and values [B,Tk,D], [B,Tk,Dv] or shared [Tk,D], [Tk,Dv]")
        }
        let width = query.shape[query.rank - 1], valueWidth = value.shape[value.rank - 1]
        guard heads > 0, width % heads == 0, valueWidth % heads == 0 else {
            throw ShapeError("attention", "query \(query.shape) and value \(value.shape) widths do not split into \(heads) heads")
        }
        samples = query.rank == 3 ? query.shape[0] : 1
        queries = query.shape[query.rank - 2]
        keys = key.shape[key.rank - 2]
        keySets = key.rank == 3 ? samples : 1
    }

    /// The key/value set sample `sample` attends to.
    func keySet(of sample: Int) -> Int { keySets == 1 ? 0 : sample }
}

/// The sizes of one attention call.
struct AttentionLayout {
    let queries, keys, width, valueWidth, heads: Int
    let causal: Bool
    /// Queries per work item (a multiple of 12).
    let block: Int
    var headWidth: Int { width / heads }
    var valueHeadWidth: Int { valueWidth / heads }
    /// Keys rounded up to whole panels: the stride of a score row.
    var paddedKeys: Int { roundUp(keys, to: keyPanelWidth) }
    /// Value columns of one head rounded up to whole vectors of the value tile.
    var valueColumns: Int { roundUp(valueHeadWidth, to: valueLanes) }
    var scale: Float { 1 / Float(headWidth).squareRoot() }
}

/// Keys as [depth x 24] panels and values as rows of `valueColumns` (zero-padded), per key/value
/// set and head.
struct PackedKeysAndValues: @unchecked Sendable {
    let keyPanels, values: UnsafeMutablePointer<Float>
    let layout: AttentionLayout

    /// `sets` consecutive key ([Tk, D]) and value ([Tk, Dv]) sets.
    init(key: UnsafePointer<Float>, value: UnsafePointer<Float>, sets: Int, layout: AttentionLayout) {
        self.layout = layout
        let headWidth = layout.headWidth, valueHeadWidth = layout.valueHeadWidth
        let paddedKeys = layout.paddedKeys, valueColumns = layout.valueColumns
        let keyPanels = allocateFloats(sets * layout.heads * paddedKeys * headWidth)
        let values = allocateFloats(sets * layout.heads * layout.keys * valueColumns)
        parallelRanges(sets * layout.heads, costPerItem: layout.keys * (headWidth + valueHeadWidth)) { items in
            for item in items {
                let (set, head) = (item / layout.heads, item % layout.heads)
                let k = key + set * layout.keys * layout.width, v = value + set * layout.keys * layout.valueWidth
                let panels = keyPanels + item * paddedKeys * headWidth
                for keyIndex in 0..<paddedKeys {
                    let panel = panels + (keyIndex / keyPanelWidth) * headWidth * keyPanelWidth + keyIndex % keyPanelWidth
                    let source = k + keyIndex * layout.width + head * headWidth
                    for d in 0..<headWidth { panel[d * keyPanelWidth] = keyIndex < layout.keys ? source[d] : 0 }
                }
                let rows = values + item * layout.keys * valueColumns
                for keyIndex in 0..<layout.keys {
                    let row = rows + keyIndex * valueColumns
                    row.update(from: v + keyIndex * layout.valueWidth + head * valueHeadWidth, count: valueHeadWidth)
                    (row + valueHeadWidth).update(repeating: 0, count: valueColumns - valueHeadWidth)
                }
            }
        }
        self.keyPanels = keyPanels
        self.values = values
    }

    /// The key panels of `head` in key/value set `set`.
    func keyPanels(set: Int, head: Int) -> UnsafeMutablePointer<Float> {
        keyPanels + (set * layout.heads + head) * layout.paddedKeys * layout.headWidth
    }

    /// The value rows of `head` in key/value set `set`.
    func values(set: Int, head: Int) -> UnsafeMutablePointer<Float> {
        values + (set * layout.heads + head) * layout.keys * layout.valueColumns
    }

    func deallocate() {
        releaseFloats(keyPanels)
        releaseFloats(values)
    }
}

/// One worker's buffers: a block of packed queries, its scores, its unscaled outputs, row factors.
struct AttentionScratch {
    let queries, scores, outputs, inverseSums: UnsafeMutablePointer<Float>

    init(_ layout: AttentionLayout) {
        queries = allocateFloats(layout.block * layout.headWidth)
        scores = allocateFloats(layout.block * layout.paddedKeys)
        outputs = allocateFloats(layout.block * layout.valueColumns)
        inverseSums = allocateFloats(layout.block)
    }

    func deallocate() {
        for buffer in [queries, scores, outputs, inverseSums] { releaseFloats(buffer) }
    }
}

/// Attention of queries firstQuery ..< firstQuery + block (clipped) of one head of one sample
/// (`query` and `out` point at the sample's rows), against key/value set `keySet`.
private func attendBlock(head: Int, firstQuery: Int, query: UnsafePointer<Float>, packed: PackedKeysAndValues,
                         keySet: Int, scratch: AttentionScratch, out: UnsafeMutablePointer<Float>, layout: AttentionLayout) {
    let headWidth = layout.headWidth, paddedKeys = layout.paddedKeys, valueColumns = layout.valueColumns
    let rows = min(layout.block, layout.queries - firstQuery)
    let tileRows = roundUp(rows, to: 12)
    for row in 0..<tileRows {
        let target = scratch.queries + row * headWidth
        if row < rows {
            target.update(from: query + (firstQuery + row) * layout.width + head * headWidth, count: headWidth)
        } else {
            target.update(repeating: 0, count: headWidth)
        }
    }
    // With `causal`, keys after the block's last query are invisible to the whole block.
    let keys = layout.causal ? min(layout.keys, firstQuery + rows) : layout.keys
    let panels = packed.keyPanels(set: keySet, head: head)
    for panel in 0..<((keys + keyPanelWidth - 1) / keyPanelWidth) {
        for row in stride(from: 0, to: tileRows, by: scoreTileRows) {
            scoreTile(queries: scratch.queries + row * headWidth, queryStride: headWidth, depth: headWidth,
                      panel: panels + panel * headWidth * keyPanelWidth,
                      scores: scratch.scores + row * paddedKeys + panel * keyPanelWidth, scoreStride: paddedKeys)
        }
    }
    for row in 0..<tileRows {
        let line = scratch.scores + row * paddedKeys
        let visible = row >= rows ? 0 : layout.causal ? min(keys, firstQuery + row + 1) : keys
        let peak = maximum(line, count: visible)
        if peak.isFinite {
            scratch.inverseSums[row] = 1 / expInPlace(line, count: visible, subtracting: peak, scale: layout.scale)
        } else {
            // No finite maximum (all -inf, or +inf, or NaN): NaN, as in PyTorch.
            line.update(repeating: .nan, count: visible)
            scratch.inverseSums[row] = .nan
        }
        (line + visible).update(repeating: 0, count: keys - visible)
    }
    let values = packed.values(set: keySet, head: head)
    var column = 0
    while column < valueColumns {
        let vectors = min(valueTileVectors, (valueColumns - column) / valueLanes)
        for row in stride(from: 0, to: tileRows, by: valueTileRows) {
            valueTile(vectors: vectors, weights: scratch.scores + row * paddedKeys, weightStride: paddedKeys, keys: keys,
                      values: values + column, valueStride: valueColumns,
                      out: scratch.outputs + row * valueColumns + column, outStride: valueColumns)
        }
        column += vectors * valueLanes
    }
    for row in 0..<rows {
        let target = out + (firstQuery + row) * layout.valueWidth + head * layout.valueHeadWidth
        let source = scratch.outputs + row * valueColumns, factor = scratch.inverseSums[row]
        for column in 0..<layout.valueHeadWidth { target[column] = source[column] * factor }
    }
}

/// `value` rounded up to a multiple of `step`.
func roundUp(_ value: Int, to step: Int) -> Int { (value + step - 1) / step * step }
