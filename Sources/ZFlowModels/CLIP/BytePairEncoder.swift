// Matches the BPE model of transformers' `CLIPTokenizer` (tokenizers `BPE` with
// `end_of_word_suffix="</w>"`, no continuing-subword prefix): a word starts as its
// byte-level characters with "</w>" glued to the last one, and the adjacent pair
// with the lowest merge rank is merged until no ranked pair remains.

struct BytePairEncoder: Sendable {
    private struct Pair: Hashable {
        let left: String
        let right: String
    }

    private let ranks: [Pair: Int]
    let vocabulary: [String: Int]
    let unknownID: Int

    /// `merges` in priority order (rank = position); `vocabulary` maps tokens to ids.
    init(merges: [(String, String)], vocabulary: [String: Int], unknownID: Int) {
        var ranks: [Pair: Int] = [:]
        ranks.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() where ranks[Pair(left: merge.0, right: merge.1)] == nil {
            ranks[Pair(left: merge.0, right: merge.1)] = rank
        }
        self.ranks = ranks
        self.vocabulary = vocabulary
        self.unknownID = unknownID
    }

    /// The ids of one pre-tokenized piece.
    func encode(_ piece: Substring) -> [Int] {
        var symbols = ByteLevelAlphabet.encode(piece).map(String.init)
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, pair: Pair)?
            for i in 0..<(symbols.count - 1) {
                let pair = Pair(left: symbols[i], right: symbols[i + 1])
                if let rank = ranks[pair], rank < (best?.rank ?? .max) { best = (rank, pair) }
            }
            guard let best else { break }
            var merged: [String] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count && symbols[i] == best.pair.left && symbols[i + 1] == best.pair.right {
                    merged.append(best.pair.left + best.pair.right)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }
        return symbols.map { vocabulary[$0] ?? unknownID }
    }
}
